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
from typing import Any, NamedTuple

import torch
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

    This is the formula of Monodepth2's ``SSIM`` layer (reflection padding then five
    ``avg_pool2d(3, stride 1)``), computed faster and with less memory (see
    :class:`_SSIMFunction`): the 3x3 means are sums of shifted views, and only ``x`` and ``y``
    are kept for the backward pass, which recomputes the statistics and applies the adjoint
    of the padded box filter. Values and gradients equal the pooling formula to float
    rounding (tested, float64 differences ~1e-15).

    Args:
        x: ``(B, C, H, W)`` image, values nominally in ``[0, 1]``; ``H, W >= 2``.
        y: ``(B, C, H, W)`` image of the same shape.
        c1: stabiliser of the luminance term, ``(0.01 * L)^2`` with dynamic range ``L = 1``.
        c2: stabiliser of the contrast-structure term, ``(0.03 * L)^2``.

    Returns:
        ``(B, C, H, W)`` loss in ``[0, 1]``; 0 where the images agree. Symmetric in ``x, y``.
        float16 / bfloat16 inputs are computed in float32 and returned in their dtype.

    Raises:
        ValueError: on shapes that differ, are not 4-D, or are smaller than 2x2.

    Example:
        >>> x = torch.rand(1, 3, 4, 5)
        >>> float(ssim(x, x).abs().max()) < 1e-6
        True
    """
    _check_pair(x, y, ("x", "y"))
    return _SSIMFunction.apply(x, y, float(c1), float(c2))


# ------------------------------------------------------------------------------ SSIM kernels
# Tensors below are "stacks": dimension 0 indexes maps of the same shape, so one call of
# _box_sum filters all of them.


def _compute_dtype(t: Tensor) -> torch.dtype:
    return torch.promote_types(t.dtype, torch.float32)


def _reflect_pad_into(dst: Tensor, src: Tensor) -> None:
    """Write ``src`` ``(..., H, W)`` reflection-padded by 1 into ``dst`` ``(..., H+2, W+2)``
    (``F.pad(mode="reflect")``: row -1 mirrors row 1, row H mirrors row H-2)."""
    h, w = src.shape[-2:]
    dst[..., 1:h + 1, 1:w + 1] = src
    dst[..., 0, :] = dst[..., 2, :]
    dst[..., h + 1, :] = dst[..., h - 1, :]
    dst[..., :, 0] = dst[..., :, 2]
    dst[..., :, w + 1] = dst[..., :, w - 1]


def _fold_reflect(g: Tensor) -> Tensor:
    """Adjoint of the reflection padding: ``(..., H+2, W+2)`` gradient -> ``(..., H, W)``.

    Each border entry of the padded map adds to the pixel it mirrors (corners to the pixel
    mirrored in both directions).
    """
    hp, wp = g.shape[-2:]
    h, w = hp - 2, wp - 2
    rows = g[..., 1:h + 1, :].clone()
    rows[..., 1, :] += g[..., 0, :]
    rows[..., h - 2, :] += g[..., h + 1, :]
    out = rows[..., 1:w + 1].clone()
    out[..., 1] += rows[..., 0]
    out[..., w - 2] += rows[..., w + 1]
    return out


def _box_sum(a: Tensor) -> Tensor:
    """Sums over every 3x3 window: ``(..., h, w) -> (..., h - 2, w - 2)`` (a valid box filter;
    as a correlation with a symmetric kernel it is also its own adjoint on a zero-padded map)."""
    h, w = a.shape[-2:]
    rows = a[..., 0:h - 2, :] + a[..., 1:h - 1, :]
    rows += a[..., 2:h, :]
    out = rows[..., 0:w - 2] + rows[..., 1:w - 1]
    out += rows[..., 2:w]
    return out


def _ssim_statistics(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """``(padded, moments)``: ``padded`` ``(5, B, C, H+2, W+2)`` holds the reflection-padded
    ``x, y, x^2, y^2, x y`` and ``moments`` ``(5, B, C, H, W)`` their 3x3 means
    ``mu_x, mu_y, E[x^2], E[y^2], E[xy]``."""
    dtype = _compute_dtype(x)
    h, w = x.shape[-2:]
    padded = torch.empty((5, *x.shape[:-2], h + 2, w + 2), dtype=dtype, device=x.device)
    _reflect_pad_into(padded[0], x)
    _reflect_pad_into(padded[1], y)
    torch.mul(padded[0], padded[0], out=padded[2])
    torch.mul(padded[1], padded[1], out=padded[3])
    torch.mul(padded[0], padded[1], out=padded[4])
    return padded, _box_sum(padded).mul_(1.0 / 9.0)


def _ssim_terms(m: Tensor, c1: float, c2: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(mu_xy, A, Bn, P, Q)`` of ``SSIM = A Bn / (P Q)`` from the moments (see :func:`ssim`):
    ``A = 2 mu_x mu_y + C1``, ``Bn = 2 sigma_xy + C2``, ``P = mu_x^2 + mu_y^2 + C1``,
    ``Q = sigma_x + sigma_y + C2``."""
    mx, my, exx, eyy, exy = m.unbind(0)
    mxy = mx * my
    a = mxy.mul(2.0).add_(c1)
    bn = torch.sub(exy, mxy).mul_(2.0).add_(c2)
    p = (mx * mx).addcmul_(my, my).add_(c1)
    q = torch.add(exx, eyy).sub_(p).add_(c1 + c2)  # sigma_x + sigma_y + C2
    return mxy, a, bn, p, q


def _ssim_forward(x: Tensor, y: Tensor, c1: float, c2: float) -> Tensor:
    """``clamp((1 - SSIM) / 2, 0, 1)`` ``(B, C, H, W)`` in the compute dtype (no autograd)."""
    _, m = _ssim_statistics(x, y)
    _, a, bn, p, q = _ssim_terms(m, c1, c2)
    ratio = a.mul_(bn).div_(p.mul_(q))
    return ratio.neg_().add_(1.0).mul_(0.5).clamp_(0.0, 1.0)


def _ssim_backward(x: Tensor, y: Tensor, grad: Tensor, c1: float, c2: float,
                   need_x: bool = True, need_y: bool = True) -> tuple[Tensor | None, Tensor | None]:
    """Gradients of ``sum(grad * ssim(x, y))`` with respect to ``x`` and ``y``.

    With ``SSIM = N / D``, ``N = A Bn``, ``D = P Q`` and ``v = (1 - N / D) / 2``:
    ``dv/dN = -1 / (2 D)``, ``dv/dD = N / (2 D^2)``; the chain rule through the moments
    gives gradients of the five 3x3 means, which the adjoint box filter (a box sum over the
    zero-padded map) spreads over the padded images and :func:`_fold_reflect` folds back
    through the reflection padding. The clamp passes the gradient where ``0 <= v <= 1``
    (``torch.clamp``'s convention).
    """
    padded, m = _ssim_statistics(x, y)
    mx, my = m[0], m[1]
    _, a, bn, p, q = _ssim_terms(m, c1, c2)
    den = p * q
    ratio = a * bn
    ratio /= den
    v = ratio.neg().add_(1.0).mul_(0.5)
    g = grad.to(den.dtype) * ((v >= 0) & (v <= 1))
    g_num = g.mul_(-0.5).div_(den)          # dv/dN
    g_den = (g_num * ratio).neg_()          # dv/dD = -dv/dN * N / D
    d_mu = g_num * bn                        # dv/dA ...
    g_bn = g_num.mul_(a)                     # dv/dBn
    d_mu -= g_bn                             # dv/dA - dv/dBn
    d_var = g_den * q                        # dv/dP ...
    g_q = g_den.mul_(p)                      # dv/dQ (= dv/dE[x^2] = dv/dE[y^2])
    d_var -= g_q                             # dv/dP - dv/dQ
    h, w = x.shape[-2:]
    # gradients of the four distinct means (mu_x, mu_y, E[x^2] = E[y^2], E[xy]), zero-padded by
    # 2 so that a box sum gives the adjoint of the valid 3x3 mean on the padded images
    gm = torch.zeros((4, *x.shape[:-2], h + 4, w + 4), dtype=den.dtype, device=den.device)
    inner = gm[..., 2:h + 2, 2:w + 2]
    torch.mul(my, d_mu, out=inner[0]).addcmul_(mx, d_var).mul_(2.0)   # d/d mu_x
    torch.mul(mx, d_mu, out=inner[1]).addcmul_(my, d_var).mul_(2.0)   # d/d mu_y
    inner[2] = g_q                                                     # d/d E[x^2], d/d E[y^2]
    torch.mul(g_bn, 2.0, out=inner[3])                                 # d/d E[xy]
    gp = _box_sum(gm).mul_(1.0 / 9.0)  # (4, B, C, H+2, W+2) gradients on the padded maps
    gx = gy = None
    if need_x:  # d/dx_p = G_mu_x + 2 x_p G_xx + y_p G_xy
        gxp = torch.addcmul(gp[0], padded[0], gp[2], value=2.0).addcmul_(padded[1], gp[3])
        gx = _fold_reflect(gxp).to(x.dtype)
    if need_y:
        gyp = torch.addcmul(gp[1], padded[1], gp[2], value=2.0).addcmul_(padded[0], gp[3])
        gy = _fold_reflect(gyp).to(y.dtype)
    return gx, gy


class _SSIMFunction(torch.autograd.Function):
    """:func:`ssim` with a hand-written backward that keeps only ``x`` and ``y``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, c1: float, c2: float) -> Tensor:  # noqa: D102
        ctx.save_for_backward(x, y)
        ctx.constants = (c1, c2)
        return _ssim_forward(x, y, c1, c2).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # noqa: D102
        x, y = ctx.saved_tensors
        gx, gy = _ssim_backward(x, y, grad, *ctx.constants, ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return gx, gy, None, None


class _PhotometricFunction(torch.autograd.Function):
    """:func:`photometric_error` for ``alpha > 0`` in one node that keeps only ``pred`` and
    ``target`` for the backward pass (the SSIM statistics are recomputed there)."""

    @staticmethod
    def forward(ctx: Any, pred: Tensor, target: Tensor, alpha: float) -> Tensor:  # noqa: D102
        ctx.save_for_backward(pred, target)
        ctx.alpha = alpha
        c = pred.shape[1]
        out = _ssim_forward(pred, target, SSIM_C1, SSIM_C2).sum(dim=1, keepdim=True).mul_(alpha / c)
        l1 = (pred - target).abs_().sum(dim=1, keepdim=True)
        return out.add_(l1, alpha=(1.0 - alpha) / c).to(pred.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # noqa: D102
        pred, target = ctx.saved_tensors
        alpha, c = ctx.alpha, pred.shape[1]
        need_p, need_t = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        g_ssim = (grad * (alpha / c)).expand_as(pred)
        gp, gt = _ssim_backward(pred, target, g_ssim, SSIM_C1, SSIM_C2, need_p, need_t)
        g_l1 = torch.sign(pred - target).mul_(grad * ((1.0 - alpha) / c))
        if gp is not None:
            gp = gp.add_(g_l1.to(gp.dtype))
        if gt is not None:
            gt = gt.sub_(g_l1.to(gt.dtype))
        return gp, gt, None


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
    if alpha == 0.0:
        return (pred - target).abs().mean(dim=1, keepdim=True)
    return _PhotometricFunction.apply(pred, target, float(alpha))


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
