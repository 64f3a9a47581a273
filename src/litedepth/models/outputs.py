"""Typed network outputs.

Depth networks take an RGB batch ``(B, 3, H, W)`` with values in ``[0, 1]`` (each network
applies its own normalisation inside ``forward``) and return :class:`DepthOutput`; pose
networks take stacked frames and return :class:`PoseOutput`. (Segmentation networks return
:class:`~litedepth.models.segmentation_outputs.SegmentationOutput`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from torch import Tensor

from litedepth.geometry.pose_utils import transformation_from_parameters

DepthKind = Literal["depth", "disparity"]


@dataclass
class DepthOutput:
    """Prediction of a depth network.

    Attributes:
        pred: ``(B, 1, H, W)`` finest-scale prediction at the input resolution.
        kind: ``"depth"`` (metres, or scale-ambiguous depth for self-supervised models)
            or ``"disparity"`` (larger = nearer; sigmoid output in ``[0, 1]`` for
            Monodepth2-style heads, see :func:`litedepth.geometry.disp_to_depth`).
        scales: multi-scale predictions, finest first (``scales[0] is pred``); each
            ``(B, 1, H / 2**s, W / 2**s)``. Single-scale networks give ``[pred]``.
        extras: optional named tensors (e.g. bin centres ``(B, K)``).
    """

    pred: Tensor
    kind: DepthKind
    scales: list[Tensor] = field(default_factory=list)
    extras: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scales:
            self.scales = [self.pred]


class PoseOutput(NamedTuple):
    """PoseNet prediction (unpacks as ``axisangle, translation``).

    Attributes:
        axisangle: ``(B, F, 1, 3)`` rotation vectors in radians.
        translation: ``(B, F, 1, 3)`` translations (scale-ambiguous for monocular training).
    """

    axisangle: Tensor
    translation: Tensor

    def matrix(self, frame: int = 0, invert: bool = False) -> Tensor:
        """``(B, 4, 4)`` transform of prediction ``frame`` (inverted when ``invert``)."""
        return transformation_from_parameters(self.axisangle[:, frame], self.translation[:, frame], invert=invert)
