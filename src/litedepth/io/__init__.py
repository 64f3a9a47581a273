"""File formats at the bottom of the layer stack (no import from models, data, tasks or above).

:mod:`litedepth.io.depth_encodings` is the one registry of depth-file encodings: every reader of
depth (folder datasets, ``evaluate``'s ground truth, the synthetic/video readers, the assist
app) decodes files through it, so an encoding has one name and one implementation.
:mod:`litedepth.io.output_spec` says what a prediction's values mean (:class:`OutputSpec`,
:func:`to_depth`; re-exported by :mod:`litedepth.models.spec`).
"""

from litedepth.io.depth_encodings import (
    DepthEncoding,
    decode_depth,
    encode_depth,
    encoding_for_file,
    list_encodings,
    parse_encoding,
)

__all__ = [
    "DepthEncoding",
    "decode_depth",
    "encode_depth",
    "encoding_for_file",
    "list_encodings",
    "parse_encoding",
]
