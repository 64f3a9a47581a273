"""Pinhole camera: intrinsics scaling, back-projection of depth maps and projection of points.

Conventions (shared by :mod:`litedepth.geometry.warp` and the self-supervised losses):

* **Pixel coordinates** ``(u, v)``: ``u`` grows to the right (column), ``v`` downwards (row).
  The *centre* of the pixel in column ``j``, row ``i`` is at ``(u, v) = (j, i)``: integer
  coordinates are pixel centres, the image spans ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``. This is
  the convention of ``grid_sample(..., align_corners=True)``, where the grid values ``-1`` and
  ``+1`` are the centres of the first and last pixels, so ``x_grid = 2 u / (W - 1) - 1``. It is
  also the OpenCV / KITTI calibration convention.
* **Pixel intrinsics** ``K``: ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels, mapping a
  camera point ``(X, Y, Z)`` to ``u = (fx X + s Y) / Z + cx``, ``v = fy Y / Z + cy``. A ``4x4``
  form with ``K[3, 3] = 1`` (as Monodepth2 keeps it) is accepted everywhere a ``3x3`` is.
* **Intrinsics as one typed object**: :class:`litedepth.geometry.intrinsics.Intrinsics` carries
  the convention below with the numbers; the tensor functions here delegate to its matrix maths.
* **Normalised intrinsics**: row 0 of the pixel ``K`` divided by the width ``W`` and row 1 by
  the height ``H`` (``fx/W, s/W, cx/W, fy/H, cy/H``), so one matrix serves every resolution.
  KITTI's Monodepth2 values are ``fx = 0.58, fy = 1.92, cx = cy = 0.5``.

  Like Monodepth2 we convert by plain multiplication, ``cx_pix = cx_norm * W`` (also at every
  pyramid level, with that level's ``W``). If normalised coordinates are read as fractions of
  the image *extent* (0 = left edge), the pixel-centre value would be ``cx_norm * W - 0.5``;
  Monodepth2 ignores this half pixel and so do we, so that its intrinsics and results
  reproduce exactly. Callers who want the edge-exact form can subtract 0.5 from ``cx, cy``
  after scaling. ``pixel_to_normalised`` is the exact inverse of ``normalised_to_pixel``, so a
  pixel calibration goes through normalised form and back unchanged.
* **Camera frame**: x right, y down, z forward (optical axis); depth is ``z`` in metres (not
  the Euclidean distance to the camera centre).

Everything is built from the input shapes: no batch size or image size is stored.
"""

from __future__ import annotations

import torch
from torch import Tensor

from litedepth.geometry.intrinsics import denormalise_matrix, normalise_matrix

__all__ = [
    "backproject",
    "normalised_to_pixel",
    "pixel_grid",
    "pixel_to_grid",
    "pixel_to_normalised",
    "project",
    "scale_intrinsics",
]


def _describe(t: object) -> str:
    """Shape of a tensor, or the type name of anything else, for error messages."""
    return str(tuple(t.shape)) if isinstance(t, Tensor) else type(t).__name__


def _check_intrinsics(K: Tensor, name: str = "K") -> None:
    if not isinstance(K, Tensor) or K.dim() not in (2, 3) or K.shape[-2:] not in ((3, 3), (4, 4)):
        raise ValueError(
            f"{name} must have shape (3, 3), (4, 4), (B, 3, 3) or (B, 4, 4), got {_describe(K)}"
        )


def _check_size(height: int, width: int) -> None:
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"image size must be positive, got height={height}, width={width}")


def normalised_to_pixel(K_normalised: Tensor, height: int, width: int) -> Tensor:
    """Convert normalised intrinsics to pixel intrinsics for an image of ``height x width``.

    Row 0 is multiplied by ``width`` and row 1 by ``height`` (Monodepth2's convention; see the
    module docstring for the half-pixel remark). For a pyramid level ``s`` pass the size of
    that level, e.g. ``(H // 2**s, W // 2**s)``.

    Args:
        K_normalised: ``(3, 3)``, ``(4, 4)``, ``(B, 3, 3)`` or ``(B, 4, 4)`` intrinsics with
            ``fx/W, s/W, cx/W`` in row 0 and ``fy/H, cy/H`` in row 1.
        height: image height ``H`` in pixels.
        width: image width ``W`` in pixels.

    Returns:
        Pixel intrinsics of the same shape, dtype and device (a new tensor).

    Raises:
        ValueError: on a wrong shape or a non-positive size.

    Example:
        >>> K = torch.tensor([[0.58, 0, 0.5], [0, 1.92, 0.5], [0, 0, 1]])
        >>> normalised_to_pixel(K, 192, 640)[:2]
        tensor([[371.2000,   0.0000, 320.0000],
                [  0.0000, 368.6400,  96.0000]])
    """
    _check_intrinsics(K_normalised, "K_normalised")
    _check_size(height, width)
    return denormalise_matrix(K_normalised, height, width)


def pixel_to_normalised(K_pixel: Tensor, height: int, width: int) -> Tensor:
    """Convert pixel intrinsics of a ``height x width`` image to normalised intrinsics.

    Exact inverse of :func:`normalised_to_pixel`: row 0 divided by ``width``, row 1 by
    ``height``.

    Args:
        K_pixel: ``(3, 3)``, ``(4, 4)``, ``(B, 3, 3)`` or ``(B, 4, 4)`` pixel intrinsics.
        height: image height ``H`` in pixels the intrinsics belong to.
        width: image width ``W`` in pixels.

    Returns:
        Normalised intrinsics of the same shape, dtype and device.

    Raises:
        ValueError: on a wrong shape or a non-positive size.
    """
    _check_intrinsics(K_pixel, "K_pixel")
    _check_size(height, width)
    return normalise_matrix(K_pixel, height, width)


def scale_intrinsics(K_normalised: Tensor, height: int, width: int) -> Tensor:
    """Pixel intrinsics for a ``height x width`` image; same as :func:`normalised_to_pixel`.

    Kept under this name because it is how training code reads: "scale the normalised
    intrinsics to this pyramid level". The reverse is :func:`pixel_to_normalised`.
    """
    return normalised_to_pixel(K_normalised, height, width)


def pixel_grid(
    height: int,
    width: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Homogeneous pixel-centre coordinates of a ``height x width`` image.

    Returns:
        ``(3, H*W)`` tensor whose column ``i * W + j`` is ``(j, i, 1)`` (row-major order, the
        order of ``depth.view(B, 1, H*W)``).
    """
    _check_size(height, width)
    v, u = torch.meshgrid(
        torch.arange(height, device=device, dtype=dtype),
        torch.arange(width, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack([u.reshape(-1), v.reshape(-1), torch.ones_like(u).reshape(-1)], dim=0)


def backproject(depth: Tensor, inv_K: Tensor) -> Tensor:
    """Lift every pixel of a depth map to a 3-D point in the camera frame.

    The point of pixel ``(u, v)`` is ``depth[v, u] * inv_K @ (u, v, 1)``, so its ``z`` equals
    the depth.

    Args:
        depth: ``(B, 1, H, W)`` depth along the optical axis, metres.
        inv_K: inverse *pixel* intrinsics, ``(B, 3, 3)`` or ``(B, 4, 4)`` (or unbatched
            ``(3, 3)`` / ``(4, 4)``, shared by the batch).

    Returns:
        ``(B, 3, H*W)`` camera points when ``inv_K`` is ``3x3``; ``(B, 4, H*W)`` homogeneous
        points (last row ones) when it is ``4x4``. Metres, row-major pixel order.

    Raises:
        ValueError: on wrong shapes.

    Example:
        >>> K = torch.tensor([[[2.0, 0, 1], [0, 2, 1], [0, 0, 1]]])
        >>> backproject(torch.full((1, 1, 2, 2), 4.0), torch.linalg.inv(K))[0, :, 0]
        tensor([-2., -2.,  4.])
    """
    if not isinstance(depth, Tensor) or depth.dim() != 4 or depth.shape[1] != 1:
        raise ValueError(f"depth must have shape (B, 1, H, W), got {_describe(depth)}")
    _check_intrinsics(inv_K, "inv_K")
    if inv_K.dim() == 3 and inv_K.shape[0] not in (1, depth.shape[0]):
        raise ValueError(
            f"inv_K batch {inv_K.shape[0]} does not match depth batch {depth.shape[0]}"
        )
    b, _, h, w = depth.shape
    pix = pixel_grid(h, w, device=depth.device, dtype=depth.dtype)
    rays = inv_K[..., :3, :3].to(depth.dtype) @ pix  # (B, 3, HW) or (3, HW)
    points = depth.reshape(b, 1, h * w) * rays
    if inv_K.shape[-1] == 4:
        points = torch.cat([points, torch.ones_like(points[:, :1])], dim=1)
    return points


def _project_points(
    points: Tensor, K: Tensor, T: Tensor | None, eps: float
) -> tuple[Tensor, Tensor]:
    """Pixel coordinates ``(B, 2, N)`` and camera-frame depth ``(B, 1, N)`` of ``points``."""
    if not isinstance(points, Tensor) or points.dim() != 3 or points.shape[1] not in (3, 4):
        raise ValueError(f"points must have shape (B, 3, N) or (B, 4, N), got {_describe(points)}")
    _check_intrinsics(K, "K")
    if T is not None and (
        not isinstance(T, Tensor) or T.dim() not in (2, 3) or T.shape[-2:] != (4, 4)
    ):
        raise ValueError(f"T must have shape (B, 4, 4) or (4, 4), got {_describe(T)}")
    for name, m in (("K", K), ("T", T)):
        if m is not None and m.dim() == 3 and m.shape[0] not in (1, points.shape[0]):
            raise ValueError(
                f"{name} batch {m.shape[0]} does not match points batch {points.shape[0]}"
            )
    xyz = points[:, :3]
    if T is not None:
        T = T.to(points.dtype)
        xyz = T[..., :3, :3] @ xyz + T[..., :3, 3:]
    uvw = K[..., :3, :3].to(points.dtype) @ xyz
    z = uvw[:, 2:3]
    # Points at or behind the camera plane are pushed far outside the image (and are reported
    # invalid by inverse_warp) instead of being mirrored through the centre by a signed divide.
    pix = uvw[:, :2] / z.clamp(min=eps)
    return pix, xyz[:, 2:3]


def pixel_to_grid(pix: Tensor, height: int, width: int) -> Tensor:
    """Normalise pixel coordinates for ``grid_sample(..., align_corners=True)``.

    Args:
        pix: ``(..., 2)`` pixel-centre coordinates ``(u, v)`` of a ``height x width`` image.
        height: source image height, > 1.
        width: source image width, > 1.

    Returns:
        ``(..., 2)`` coordinates where ``-1`` / ``+1`` are the first / last pixel centres:
        ``x = 2 u / (W - 1) - 1``, ``y = 2 v / (H - 1) - 1``.

    Raises:
        ValueError: when ``height`` or ``width`` is below 2 (the map is undefined).
    """
    if int(height) < 2 or int(width) < 2:
        raise ValueError(
            f"normalised grid needs height and width >= 2, got height={height}, width={width}"
        )
    scale = pix.new_tensor([2.0 / (width - 1), 2.0 / (height - 1)])
    return pix * scale - 1.0


def project(
    points: Tensor,
    K: Tensor,
    T: Tensor | None,
    height: int,
    width: int,
    eps: float = 1e-7,
) -> tuple[Tensor, Tensor]:
    """Project 3-D points, optionally moved by a rigid transform, into a pinhole camera.

    Computes ``x = K (T X)`` and divides by its third coordinate. With ``X`` from
    :func:`backproject` of a target view and ``T = T_source_from_target``, this gives where each
    target pixel lands in the source image.

    Args:
        points: ``(B, 4, N)`` homogeneous points (or ``(B, 3, N)`` Euclidean), metres, with
            ``N == height * width`` in row-major pixel order.
        K: *pixel* intrinsics of the camera projected into, ``(B, 3, 3)``, ``(B, 4, 4)``,
            ``(3, 3)`` or ``(4, 4)``.
        T: ``(B, 4, 4)`` (or ``(4, 4)``) rigid transform applied first, ``X' = T @ X``; ``None``
            for the identity.
        height: ``H`` of the pixel layout of the points (and of the image later sampled).
        width: ``W``.
        eps: depths below ``eps`` (points on or behind the camera plane) are clamped to ``eps``
            before the divide, which sends them far outside the image instead of producing
            ``inf``/``nan`` or a mirrored point (Monodepth2 adds ``eps`` instead; identical for
            points in front of the camera).

    Returns:
        ``(pix, grid)``, both ``(B, H, W, 2)``: ``pix`` in pixel coordinates ``(u, v)`` (pixel
        centres at integers), ``grid`` normalised to ``[-1, 1]`` inside the image for
        ``F.grid_sample(img, grid, align_corners=True)``.

    Raises:
        ValueError: on wrong shapes, ``N != height * width``, or a size below 2.
    """
    pix, _ = _project_points(points, K, T, eps)
    b, _, n = pix.shape
    if n != int(height) * int(width):
        raise ValueError(
            f"points hold {n} points but height * width = {height} * {width} = {height * width}"
        )
    pix = pix.reshape(b, 2, height, width).permute(0, 2, 3, 1)
    return pix, pixel_to_grid(pix, height, width)
