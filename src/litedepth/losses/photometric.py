"""Photometric reconstruction losses of self-supervised depth (Monodepth2 / Lite-Mono).

* :func:`ssim` - per-pixel structural dissimilarity with 3x3 *average* windows and reflection
  padding, as in Monodepth2. It is not kornia's ``ssim_loss``: kornia uses a Gaussian window
  (sigma 1.5) and zero-like ``same`` padding, which gives different numbers (the published
  results were trained with this box-filter form, so we match it).
* :func:`photometric_error` - ``alpha * SSIM + (1 - alpha) * L1``, averaged over channels,
  ``alpha = 0.85`` (Godard et al. 2017, Monodepth2).
* :func:`min_reprojection_loss` - per-pixel minimum over source frames with auto-masking of
  static pixels (Monodepth2, Godard et al. 2019, sections 3.3 "per-pixel minimum" and
  "auto-masking").

Images are float tensors, normally RGB in ``[0, 1]`` (the constants ``C1 = 0.01**2`` and
``C2 = 0.03**2`` assume a dynamic range of 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litedepth.errors import ConfigError

__all__ = [
    "MinReprojectionLoss",
    "MinReprojectionResult",
    "PhotometricError",
    "SSIM",
    "min_reprojection_loss",
    "photometric_error",
    "ssim",
]

SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


def _check_pair(x: Tensor, y: Tensor, names: tuple[str, str]) -> None:
    for name, t in zip(names, (x, y)):
        if not isinstance(t, Tensor) or t.dim() != 4:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name} must have shape (B, C, H, W), got {shape}")
    if x.shape != y.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )
    if x.shape[-2] < 2 or x.shape[-1] < 2:
        raise ValueError(f"images must be at least 2x2 pixels, got {tuple(x.shape)}")


def ssim(x: Tensor, y: Tensor, c1: float = SSIM_C1, c2: float = SSIM_C2) -> Tensor:
    """Per-pixel SSIM loss ``clamp((1 - SSIM(x, y)) / 2, 0, 1)``, Monodepth2 style.

    Local statistics use a 3x3 box (average) window after reflection padding by 1 pixel::

        mu_x = avg3x3(x), sigma_x = avg3x3(x^2) - mu_x^2, sigma_xy = avg3x3(x y) - mu_x mu_y
        SSIM = (2 mu_x mu_y + C1) (2 sigma_xy + C2)
               / ((mu_x^2 + mu_y^2 + C1) (sigma_x + sigma_y + C2))

    Args:
        x: ``(B, C, H, W)`` image, values nominally in ``[0, 1]``; ``H, W >= 2``.
        y: ``(B, C, H, W)`` image of the same shape.
        c1: stabiliser of the luminance term, ``(0.01 * L)^2`` with dynamic range ``L = 1``.
        c2: stabiliser of the contrast-structure term, ``(0.03 * L)^2``.

    Returns:
        ``(B, C, H, W)`` loss in ``[0, 1]``; 0 where the images agree. Symmetric in ``x, y``.

    Raises:
        ValueError: on shapes that differ, are not 4-D, or are smaller than 2x2.

    Example:
        >>> x = torch.rand(1, 3, 4, 5)
        >>> float(ssim(x, x).abs().max()) < 1e-6
        True
    """
    _check_pair(x, y, ("x", "y"))
    c = x.shape[1]
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    pooled = F.avg_pool2d(F.pad(stacked, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    mu_x, mu_y, e_xx, e_yy, e_xy = torch.split(pooled, c, dim=1)
    sigma_x = e_xx - mu_x * mu_x
    sigma_y = e_yy - mu_y * mu_y
    sigma_xy = e_xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (sigma_x + sigma_y + c2)
    return torch.clamp((1 - num / den) / 2, 0, 1)


class SSIM(nn.Module):
    """Module twin of :func:`ssim`: ``forward(x, y) -> (B, C, H, W)`` per-pixel SSIM loss."""

    def __init__(self, c1: float = SSIM_C1, c2: float = SSIM_C2) -> None:
        super().__init__()
        self.c1 = float(c1)
        self.c2 = float(c2)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return ssim(x, y, self.c1, self.c2)


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"photometric alpha (SSIM weight) must be in [0, 1], got {alpha}")


def photometric_error(pred: Tensor, target: Tensor, alpha: float = 0.85) -> Tensor:
    """Per-pixel photometric reconstruction error.

    ``pe = alpha * mean_c ssim(pred, target) + (1 - alpha) * mean_c |pred - target|``.

    Args:
        pred: ``(B, C, H, W)`` reconstructed (warped) image, nominally in ``[0, 1]``.
        target: ``(B, C, H, W)`` target image.
        alpha: weight of the SSIM term, in ``[0, 1]``; 0.85 in Monodepth2 / Lite-Mono.

    Returns:
        ``(B, 1, H, W)`` error, >= 0.

    Raises:
        ValueError: on mismatched or non-4-D shapes. ConfigError: ``alpha`` outside ``[0, 1]``.

    Example:
        >>> photometric_error(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)).shape
        torch.Size([1, 1, 4, 4])
    """
    _check_alpha(alpha)
    _check_pair(pred, target, ("pred", "target"))
    l1 = (pred - target).abs().mean(dim=1, keepdim=True)
    if alpha == 0.0:
        return l1
    return alpha * ssim(pred, target).mean(dim=1, keepdim=True) + (1.0 - alpha) * l1


class PhotometricError(nn.Module):
    """Module twin of :func:`photometric_error`: ``forward(pred, target) -> (B, 1, H, W)``."""

    def __init__(self, alpha: float = 0.85) -> None:
        super().__init__()
        _check_alpha(alpha)
        self.alpha = float(alpha)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return photometric_error(pred, target, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class MinReprojectionResult(NamedTuple):
    """Output of :func:`min_reprojection_loss`.

    Attributes:
        loss: scalar, mean over all pixels of ``per_pixel``.
        automask: ``(B, 1, H, W)`` bool, ``True`` where the minimum came from a *warped* source
            (pixels that train depth and pose); ``False`` where an identity (unwarped) error
            won - static scene, camera at rest, or objects moving with the camera. This is
            Monodepth2's ``identity_selection`` (all ``True`` without auto-masking).
        index: ``(B, 1, H, W)`` int64 index of the winner in the stack ``[identity..., warped...]``
            (``index >= S_identity`` means a warped source; without auto-masking it indexes the
            warped sources directly).
        per_pixel: ``(B, 1, H, W)`` the minimum error at each pixel.
    """

    loss: Tensor
    automask: Tensor
    index: Tensor
    per_pixel: Tensor


def _as_stack(errors: Tensor | Sequence[Tensor], name: str) -> Tensor:
    if isinstance(errors, Tensor):
        stack = errors
    else:
        errors = list(errors)
        if not errors:
            raise ValueError(f"{name} is empty: give at least one (B, 1, H, W) error map")
        for e in errors:
            if not isinstance(e, Tensor) or e.dim() != 4 or e.shape[1] != 1:
                shape = tuple(e.shape) if isinstance(e, Tensor) else type(e).__name__
                raise ValueError(f"each map in {name} must have shape (B, 1, H, W), got {shape}")
        if len({tuple(e.shape) for e in errors}) != 1:
            raise ValueError(f"maps in {name} differ in shape: {[tuple(e.shape) for e in errors]}")
        stack = torch.cat(errors, dim=1)
    if stack.dim() != 4 or stack.shape[1] < 1:
        raise ValueError(f"{name} must be (B, S, H, W) with S >= 1, got {tuple(stack.shape)}")
    return stack


def min_reprojection_loss(
    reprojection_errors: Tensor | Sequence[Tensor],
    identity_errors: Tensor | Sequence[Tensor] | None = None,
    automask: bool = True,
    noise: float = 1e-5,
    generator: torch.Generator | None = None,
) -> MinReprojectionResult:
    """Per-pixel minimum reprojection loss with optional auto-masking (Monodepth2).

    Each pixel keeps the smallest error over the source frames, which ignores sources where
    the pixel is occluded or out of view. With auto-masking the *identity* errors - the
    photometric error between each unwarped source and the target - join the same minimum,
    after adding ``noise * randn`` to break ties; a pixel whose unwarped error is lowest
    (nothing moves relative to the camera) then contributes no gradient to depth or pose.

    Args:
        reprojection_errors: ``(B, S, H, W)`` tensor, or a list of ``S`` maps ``(B, 1, H, W)``,
            from :func:`photometric_error` of each *warped* source against the target.
        identity_errors: ``(B, S_id, H, W)`` or list of ``(B, 1, H, W)``: errors of the
            *unwarped* sources (usually ``S_id == S``; ``S_id == 1`` for an averaged one).
            Required when ``automask`` is true; ignored otherwise.
        automask: include the identity errors in the minimum.
        noise: standard deviation of the Gaussian tie-breaking noise added to identity
            errors (1e-5 in Monodepth2); 0 disables it.
        generator: optional ``torch.Generator`` for the noise (reproducible tests).

    Returns:
        :class:`MinReprojectionResult` ``(loss, automask, index, per_pixel)``: scalar loss
        (mean of the per-pixel minimum over all pixels, masked ones included as in Monodepth2
        - their identity error carries no depth gradient), bool mask of pixels won by a warped
        source, argmin index and the per-pixel minimum.

    Raises:
        ValueError: on malformed error maps, or ``automask=True`` without ``identity_errors``.
        ConfigError: on a negative ``noise``.

    Example:
        >>> warped = torch.tensor([0.1, 0.4]).view(1, 2, 1, 1)
        >>> identity = torch.tensor([0.3, 0.05]).view(1, 2, 1, 1)
        >>> r = min_reprojection_loss(warped, identity, noise=0.0)
        >>> float(r.loss), bool(r.automask)
        (0.05000000074505806, False)
    """
    if noise < 0:
        raise ConfigError(f"automask tie-breaking noise must be >= 0, got {noise}")
    reproj = _as_stack(reprojection_errors, "reprojection_errors")
    if automask:
        if identity_errors is None:
            raise ValueError(
                "automask=True needs identity_errors (photometric errors of the unwarped "
                "sources); pass them or set automask=False"
            )
        ident = _as_stack(identity_errors, "identity_errors")
        if ident.shape[0] != reproj.shape[0] or ident.shape[2:] != reproj.shape[2:]:
            raise ValueError(
                f"identity_errors {tuple(ident.shape)} and reprojection_errors "
                f"{tuple(reproj.shape)} differ in batch or spatial size"
            )
        if noise > 0:
            device = generator.device if generator is not None else ident.device
            rand = torch.randn(ident.shape, generator=generator, device=device, dtype=ident.dtype)
            ident = ident + noise * rand.to(ident.device)
        combined = torch.cat([ident, reproj.to(ident.dtype)], dim=1)
        n_identity = ident.shape[1]
    else:
        combined = reproj
        n_identity = 0
    per_pixel, index = combined.min(dim=1, keepdim=True)
    return MinReprojectionResult(
        loss=per_pixel.mean(),
        automask=index >= n_identity,
        index=index,
        per_pixel=per_pixel,
    )


class MinReprojectionLoss(nn.Module):
    """Module twin of :func:`min_reprojection_loss`.

    ``forward(reprojection_errors, identity_errors=None, generator=None)`` returns a
    :class:`MinReprojectionResult`.
    """

    def __init__(self, automask: bool = True, noise: float = 1e-5) -> None:
        super().__init__()
        if noise < 0:
            raise ConfigError(f"automask tie-breaking noise must be >= 0, got {noise}")
        self.automask = bool(automask)
        self.noise = float(noise)

    def forward(
        self,
        reprojection_errors: Tensor | Sequence[Tensor],
        identity_errors: Tensor | Sequence[Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> MinReprojectionResult:
        return min_reprojection_loss(
            reprojection_errors, identity_errors, self.automask, self.noise, generator
        )

    def extra_repr(self) -> str:
        return f"automask={self.automask}, noise={self.noise}"
