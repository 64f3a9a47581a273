"""View synthesis by inverse warping: the image-reconstruction step of self-supervised depth.

Pose convention (the same as Monodepth2's): ``T_source_from_target`` maps homogeneous points
expressed in the *target* camera frame to the *source* camera frame,

    X_source = T_source_from_target @ X_target.

Its translation column is the target camera's centre expressed in the source frame. With no
rotation, a source camera placed at position ``c`` in the target frame gives translation
``-c``: a source camera 1 m *forward* of the target (along +z) has ``T[2, 3] = -1``, one 0.5 m
to the *right* (+x) has ``T[0, 3] = -0.5``. Monodepth2 uses its PoseNet output for frame ``+1``
as is and inverts the one for frame ``-1`` so that both are of this form; its stereo transform
is too (target = left image, source = right camera 0.1 units to the right: ``T[0, 3] = -0.1``;
the signs swap for a right target or a horizontally flipped pair).

For every *target* pixel, its depth lifts it to a 3-D point, ``T`` moves the point into the
source frame, ``K`` projects it to source pixel coordinates, and the source image is sampled
there (bilinear, border padding, ``align_corners=True`` - the pixel-centre convention of
:mod:`litedepth.geometry.camera`). The result is the source image re-rendered from the target
viewpoint; compare it with the target image for the photometric loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litedepth.geometry.camera import (
    _check_intrinsics,
    _describe,
    _project_points,
    backproject,
    pixel_to_grid,
)

__all__ = ["InverseWarp", "inverse_warp"]

# Tolerance, in pixels, when deciding whether a projection lands inside the image: keeps the
# border pixels of an identity warp valid despite rounding in K^-1 then K.
_INSIDE_TOL_PX = 1e-3


def inverse_warp(
    source_img: Tensor,
    target_depth: Tensor,
    T_source_from_target: Tensor,
    K: Tensor,
    eps: float = 1e-7,
) -> tuple[Tensor, Tensor]:
    """Re-render the source image from the target viewpoint.

    Args:
        source_img: ``(B, C, H, W)`` source image (any value range, float).
        target_depth: ``(B, 1, H, W)`` depth of the *target* view in metres (same units as
            the translation of ``T_source_from_target``). For a coarse decoder scale, upsample
            its disparity to ``H x W`` before converting to depth, as Monodepth2 does.
        T_source_from_target: ``(B, 4, 4)`` rigid transform with ``X_source = T @ X_target``
            (see the module docstring).
        K: ``(B, 3, 3)`` or ``(B, 4, 4)`` *pixel* intrinsics at resolution ``H x W``, shared by
            both views (an unbatched ``(3, 3)`` / ``(4, 4)`` is broadcast).
        eps: minimum depth in the source frame used in the perspective divide.

    Returns:
        ``(warped, valid_mask)``: ``warped`` is ``(B, C, H, W)`` in the dtype of ``source_img``,
        the source image sampled at the projections of the target pixels (``grid_sample``,
        bilinear, ``padding_mode="border"``, ``align_corners=True``; geometry and sampling run
        in at least float32 with autocast disabled); ``valid_mask`` is ``(B, 1, H, W)`` bool,
        ``True`` where the target point lies in front of the source camera and projects inside
        the source image (``0 <= u <= W-1``, ``0 <= v <= H-1`` give or take 1e-3 px). Pixels outside
        the mask hold border-replicated colours, as in Monodepth2, which does not use the mask.

    Raises:
        ValueError: on wrong shapes, mismatched batch or spatial sizes, or ``H``/``W`` below 2.

    Example:
        >>> img = torch.rand(2, 3, 8, 10)
        >>> K = torch.tensor([[8.0, 0, 5], [0, 8, 4], [0, 0, 1]]).expand(2, 3, 3)
        >>> depth, T = torch.ones(2, 1, 8, 10), torch.eye(4).expand(2, 4, 4)
        >>> warped, valid = inverse_warp(img, depth, T, K)
        >>> torch.allclose(warped, img, atol=1e-5), bool(valid.all())
        (True, True)
    """
    if not isinstance(source_img, Tensor) or source_img.dim() != 4:
        raise ValueError(f"source_img must have shape (B, C, H, W), got {_describe(source_img)}")
    if not isinstance(target_depth, Tensor) or target_depth.dim() != 4 or target_depth.size(1) != 1:
        raise ValueError(
            f"target_depth must have shape (B, 1, H, W), got {_describe(target_depth)}"
        )
    b, _, h, w = source_img.shape
    if target_depth.shape[0] != b or target_depth.shape[2:] != source_img.shape[2:]:
        raise ValueError(
            f"target_depth {tuple(target_depth.shape)} must match source_img "
            f"{tuple(source_img.shape)} in batch and spatial size (upsample the depth first)"
        )
    if h < 2 or w < 2:
        raise ValueError(f"images must be at least 2x2 pixels, got {h}x{w}")
    _check_intrinsics(K, "K")
    # Geometry in at least float32 and outside autocast: pixel coordinates of a few hundred
    # need more than half precision, and linalg.inv has no half-precision kernel.
    geo_dtype = torch.promote_types(
        torch.promote_types(target_depth.dtype, source_img.dtype), torch.float32
    )
    with torch.autocast(device_type=target_depth.device.type, enabled=False):
        depth = target_depth.to(geo_dtype)
        K3 = K[..., :3, :3].to(geo_dtype)
        points = backproject(depth, torch.linalg.inv(K3))
        pix, z = _project_points(points, K3, T_source_from_target, eps)
        pix = pix.reshape(b, 2, h, w)
        z = z.reshape(b, 1, h, w)
        u, v = pix[:, :1], pix[:, 1:]
        valid = (
            (z > eps)
            & (u >= -_INSIDE_TOL_PX) & (u <= w - 1 + _INSIDE_TOL_PX)
            & (v >= -_INSIDE_TOL_PX) & (v <= h - 1 + _INSIDE_TOL_PX)
        )
        grid = pixel_to_grid(pix.permute(0, 2, 3, 1), h, w)
        warped = F.grid_sample(
            source_img.to(geo_dtype), grid, mode="bilinear", padding_mode="border",
            align_corners=True,
        )
    warped = warped.to(source_img.dtype)
    return warped, valid


class InverseWarp(nn.Module):
    """Module twin of :func:`inverse_warp`; ``forward(source_img, target_depth,
    T_source_from_target, K)`` returns ``(warped, valid_mask)``."""

    def __init__(self, eps: float = 1e-7) -> None:
        super().__init__()
        self.eps = float(eps)

    def forward(
        self, source_img: Tensor, target_depth: Tensor, T_source_from_target: Tensor, K: Tensor
    ) -> tuple[Tensor, Tensor]:
        return inverse_warp(source_img, target_depth, T_source_from_target, K, self.eps)
