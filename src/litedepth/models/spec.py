"""What a network's output means: :class:`OutputSpec`, :class:`WeightsInfo`, :func:`to_depth` ...

The implementation lives in :mod:`litedepth.io.output_spec` (NumPy only), so that reading and
scoring prediction files never imports torch; this module re-exports every name, and
``from litedepth.models.spec import OutputSpec`` stays the usual spelling next to the networks.
"""

from litedepth.io.output_spec import (  # noqa: F401
    DEPTH_KINDS,
    KINDS,
    NORMALISE_IMAGENET,
    NORMALISE_MONODEPTH2,
    OUTPUT_KIND_FORMS,
    RANDOM_WEIGHTS,
    SCALES,
    SPEC_FORMAT,
    WEIGHT_ORIGINS,
    Kind,
    OutputSpec,
    Scale,
    WeightsInfo,
    __all__,
    _check_depth_spec,
    _check_range,
    align_scale_shift,
    parse_output_kind,
    to_depth,
    to_inverse_depth,
    weights_from_file,
)
