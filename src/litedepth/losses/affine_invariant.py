"""Scale-and-shift-invariant losses in disparity space (MiDaS; Depth Anything trains this way).

Ranftl, Lasinger, Hafner, Schindler and Koltun, "Towards Robust Monocular Depth Estimation:
Mixing Datasets for Zero-shot Cross-dataset Transfer", TPAMI 2022 (arXiv:1907.01341), section 5.
A relative depth model (and a student distilled from one) predicts disparity up to an unknown
positive scale and shift per image, so the loss compares maps only after removing both.

For one image with valid pixels ``V`` (``n = |V|``; a valid target is finite and ``> 0``, since a
teacher's 0 means sky / infinity)::

    median/MAD normalisation (MiDaS eq. 6-7), each map on its own:
        t(d) = median_V(d)              # lower median (torch.nanmedian)
        s(d) = mean_V |d - t(d)|
        d_hat = (d - t(d)) / s(d)       # both prediction and target

    least-squares alignment (MiDaS eq. 4-5), prediction onto the normalised target:
        (a, b) = argmin_(a, b) sum_V (a * p + b - target_hat)^2
        p_hat  = a * p + b

    residual  R = p_hat - target_hat    (0 outside V)

    data term (MiDaS eq. 9, the trimmed MAE):
        L_data = 1 / (2 n) * sum of the smallest ceil((1 - trim) * n) values of |R| over V
        (trim = 0.2 in MiDaS; 0 keeps every pixel)

    gradient matching (MiDaS eq. 11), K scales, R_k = R subsampled by 2^k (every 2^k-th row
    and column), differences only between two valid pixels:
        L_grad = 1 / n * sum_k sum (|R_k[i, j+1] - R_k[i, j]| + |R_k[i+1, j] - R_k[i, j]|)

    loss = mean over images (with a valid pixel) of L_data + grad_weight * L_grad
           (grad_weight = 0.5, K = 4 in MiDaS)

The target is always normalised by median/MAD first, so the loss does not change when the
target is multiplied by a positive number or shifted (a teacher's arbitrary range), nor, with
median/MAD, when the prediction is. Least-squares alignment is invariant to any affine change of
the prediction (a negative scale included).
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

__all__ = [
    "Alignment",
    "AffineInvariantLoss",
    "affine_invariant_loss",
    "affine_invariant_terms",
    "align_least_squares",
    "gradient_matching_loss",
    "masked_median_mad",
    "normalise_median_mad",
]

Alignment = Literal["median-mad", "least-squares"]
_EPS = 1e-6


def _check(name: str, x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != 1:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a (B, 1, H, W) tensor, got {shape}")


def _mask(target: Tensor, valid: Tensor | None, mask_zero: bool = True) -> Tensor:
    mask = torch.isfinite(target)
    if mask_zero:
        mask &= target > 0
    if valid is not None:
        if valid.shape != target.shape:
            raise ValueError(f"valid {tuple(valid.shape)} must match the target {tuple(target.shape)}")
        mask &= valid.to(torch.bool)
    return mask


def masked_median_mad(x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image median and mean absolute deviation from it over the valid pixels.

    Args:
        x: ``(B, 1, H, W)`` values.
        valid: ``(B, 1, H, W)`` bool.

    Returns:
        ``(median, mad)``, each ``(B, 1, 1, 1)``: the lower median (``torch.nanmedian``) and
        ``mean_V |x - median|``; 0 for an image without valid pixels.

    Example:
        >>> x = torch.tensor([1.0, 2.0, 4.0, 9.0]).view(1, 1, 1, 4)
        >>> m, s = masked_median_mad(x, torch.ones_like(x, dtype=torch.bool))
        >>> float(m), float(s)   # lower median 2; (1 + 0 + 2 + 7) / 4
        (2.0, 2.5)
    """
    b = x.shape[0]
    flat = x.reshape(b, -1)
    fmask = valid.reshape(b, -1)
    centre = torch.nanmedian(flat.masked_fill(~fmask, float("nan")), dim=1).values
    centre = torch.nan_to_num(centre, nan=0.0)[:, None]
    mad = ((flat - centre).abs() * fmask).sum(dim=1, keepdim=True) / fmask.sum(dim=1, keepdim=True).clamp_min(1)
    return centre.view(b, 1, 1, 1), mad.view(b, 1, 1, 1)


def normalise_median_mad(d: Tensor, valid: Tensor, eps: float = _EPS) -> Tensor:
    """``(d - median) / mean|d - median|`` per image over the valid pixels (MiDaS eq. 6-7).

    Args:
        d: ``(B, 1, H, W)`` disparity (any scale and shift).
        valid: ``(B, 1, H, W)`` bool.
        eps: floor of the deviation (a constant map gives 0 everywhere).

    Returns:
        ``(B, 1, H, W)``: 0-median, unit-mean-absolute-deviation values on valid pixels, 0
        elsewhere.

    Example:
        >>> d = torch.tensor([1.0, 2.0, 4.0, 9.0]).view(1, 1, 1, 4)
        >>> [round(v, 4) for v in normalise_median_mad(d, d > 0).flatten().tolist()]   # median 2, MAD 2.5
        [-0.4, 0.0, 0.8, 2.8]
    """
    _check("d", d)
    centre, mad = masked_median_mad(d, valid)
    return torch.where(valid, (d - centre) / mad.clamp_min(eps), torch.zeros_like(d))


def align_least_squares(pred: Tensor, target: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Scale and shift per image minimising ``sum_V (a * pred + b - target)^2`` (MiDaS eq. 4-5).

    Args:
        pred, target: ``(B, 1, H, W)``.
        valid: ``(B, 1, H, W)`` bool.

    Returns:
        ``(aligned, a, b)``: ``a * pred + b`` (0 outside ``valid``) and the ``(B,)`` scale and
        shift. A constant prediction gets ``a = 0``, ``b = mean(target)``.

    Example:
        >>> p = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 1, 3)
        >>> aligned, a, b = align_least_squares(p, 2 * p + 1, p > 0)
        >>> aligned.flatten().tolist(), float(a), float(b)
        ([3.0, 5.0, 7.0], 2.0, 1.0)
    """
    _check("pred", pred)
    _check("target", target)
    m = valid.to(pred.dtype)
    n = m.sum(dim=(1, 2, 3)).clamp_min(1)
    mp = (m * pred).sum(dim=(1, 2, 3)) / n
    mt = (m * target).sum(dim=(1, 2, 3)) / n
    pc = (pred - mp.view(-1, 1, 1, 1)) * m
    tc = (target - mt.view(-1, 1, 1, 1)) * m
    var = (pc * pc).sum(dim=(1, 2, 3))
    cov = (pc * tc).sum(dim=(1, 2, 3))
    a = torch.where(var > 1e-12, cov / var.clamp_min(1e-12), torch.zeros_like(var))
    b = mt - a * mp
    aligned = a.view(-1, 1, 1, 1) * pred + b.view(-1, 1, 1, 1)
    return torch.where(valid, aligned, torch.zeros_like(aligned)), a, b


def gradient_matching_loss(residual: Tensor, valid: Tensor, scales: int = 4) -> Tensor:
    """Per-image multi-scale gradient matching term of a residual map (MiDaS eq. 11).

    Args:
        residual: ``(B, 1, H, W)`` aligned prediction minus normalised target.
        valid: ``(B, 1, H, W)`` bool; a difference counts only between two valid pixels.
        scales: number of scales ``K`` (every ``2^k``-th pixel at scale ``k``).

    Returns:
        ``(B,)``: ``sum_k sum (|dx R_k| + |dy R_k|) / n`` with ``n`` the full-resolution valid
        count (0 for an image without valid pixels).

    Example:
        >>> r = torch.tensor([0.0, 1.0, 3.0]).view(1, 1, 1, 3)
        >>> gradient_matching_loss(r, r > -1, scales=1).tolist()   # (1 + 2) / 3
        [1.0]
    """
    _check("residual", residual)
    if scales < 1:
        raise ValueError(f"scales must be >= 1, got {scales}")
    n = valid.sum(dim=(1, 2, 3)).clamp_min(1).to(residual.dtype)
    total = residual.new_zeros(residual.shape[0])
    for k in range(scales):
        step = 2**k
        r = residual[..., ::step, ::step]
        m = valid[..., ::step, ::step]
        mx = m[..., :, 1:] & m[..., :, :-1]
        my = m[..., 1:, :] & m[..., :-1, :]
        gx = ((r[..., :, 1:] - r[..., :, :-1]).abs() * mx).sum(dim=(1, 2, 3))
        gy = ((r[..., 1:, :] - r[..., :-1, :]).abs() * my).sum(dim=(1, 2, 3))
        total = total + gx + gy
    return total / n


def _trimmed_sum(abs_res: Tensor, valid: Tensor, trim: float) -> Tensor:
    """Per image: sum of the smallest ``ceil((1 - trim) * n)`` values of ``abs_res`` over ``valid``."""
    if trim == 0.0:
        return (abs_res * valid).sum(dim=(1, 2, 3))
    sums = []
    for r, m in zip(abs_res, valid):
        vals = r[m]
        keep = math.ceil((1.0 - trim) * vals.numel())
        sums.append(torch.topk(vals, keep, largest=False).values.sum() if keep else vals.sum() * 0)
    return torch.stack(sums)


def affine_invariant_terms(
    pred: Tensor,
    target: Tensor,
    valid: Tensor | None = None,
    *,
    alignment: Alignment = "median-mad",
    trim: float = 0.0,
    scales: int = 4,
    mask_zero: bool = True,
) -> tuple[Tensor, Tensor, Tensor]:
    """The two terms of :func:`affine_invariant_loss`, per image.

    Returns:
        ``(data, gradient, has_valid)``: ``(B,)`` data and gradient-matching terms (module
        docstring) and a ``(B,)`` bool of the images with at least one valid pixel.
    """
    _check("pred", pred)
    _check("target", target)
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape "
                         "(resize the target to the prediction first)")
    if alignment not in ("median-mad", "least-squares"):
        raise ValueError(f"alignment must be 'median-mad' or 'least-squares', not {alignment!r}")
    if not 0.0 <= trim < 1.0:
        raise ValueError(f"trim must be in [0, 1), got {trim}")
    target = target.detach().to(pred.dtype)
    mask = _mask(target, valid, mask_zero)
    target = torch.where(mask, target, torch.zeros_like(target))  # no NaN / Inf reaches the arithmetic
    t_hat = normalise_median_mad(target, mask)
    if alignment == "median-mad":
        p_hat = normalise_median_mad(pred, mask)
    else:
        p_hat, _, _ = align_least_squares(pred, t_hat, mask)
    residual = torch.where(mask, p_hat - t_hat, torch.zeros_like(p_hat))
    n = mask.sum(dim=(1, 2, 3))
    data = _trimmed_sum(residual.abs(), mask, trim) / (2 * n.clamp_min(1).to(pred.dtype))
    grad = gradient_matching_loss(residual, mask, scales)
    return data, grad, n > 0


def affine_invariant_loss(
    pred: Tensor, target: Tensor, valid: Tensor | None = None, *, grad_weight: float = 0.5, **term_options: Any
) -> Tensor:
    """Scale-and-shift-invariant disparity loss with gradient matching (module docstring).

    Args:
        pred: ``(B, 1, H, W)`` predicted disparity (any range, e.g. a sigmoid output).
        target: ``(B, 1, H, W)`` target disparity (e.g. a teacher's relative disparity; detached).
        valid: optional ``(B, 1, H, W)`` bool mask of usable target pixels.
        grad_weight: weight of the gradient-matching term (MiDaS 0.5; 0 turns it off).
        **term_options: the keyword options of :func:`affine_invariant_terms`: ``alignment``
            (``"median-mad"``, both maps normalised on their own, or ``"least-squares"``, the
            prediction fitted to the normalised target), ``trim`` (fraction of the largest
            residuals left out of the data term per image; MiDaS 0.2), ``scales`` (of the
            gradient-matching term; MiDaS 4) and ``mask_zero`` (exclude target pixels ``<= 0``,
            sky / infinity in a teacher map).

    Returns:
        Scalar: the mean over images with a valid pixel (0 when there is none).

    Example:
        >>> t = torch.rand(2, 1, 8, 8) + 0.1
        >>> float(affine_invariant_loss(3.0 * t + 2.0, t)) < 1e-6   # an affine copy costs nothing
        True
    """
    data, grad, has = affine_invariant_terms(pred, target, valid, **term_options)
    per_image = data + grad_weight * grad if grad_weight else data
    return (per_image * has).sum() / has.sum().clamp_min(1)


class AffineInvariantLoss(nn.Module):
    """Module twin of :func:`affine_invariant_loss` (options fixed at init, keyword only:
    ``grad_weight`` and the options of :func:`affine_invariant_terms`).

    ``forward(pred, target, valid=None) -> scalar``.

    Raises:
        TypeError: an option :func:`affine_invariant_terms` does not take (at init).
    """

    def __init__(self, *, grad_weight: float = 0.5, **term_options: Any) -> None:
        super().__init__()
        inspect.signature(affine_invariant_terms).bind(None, None, **term_options)  # unknown names fail now
        self.grad_weight, self.term_options = grad_weight, term_options

    def forward(self, pred: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
        return affine_invariant_loss(pred, target, valid, grad_weight=self.grad_weight, **self.term_options)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in {"grad_weight": self.grad_weight, **self.term_options}.items())
