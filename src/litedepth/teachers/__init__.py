"""Teacher models and offline pseudo-labels (``litedepth pseudo-label``).

- :class:`HFDepthTeacher`: a Hugging Face depth model (Depth Anything V2, DPT...) + its image
  processor as a batch predictor returning maps at each image's original size.
- :class:`PseudoLabelCache`: one float16 ``.npz`` per frame keyed by the frame's
  dataset-relative key, plus ``manifest.json`` (teacher, pre-processing, output kind, stats).
- :func:`run_pseudo_labels`: resumable, batched, multi-device runner (Lightning predict loop).
"""

from litedepth.io.pseudo_labels import PseudoLabelCache, frame_stats, key_to_relpath
from litedepth.teachers.hf import (
    FrameSource,
    HFDepthTeacher,
    ImageFolderFrames,
    PseudoLabelReport,
    as_frame_source,
    licence_note,
    run_pseudo_labels,
)

__all__ = [
    "FrameSource",
    "HFDepthTeacher",
    "ImageFolderFrames",
    "PseudoLabelCache",
    "PseudoLabelReport",
    "as_frame_source",
    "frame_stats",
    "key_to_relpath",
    "licence_note",
    "run_pseudo_labels",
]
