"""The matrix maths of intrinsics, one implementation for NumPy and torch: pixel <-> normalised
(:func:`denormalise_matrix`, :func:`normalise_matrix`), horizontal flip, resize, field of view ->
focal length, and the RQ decomposition of a projection matrix.

Conventions: :mod:`litedepth.geometry.intrinsics` (pixel-centre coordinates; normalised = row 0
divided by the width, row 1 by the height).

The pixel <-> normalised conversion is written here once; every other name for it calls these
two functions: :meth:`Intrinsics.to_pixels` / :meth:`Intrinsics.to_normalised` (typed),
:func:`litedepth.geometry.camera.normalised_to_pixel` / ``pixel_to_normalised`` /
``scale_intrinsics`` (torch tensors of the training code, shape-checked), and the deprecated
``litedepth.geometry.calibration.normalize_intrinsics`` / ``denormalize_intrinsics``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from litedepth.errors import ConfigError

__all__ = ["denormalise_matrix", "focal_from_fov", "hflip_matrix", "normalise_matrix", "resize_matrix"]

Matrix = TypeVar("Matrix", np.ndarray, torch.Tensor)


# --------------------------------------------------------------------------- matrix maths


def _copy(K: Matrix) -> Matrix:
    return K.clone() if isinstance(K, torch.Tensor) else np.array(K, dtype=np.float64, copy=True)


def _check_matrix(K: Any, name: str = "K") -> None:
    shape = tuple(K.shape) if hasattr(K, "shape") else None
    if shape is None or len(shape) < 2 or shape[-2:] not in ((3, 3), (4, 4)):
        raise ValueError(f"{name} must have shape (..., 3, 3) or (..., 4, 4), got {shape}")


def _check_size(height: int, width: int) -> None:
    if not (float(height) > 0 and float(width) > 0):
        raise ConfigError(f"image size must be positive, got height={height}, width={width}")


def _scale_rows(K: Matrix, height: int, width: int, divide: bool) -> Matrix:
    """Row 0 of ``K`` times (or divided by) ``width``, row 1 by ``height``: a new array / tensor."""
    _check_matrix(K)
    _check_size(height, width)
    out = _copy(K)
    if divide:
        out[..., 0, :3] = out[..., 0, :3] / float(width)
        out[..., 1, :3] = out[..., 1, :3] / float(height)
    else:
        out[..., 0, :3] = out[..., 0, :3] * float(width)
        out[..., 1, :3] = out[..., 1, :3] * float(height)
    return out


def denormalise_matrix(K_normalised: Matrix, height: int, width: int) -> Matrix:
    """Normalised -> pixel intrinsics for a ``height x width`` image: row 0 times ``width``, row 1
    times ``height`` (Monodepth2's plain multiplication, ``cx_px = cx_norm * W``).

    Args:
        K_normalised: ``(..., 3, 3)`` or ``(..., 4, 4)`` NumPy array or torch tensor.
        height, width: image size in pixels, positive.
    Returns:
        A new array / tensor of the same shape (NumPy: float64; torch: the input's dtype).

    Raises:
        ValueError: a wrong shape.
        ConfigError: a non-positive size.
    """
    return _scale_rows(K_normalised, height, width, divide=False)


def normalise_matrix(K_pixel: Matrix, height: int, width: int) -> Matrix:
    """Pixel intrinsics of a ``height x width`` image -> normalised: row 0 divided by ``width``,
    row 1 by ``height``; the exact inverse of :func:`denormalise_matrix` (same shapes, dtypes and
    errors), so a pixel calibration goes through normalised form and back unchanged."""
    return _scale_rows(K_pixel, height, width, divide=True)


def hflip_matrix(K_pixel: Matrix, width: int) -> Matrix:
    """Pixel intrinsics of the horizontally flipped image: ``cx' = W - 1 - cx``, skew negated.

    Pixel-centre convention: column ``u`` becomes ``W - 1 - u``. Flipping twice gives ``K`` back.

    Args:
        K_pixel: ``(..., 3, 3)`` or ``(..., 4, 4)`` pixel intrinsics of an image ``width`` wide.
        width: ``W`` in pixels.
    Returns:
        A new array / tensor of the same shape and dtype.
    """
    _check_matrix(K_pixel)
    out = K_pixel.clone() if isinstance(K_pixel, torch.Tensor) else np.array(K_pixel, copy=True)
    out[..., 0, 2] = (width - 1) - out[..., 0, 2]
    out[..., 0, 1] = 0.0 - out[..., 0, 1]  # (0.0 - x, not -x: keeps a zero skew +0.0)
    return out


def resize_matrix(K_pixel: Matrix, from_size: Sequence[float], to_size: Sequence[float]) -> Matrix:
    """Pixel intrinsics after resizing the image from ``from_size = (h, w)`` to ``to_size = (H, W)``.

    Exact in the pixel-centre convention (``align_corners=False`` resizing maps pixel edges to
    pixel edges): with ``s_x = W / w``, ``s_y = H / h``: ``fx' = fx s_x``, ``skew' = skew s_x``,
    ``cx' = (cx + 0.5) s_x - 0.5``, ``fy' = fy s_y``, ``cy' = (cy + 0.5) s_y - 0.5``.

    Args:
        K_pixel: ``(..., 3, 3)`` (or ``4x4``) pixel intrinsics, NumPy or torch (computed in the
            input's dtype; use float64 for exactness).
        from_size, to_size: ``(height, width)`` in pixels, positive.
    Returns:
        A new array / tensor of the same shape.

    Raises:
        ConfigError: a non-positive size.
    """
    _check_matrix(K_pixel)
    h, w = float(from_size[0]), float(from_size[1])
    H, W = float(to_size[0]), float(to_size[1])
    if min(h, w, H, W) <= 0:
        raise ConfigError(f"image sizes must be positive, got {tuple(from_size)} -> {tuple(to_size)}")
    sx, sy = W / w, H / h
    out = K_pixel.clone() if isinstance(K_pixel, torch.Tensor) else np.array(K_pixel, copy=True)
    out[..., 0, 0] *= sx
    out[..., 0, 1] *= sx
    out[..., 0, 2] = (out[..., 0, 2] + 0.5) * sx - 0.5
    out[..., 1, 1] *= sy
    out[..., 1, 2] = (out[..., 1, 2] + 0.5) * sy - 0.5
    return out


def focal_from_fov(size_px: float, fov_deg: float) -> float:
    """Focal length in pixels giving ``fov_deg`` across ``size_px`` pixels: ``(N / 2) / tan(fov / 2)``.

    Raises:
        ConfigError: a field of view outside ``(0, 180)`` degrees or a non-positive size.
    """
    if not 0.0 < float(fov_deg) < 180.0:
        raise ConfigError(f"field of view must be between 0 and 180 degrees, got {fov_deg}")
    if float(size_px) <= 0:
        raise ConfigError(f"image size must be positive, got {size_px}")
    return 0.5 * size_px / math.tan(math.radians(fov_deg) / 2.0)


def rq_intrinsics(A: np.ndarray) -> np.ndarray:
    """``K`` (upper triangular, positive diagonal, ``K[2, 2] = 1``) of ``A = K R``, ``R`` orthogonal."""
    flip = np.eye(3)[::-1]
    Q, U = np.linalg.qr((flip @ A).T)
    K = flip @ U.T @ flip
    K = K @ np.diag(np.sign(np.diag(K)))
    return K / K[2, 2]
