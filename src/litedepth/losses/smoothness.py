"""Edge-aware disparity smoothness (Godard et al. 2017; Monodepth2 / Lite-Mono).

The loss penalises disparity gradients except where the image itself has an edge::

    d* = d / (mean_{H,W} d + 1e-7)                               (per image; Wang et al. 2018)
    L  = mean(|dx d*| * exp(-mean_c |dx I|)) + mean(|dy d*| * exp(-mean_c |dy I|))

with forward differences ``dx f = f[..., :, :-1] - f[..., :, 1:]`` (``dy`` likewise over rows).
Mean-normalising the disparity stops the network from shrinking all disparities to lower
this term.

Weighting is the caller's business: Monodepth2 and Lite-Mono compute it on each decoder
scale ``s`` at that scale's own resolution (disparity *not* upsampled, image resized to match)
and add ``1e-3 / 2**s`` times it to that scale's loss.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["EdgeAwareSmoothness", "edge_aware_smoothness"]


def edge_aware_smoothness(disp: Tensor, img: Tensor, normalise: bool = True) -> Tensor:
    """Edge-aware first-order smoothness of a disparity map.

    Args:
        disp: ``(B, 1, H, W)`` disparity (sigmoid output or inverse depth; positive).
        img: ``(B, C, H, W)`` image at the same resolution (RGB in ``[0, 1]`` normally), used
            only for edge weights.
        normalise: divide ``disp`` by its per-image spatial mean (+ 1e-7) first, as
            Monodepth2 does; ``False`` uses the disparity as given.

    Returns:
        Scalar loss (>= 0): the mean of the weighted x-gradients plus the mean of the weighted
        y-gradients, each mean over batch and pixels. Not weighted by ``1e-3 / 2**scale``.

    Raises:
        ValueError: on wrong shapes or an image smaller than 2x2.

    Example:
        >>> disp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 2, 4)
        >>> float(edge_aware_smoothness(disp, torch.zeros(1, 3, 2, 4), normalise=False))
        1.0
    """
    if not isinstance(disp, Tensor) or disp.dim() != 4 or disp.shape[1] != 1:
        shape = tuple(disp.shape) if isinstance(disp, Tensor) else type(disp).__name__
        raise ValueError(f"disp must have shape (B, 1, H, W), got {shape}")
    if not isinstance(img, Tensor) or img.dim() != 4:
        shape = tuple(img.shape) if isinstance(img, Tensor) else type(img).__name__
        raise ValueError(f"img must have shape (B, C, H, W), got {shape}")
    if img.shape[0] != disp.shape[0] or img.shape[2:] != disp.shape[2:]:
        raise ValueError(
            f"img {tuple(img.shape)} must match disp {tuple(disp.shape)} in batch and spatial "
            "size (resize the image to the disparity's scale)"
        )
    if disp.shape[2] < 2 or disp.shape[3] < 2:
        raise ValueError(f"disp must be at least 2x2 pixels, got {tuple(disp.shape)}")
    if normalise:
        disp = disp / (disp.mean(dim=(2, 3), keepdim=True) + 1e-7)
    grad_disp_x = (disp[..., :, :-1] - disp[..., :, 1:]).abs()
    grad_disp_y = (disp[..., :-1, :] - disp[..., 1:, :]).abs()
    grad_img_x = (img[..., :, :-1] - img[..., :, 1:]).abs().mean(dim=1, keepdim=True)
    grad_img_y = (img[..., :-1, :] - img[..., 1:, :]).abs().mean(dim=1, keepdim=True)
    return (grad_disp_x * (-grad_img_x).exp()).mean() + (grad_disp_y * (-grad_img_y).exp()).mean()


class EdgeAwareSmoothness(nn.Module):
    """Module twin of :func:`edge_aware_smoothness`: ``forward(disp, img) -> scalar``."""

    def __init__(self, normalise: bool = True) -> None:
        super().__init__()
        self.normalise = bool(normalise)

    def forward(self, disp: Tensor, img: Tensor) -> Tensor:
        return edge_aware_smoothness(disp, img, self.normalise)

    def extra_repr(self) -> str:
        return f"normalise={self.normalise}"
