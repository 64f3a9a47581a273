"""Multi-scale edge-aware smoothness of self-supervised depth (Monodepth2), registered as
``smoothness``.

At each decoder scale ``s`` the edge-aware smoothness of the mean-normalised disparity is
computed at the scale's own resolution (the un-augmented target frame resized to it, bilinear
with antialiasing) and divided by ``2**s``; the term is the mean over scales. Its weight is the
self-supervised task's ``smoothness_weight`` (1e-3 in Monodepth2), so the weight at scale ``s``
is ``smoothness_weight / 2**s`` as in the published recipe.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from litedepth.losses.smoothness import edge_aware_smoothness
from litedepth.losses.terms import register_loss_term

__all__ = ["multiscale_smoothness_term"]


@register_loss_term("smoothness")
def multiscale_smoothness_term(batch: dict[str, Any], outputs: Any) -> Tensor:
    """``mean_s(edge_aware_smoothness(disp_s, target_s) / 2**s)``, unweighted scalar.

    Args:
        batch: ``frames_raw`` ``(B, F, 3, H, W)`` in ``[0, 1]``, the target first.
        outputs: anything with ``scales``: disparities per scale, finest first,
            ``(B, 1, H / 2**s, W / 2**s)``.
    """
    target = batch["frames_raw"][:, 0]
    h, w = target.shape[-2:]
    total = None
    for s, disp in enumerate(outputs.scales):
        target_s = target if disp.shape[-2:] == (h, w) else F.interpolate(
            target, disp.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
        loss = edge_aware_smoothness(disp, target_s) / (2**s)
        total = loss if total is None else total + loss
    return total / len(outputs.scales)
