"""View synthesis for self-supervised depth: what the loss terms receive, and the photometric
reprojection term with auto-masking (Monodepth2, REFERENCE section 2), registered as ``photometric``.

The self-supervised task hands every loss term ``term(batch, outputs)``
(:mod:`litedepth.losses.terms`) a :class:`ViewSynthesisOutputs` as ``outputs``: the depth
network's output for the target frame (``pred``, ``scales``, ``extras`` as on
:class:`~litedepth.models.outputs.DepthOutput`), the camera motion to every source frame and
the task's loss settings.

``photometric`` (weight 1): for each decoder scale ``s`` the scale's disparity is bilinearly
upsampled to the input resolution, converted with ``disp_to_depth(min_depth, max_depth)``, and
every un-augmented source frame is inverse-warped into the target (border padding,
``align_corners=True``); the photometric error is ``ssim_weight * SSIM + (1 - ssim_weight) * L1``
(3x3 average-pool SSIM), the per-pixel minimum over sources, auto-masked with the identity errors
(+ 1e-5 noise) in the same minimum. The term is the mean of the per-scale losses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch.nn.functional as F
from torch import Tensor

from litedepth.geometry.depth import disp_to_depth
from litedepth.geometry.warp import inverse_warp
from litedepth.losses.photometric import min_reprojection_loss, photometric_error
from litedepth.losses.terms import register_loss_term

__all__ = ["ViewSynthesisOutputs", "photometric_reprojection_term"]

FrameId = int | str


@dataclass
class ViewSynthesisOutputs:
    """What the self-supervised task gives its loss terms as ``outputs``.

    Attributes:
        depth: the depth network's ``DepthOutput`` for the colour-augmented target frame
            (sigmoid disparity in ``(0, 1)``).
        transforms: ``{frame_id: T_source_from_target (B, 4, 4)}`` for every source frame
            (``X_source = T @ X_target``; temporal ones from the pose network, ``"s"`` the
            batch's ``stereo_T``).
        frame_ids: target first, then the sources, in the order of ``batch["frames"]``.
        min_depth, max_depth: the ``disp_to_depth`` range.
        ssim_weight: α of the photometric error.
        automask: Monodepth2 auto-masking of static pixels.
        distillation_normalisation: how teacher and student disparities are normalised.
        chamfer_points: teacher points sampled per image for the Chamfer term.
    """

    depth: Any
    transforms: dict[FrameId, Tensor] = field(default_factory=dict)
    frame_ids: list[FrameId] = field(default_factory=lambda: [0])
    min_depth: float = 0.1
    max_depth: float = 100.0
    ssim_weight: float = 0.85
    automask: bool = True
    distillation_normalisation: Literal["median", "minmax", "mad"] = "median"
    chamfer_points: int = 1024

    @property
    def pred(self) -> Tensor:
        """Finest-scale disparity ``(B, 1, H, W)``."""
        return self.depth.pred

    @property
    def scales(self) -> list[Tensor]:
        """Disparities per decoder scale, finest first, ``(B, 1, H / 2**s, W / 2**s)``."""
        return self.depth.scales

    @property
    def extras(self) -> dict[str, Tensor]:
        """The network's named extra outputs (e.g. ``bin_centres`` ``(B, K)``)."""
        return self.depth.extras


@register_loss_term("photometric")
def photometric_reprojection_term(batch: dict[str, Any], outputs: ViewSynthesisOutputs) -> Tensor:
    """Minimum photometric reprojection error with auto-masking, mean over the decoder scales.

    Args:
        batch: ``frames_raw`` ``(B, F, 3, H, W)`` in ``[0, 1]`` (un-augmented, ``frame_ids``
            order) and ``K`` ``(B, 3, 3)`` pixel intrinsics.
        outputs: the task's :class:`ViewSynthesisOutputs`.

    Returns:
        Unweighted scalar (photometric error units, ``[0, 1]``-ish).
    """
    raw, K = batch["frames_raw"], batch["K"].float()
    h, w = raw.shape[-2:]
    target = raw[:, 0]
    sources = [(i, fid) for i, fid in enumerate(outputs.frame_ids) if fid != 0]
    identity = None
    if outputs.automask:
        identity = [photometric_error(raw[:, i], target, outputs.ssim_weight) for i, _ in sources]
    total = None
    for disp in outputs.scales:
        disp_full = disp if disp.shape[-2:] == (h, w) else F.interpolate(disp, (h, w), mode="bilinear",
                                                                         align_corners=False)
        _, depth = disp_to_depth(disp_full, outputs.min_depth, outputs.max_depth)
        reproj = [photometric_error(inverse_warp(raw[:, i], depth, outputs.transforms[fid], K)[0], target,
                                    outputs.ssim_weight) for i, fid in sources]
        loss = min_reprojection_loss(reproj, identity, automask=outputs.automask).loss
        total = loss if total is None else total + loss
    return total / len(outputs.scales)
