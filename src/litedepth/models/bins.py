"""Disparity bins head: disparity as a probability-weighted sum of K bin centres.

The AdaBins idea (Bhat, Alhashim and Wonka, "AdaBins: Depth Estimation using Adaptive Bins",
CVPR 2021, arXiv:2011.14141) applied to the sigmoid disparity of a self-supervised network, as
seed 001 does: one branch predicts ``K`` bin centres per image, another a per-pixel ``K``-way
softmax, and the disparity is ``sum_k p_k * c_k``.

``mode="adaptive"``
    A global descriptor (global average pooling of the feature map) goes through an MLP
    ``Linear(C, hidden) -> LeakyReLU -> Linear(hidden, K)`` to ``y``; bin widths are
    ``relu(y) + 0.1`` normalised to sum 1 and multiplied by ``max_disp - min_disp``; edges are
    the cumulative sum from ``min_disp``; centres are the edge midpoints (AdaBins).
``mode="fixed"``
    Uniform centres ``min_disp + (k + 0.5) * (max_disp - min_disp) / K`` (a buffer, not
    learnt).

Both modes use a per-pixel 1x1 convolution ``C -> K`` and a softmax over ``K``. Because the
disparity is a convex combination of centres that lie in ``[min_disp, max_disp]``, it stays in
that range; with the defaults ``0, 1`` it is the sigmoid-disparity range the rest of the
pipeline expects (:func:`litedepth.geometry.disp_to_depth`).

This head is much lighter than AdaBins' mini-ViT (no transformer over patch embeddings): its
multiply-accumulates are dominated by the 1x1 convolution, ``H * W * C * K``.

Example:
    >>> import torch
    >>> head = DisparityBinsHead(24, n_bins=8, mode="adaptive")
    >>> disp, centres = head(torch.rand(2, 24, 6, 10))
    >>> tuple(disp.shape), tuple(centres.shape)
    ((2, 1, 6, 10), (2, 8))
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litedepth.errors import ConfigError

__all__ = ["BinsMode", "DisparityBinsHead", "adaptive_bin_centres", "uniform_bin_centres"]

BinsMode = Literal["adaptive", "fixed"]

#: AdaBins adds this to ``relu(y)`` so that no bin width collapses to zero.
MIN_WIDTH_OFFSET = 0.1


def uniform_bin_centres(n_bins: int, min_disp: float = 0.0, max_disp: float = 1.0) -> Tensor:
    """``(K,)`` centres of ``K`` equal-width bins covering ``[min_disp, max_disp]``."""
    k = torch.arange(n_bins, dtype=torch.float32)
    return min_disp + (k + 0.5) * (max_disp - min_disp) / n_bins


def adaptive_bin_centres(y: Tensor, min_disp: float = 0.0, max_disp: float = 1.0) -> Tensor:
    """AdaBins centres from unconstrained scores ``y`` ``(B, K)``.

    ``widths = (relu(y) + 0.1) / sum(relu(y) + 0.1) * (max - min)``; ``edges = min +
    cumsum([0, widths])``; ``centres = (edges[:-1] + edges[1:]) / 2``.

    Returns:
        ``(B, K)`` strictly increasing centres inside ``(min_disp, max_disp)``.
    """
    widths = F.relu(y) + MIN_WIDTH_OFFSET
    widths = widths / widths.sum(dim=1, keepdim=True) * (max_disp - min_disp)
    edges = F.pad(torch.cumsum(widths, dim=1), (1, 0), value=0.0) + min_disp
    return 0.5 * (edges[:, :-1] + edges[:, 1:])


class DisparityBinsHead(nn.Module):
    """Per-pixel softmax over ``K`` disparity bins; see the module docstring.

    Args:
        in_channels: channels ``C`` of the input feature.
        n_bins: number of bins ``K`` (seed 001: 64).
        mode: ``"adaptive"`` (per-image AdaBins centres) or ``"fixed"`` (uniform centres).
        min_disp, max_disp: disparity range of the centres (default ``0..1``, sigmoid range).
        hidden: hidden width of the adaptive MLP.

    Shapes:
        ``forward(x (B, C, H, W)) -> (disp (B, 1, H, W), centres (B, K))``.
    """

    def __init__(
        self,
        in_channels: int,
        n_bins: int = 64,
        mode: BinsMode = "adaptive",
        min_disp: float = 0.0,
        max_disp: float = 1.0,
        hidden: int = 128,
    ) -> None:
        super().__init__()
        if mode not in ("adaptive", "fixed"):
            raise ConfigError(f"bins mode must be 'adaptive' or 'fixed', not {mode!r}")
        if n_bins < 2:
            raise ConfigError(f"n_bins must be at least 2, got {n_bins}")
        if not max_disp > min_disp:
            raise ConfigError(f"need max_disp > min_disp, got {min_disp}, {max_disp}")
        self.mode = mode
        self.n_bins = n_bins
        self.min_disp = float(min_disp)
        self.max_disp = float(max_disp)
        self.logits = nn.Conv2d(in_channels, n_bins, kernel_size=1)
        if mode == "adaptive":
            self.mlp: nn.Module | None = nn.Sequential(
                nn.Linear(in_channels, hidden), nn.LeakyReLU(), nn.Linear(hidden, n_bins)
            )
            self.register_buffer("fixed_centres", None)
        else:
            self.mlp = None
            self.register_buffer("fixed_centres",
                                 uniform_bin_centres(n_bins, self.min_disp, self.max_disp),
                                 persistent=False)

    def centres(self, x: Tensor) -> Tensor:
        """``(B, K)`` bin centres for feature ``x`` ``(B, C, H, W)``."""
        if self.mlp is None:
            return self.fixed_centres.to(x.dtype).expand(x.shape[0], -1)
        return adaptive_bin_centres(self.mlp(x.mean(dim=(2, 3))), self.min_disp, self.max_disp)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        centres = self.centres(x)
        probs = self.logits(x).softmax(dim=1)  # (B, K, H, W)
        disp = torch.einsum("bkhw,bk->bhw", probs, centres).unsqueeze(1)
        return disp, centres

    def extra_repr(self) -> str:
        return (f"mode={self.mode!r}, n_bins={self.n_bins}, "
                f"range=({self.min_disp}, {self.max_disp})")
