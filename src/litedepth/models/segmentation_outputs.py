"""Typed outputs of segmentation and multi-task (segmentation + depth) networks.

Segmentation networks take an RGB batch ``(B, 3, H, W)`` with values in ``[0, 1]`` (each
network normalises inside ``forward``, like the depth networks) and return
:class:`SegmentationOutput`.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from litedepth.models.outputs import DepthOutput


@dataclass
class SegmentationOutput:
    """Prediction of a segmentation or multi-task network.

    Attributes:
        logits: ``(B, C, H, W)`` unnormalised class scores at the input resolution
            (``argmax(1)`` gives class ids); ``None`` only when the caller asked a
            multi-task network for its depth head alone.
        depth: the depth head's :class:`~litedepth.models.outputs.DepthOutput`
            (``pred`` ``(B, 1, H, W)``; ``kind="disparity"``: a relative map in ``(0, 1)``
            trained on min-max normalised teacher disparity, bigger = nearer;
            ``kind="depth"``: metres), or ``None`` for segmentation-only networks.
    """

    logits: Tensor | None
    depth: DepthOutput | None = None
