"""Pixel distillation from a teacher's relative disparity (seed 001, "pseudo-label L1").

A teacher such as Depth Anything V2 predicts affine-invariant disparity in an arbitrary range
(about 0..150 on KITTI), the student a sigmoid disparity in 0..1. Seed 001 aligns them by
"median-centring and normalising to 0..1" each frame, then takes an L1 loss; teacher pixels
with disparity 0 (sky, infinity) are masked out.

Normalisation (per frame, statistics over the valid pixels only), ``method="median"``
(default)::

    m = median(t[valid])                      # lower median (torch.nanmedian convention)
    s = max(|t[valid] - m|)                   # largest distance from the median
    n = 0.5 + (t - m) / (2 * max(s, eps))     # median -> 0.5, every valid pixel in [0, 1]

Median-centring followed by a min-max rescale would be identical to min-max alone (a min-max
map does not see shifts), so here the centring is what aligns the two maps: both medians land
on 0.5, and the range is set by the pixel farthest from the median (which lands on 0 or 1).
``method="minmax"`` gives the plain alternative, ``(t - min) / max(max - min, eps)`` over the
valid pixels. ``method="mad"`` is the robust variant: the same median centring, with the
spread set by the mean absolute deviation instead of the single farthest pixel::

    s = 4 * mean(|t[valid] - m|)              # most valid pixels land in [0, 1]

With ``"median"`` and ``"minmax"`` one extreme pixel (the nearest object) sets the scale of the
whole map, and so of every gradient; on the synthetic oracle-teacher check
(``tests/tasks/test_distillation_oracle.py``) ``"mad"`` is the setting under which
distillation clearly helps. Invalid pixels are set to 0 in the output and flagged in the
returned mask.

The student is normalised the same way, with its statistics taken over the teacher's valid
pixels, so the loss is invariant to a positive scale and shift of either map.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litedepth.losses.affine_invariant import masked_median_mad

__all__ = ["NormaliseMethod", "PixelDistillationLoss", "normalise_teacher_disparity",
           "pixel_distillation_loss"]

NormaliseMethod = Literal["median", "minmax", "mad"]
_EPS = 1e-6


def _check_map(name: str, x: Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} must be (B, 1, H, W), got {tuple(x.shape)}")


def normalise_teacher_disparity(
    t: Tensor,
    valid: Tensor | None = None,
    *,
    mask_zero: bool = True,
    method: NormaliseMethod = "median",
    eps: float = _EPS,
) -> tuple[Tensor, Tensor]:
    """Per-frame median-centred 0..1 normalisation of a disparity map.

    Args:
        t: ``(B, 1, H, W)`` disparity (teacher: any positive range; student: 0..1).
        valid: optional ``(B, 1, H, W)`` bool mask of pixels to use.
        mask_zero: also exclude pixels with ``t <= 0`` (sky / infinity in a teacher map).
        method: ``"median"`` (median -> 0.5, farthest pixel -> 0 or 1), ``"mad"`` (median ->
            0.5, spread from the mean absolute deviation; values may leave [0, 1]) or
            ``"minmax"``; see the module docstring.
        eps: floor of the range denominator (a constant frame maps to 0.5 / 0).

    Returns:
        ``(normalised, valid)``: ``(B, 1, H, W)`` values (in ``[0, 1]`` for ``"median"`` and
        ``"minmax"``) on valid pixels and 0
        elsewhere, and the bool mask actually used. Differentiable with respect to ``t``.

    Example:
        >>> t = torch.tensor([0.0, 10.0, 20.0, 40.0]).view(1, 1, 1, 4)
        >>> n, v = normalise_teacher_disparity(t)
        >>> n.flatten().tolist(), v.flatten().tolist()
        ([0.0, 0.25, 0.5, 1.0], [False, True, True, True])
    """
    _check_map("disparity", t)
    if method not in ("median", "minmax", "mad"):
        raise ValueError(f"method must be 'median', 'minmax' or 'mad', not {method!r}")
    mask = torch.ones_like(t, dtype=torch.bool) if valid is None else valid.to(torch.bool)
    if mask.shape != t.shape:
        raise ValueError(f"valid {tuple(mask.shape)} must match disparity {tuple(t.shape)}")
    if mask_zero:
        mask = mask & (t > 0)
    b = t.shape[0]
    flat = t.reshape(b, -1)
    fmask = mask.reshape(b, -1)
    if method in ("median", "mad"):
        centre, mad = masked_median_mad(t, mask)
        centre = centre.view(b, 1)
        if method == "median":
            spread = ((flat - centre).abs() * fmask).amax(dim=1, keepdim=True)
        else:  # mean absolute deviation, 4x so a typical map spans about 0..1
            spread = 4 * mad.view(b, 1)
        out = 0.5 + (flat - centre) / (2 * spread.clamp_min(eps))
    else:
        big = torch.finfo(t.dtype).max
        lo = flat.masked_fill(~fmask, big).amin(dim=1, keepdim=True)
        hi = flat.masked_fill(~fmask, -big).amax(dim=1, keepdim=True)
        lo = torch.where(fmask.any(dim=1, keepdim=True), lo, torch.zeros_like(lo))
        out = (flat - lo) / (hi - lo).clamp_min(eps)
    out = torch.where(fmask, out, torch.zeros_like(out))
    return out.view_as(t), mask


def pixel_distillation_loss(
    student_disp: Tensor,
    teacher_disp: Tensor,
    weight: float = 1.0,
    *,
    valid: Tensor | None = None,
    mask_zero: bool = True,
    method: NormaliseMethod = "median",
) -> Tensor:
    """Weighted L1 between normalised student and teacher disparities over valid pixels.

    The teacher is resized bilinearly to the student's size if they differ (its validity
    mask too; a resized pixel is valid only if all pixels it blends were valid). Both maps
    are normalised per frame by :func:`normalise_teacher_disparity`, the student over the
    teacher's valid pixels; the loss is ``weight * mean(|n_s - n_t|)`` over the valid pixels
    of the whole batch (0 if there are none).

    Args:
        student_disp: ``(B, 1, H, W)`` student disparity (sigmoid output).
        teacher_disp: ``(B, 1, H', W')`` teacher disparity (0 = sky / infinity).
        weight: multiplier (seed 001's ``w1``).
        valid: optional ``(B, 1, H', W')`` bool mask of usable teacher pixels.
        mask_zero: exclude teacher pixels with disparity ``<= 0``.
        method: normalisation, see :func:`normalise_teacher_disparity`.

    Returns:
        Scalar loss (gradients flow to ``student_disp`` only; the teacher is detached).

    Example:
        >>> t = torch.tensor([0.0, 10.0, 20.0, 40.0]).view(1, 1, 1, 4)
        >>> s = torch.tensor([0.9, 0.2, 0.4, 0.8]).view(1, 1, 1, 4)
        >>> round(float(pixel_distillation_loss(s, t)), 6)  # s = t / 50 on valid pixels
        0.0
    """
    _check_map("student_disp", student_disp)
    _check_map("teacher_disp", teacher_disp)
    if student_disp.shape[0] != teacher_disp.shape[0]:
        raise ValueError(f"batch sizes differ: student {tuple(student_disp.shape)}, teacher "
                         f"{tuple(teacher_disp.shape)}")
    teacher = teacher_disp.detach().to(student_disp.dtype)
    mask = torch.ones_like(teacher, dtype=torch.bool) if valid is None else valid.to(torch.bool)
    if mask_zero:
        mask = mask & (teacher > 0)
    size = student_disp.shape[-2:]
    if teacher.shape[-2:] != size:
        teacher = F.interpolate(teacher, size, mode="bilinear", align_corners=False)
        mask = F.interpolate(mask.to(teacher.dtype), size, mode="bilinear",
                             align_corners=False) > 1 - 1e-4
    n_t, mask = normalise_teacher_disparity(teacher, mask, mask_zero=False, method=method)
    n_s, _ = normalise_teacher_disparity(student_disp, mask, mask_zero=False, method=method)
    diff = (n_s - n_t).abs() * mask
    return weight * diff.sum() / mask.sum().clamp_min(1)


class PixelDistillationLoss(nn.Module):
    """Module twin of :func:`pixel_distillation_loss` (same arguments, fixed at init).

    ``forward(student_disp, teacher_disp, valid=None) -> scalar``.
    """

    def __init__(self, weight: float = 1.0, mask_zero: bool = True,
                 method: NormaliseMethod = "median") -> None:
        super().__init__()
        self.weight = weight
        self.mask_zero = mask_zero
        self.method = method

    def forward(self, student_disp: Tensor, teacher_disp: Tensor,
                valid: Tensor | None = None) -> Tensor:
        return pixel_distillation_loss(student_disp, teacher_disp, self.weight, valid=valid,
                                       mask_zero=self.mask_zero, method=self.method)

    def extra_repr(self) -> str:
        return f"weight={self.weight}, mask_zero={self.mask_zero}, method={self.method!r}"
