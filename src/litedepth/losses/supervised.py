"""Losses against depth labels (ground truth or a teacher's pseudo-labels).

* :func:`scale_invariant_log_loss` - Eigen et al. 2014's scale-invariant log error, in the
  form seed 000 trains with (``lam = 1``) and the common Eigen/BTS variant (``lam = 0.85``).
* :func:`masked_mse`, :func:`masked_l1` - plain errors averaged over a validity mask.

All reductions pool the valid pixels of the *whole batch* (one mean over every valid pixel of
every image), not a mean of per-image means; images with more valid pixels weigh more.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from litedepth.errors import ConfigError

__all__ = [
    "MaskedL1",
    "MaskedMSE",
    "ScaleInvariantLogLoss",
    "masked_l1",
    "masked_mse",
    "scale_invariant_log_loss",
]


def _check_same(pred: Tensor, target: Tensor) -> None:
    for name, t in (("pred", pred), ("target", target)):
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {tuple(pred.shape)} and "
            f"{tuple(target.shape)} (resize the prediction to the label's size first)"
        )


def _valid_mask(target: Tensor, mask: Tensor | None, base: Tensor | None) -> Tensor:
    """Bool mask of ``target``'s shape: ``base`` (or all True) and ``mask`` (nonzero = valid)."""
    valid = torch.ones_like(target, dtype=torch.bool) if base is None else base
    if mask is not None:
        if not isinstance(mask, Tensor):
            raise ValueError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
        try:
            mask_bool = mask if mask.dtype == torch.bool else mask != 0
            mask_b = torch.broadcast_to(mask_bool, target.shape)
        except RuntimeError as exc:
            raise ValueError(
                f"mask {tuple(mask.shape)} does not broadcast to target {tuple(target.shape)}"
            ) from exc
        valid = valid & mask_b
    return valid


def _count(valid: Tensor, what: str) -> Tensor:
    n = valid.sum()
    if int(n) == 0:
        raise ValueError(f"no valid pixel for the {what}: every pixel is masked out")
    return n


def scale_invariant_log_loss(
    pred: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    lam: float = 1.0,
    eps: float = 1e-3,
) -> Tensor:
    """Scale-invariant log loss (Eigen et al. 2014).

    Over the valid pixels ``V`` of the whole batch (``target > 0``, and ``mask`` when given)::

        d    = log(max(pred, eps)) - log(max(target, eps))
        loss = mean_V(d^2) - lam * mean_V(d)^2

    With ``lam = 1`` the loss is the variance of ``d``: it ignores a global scale,
    ``pred = c * target`` gives 0 (seed 000's exact loss, which pools all valid pixels of the
    batch into one set, as done here). With ``lam < 1`` a global scale error ``c`` costs
    ``(1 - lam) * log(c)^2``; 0.85 is the Eigen/BTS training variant (BTS reports ``10 *
    sqrt(loss)``; apply such post-processing yourself). The value can be a tiny negative
    number from rounding when ``lam = 1`` and the prediction is exact up to scale.

    Args:
        pred: ``(B, 1, H, W)`` predicted depth in metres (positive, e.g. after softplus).
        target: ``(B, 1, H, W)`` label depth in metres; ``<= 0`` marks a missing label.
        mask: optional bool (or 0/1) tensor broadcastable to ``target``; ``False`` excludes
            a pixel in addition to ``target <= 0``.
        lam: variance weight in ``[0, 1]``.
        eps: lower clamp of both depths before the log, metres.

    Returns:
        Scalar loss.

    Raises:
        ValueError: on shape mismatch or when no pixel is valid (this checks on the host, so
            it synchronises a GPU once per call). ConfigError: ``lam`` outside ``[0, 1]`` or
            ``eps <= 0``.

    Example:
        >>> t = torch.rand(2, 1, 4, 4) + 0.5
        >>> float(scale_invariant_log_loss(3.0 * t, t)) < 1e-6
        True
    """
    if not 0.0 <= lam <= 1.0:
        raise ConfigError(f"scale-invariant loss lam must be in [0, 1], got {lam}")
    if not eps > 0:
        raise ConfigError(f"scale-invariant loss eps must be > 0, got {eps}")
    _check_same(pred, target)
    valid = _valid_mask(target, mask, target > 0)
    n = _count(valid, "scale-invariant log loss")
    d = torch.log(pred.clamp(min=eps)) - torch.log(target.clamp(min=eps))
    d = torch.where(valid, d, torch.zeros_like(d))
    mean_d = d.sum() / n
    mean_d2 = (d * d).sum() / n
    return mean_d2 - lam * mean_d * mean_d


class ScaleInvariantLogLoss(nn.Module):
    """Module twin of :func:`scale_invariant_log_loss`: ``forward(pred, target, mask=None)``."""

    def __init__(self, lam: float = 1.0, eps: float = 1e-3) -> None:
        super().__init__()
        if not 0.0 <= lam <= 1.0:
            raise ConfigError(f"scale-invariant loss lam must be in [0, 1], got {lam}")
        if not eps > 0:
            raise ConfigError(f"scale-invariant loss eps must be > 0, got {eps}")
        self.lam = float(lam)
        self.eps = float(eps)

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return scale_invariant_log_loss(pred, target, mask, self.lam, self.eps)

    def extra_repr(self) -> str:
        return f"lam={self.lam}, eps={self.eps}"


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error over the pixels where ``mask`` is true, pooled over the batch.

    Args:
        pred: any shape, e.g. ``(B, 1, H, W)`` (units of ``target``).
        target: same shape as ``pred``. Unlike :func:`scale_invariant_log_loss`, zero or
            negative targets are *not* excluded automatically; put them in ``mask``.
        mask: bool (or 0/1) tensor broadcastable to ``pred``, e.g. ``(B, 1, H, W)`` for a
            ``(B, C, H, W)`` prediction; ``None`` uses every element.

    Returns:
        Scalar ``sum(mask * (pred - target)^2) / count(mask)`` (count after broadcasting).

    Raises:
        ValueError: on shape mismatch or an all-false mask.
    """
    _check_same(pred, target)
    valid = _valid_mask(target, mask, None)
    n = _count(valid, "masked MSE")
    diff = torch.where(valid, pred - target, torch.zeros_like(pred))
    return (diff * diff).sum() / n


def masked_l1(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean absolute error over the pixels where ``mask`` is true, pooled over the batch.

    Same arguments and errors as :func:`masked_mse`; returns
    ``sum(mask * |pred - target|) / count(mask)``.
    """
    _check_same(pred, target)
    valid = _valid_mask(target, mask, None)
    n = _count(valid, "masked L1")
    diff = torch.where(valid, pred - target, torch.zeros_like(pred))
    return diff.abs().sum() / n


class MaskedMSE(nn.Module):
    """Module twin of :func:`masked_mse`: ``forward(pred, target, mask=None) -> scalar``."""

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return masked_mse(pred, target, mask)


class MaskedL1(nn.Module):
    """Module twin of :func:`masked_l1`: ``forward(pred, target, mask=None) -> scalar``."""

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return masked_l1(pred, target, mask)
