"""Typed network outputs.

Depth networks take an RGB batch ``(B, 3, H, W)`` with values in ``[0, 1]`` (each network
applies its own normalisation inside ``forward``) and return :class:`DepthOutput`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

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
