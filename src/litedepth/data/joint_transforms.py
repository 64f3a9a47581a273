"""Joint transforms of a segmentation (+ depth) sample: the image, its class mask, its depth
and depth validity resized, flipped, scaled and cropped together so that they stay aligned.

The image is resampled bilinearly (antialiased); mask, depth and validity with nearest neighbour,
so no class id or depth value is invented at boundaries. Shapes: image ``(3, H, W)`` float in
``[0, 1]``, mask ``(H, W)`` int64 class ids, depth ``(1, H, W)`` float32, valid ``(1, H, W)`` bool.
Used by :class:`litedepth.data.segmentation.SegmentationDataset`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from litedepth.errors import ConfigError

__all__ = ["joint_hflip", "joint_resize", "random_scale_crop"]


def joint_resize(image: Tensor, mask: Tensor, depth: Tensor, valid: Tensor, size: tuple[int, int]) -> tuple[Tensor, ...]:
    """Resize a sample to ``size = (h, w)``: image bilinear (antialiased), mask, depth and
    validity nearest neighbour (no label or depth is invented at boundaries).

    Shapes: image ``(3, H, W)``, mask ``(H, W)`` int64, depth / valid ``(1, H, W)``.
    """
    h, w = int(size[0]), int(size[1])
    if tuple(image.shape[-2:]) != (h, w):
        image = F.interpolate(image[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0].clamp_(0, 1)
    if tuple(mask.shape[-2:]) != (h, w):
        mask = F.interpolate(mask[None, None].float(), size=(h, w), mode="nearest-exact")[0, 0].long()
    if tuple(depth.shape[-2:]) != (h, w):
        depth = F.interpolate(depth[None], size=(h, w), mode="nearest-exact")[0]
        valid = F.interpolate(valid[None].float(), size=(h, w), mode="nearest-exact")[0] > 0.5
    return image, mask, depth, valid


def joint_hflip(image: Tensor, mask: Tensor, depth: Tensor, valid: Tensor) -> tuple[Tensor, ...]:
    """Mirror every tensor of a sample left-right (last axis).

    Shapes: image ``(3, H, W)``, mask ``(H, W)``, depth / valid ``(1, H, W)`` (returned the same).
    """
    return image.flip(-1), mask.flip(-1), depth.flip(-1), valid.flip(-1)


def random_scale_crop(
    image: Tensor,
    mask: Tensor,
    depth: Tensor,
    valid: Tensor,
    size: tuple[int, int],
    scale_range: tuple[float, float] = (0.5, 2.0),
    ignore_index: int = 255,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, ...]:
    """Random scale, pad and crop to ``size = (h, w)``, the same for every tensor.

    The image is first scaled by ``f = s * max(h / H, w / W)`` (``s`` uniform in
    ``scale_range``; ``s = 1`` makes the image just cover the crop, aspect kept), then padded
    at the bottom / right where smaller than the crop (image 0, mask ``ignore_index``, depth 0
    and invalid), then cropped at a uniformly drawn offset.
    """
    h, w = int(size[0]), int(size[1])
    lo, hi = float(scale_range[0]), float(scale_range[1])
    if not 0 < lo <= hi:
        raise ConfigError(f"scale_range must be 0 < low <= high, got {scale_range}")
    s = lo + (hi - lo) * float(torch.rand((), generator=generator))
    H, W = image.shape[-2:]
    f = s * max(h / H, w / W)
    nh, nw = max(1, round(H * f)), max(1, round(W * f))
    image, mask, depth, valid = joint_resize(image, mask, depth, valid, (nh, nw))
    ph, pw = max(0, h - nh), max(0, w - nw)
    if ph or pw:
        image = F.pad(image, (0, pw, 0, ph), value=0.0)
        mask = F.pad(mask, (0, pw, 0, ph), value=ignore_index)
        depth = F.pad(depth, (0, pw, 0, ph), value=0.0)
        valid = F.pad(valid, (0, pw, 0, ph), value=False)
    H2, W2 = image.shape[-2:]
    y = int(torch.randint(0, H2 - h + 1, (), generator=generator))
    x = int(torch.randint(0, W2 - w + 1, (), generator=generator))
    sl = (..., slice(y, y + h), slice(x, x + w))
    return image[sl], mask[sl], depth[sl], valid[sl]
