"""Segmentation losses: seed 002's focal loss over pixels with a void label.

Seed 002 (section 3.2, eq. 1) trains the semantic decoder with::

    CE     = cross-entropy of each pixel
    L_seg  = alpha * (1 - exp(-CE))^gamma * CE

with ``gamma = 2`` (table 1). The seed gives no value for ``alpha``; the default here is
``alpha = 1``, which keeps the loss on the scale of plain cross-entropy (RetinaNet's 0.25 is a
positive/negative balance for binary detection and has no meaning for a 21-way softmax). Note
that ``alpha`` also sets the balance against the depth loss in the 0.85 / 0.15 joint phase.

``exp(-CE)`` is the softmax probability of the true class, so this is the multi-class focal
loss of Lin et al. (2017) with one scalar ``alpha``. Pixels labelled ``ignore_index`` (VOC:
255, the void border) do not contribute; the mean is over the remaining pixels of the whole
batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litedepth.errors import ConfigError

__all__ = ["FocalLoss", "focal_loss"]


def _check(alpha: float, gamma: float) -> None:
    if not alpha > 0:
        raise ConfigError(f"focal loss alpha must be > 0, got {alpha}")
    if not gamma >= 0:
        raise ConfigError(f"focal loss gamma must be >= 0, got {gamma}")


def focal_loss(
    logits: Tensor,
    target: Tensor,
    alpha: float = 1.0,
    gamma: float = 2.0,
    ignore_index: int = 255,
) -> Tensor:
    """Seed 002's focal loss ``alpha * (1 - exp(-CE))^gamma * CE``, mean over valid pixels.

    Args:
        logits: ``(B, C, H, W)`` unnormalised class scores.
        target: ``(B, H, W)`` integer class ids in ``[0, C)``, or ``ignore_index`` (void).
        alpha: scalar weight (the seed gives none; 1 keeps the cross-entropy scale).
        gamma: focusing parameter (seed 002: 2); ``gamma = 0`` gives ``alpha * CE``.
        ignore_index: label of pixels left out of the loss (VOC: 255).

    Returns:
        Scalar: the sum over valid pixels divided by their number. A batch without any
        valid pixel gives ``0`` (still attached to the graph, so that every process of a
        distributed run takes the same backward pass).

    Raises:
        ValueError: shapes that do not match. ConfigError: ``alpha <= 0`` or ``gamma < 0``.

    Example:
        >>> logits = torch.zeros(1, 2, 1, 2)           # p = 0.5 for both classes
        >>> target = torch.tensor([[[0, 255]]])        # one valid pixel, one void
        >>> ce = float(torch.log(torch.tensor(2.0)))
        >>> round(float(focal_loss(logits, target)), 6) == round(0.25 * ce, 6)
        True
    """
    _check(alpha, gamma)
    if logits.dim() != 4 or target.dim() != 3 or logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(
            f"focal_loss expects logits (B, C, H, W) and target (B, H, W), got {tuple(logits.shape)} "
            f"and {tuple(target.shape)}"
        )
    target = target.long()
    ce = F.cross_entropy(logits, target, reduction="none", ignore_index=ignore_index)  # 0 at void
    valid = target != ignore_index
    n = valid.sum()
    if int(n) == 0:
        return logits.sum() * 0.0
    pt = torch.exp(-ce)
    loss = alpha * (1.0 - pt).clamp(min=0.0).pow(gamma) * ce
    return torch.where(valid, loss, torch.zeros_like(loss)).sum() / n


class FocalLoss(nn.Module):
    """Module twin of :func:`focal_loss`: ``forward(logits, target) -> scalar``."""

    def __init__(self, alpha: float = 1.0, gamma: float = 2.0, ignore_index: int = 255) -> None:
        super().__init__()
        _check(alpha, gamma)
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.ignore_index = int(ignore_index)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return focal_loss(logits, target, self.alpha, self.gamma, self.ignore_index)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, ignore_index={self.ignore_index}"
