"""Augmentations for self-supervised (Monodepth2-style) training on frame stacks.

Every function works on a stack of frames ``(F, 3, H, W)`` (float in ``[0, 1]``) that belong
to one training sample, so that one random draw is applied identically to all of them: the
photometric loss compares frames with each other and must not see different colour changes
or different flips in the target and source views.

Colour jitter (REFERENCE section 2, as Monodepth2 via ``torchvision.transforms.ColorJitter``):
with probability ``p = 0.5`` a sample gets brightness, contrast and saturation factors drawn
uniformly from ``(0.8, 1.2)`` and a hue shift from ``(-0.1, 0.1)``, drawn **once per sample**
(:class:`ColorJitterParams`) and applied to every frame. The four adjustments are applied in
a **random order drawn once per sample** (``ColorJitterParams.order``), like torchvision's
``ColorJitter``; the adjustments themselves are torchvision's
``transforms.v2.functional.adjust_*`` (contrast uses each frame's own mean grey level, as
when jittering each frame separately).

Geometry, in the pixel-centre convention of :mod:`litedepth.geometry.camera` (integer
coordinates are pixel centres; the image spans ``[-0.5, W - 0.5]``):

* **horizontal flip** ``u' = W - 1 - u``: pixel intrinsics become ``cx' = W - 1 - cx`` (``fx``
  unchanged; a skew term changes sign), camera points are mirrored by ``M = diag(-1, 1, 1, 1)``,
  so a relative pose becomes ``T' = M @ T @ M`` (:func:`mirror_pose`) and a stereo translation
  changes sign;
* **resize** from ``(h, w)`` to ``(H, W)`` with ``s_x = W / w``, ``s_y = H / h`` (bilinear,
  antialiased, ``align_corners=False``, which maps pixel edges to pixel edges):
  ``fx' = fx * s_x``, ``cx' = (cx + 0.5) * s_x - 0.5`` (same for ``y``)
  (:func:`resize_intrinsics`). Monodepth2 instead multiplies *normalised* intrinsics by the new
  size (``cx' = cx * s_x``), which differs by ``0.5 * (s_x - 1)`` pixels: about -0.24 px when a
  1242-pixel-wide KITTI frame is resized to 640. Converting *normalised* intrinsics to pixels
  still follows :func:`litedepth.geometry.camera.normalised_to_pixel` (plain multiplication,
  as Monodepth2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from litedepth.errors import ConfigError
from litedepth.geometry.intrinsics import hflip_matrix, resize_matrix

__all__ = [
    "AUGMENT_PARAMS",
    "ColorJitter",
    "ColorJitterParams",
    "augment_batch",
    "augment_sample",
    "pack_augmentation",
    "unpack_augmentation",
    "apply_color_jitter",
    "hflip_intrinsics",
    "mirror_pose",
    "resize_frames",
    "resize_intrinsics",
]

RandomSource = torch.Generator | np.random.Generator | None

#: Names of the adjustments, indexed by the entries of :attr:`ColorJitterParams.order`.
ADJUSTMENTS = ("brightness", "contrast", "saturation", "hue")


def _uniform(gen: RandomSource, lo: float, hi: float) -> float:
    if isinstance(gen, np.random.Generator):
        return float(gen.uniform(lo, hi))
    return float(lo + (hi - lo) * torch.rand((), generator=gen, dtype=torch.float64))


def _permutation(gen: RandomSource, n: int) -> tuple[int, ...]:
    if isinstance(gen, np.random.Generator):
        return tuple(int(i) for i in gen.permutation(n))
    return tuple(int(i) for i in torch.randperm(n, generator=gen))


def _check_range(name: str, value: Sequence[float], lo: float, hi: float) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} range must be two numbers (low, high), got {value!r}") from None
    if not (lo <= a <= b <= hi) or not (math.isfinite(a) and math.isfinite(b)):
        raise ConfigError(f"{name} range must satisfy {lo} <= low <= high <= {hi}, got {value!r}")
    return a, b


@dataclass(frozen=True)
class ColorJitterParams:
    """One draw of colour-jitter parameters, applied identically to every frame of a sample.

    Attributes:
        brightness: multiplicative brightness factor (1 = unchanged).
        contrast: contrast factor, blending with the frame's mean grey level (1 = unchanged).
        saturation: saturation factor, blending with the grey image (1 = unchanged).
        hue: hue shift as a fraction of the colour circle, in ``[-0.5, 0.5]`` (0 = unchanged).
        order: the order in which the adjustments are applied, as indices into
            :data:`ADJUSTMENTS` (``(0, 1, 2, 3)`` = brightness, contrast, saturation, hue).
    """

    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue: float = 0.0
    order: tuple[int, ...] = (0, 1, 2, 3)

    def __post_init__(self) -> None:
        if sorted(self.order) != [0, 1, 2, 3]:
            raise ConfigError(f"order must be a permutation of (0, 1, 2, 3), got {self.order}")
        if min(self.brightness, self.contrast, self.saturation) < 0:
            raise ConfigError("brightness, contrast and saturation factors must be >= 0")
        if not -0.5 <= self.hue <= 0.5:
            raise ConfigError(f"hue shift must be in [-0.5, 0.5], got {self.hue}")

    @property
    def is_identity(self) -> bool:
        """True when applying these parameters leaves frames unchanged."""
        return self.brightness == 1.0 and self.contrast == 1.0 and self.saturation == 1.0 and self.hue == 0.0


@dataclass(frozen=True)
class ColorJitter:
    """Sampler of :class:`ColorJitterParams` (Monodepth2's ranges by default).

    Args:
        p: probability that a sample is jittered at all.
        brightness, contrast, saturation: ``(low, high)`` factor ranges, ``0 <= low <= high``.
        hue: ``(low, high)`` hue-shift range within ``[-0.5, 0.5]``.
        random_order: draw the order of the four adjustments once per sample (torchvision's
            ``ColorJitter`` behaviour); ``False`` applies brightness, contrast, saturation, hue.

    Example:
        >>> jitter = ColorJitter(p=1.0)
        >>> params = jitter.sample(torch.Generator().manual_seed(0))
        >>> frames = torch.rand(3, 3, 8, 8)
        >>> apply_color_jitter(frames, params).shape
        torch.Size([3, 3, 8, 8])
    """

    p: float = 0.5
    brightness: tuple[float, float] = (0.8, 1.2)
    contrast: tuple[float, float] = (0.8, 1.2)
    saturation: tuple[float, float] = (0.8, 1.2)
    hue: tuple[float, float] = (-0.1, 0.1)
    random_order: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.p) <= 1.0:
            raise ConfigError(f"colour jitter probability must be in [0, 1], got {self.p}")
        for name in ("brightness", "contrast", "saturation"):
            object.__setattr__(self, name, _check_range(name, getattr(self, name), 0.0, math.inf))
        object.__setattr__(self, "hue", _check_range("hue", self.hue, -0.5, 0.5))

    def sample(self, generator: RandomSource = None) -> ColorJitterParams | None:
        """Draw the parameters for one sample.

        Args:
            generator: a ``torch.Generator``, a ``numpy.random.Generator`` or ``None`` (torch's
                global generator, which ``DataLoader`` seeds differently in every worker).

        Returns:
            The parameters, or ``None`` when this sample is not jittered (probability ``1 - p``).
        """
        if self.p <= 0.0 or _uniform(generator, 0.0, 1.0) >= self.p:
            return None
        b = _uniform(generator, *self.brightness)
        c = _uniform(generator, *self.contrast)
        s = _uniform(generator, *self.saturation)
        h = _uniform(generator, *self.hue)
        order = _permutation(generator, 4) if self.random_order else (0, 1, 2, 3)
        return ColorJitterParams(b, c, s, h, order)


def apply_color_jitter(frames: Tensor, params: ColorJitterParams | None) -> Tensor:
    """Apply one set of colour-jitter parameters to every frame.

    Args:
        frames: ``(..., 3, H, W)`` float RGB in ``[0, 1]`` (e.g. ``(F, 3, H, W)``).
        params: the draw; ``None`` (or identity parameters) returns ``frames`` unchanged.

    Returns:
        Float tensor of the same shape in ``[0, 1]``; each frame is transformed exactly as if
        it were jittered alone with ``params``.
    """
    if frames.dim() < 3 or frames.shape[-3] != 3 or not frames.is_floating_point():
        raise ValueError(f"frames must be float (..., 3, H, W), got {tuple(frames.shape)} {frames.dtype}")
    if params is None or params.is_identity:
        return frames
    out = frames
    for k in params.order:
        if k == 0:
            out = TF.adjust_brightness(out, params.brightness)
        elif k == 1:
            out = TF.adjust_contrast(out, params.contrast)
        elif k == 2:
            out = TF.adjust_saturation(out, params.saturation)
        elif params.hue != 0.0:
            out = TF.adjust_hue(out, params.hue)
    return out.clamp(0.0, 1.0)


# ------------------------------------------------------------------------------ geometry


def hflip_intrinsics(K: Tensor, width: int) -> Tensor:
    """Pixel intrinsics of a horizontally flipped image: ``cx' = W - 1 - cx``, skew negated.

    Args:
        K: ``(..., 3, 3)`` (or ``(..., 4, 4)``) *pixel* intrinsics of an image ``width`` pixels
            wide (pixel centres at integer coordinates).
        width: image width ``W`` in pixels.

    Returns:
        A new tensor of the same shape. Flipping twice returns ``K``.
    """
    return hflip_matrix(K, width)


def mirror_pose(T: Tensor) -> Tensor:
    """Relative pose between mirrored (horizontally flipped) cameras: ``M @ T @ M``.

    With ``M = diag(-1, 1, 1, 1)`` (camera ``x`` negated), if ``X_s = T @ X_t`` then the flipped
    images satisfy ``M X_s = (M T M) (M X_t)``: translation ``x`` and the rotation entries
    coupling ``x`` with ``y`` / ``z`` change sign.

    Args:
        T: ``(..., 4, 4)`` rigid transforms.

    Returns:
        ``(..., 4, 4)`` mirrored transforms (a new tensor).
    """
    sign = torch.ones(4, dtype=T.dtype, device=T.device)
    sign[0] = -1.0
    return T * sign[:, None] * sign[None, :]


def resize_frames(frames: Tensor, size: Sequence[int]) -> Tensor:
    """Resize a frame stack with antialiased bilinear interpolation.

    Args:
        frames: ``(F, C, h, w)`` float.
        size: ``(H, W)`` output size in pixels.

    Returns:
        ``(F, C, H, W)``, clamped to ``[0, 1]``; the input itself when the size is unchanged.
    """
    h, w = int(size[0]), int(size[1])
    if tuple(frames.shape[-2:]) == (h, w):
        return frames
    out = F.interpolate(frames, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0)


def resize_intrinsics(K: Tensor | np.ndarray, from_size: Sequence[int], to_size: Sequence[int]) -> Tensor:
    """Pixel intrinsics after resizing an image from ``from_size`` to ``to_size``.

    Pixel-centre convention (see the module docstring): with ``s_x = W / w`` and ``s_y = H / h``,
    ``fx' = fx s_x``, ``skew' = skew s_x``, ``cx' = (cx + 0.5) s_x - 0.5``, ``fy' = fy s_y``,
    ``cy' = (cy + 0.5) s_y - 0.5``.

    Args:
        K: ``(3, 3)`` (or ``(4, 4)``) pixel intrinsics of an ``(h, w)`` image.
        from_size: ``(h, w)`` in pixels; ``to_size``: ``(H, W)`` in pixels.

    Returns:
        float32 ``(3, 3)`` tensor (the top-left block of a 4x4 input).

    Example:
        >>> K = torch.tensor([[100.0, 0, 49.5], [0, 100, 24.5], [0, 0, 1]])
        >>> resize_intrinsics(K, (50, 100), (25, 50))[:2].tolist()
        [[50.0, 0.0, 24.5], [0.0, 50.0, 12.0]]
    """
    K = torch.as_tensor(np.asarray(K, dtype=np.float64) if isinstance(K, np.ndarray) else K)
    return resize_matrix(K[:3, :3].to(torch.float64), from_size, to_size).to(torch.float32)


# ------------------------------------------------------------------------------ one sample, anywhere


def augment_sample(frames_u8: Tensor, K: Tensor | np.ndarray, size: Sequence[int], flip: bool,
                   jitter: ColorJitterParams | None) -> tuple[Tensor, Tensor, Tensor]:
    """Resize, flip and colour-jitter the frames of one sample (the training augmentation).

    The same code runs in the loader's workers (default) and on the training device
    (:func:`augment_batch`); only the device differs.

    Args:
        frames_u8: ``(F, 3, h, w)`` uint8 RGB frames at their stored size (any device).
        K: ``(3, 3)`` pixel intrinsics of the stored ``(h, w)`` frames.
        size: ``(H, W)`` output size.
        flip: mirror every frame horizontally (and ``K``).
        jitter: colour-jitter draw applied to every frame, or ``None``.

    Returns:
        ``(frames_raw, frames, K)``: ``(F, 3, H, W)`` float32 in ``[0, 1]`` without and with
        colour jitter, and float32 ``(3, 3)`` pixel intrinsics for the output (resize then flip).
    """
    h, w = int(frames_u8.shape[-2]), int(frames_u8.shape[-1])
    raw = resize_frames(frames_u8.to(torch.float32).div_(255.0), size)
    K_out = resize_intrinsics(K, (h, w), size).to(raw.device)
    if flip:
        raw = raw.flip(-1)
        K_out = hflip_intrinsics(K_out, int(size[1]))
    frames = apply_color_jitter(raw, jitter)
    return raw, frames, K_out


#: Layout of :func:`pack_augmentation`'s vector: flip, jitter on, the four factors, the order.
AUGMENT_PARAMS = ("flip", "jitter", "brightness", "contrast", "saturation", "hue", "order0", "order1", "order2", "order3")


def pack_augmentation(flip: bool, jitter: ColorJitterParams | None) -> Tensor:
    """One sample's draws as a float64 ``(10,)`` tensor (:data:`AUGMENT_PARAMS`), so that a
    batch of them collates and travels to the device; float64 keeps the factors exact."""
    j = jitter or ColorJitterParams()
    return torch.tensor([float(flip), float(jitter is not None), j.brightness, j.contrast, j.saturation, j.hue,
                         *[float(o) for o in j.order]], dtype=torch.float64)


def unpack_augmentation(packed: Tensor) -> tuple[bool, ColorJitterParams | None]:
    """Inverse of :func:`pack_augmentation`."""
    v = [float(x) for x in packed.detach().cpu().tolist()]
    if len(v) != len(AUGMENT_PARAMS):
        raise ValueError(f"augmentation vector must have {len(AUGMENT_PARAMS)} entries, got {len(v)}")
    jitter = ColorJitterParams(v[2], v[3], v[4], v[5], tuple(int(o) for o in v[6:])) if v[1] else None
    return bool(v[0]), jitter


def augment_batch(batch: dict, size: Sequence[int]) -> dict:
    """Apply the training augmentation to a batch on whatever device it is on.

    Takes the batch that a dataset built with ``augment_on_device=True`` yields (collated by
    :func:`litedepth.data.video.collate_native`): ``frames_u8`` ``(B, F, 3, h, w)`` uint8 (padded
    to the largest stored size), ``native_hw`` ``(B, 2)``, ``K_native`` ``(B, 3, 3)`` and
    ``augment`` ``(B, 10)``; returns it with those replaced by ``frames``, ``frames_raw``
    ``(B, F, 3, H, W)`` and ``K`` ``(B, 3, 3)``, exactly what the loader returns otherwise
    (same functions, same draws: :func:`augment_sample` per sample).
    """
    out = {k: v for k, v in batch.items() if k not in ("frames_u8", "native_hw", "K_native", "augment")}
    raws, frames, Ks = [], [], []
    for i in range(batch["frames_u8"].shape[0]):
        h, w = (int(v) for v in batch["native_hw"][i].tolist())
        flip, jitter = unpack_augmentation(batch["augment"][i])
        raw, fr, K = augment_sample(batch["frames_u8"][i, ..., :h, :w], batch["K_native"][i], size, flip, jitter)
        raws.append(raw)
        frames.append(fr)
        Ks.append(K)
    out["frames_raw"] = torch.stack(raws)
    out["frames"] = torch.stack(frames)
    out["K"] = torch.stack(Ks).to(torch.float32)
    return out
