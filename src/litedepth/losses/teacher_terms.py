"""Seed 001's teacher terms of self-supervised training, registered as ``distillation`` and
``chamfer``.

Both read the batch's cached teacher disparity ``batch["teacher"]`` ``(B, 1, H, W)``
(0 = sky / no value) and return ``None`` for a batch without one (the term then does not
apply: nothing is added or logged). Their weights are the self-supervised task's
``distillation_weight`` (w1) and ``chamfer_weight`` (w2).

* ``distillation``: L1 between the student's finest disparity and the teacher's, both
  normalised per frame (``distillation_normalisation``: median-centred and 0..1 scaled by
  default), zero-disparity teacher pixels masked
  (:func:`~litedepth.losses.distillation.pixel_distillation_loss`).
* ``chamfer``: Chamfer distance between the bin centres of a network built with ``bins=...``
  (``outputs.extras["bin_centres"]`` ``(B, K)``) and ``chamfer_points`` points sampled from the
  normalised teacher disparity (zero-disparity pixels excluded); ``None`` for a network
  without bins.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from litedepth.losses.chamfer import chamfer_bins_loss, sample_teacher_points
from litedepth.losses.distillation import normalise_teacher_disparity, pixel_distillation_loss
from litedepth.losses.terms import register_loss_term

__all__ = ["chamfer_term", "distillation_term"]


@register_loss_term("distillation")
def distillation_term(batch: dict[str, Any], outputs: Any) -> Tensor | None:
    """Unweighted pixel distillation loss of ``outputs.pred`` against ``batch["teacher"]``."""
    if "teacher" not in batch:
        return None
    method = getattr(outputs, "distillation_normalisation", "median")
    return pixel_distillation_loss(outputs.pred, batch["teacher"].float(), 1.0, method=method)


@register_loss_term("chamfer")
def chamfer_term(batch: dict[str, Any], outputs: Any) -> Tensor | None:
    """Unweighted Chamfer distance between the bin centres and the teacher's points."""
    centres = outputs.extras.get("bin_centres")
    if "teacher" not in batch or centres is None:
        return None
    teacher = batch["teacher"].float()
    size = outputs.pred.shape[-2:]
    t = teacher if teacher.shape[-2:] == size else F.interpolate(teacher, size, mode="nearest-exact")
    normalised, valid = normalise_teacher_disparity(t)
    points, ok = sample_teacher_points(normalised, getattr(outputs, "chamfer_points", 1024), valid)
    return chamfer_bins_loss(centres, points, ok)
