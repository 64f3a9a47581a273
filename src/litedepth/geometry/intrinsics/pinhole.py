"""The :class:`Intrinsics` type: pinhole intrinsics whose convention (pixels of a stated size, or
normalised) travels with the numbers (package docstring of :mod:`litedepth.geometry.intrinsics`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from litedepth.errors import ConfigError
from litedepth.geometry.intrinsics.checks import (
    CONVENTIONS,
    NORMALISED,
    PIXELS,
    check_plausible,
    fail,
    fov_from_focal,
    parse_convention,
)
from litedepth.geometry.intrinsics.matrix import (
    denormalise_matrix,
    focal_from_fov,
    hflip_matrix,
    normalise_matrix,
    resize_matrix,
    rq_intrinsics,
)

__all__ = ["Intrinsics"]

#: Pixel intrinsics of a stated size fit an image of another size only within this aspect ratio.
_ASPECT_TOL = 0.01


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics with an explicit convention (:mod:`litedepth.geometry.intrinsics` docstring).

    Attributes:
        fx, fy: focal lengths (pixels, or normalised ``fx/W``, ``fy/H``).
        cx, cy: principal point (pixel-centre coordinates, or normalised ``cx/W``, ``cy/H``).
        convention: ``"pixels"`` or ``"normalised"``.
        width, height: pixels only: the image size the values belong to; ``None`` = not
            stated (attached by :meth:`to_pixels`). Always ``None`` when normalised.
        skew: ``K[0, 1]`` in the same units as ``fx``.
        source: where the values came from (a file :class:`~pathlib.Path` or an option name),
            for error messages; not compared.

    Raises (on construction):
        ConfigError / DataError (when ``source`` is a file): non-finite values, non-positive
            focal lengths, a half-stated size, or implausible values (package docstring).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    convention: str = PIXELS
    width: int | None = None
    height: int | None = None
    skew: float = 0.0
    source: str | Path | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.convention not in CONVENTIONS:
            fail(self.source, f"intrinsics convention must be 'pixels' or 'normalised', not {self.convention!r}")
        try:
            values = [float(getattr(self, k)) for k in ("fx", "fy", "cx", "cy", "skew")]
        except (TypeError, ValueError):
            fail(self.source, "fx, fy, cx, cy and skew must be numbers")
        if not all(math.isfinite(v) for v in values):
            fail(self.source, f"intrinsics contain NaN or Inf: fx={self.fx}, fy={self.fy}, cx={self.cx}, cy={self.cy}")
        for k, v in zip(("fx", "fy", "cx", "cy", "skew"), values):
            set_(self, k, v)
        if self.fx <= 0 or self.fy <= 0:
            fail(self.source, f"focal lengths must be positive, got fx={self.fx:g}, fy={self.fy:g}")
        if (self.width is None) != (self.height is None):
            fail(self.source, "give both the image width and height, or neither")
        if self.width is not None:
            if self.convention == NORMALISED:
                fail(self.source, "normalised intrinsics have no image size (they serve every resolution)")
            w, h = float(self.width), float(self.height)
            if w != int(w) or h != int(h) or w < 1 or h < 1:
                fail(self.source, f"image size must be positive integers, got {self.width}x{self.height}")
            set_(self, "width", int(w))
            set_(self, "height", int(h))
        check_plausible(self)

    # ------------------------------------------------------------------ checks

    @classmethod
    def from_pixels(cls, fx: float, fy: float, cx: float, cy: float, width: int | None = None,
                    height: int | None = None, skew: float = 0.0, source: str | Path | None = None) -> Intrinsics:
        """Pixel intrinsics, of a ``width x height`` image when stated (then plausibility-checked)."""
        return cls(fx, fy, cx, cy, PIXELS, width, height, skew, source)

    @classmethod
    def from_normalised(cls, fx: float, fy: float, cx: float, cy: float, skew: float = 0.0,
                        source: str | Path | None = None) -> Intrinsics:
        """Normalised intrinsics ``fx/W, fy/H, cx/W, cy/H`` (Monodepth2's; plausibility-checked)."""
        return cls(fx, fy, cx, cy, NORMALISED, None, None, skew, source)

    @classmethod
    def from_matrix(cls, K: Any, convention: str, width: int | None = None, height: int | None = None,
                    source: str | Path | None = None) -> Intrinsics:
        """From a ``3x3`` or ``4x4`` ``K`` (list, NumPy array or torch tensor) in ``convention``.

        Raises:
            ConfigError / DataError: not a pinhole ``K`` (non-zero below the diagonal, ``K[2, 2]
                != 1``, a 4x4 whose last row/column is not ``[0, 0, 0, 1]``) or implausible values.
        """
        conv = parse_convention(convention)
        if conv is None:
            fail(source, "a bare intrinsics matrix does not say whether it is in pixels or normalised: state it")
        try:
            M = np.asarray(K.detach().cpu().numpy() if isinstance(K, torch.Tensor) else K, dtype=np.float64)
        except (TypeError, ValueError):
            fail(source, "K must be a 3x3 (or 4x4) matrix of numbers")
        if M.shape not in ((3, 3), (4, 4)):
            fail(source, f"K must be a 3x3 (or 4x4) matrix, got shape {M.shape}")
        if not np.isfinite(M).all():
            fail(source, "K contains NaN or Inf")
        if M.shape == (4, 4) and (np.abs(M[3, :3]).max() > 0 or np.abs(M[:3, 3]).max() > 0 or M[3, 3] != 1):
            fail(source, f"a 4x4 K must end in the row and column [0, 0, 0, 1], got {M.tolist()}")
        if M[1, 0] or M[2, 0] or M[2, 1] or abs(M[2, 2] - 1.0) > 1e-9:
            fail(source, f"not a pinhole K [[fx, s, cx], [0, fy, cy], [0, 0, 1]]: {M[:3, :3].tolist()}")
        return cls(M[0, 0], M[1, 1], M[0, 2], M[1, 2], conv, width, height, M[0, 1], source)

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float, vfov_deg: float | None = None) -> Intrinsics:
        """Centred pinhole of a ``width x height`` image from its field(s) of view, in pixels.

        ``fx = (W / 2) / tan(hfov / 2)``; ``fy = fx`` (square pixels) or ``(H / 2) / tan(vfov / 2)``;
        principal point ``(W / 2, H / 2)`` pixels, the normalised 0.5 (package docstring).

        The one field-of-view -> ``K`` of litedepth (the point-cloud default, the synthetic
        generator and the assist app call it). Pixel coordinates are pixel-centre (integer =
        centre of a pixel, the image spans ``[-0.5, W - 0.5]``), so ``W / 2`` lies half a pixel
        right of the exact image centre ``(W - 1) / 2``: Monodepth2's convention, chosen so that
        pixel and normalised intrinsics convert by plain multiplication (``cx = 0.5 W``). For
        ``640 x 480`` and 90 degrees: ``fx = fy = 320``, ``cx = 320``, ``cy = 240``.

        Raises:
            ConfigError: a field of view outside ``(0, 180)`` degrees or a non-positive size.
        """
        if int(width) < 1 or int(height) < 1:
            raise ConfigError(f"image size must be positive, got {width}x{height}")
        fx = focal_from_fov(width, hfov_deg)
        fy = fx if vfov_deg is None else focal_from_fov(height, vfov_deg)
        return cls(fx, fy, width / 2.0, height / 2.0, PIXELS, int(width), int(height))

    @classmethod
    def from_projection(cls, P: Any, width: int | None = None, height: int | None = None,
                        source: str | Path | None = None) -> Intrinsics:
        """Pixel intrinsics of a ``3x4`` (or ``4x4``) projection matrix ``P = K [R | t]``.

        A rectified ``P`` (KITTI ``P_rect_0X``, ``P2``: ``P[:, :3]`` upper triangular) gives
        ``K = P[:, :3] / P[2, 2]`` exactly; any other (e.g. ``P2 @ R0_rect @ Tr_velo_to_cam``
        or mmdetection3d's ``lidar2img``) is RQ-decomposed, ``P[:, :3] = K R`` with ``K``'s
        diagonal positive.

        Raises:
            ConfigError / DataError: wrong shape, a 4x4 whose last row is not ``[0, 0, 0, 1]``,
                a singular ``P[:, :3]``, or implausible intrinsics.
        """
        M = np.asarray(P, dtype=np.float64)
        if M.shape == (4, 4):
            if np.abs(M[3] - [0.0, 0.0, 0.0, 1.0]).max() > 1e-9:
                fail(source, f"a 4x4 projection matrix must end in the row [0, 0, 0, 1], got {M[3].tolist()}")
            M = M[:3]
        if M.shape not in ((3, 4), (3, 3)):
            fail(source, f"a projection matrix must be 3x4 or 4x4, got shape {M.shape}")
        if not np.isfinite(M).all():
            fail(source, "projection matrix contains NaN or Inf")
        A = M[:, :3]
        if abs(np.linalg.det(A)) < 1e-12 * max(1.0, np.abs(A).max()) ** 3:
            fail(source, "projection matrix P[:, :3] is singular")
        if A[1, 0] == 0 and A[2, 0] == 0 and A[2, 1] == 0 and A[2, 2] > 0:
            K = A / A[2, 2]
        else:
            K = rq_intrinsics(A)
        return cls(K[0, 0], K[1, 1], K[0, 2], K[1, 2], PIXELS, width, height, K[0, 1], source)

    # ------------------------------------------------------------------ properties

    @property
    def is_normalised(self) -> bool:
        """Whether the values are normalised (else pixels)."""
        return self.convention == NORMALISED

    @property
    def size(self) -> tuple[int, int] | None:
        """``(height, width)`` in pixels the values belong to, or ``None``."""
        return None if self.width is None else (int(self.height), int(self.width))

    @property
    def K(self) -> np.ndarray:
        """``(3, 3)`` float64 ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in this convention."""
        return self.as_matrix(3)

    def as_matrix(self, size: int = 3) -> np.ndarray:
        """``K`` as a float64 NumPy ``(3, 3)``, or ``(4, 4)`` padded with ``[0, 0, 0, 1]`` (Monodepth2)."""
        if size not in (3, 4):
            raise ValueError(f"size must be 3 or 4, got {size}")
        K = np.eye(size, dtype=np.float64)
        K[0, 0], K[0, 1], K[0, 2] = self.fx, self.skew, self.cx
        K[1, 1], K[1, 2] = self.fy, self.cy
        return K

    def as_tensor(self, size: int = 4, batch: int | None = None, dtype: torch.dtype = torch.float32,
                  device: torch.device | str | None = None) -> torch.Tensor:
        """``K`` as a torch tensor ``(size, size)``, or ``(batch, size, size)`` for the warping code."""
        K = torch.as_tensor(self.as_matrix(size), dtype=dtype, device=device)
        return K if batch is None else K.unsqueeze(0).repeat(int(batch), 1, 1)

    def fov_deg(self) -> tuple[float, float]:
        """``(horizontal, vertical)`` field of view in degrees (pixels need a stated size)."""
        if self.is_normalised:
            return fov_from_focal(self.fx), fov_from_focal(self.fy)
        self._need_size("the field of view of")
        return fov_from_focal(self.fx / self.width), fov_from_focal(self.fy / self.height)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (``convention``, ``fx``, ``fy``, ``cx``, ``cy``, ``skew`` when non-zero,
        ``width``/``height`` when stated); :func:`intrinsics_from_dict` reads it back."""
        out: dict[str, Any] = {"convention": self.convention, "fx": self.fx, "fy": self.fy, "cx": self.cx,
                               "cy": self.cy}
        if self.skew:
            out["skew"] = self.skew
        if self.width is not None:
            out["width"], out["height"] = self.width, self.height
        return out

    # ------------------------------------------------------------------ conversions

    def _replace_from(self, K: np.ndarray, convention: str, size: tuple[int, int] | None) -> Intrinsics:
        h, w = (None, None) if size is None else size
        return Intrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], convention, w, h, K[0, 1], self.source)

    def _need_size(self, what: str) -> None:
        """Refuse pixel intrinsics of an unstated size for ``what`` (e.g. ``"resizing"``)."""
        if self.width is None:
            fail(self.source, f"{what} pixel intrinsics needs the image width and height they belong to")

    def _need_pixels(self, what: str) -> None:
        if self.is_normalised:
            raise ConfigError(f"{what} needs pixel intrinsics: call to_pixels(height, width) first")

    def to_pixels(self, height: int, width: int) -> Intrinsics:
        """Pixel intrinsics for an image of ``height x width``.

        Normalised: multiplied by the size. Pixels of an unstated size: the size is attached
        (and the values checked against it). Pixels of another size: resized
        (:meth:`resize`), which needs the same aspect ratio (1 %).

        Raises:
            ConfigError / DataError: implausible values for this size, or a different aspect
                ratio ("cropped frames need their own intrinsics").
        """
        h, w = int(height), int(width)
        if h < 1 or w < 1:
            raise ConfigError(f"image size must be positive, got {w}x{h}")
        if self.is_normalised:
            return self._replace_from(denormalise_matrix(self.as_matrix(3), h, w), PIXELS, (h, w))
        if self.width is None:
            return Intrinsics(self.fx, self.fy, self.cx, self.cy, PIXELS, w, h, self.skew, self.source)
        if (self.height, self.width) == (h, w):
            return self
        if abs((self.width / self.height) / (w / h) - 1.0) > _ASPECT_TOL:
            fail(self.source, f"intrinsics are for {self.width}x{self.height} but the image is {w}x{h}, a "
                              "different aspect ratio (cropped frames need their own intrinsics)")
        return self.resize(h, w)

    def to_normalised(self) -> Intrinsics:
        """Normalised intrinsics (``fx/W``, ``cx/W``, ...); pixels need a stated size.

        Raises:
            ConfigError: pixel intrinsics without an image size.
        """
        if self.is_normalised:
            return self
        self._need_size("normalising")
        return self._replace_from(normalise_matrix(self.as_matrix(3), self.height, self.width), NORMALISED, None)

    def resize(self, height: int, width: int) -> Intrinsics:
        """Pixel intrinsics after resizing the image to ``height x width`` (:func:`resize_matrix`,
        pixel-centre exact). Normalised intrinsics are returned unchanged (they serve any size).

        Raises:
            ConfigError: pixel intrinsics without a stated size.
        """
        if self.is_normalised:
            return self
        self._need_size("resizing")
        K = resize_matrix(self.as_matrix(3), (self.height, self.width), (height, width))
        return self._replace_from(K, PIXELS, (int(height), int(width)))

    def crop(self, left: int, top: int, width: int, height: int) -> Intrinsics:
        """Pixel intrinsics of the crop ``[left, left + width) x [top, top + height)``: ``cx - left``,
        ``cy - top``.

        Raises:
            ConfigError: normalised intrinsics, or a crop outside a stated image size.
        """
        self._need_pixels("crop")
        if width < 1 or height < 1 or left < 0 or top < 0 or (
                self.width is not None and (left + width > self.width or top + height > self.height)):
            raise ConfigError(f"crop {width}x{height} at ({left}, {top}) does not fit the "
                              f"{self.width}x{self.height} image")
        return Intrinsics(self.fx, self.fy, self.cx - left, self.cy - top, PIXELS, int(width), int(height),
                          self.skew, self.source)

    def hflip(self, width: int | None = None) -> Intrinsics:
        """Pixel intrinsics of the horizontally flipped image (:func:`hflip_matrix`: ``cx' = W - 1 - cx``).

        Args:
            width: the image width; default the stated one.
        Raises:
            ConfigError: normalised intrinsics, or no width known.
        """
        self._need_pixels("hflip")
        w = self.width if width is None else int(width)
        if w is None:
            raise ConfigError("hflip needs the image width")
        return self._replace_from(hflip_matrix(self.as_matrix(3), w), PIXELS, self.size)
