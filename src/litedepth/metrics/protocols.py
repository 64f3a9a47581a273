"""Evaluation protocols as data: which pixels count, and the depth range.

A protocol is a frozen :class:`EvalProtocol`: a crop (fractional, as KITTI's Garg and
Eigen crops, or in pixels of a reference frame, as NYU's Eigen crop), an exclusive
ground-truth range ``min_depth < gt < max_depth``, and the range predictions are clamped
to before the metrics. All depths are in metres.

=================  ===========================================================  ===========
name               crop (rows, cols)                                            gt range
=================  ===========================================================  ===========
kitti-eigen        Garg: int(0.40810811 H)..int(0.99189189 H),                  (1e-3, 80)
                   int(0.03594771 W)..int(0.96405229 W)
kitti-eigen-crop   Eigen: int(0.3324324 H)..int(0.91351351 H),                  (1e-3, 80)
                   int(0.0359477 W)..int(0.96405229 W)
nyu                Eigen: 45:471, 41:601 of a 480x640 frame                     (1e-3, 10)
none               no crop; every finite gt > 0                                 (0, inf)
=================  ===========================================================  ===========

The KITTI crops use Python ``int()`` (truncation) of the float products, as Monodepth2
does: on a 370x1224 frame ``0.99189189 * 370 = 366.9999993`` gives row 366, not 367.

NYU on other frame sizes (a documented choice): the Eigen crop is defined in pixels of
the 480x640 Kinect frame. A ground-truth map with the same 4:3 aspect ratio (within 0.5 %)
gets the crop scaled proportionally, each bound rounded half up (``45 * H / 480`` ...),
and a warning is logged once per size. Any other aspect ratio (for example a map that is
already cropped to 426x560) raises :class:`~litedepth.errors.DataError`, because applying
the crop again would silently evaluate the wrong pixels.

Example:
    >>> p = get_protocol("kitti-eigen")
    >>> p.crop_bounds(375, 1242)
    (153, 371, 44, 1197)
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.utils.arrays import is_tensor

if TYPE_CHECKING:  # torch is imported only where a tensor is given (scoring files needs none)
    import torch

logger = logging.getLogger(__name__)

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")


@dataclass(frozen=True)
class FractionalCrop:
    """Crop given as fractions of the frame size, truncated with ``int()``.

    Rows ``int(top * H) : int(bottom * H)``, cols ``int(left * W) : int(right * W)``
    (end-exclusive), as in Monodepth2's ``evaluate_depth.py``.
    """

    top: float
    bottom: float
    left: float
    right: float

    def bounds(self, height: int, width: int, name: str | Path | None = None) -> tuple[int, int, int, int]:
        """``(row0, row1, col0, col1)`` for a ``height`` x ``width`` frame (end-exclusive)."""
        return (
            int(self.top * height),
            int(self.bottom * height),
            int(self.left * width),
            int(self.right * width),
        )


@dataclass(frozen=True)
class PixelCrop:
    """Crop given in pixels of a reference frame (end-exclusive bounds).

    On the reference size the bounds are used as they are. On another size with the
    same aspect ratio (within ``aspect_tolerance``, relative) each bound is scaled and
    rounded half up, with a warning logged once per size; on any other size a
    :class:`~litedepth.errors.DataError` is raised.
    """

    top: int
    bottom: int
    left: int
    right: int
    ref_height: int
    ref_width: int
    aspect_tolerance: float = 0.005

    def bounds(self, height: int, width: int, name: str | Path | None = None) -> tuple[int, int, int, int]:
        """``(row0, row1, col0, col1)`` for a ``height`` x ``width`` frame (end-exclusive)."""
        if (height, width) == (self.ref_height, self.ref_width):
            return (self.top, self.bottom, self.left, self.right)
        ref_aspect = self.ref_height / self.ref_width
        if abs(height / width - ref_aspect) > self.aspect_tolerance * ref_aspect:
            raise DataError(
                name,
                f"ground truth is {height}x{width} but this protocol's crop is defined on "
                f"{self.ref_height}x{self.ref_width} frames and can only be scaled to the same "
                f"aspect ratio; give full-size ground truth (not pre-cropped) or use protocol 'none'",
            )
        return _scaled_pixel_crop(self, height, width)


@functools.lru_cache(maxsize=64)
def _scaled_pixel_crop(crop: PixelCrop, height: int, width: int) -> tuple[int, int, int, int]:
    # Integer round-half-up of bound * size / ref_size, exact (no float error).
    def scale(v: int, size: int, ref: int) -> int:
        return (2 * v * size + ref) // (2 * ref)

    b = (
        scale(crop.top, height, crop.ref_height),
        scale(crop.bottom, height, crop.ref_height),
        scale(crop.left, width, crop.ref_width),
        scale(crop.right, width, crop.ref_width),
    )
    logger.warning(
        "ground truth is %dx%d, not %dx%d: crop %d:%d, %d:%d scaled proportionally to %d:%d, %d:%d",
        height, width, crop.ref_height, crop.ref_width,
        crop.top, crop.bottom, crop.left, crop.right, *b,
    )  # fmt: skip
    return b


Crop = FractionalCrop | PixelCrop


@dataclass(frozen=True)
class EvalProtocol:
    """One evaluation protocol (all depths in metres).

    Attributes:
        name: registered name, e.g. ``"kitti-eigen"``.
        description: one line for reports.
        min_depth: ground truth must be ``> min_depth``.
        max_depth: ground truth must be ``< max_depth`` (``None``: no upper bound).
        crop: :class:`FractionalCrop`, :class:`PixelCrop` or ``None``.
        clamp_min: predictions are clamped to ``>= clamp_min`` before the metrics.
        clamp_max: predictions are clamped to ``<= clamp_max`` (``None``: only to the
            largest finite value, so an infinite depth from a zero disparity stays finite).
        png_scale: the usual divisor of this dataset's uint16 depth PNGs (256 for KITTI,
            1000 for NYU); informative only (other data, e.g. TUM's / 5000, is evaluated
            under the same protocol).
        plausible_median: ``(low, high)`` metres within which the median ground-truth depth of
            an image of this dataset lies; medians far outside suggest a wrong depth encoding
            (the evaluation report warns). ``None``: no check.
    """

    name: str
    description: str
    min_depth: float
    max_depth: float | None
    crop: Crop | None
    clamp_min: float
    clamp_max: float | None
    png_scale: float | None = None
    plausible_median: tuple[float, float] | None = None

    def crop_bounds(
        self, height: int, width: int, name: str | Path | None = None
    ) -> tuple[int, int, int, int]:
        """``(row0, row1, col0, col1)`` of the evaluated region (end-exclusive)."""
        if self.crop is None:
            return (0, height, 0, width)
        return self.crop.bounds(height, width, name)

    def crop_mask(
        self,
        height: int,
        width: int,
        device: torch.device | str | None = None,
        name: str | Path | None = None,
    ) -> torch.Tensor:
        """Boolean ``(height, width)`` tensor, True inside the crop."""
        import torch

        r0, r1, c0, c1 = self.crop_bounds(height, width, name)
        mask = torch.zeros(height, width, dtype=torch.bool, device=device)
        mask[r0:r1, c0:c1] = True
        return mask

    def valid_mask(self, gt: ArrayT, name: str | Path | None = None) -> ArrayT:
        """Boolean mask of the pixels this protocol evaluates.

        Args:
            gt: ground-truth depth in metres, shape ``(H, W)``, a NumPy array or a tensor;
                invalid pixels may be 0.
            name: file or sample name for error messages.

        Returns:
            ``(H, W)`` bool of the same kind as ``gt``: finite, ``min_depth < gt <
            max_depth`` and inside the crop.
        """
        if gt.ndim != 2:
            raise ValueError(f"valid_mask expects an (H, W) map, got shape {tuple(gt.shape)}")
        mask = (gt.isfinite() if is_tensor(gt) else np.isfinite(gt)) & (gt > self.min_depth)
        if self.max_depth is not None:
            mask &= gt < self.max_depth
        if self.crop is not None:
            r0, r1, c0, c1 = self.crop_bounds(gt.shape[0], gt.shape[1], name)
            mask[:r0] = False
            mask[r1:] = False
            mask[:, :c0] = False
            mask[:, c1:] = False
        return mask

    def clamp(self, pred: ArrayT) -> ArrayT:
        """Clamp predicted depth (metres, array or tensor) to ``[clamp_min, clamp_max]``.

        With ``clamp_max=None`` the upper bound is the largest finite value of the dtype,
        so an infinite depth (from a zero disparity) becomes finite.
        """
        if is_tensor(pred):
            import torch

            upper = self.clamp_max if self.clamp_max is not None else torch.finfo(pred.dtype).max
            return pred.clamp(min=self.clamp_min, max=upper)
        upper = self.clamp_max if self.clamp_max is not None else np.finfo(pred.dtype).max
        return np.clip(pred, self.clamp_min, upper)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly description (for reports)."""
        crop: dict[str, object] | None = None
        if isinstance(self.crop, FractionalCrop):
            crop = {"kind": "fractional", "rows": [self.crop.top, self.crop.bottom],
                    "cols": [self.crop.left, self.crop.right]}  # fmt: skip
        elif isinstance(self.crop, PixelCrop):
            crop = {"kind": "pixels", "rows": [self.crop.top, self.crop.bottom],
                    "cols": [self.crop.left, self.crop.right],
                    "reference_size": [self.crop.ref_height, self.crop.ref_width]}  # fmt: skip
        return {
            "name": self.name,
            "description": self.description,
            "min_depth": self.min_depth,
            "max_depth": self.max_depth,
            "crop": crop,
            "clamp": [self.clamp_min, self.clamp_max],
        }


#: Garg et al. 2016 crop, as used by Monodepth2 / Lite-Mono on the KITTI Eigen split.
GARG_CROP = FractionalCrop(0.40810811, 0.99189189, 0.03594771, 0.96405229)
#: Eigen et al. 2014 crop on KITTI.
KITTI_EIGEN_CROP = FractionalCrop(0.3324324, 0.91351351, 0.0359477, 0.96405229)
#: Eigen et al. 2014 crop on NYU Depth v2 (480x640 Kinect frames).
NYU_EIGEN_CROP = PixelCrop(45, 471, 41, 601, ref_height=480, ref_width=640)


def _kitti(name: str, description: str, crop: Crop) -> EvalProtocol:
    """A KITTI protocol: ``1e-3 < gt < 80`` m, predictions clamped to the same range, PNGs / 256."""
    return EvalProtocol(name, description, min_depth=1e-3, max_depth=80.0, crop=crop, clamp_min=1e-3,
                        clamp_max=80.0, png_scale=256.0, plausible_median=(2.0, 60.0))


PROTOCOLS: dict[str, EvalProtocol] = {
    p.name: p
    for p in (
        _kitti("kitti-eigen", "KITTI Eigen split, Garg crop, 1e-3 < gt < 80 m (Monodepth2 / Lite-Mono)", GARG_CROP),
        _kitti("kitti-eigen-crop", "KITTI, Eigen crop, 1e-3 < gt < 80 m", KITTI_EIGEN_CROP),
        EvalProtocol(
            "nyu",
            "NYU Depth v2, Eigen crop 45:471 x 41:601 of 480x640, 1e-3 < gt < 10 m",
            min_depth=1e-3, max_depth=10.0, crop=NYU_EIGEN_CROP, clamp_min=1e-3, clamp_max=10.0,
            png_scale=1000.0, plausible_median=(0.4, 8.0),
        ),
        EvalProtocol(
            "none",
            "every finite gt > 0, no crop; predictions clamped to >= 1e-6 m and to finite values",
            min_depth=0.0, max_depth=None, crop=None, clamp_min=1e-6, clamp_max=None,
        ),
    )  # fmt: skip
}


def list_protocols() -> list[str]:
    """Names accepted by :func:`get_protocol`."""
    return list(PROTOCOLS)


def get_protocol(name: str | EvalProtocol) -> EvalProtocol:
    """The protocol registered as ``name`` (an :class:`EvalProtocol` is returned as is).

    Raises:
        ConfigError: for an unknown name; the message lists the known names.
    """
    if isinstance(name, EvalProtocol):
        return name
    key = str(name).strip().lower().replace("_", "-")
    if key not in PROTOCOLS:
        raise ConfigError(f"unknown evaluation protocol {name!r}; choose one of: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[key]
