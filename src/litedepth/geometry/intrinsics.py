"""Camera intrinsics as one typed object whose convention is explicit: :class:`Intrinsics`.

Two conventions, and nothing in between:

* **pixels** of a stated image size ``width x height``: ``fx, fy, cx, cy`` (and a skew ``s``)
  in pixels, in the pixel-centre convention of :mod:`litedepth.geometry.camera` (integer
  coordinates are pixel centres; the image spans ``[-0.5, W - 0.5]``). The size may be left
  unstated ("the image these are used with"); it is then attached, and checked, when the
  intrinsics meet an image (:meth:`Intrinsics.to_pixels`).
* **normalised** (Monodepth2's): row 0 of the pixel ``K`` divided by the width and row 1 by
  the height, ``fx/W, s/W, cx/W, fy/H, cy/H``; one matrix for every resolution. KITTI's are
  ``fx = 0.58, fy = 1.92, cx = cy = 0.5``.

**The one principal-point convention.** Normalised and pixel intrinsics convert by plain
multiplication, ``cx_px = cx_norm * W`` (Monodepth2 multiplies its normalised ``K`` by the
width and height directly), so a *centred* principal point is ``cx_norm = 0.5`` = ``W / 2``
pixels everywhere in litedepth: :meth:`Intrinsics.from_fov`, the synthetic generator, the
assist app and the point-cloud default all use it. In the pixel-centre convention the exact
image centre is ``(W - 1) / 2``; the half pixel is ignored, as Monodepth2 does, so that its
intrinsics and results reproduce exactly. Resizing *pixel* intrinsics
(:meth:`Intrinsics.resize`) is exact in the pixel-centre convention,
``cx' = (cx + 0.5) s - 0.5``, and a horizontal flip is ``cx' = W - 1 - cx`` (what the
self-supervised training does; :mod:`litedepth.data.augment` calls the functions below).

**Plausibility check.** A pinhole camera sees less than 180 degrees, so each focal length
must give a field of view between :data:`MIN_FOV_DEG` (0.5) and :data:`MAX_FOV_DEG` (170)
degrees: in pixels ``f >= N / (2 tan 85 deg) = 0.0437 N`` for an image ``N`` pixels wide
(or high), 28 px for 640 pixels; normalised ``0.0437 <= f <= 114.6``. The principal point
must lie in the image (pixels ``-0.5 <= cx <= W - 0.5``; normalised ``0 <= cx <= 1``).
Failing either is an error that suggests the other convention: ``fx = 0.58`` pixels of a
640-pixel-wide image "looks normalised", a normalised ``fx = 718`` "looks like pixels".

One implementation serves NumPy and torch: :func:`normalise_matrix`, :func:`denormalise_matrix`,
:func:`hflip_matrix` and :func:`resize_matrix` take ``(..., 3, 3)`` or ``(..., 4, 4)``
arrays or tensors; :class:`Intrinsics` is built on them and gives ``K`` as a NumPy
matrix (:meth:`~Intrinsics.as_matrix`) or a batched torch tensor (:meth:`~Intrinsics.as_tensor`).

Readers: :func:`intrinsics_from_dict` (a JSON object), :func:`read_intrinsics` (a JSON
object or bare matrix, a ``.npy`` matrix, a text file of numbers, KITTI calibration files
in the raw ``calib_cam_to_cam.txt`` and the object ``P2:`` formats) and
:meth:`Intrinsics.from_projection` (a 3x4 / 4x4 projection matrix, decomposed).

Example:
    >>> k = Intrinsics.from_normalised(0.58, 1.92, 0.5, 0.5)
    >>> p = k.to_pixels(192, 640)
    >>> round(p.fx, 4), round(p.fy, 4), p.cx, p.cy, p.width, p.height
    (371.2, 368.64, 320.0, 96.0, 640, 192)
    >>> Intrinsics.from_pixels(0.58, 1.92, 0.5, 0.5, width=640, height=192)
    Traceback (most recent call last):
    ...
    litedepth.errors.ConfigError: fx = 0.58 px is a horizontal field of view of 179.8 deg for a 640-pixel-wide image (a pinhole camera sees less than 170 deg): these look like normalised intrinsics (fx/W, fy/H, cx/W, cy/H), not pixels; state it ("normalised": true in a JSON file, --intrinsics-convention normalised on the command line)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from litedepth.errors import ConfigError, DataError

__all__ = [
    "CONVENTIONS",
    "MAX_FOV_DEG",
    "MIN_FOV_DEG",
    "NORMALISED",
    "PIXELS",
    "Intrinsics",
    "denormalise_matrix",
    "focal_from_fov",
    "hflip_matrix",
    "intrinsics_from_dict",
    "normalise_matrix",
    "parse_convention",
    "read_intrinsics",
    "read_kitti_intrinsics",
    "read_matrix_file",
    "resize_matrix",
]

PIXELS = "pixels"
NORMALISED = "normalised"
CONVENTIONS = (PIXELS, NORMALISED)
#: Fields of view outside [MIN_FOV_DEG, MAX_FOV_DEG] (either axis) are implausible for a pinhole.
MIN_FOV_DEG = 0.5
MAX_FOV_DEG = 170.0
_ASPECT_TOL = 0.01
_NORMALISED_HINT = ('these look like normalised intrinsics (fx/W, fy/H, cx/W, cy/H), not pixels; state it '
                    '("normalised": true in a JSON file, --intrinsics-convention normalised on the command line)')
_PIXELS_HINT = ('these look like pixel intrinsics, not normalised ones: drop "normalised" and give the '
                'image width and height they belong to')

Matrix = TypeVar("Matrix", np.ndarray, torch.Tensor)


# --------------------------------------------------------------------------- matrix maths


def _copy(K: Matrix) -> Matrix:
    return K.clone() if isinstance(K, torch.Tensor) else np.array(K, dtype=np.float64, copy=True)


def _check_matrix(K: Any, name: str = "K") -> None:
    shape = tuple(K.shape) if hasattr(K, "shape") else None
    if shape is None or len(shape) < 2 or shape[-2:] not in ((3, 3), (4, 4)):
        raise ValueError(f"{name} must have shape (..., 3, 3) or (..., 4, 4), got {shape}")


def _scale_rows(K: Matrix, sx: float, sy: float) -> Matrix:
    out = _copy(K)
    out[..., 0, :3] = out[..., 0, :3] * sx
    out[..., 1, :3] = out[..., 1, :3] * sy
    return out


def denormalise_matrix(K_normalised: Matrix, height: int, width: int) -> Matrix:
    """Normalised -> pixel intrinsics for a ``height x width`` image: row 0 times ``width``, row 1
    times ``height`` (Monodepth2's plain multiplication, ``cx_px = cx_norm * W``).

    Args:
        K_normalised: ``(..., 3, 3)`` or ``(..., 4, 4)`` NumPy array or torch tensor.
        height, width: image size in pixels.
    Returns:
        A new array / tensor of the same shape (NumPy: float64; torch: the input's dtype).
    """
    _check_matrix(K_normalised)
    return _scale_rows(K_normalised, float(width), float(height))


def normalise_matrix(K_pixel: Matrix, height: int, width: int) -> Matrix:
    """Pixel intrinsics of a ``height x width`` image -> normalised: row 0 divided by ``width``,
    row 1 by ``height`` (the inverse of :func:`denormalise_matrix`).

    Args:
        K_pixel: ``(..., 3, 3)`` or ``(..., 4, 4)`` NumPy array or torch tensor.
        height, width: the image size the intrinsics belong to, pixels.
    Returns:
        A new array / tensor of the same shape (NumPy: float64; torch: the input's dtype).
    """
    _check_matrix(K_pixel)
    out = _copy(K_pixel)
    out[..., 0, :3] = out[..., 0, :3] / float(width)
    out[..., 1, :3] = out[..., 1, :3] / float(height)
    return out


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


def _fov_deg(focal_norm: float) -> float:
    """Field of view (degrees) of a normalised focal length (focal / image extent)."""
    return math.degrees(2.0 * math.atan(0.5 / focal_norm))


_F_NORM_MIN = 0.5 / math.tan(math.radians(MAX_FOV_DEG) / 2.0)  # 0.0437: 170 deg
_F_NORM_MAX = 0.5 / math.tan(math.radians(MIN_FOV_DEG) / 2.0)  # 114.6: 0.5 deg


def _fail(source: str | Path | None, message: str) -> None:
    if isinstance(source, Path):
        raise DataError(source, message)
    raise ConfigError(f"{source}: {message}" if source else message)


def parse_convention(value: Any) -> str | None:
    """``"pixels"``, ``"normalised"`` or ``None`` from a name (``normalized``, ``pixel``, ``px``
    accepted) or a bool (``True`` = normalised).

    Raises:
        ConfigError: anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return NORMALISED if value else PIXELS
    key = str(value).strip().lower()
    if key in ("pixels", "pixel", "px"):
        return PIXELS
    if key in ("normalised", "normalized", "norm"):
        return NORMALISED
    raise ConfigError(f"intrinsics convention must be 'pixels' or 'normalised', not {value!r}")


# --------------------------------------------------------------------------- the type


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics with an explicit convention (see the module docstring).

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
            focal lengths, a half-stated size, or implausible values (module docstring).
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
            _fail(self.source, f"intrinsics convention must be 'pixels' or 'normalised', not {self.convention!r}")
        try:
            values = [float(getattr(self, k)) for k in ("fx", "fy", "cx", "cy", "skew")]
        except (TypeError, ValueError):
            _fail(self.source, "fx, fy, cx, cy and skew must be numbers")
        if not all(math.isfinite(v) for v in values):
            _fail(self.source, f"intrinsics contain NaN or Inf: fx={self.fx}, fy={self.fy}, cx={self.cx}, cy={self.cy}")
        for k, v in zip(("fx", "fy", "cx", "cy", "skew"), values):
            set_(self, k, v)
        if self.fx <= 0 or self.fy <= 0:
            _fail(self.source, f"focal lengths must be positive, got fx={self.fx:g}, fy={self.fy:g}")
        if (self.width is None) != (self.height is None):
            _fail(self.source, "give both the image width and height, or neither")
        if self.width is not None:
            if self.convention == NORMALISED:
                _fail(self.source, "normalised intrinsics have no image size (they serve every resolution)")
            w, h = float(self.width), float(self.height)
            if w != int(w) or h != int(h) or w < 1 or h < 1:
                _fail(self.source, f"image size must be positive integers, got {self.width}x{self.height}")
            set_(self, "width", int(w))
            set_(self, "height", int(h))
        self._check_plausible()

    # ------------------------------------------------------------------ checks

    def _check_plausible(self) -> None:
        if self.convention == NORMALISED:
            for name, f in (("fx", self.fx), ("fy", self.fy)):
                if f > _F_NORM_MAX:
                    _fail(self.source, f"normalised {name} = {f:g} is a field of view of {_fov_deg(f):.2g} deg "
                                       f"(below {MIN_FOV_DEG:g}): {_PIXELS_HINT}")
                if f < _F_NORM_MIN:
                    _fail(self.source, f"normalised {name} = {f:g} is a field of view of {_fov_deg(f):.1f} deg "
                                       f"(a pinhole camera sees less than {MAX_FOV_DEG:g} deg)")
            for name, c in (("cx", self.cx), ("cy", self.cy)):
                if not 0.0 <= c <= 1.0:
                    _fail(self.source, f"normalised principal point {name} = {c:g} lies outside [0, 1]: {_PIXELS_HINT}")
            return
        if self.width is None:
            return
        for name, f, n, axis in (("fx", self.fx, self.width, "wide"), ("fy", self.fy, self.height, "high")):
            fov = _fov_deg(f / n)
            if fov > MAX_FOV_DEG:
                _fail(self.source, f"{name} = {f:g} px is a {'horizontal' if axis == 'wide' else 'vertical'} "
                                   f"field of view of {fov:.1f} deg for a {n}-pixel-{axis} image (a pinhole camera "
                                   f"sees less than {MAX_FOV_DEG:g} deg): {_NORMALISED_HINT}")
            if fov < MIN_FOV_DEG:
                _fail(self.source, f"{name} = {f:g} px is a field of view of {fov:.2g} deg for a {n}-pixel-{axis} "
                                   f"image (below {MIN_FOV_DEG:g} deg): check the units and the image size")
        for name, c, n, axis in (("cx", self.cx, self.width, "wide"), ("cy", self.cy, self.height, "high")):
            if not -0.5 <= c <= n - 0.5:
                hint = (_NORMALISED_HINT if 0.0 <= c <= 1.0 else
                        "intrinsics of another image size? state the width and height they belong to")
                _fail(self.source, f"principal point {name} = {c:g} px lies outside the {n}-pixel-{axis} image: {hint}")

    # ------------------------------------------------------------------ constructors

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
            _fail(source, "a bare intrinsics matrix does not say whether it is in pixels or normalised: state it")
        try:
            M = np.asarray(K.detach().cpu().numpy() if isinstance(K, torch.Tensor) else K, dtype=np.float64)
        except (TypeError, ValueError):
            _fail(source, "K must be a 3x3 (or 4x4) matrix of numbers")
        if M.shape not in ((3, 3), (4, 4)):
            _fail(source, f"K must be a 3x3 (or 4x4) matrix, got shape {M.shape}")
        if not np.isfinite(M).all():
            _fail(source, "K contains NaN or Inf")
        if M.shape == (4, 4) and (np.abs(M[3, :3]).max() > 0 or np.abs(M[:3, 3]).max() > 0 or M[3, 3] != 1):
            _fail(source, f"a 4x4 K must end in the row and column [0, 0, 0, 1], got {M.tolist()}")
        if M[1, 0] or M[2, 0] or M[2, 1] or abs(M[2, 2] - 1.0) > 1e-9:
            _fail(source, f"not a pinhole K [[fx, s, cx], [0, fy, cy], [0, 0, 1]]: {M[:3, :3].tolist()}")
        return cls(M[0, 0], M[1, 1], M[0, 2], M[1, 2], conv, width, height, M[0, 1], source)

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float, vfov_deg: float | None = None) -> Intrinsics:
        """Centred pinhole of a ``width x height`` image from its field(s) of view, in pixels.

        ``fx = (W / 2) / tan(hfov / 2)``; ``fy = fx`` (square pixels) or ``(H / 2) / tan(vfov / 2)``;
        principal point ``(W / 2, H / 2)``, the normalised 0.5 (module docstring).

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
                _fail(source, f"a 4x4 projection matrix must end in the row [0, 0, 0, 1], got {M[3].tolist()}")
            M = M[:3]
        if M.shape not in ((3, 4), (3, 3)):
            _fail(source, f"a projection matrix must be 3x4 or 4x4, got shape {M.shape}")
        if not np.isfinite(M).all():
            _fail(source, "projection matrix contains NaN or Inf")
        A = M[:, :3]
        if abs(np.linalg.det(A)) < 1e-12 * max(1.0, np.abs(A).max()) ** 3:
            _fail(source, "projection matrix P[:, :3] is singular")
        if A[1, 0] == 0 and A[2, 0] == 0 and A[2, 1] == 0 and A[2, 2] > 0:
            K = A / A[2, 2]
        else:
            K = _rq_intrinsics(A)
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
            return _fov_deg(self.fx), _fov_deg(self.fy)
        if self.width is None:
            raise ConfigError("the field of view of pixel intrinsics needs the image size")
        return _fov_deg(self.fx / self.width), _fov_deg(self.fy / self.height)

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
            _fail(self.source, f"intrinsics are for {self.width}x{self.height} but the image is {w}x{h}, a "
                               "different aspect ratio (cropped frames need their own intrinsics)")
        return self.resize(h, w)

    def to_normalised(self) -> Intrinsics:
        """Normalised intrinsics (``fx/W``, ``cx/W``, ...); pixels need a stated size.

        Raises:
            ConfigError: pixel intrinsics without an image size.
        """
        if self.is_normalised:
            return self
        if self.width is None:
            _fail(self.source, "normalising pixel intrinsics needs the image width and height they belong to")
        return self._replace_from(normalise_matrix(self.as_matrix(3), self.height, self.width), NORMALISED, None)

    def resize(self, height: int, width: int) -> Intrinsics:
        """Pixel intrinsics after resizing the image to ``height x width`` (:func:`resize_matrix`,
        pixel-centre exact). Normalised intrinsics are returned unchanged (they serve any size).

        Raises:
            ConfigError: pixel intrinsics without a stated size.
        """
        if self.is_normalised:
            return self
        if self.width is None:
            _fail(self.source, "resizing pixel intrinsics needs the image size they belong to")
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


def _rq_intrinsics(A: np.ndarray) -> np.ndarray:
    """``K`` (upper triangular, positive diagonal, ``K[2, 2] = 1``) of ``A = K R``, ``R`` orthogonal."""
    flip = np.eye(3)[::-1]
    Q, U = np.linalg.qr((flip @ A).T)
    K = flip @ U.T @ flip
    K = K @ np.diag(np.sign(np.diag(K)))
    return K / K[2, 2]


# --------------------------------------------------------------------------- readers


def intrinsics_from_dict(data: Mapping[str, Any], source: str | Path | None = None,
                         convention: str | bool | None = None) -> Intrinsics:
    """Intrinsics from a JSON-style object.

    Accepted keys: ``fx, fy, cx, cy`` (or ``"K"``: a 3x3 / 4x4 matrix), optional ``skew``,
    ``width`` and ``height`` (pixels: the image size they belong to), and the convention as
    ``"normalised": true`` (or ``"normalized"``) or ``"convention": "pixels" | "normalised"``.
    An object that states no convention is in **pixels** unless the caller's ``convention``
    says otherwise; the plausibility check catches normalised values taken for pixels.

    Raises:
        ConfigError / DataError (``source`` a file): missing keys, non-numbers, a convention
            that contradicts the caller's, implausible values.
    """
    stated = None
    for key in ("normalised", "normalized", "convention"):
        if key in data:
            stated = parse_convention(data[key])
    caller = parse_convention(convention)
    if stated is not None and caller is not None and stated != caller:
        _fail(source, f"the file says {stated} intrinsics but {caller} were expected")
    conv = stated or caller or PIXELS
    width = height = None
    if ("width" in data) != ("height" in data):
        _fail(source, "give both 'width' and 'height' or neither")
    if "width" in data and conv == PIXELS:
        width, height = data["width"], data["height"]
    if "K" in data:
        return Intrinsics.from_matrix(data["K"], conv, width, height, source)
    missing = [k for k in ("fx", "fy", "cx", "cy") if k not in data]
    if missing:
        _fail(source, f"missing key(s) {missing}; expected fx, fy, cx, cy (pixels, with width and height) or "
                      "\"normalised\": true, or a 3x3 'K'")
    return Intrinsics(data["fx"], data["fy"], data["cx"], data["cy"], conv, width, height,
                      data.get("skew", 0.0), source)


def read_matrix_file(path: str | Path, what: str = "matrix") -> np.ndarray:
    """The numbers of a text (``1 2 3 ...``, commas and brackets allowed, one matrix), JSON
    (nested list) or ``.npy`` (read with :func:`litedepth.utils.arrays.load_npy`, never unpickled)
    file, as a float64 array: ``(N,)`` for text, the stored shape otherwise.

    Raises:
        DataError: missing or unreadable file, non-numbers, NaN or Inf.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        from litedepth.utils.arrays import load_npy

        arr = load_npy(path, what=what)
        if not np.issubdtype(arr.dtype, np.number):
            raise DataError(path, f"{what} must hold numbers, got dtype {arr.dtype}")
        arr = np.asarray(arr, dtype=np.float64)
    else:
        if not path.is_file():
            raise DataError(path, f"{what} file not found" if not path.exists() else "not a regular file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(path, f"cannot read {what} file ({exc})") from None
        if path.suffix.lower() == ".json":
            try:
                arr = np.asarray(json.loads(text), dtype=np.float64)
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise DataError(path, f"expected a JSON list of numbers ({exc})") from None
        else:
            tokens = text.replace(",", " ").replace("[", " ").replace("]", " ").replace(";", " ").split()
            try:
                arr = np.asarray([float(t) for t in tokens], dtype=np.float64)
            except ValueError:
                raise DataError(path, f"expected only numbers in the {what} file") from None
    if not np.isfinite(arr).all():
        raise DataError(path, f"{what} contains NaN or Inf")
    return arr


def _is_padded_k(M: np.ndarray) -> bool:
    """Whether a 4x4 is a ``K`` padded with ``[0, 0, 0, 1]`` (Monodepth2's layout), not a projection."""
    return bool(M[1, 0] == 0 and M[2, 0] == 0 and M[2, 1] == 0 and M[2, 2] == 1 and not M[:3, 3].any()
                and not M[3, :3].any() and M[3, 3] == 1)


def _looks_like_kitti_calib(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return any(line.split(":", 1)[0].strip() in ("P0", "P1", "P2", "P3", "P_rect_00", "P_rect_02", "calib_time")
               for line in head.splitlines() if ":" in line)


def read_kitti_intrinsics(path: str | Path, camera: int = 2) -> Intrinsics:
    """Pixel intrinsics of rectified KITTI camera ``camera`` from a calibration file.

    Raw format (``calib_cam_to_cam.txt``): ``P_rect_0{camera}`` and, when present,
    ``S_rect_0{camera}`` (the rectified image size). Object / tracking format: ``P{camera}``
    (the file states no size). ``K = P[:, :3]``.

    Raises:
        DataError: missing file or key, malformed numbers, a non-rectified ``P``.
    """
    from litedepth.geometry.calibration import _numbers, intrinsics_from_P, read_calib_file

    path = Path(path)
    entries = read_calib_file(path)
    P = _numbers(entries, path, [f"P_rect_0{camera}", f"P{camera}"], 12).reshape(3, 4)
    try:
        K = intrinsics_from_P(P)
    except ConfigError as exc:
        raise DataError(path, f"P{camera}: {exc}") from None
    width = height = None
    size_key = f"S_rect_0{camera}"
    if size_key in entries:
        w, h = _numbers(entries, path, [size_key], 2)
        if w < 1 or h < 1 or w != int(w) or h != int(h):
            raise DataError(path, f"key {size_key!r} is not a positive integer size: {w} {h}")
        width, height = int(w), int(h)
    return Intrinsics.from_matrix(K, PIXELS, width, height, path)


def read_intrinsics(path: str | Path, convention: str | bool | None = None, *, camera: int = 2) -> Intrinsics:
    """Read intrinsics from a file, whatever its layout; the convention is stated, never guessed.

    * ``.json`` object: :func:`intrinsics_from_dict` (pixels unless it says ``"normalised": true``).
    * ``.json`` bare list, ``.npy`` or text of 9 numbers: a bare 3x3 ``K`` (16: a 4x4 ``K``,
      Monodepth2 / ManyDepth style) in the ``convention`` the caller states (a bare matrix does
      not say).
    * text of 4 numbers ``fx fy cx cy`` or 6 ``fx fy cx cy width height``: in ``convention``.
    * a 3x4 projection matrix (12 numbers, or a ``.npy`` / JSON of shape 3x4), or a 4x4 one
      that is not a padded ``K``: pixels, :meth:`Intrinsics.from_projection`.
    * KITTI calibration text (``P2: ...`` object format, ``P_rect_02: ...`` raw
      ``calib_cam_to_cam.txt``): :func:`read_kitti_intrinsics` for ``camera``.

    Args:
        path: the file.
        convention: ``"pixels"`` / ``"normalised"`` (or a bool, True = normalised) for layouts
            that do not state one; ``None`` makes a bare matrix an error.
        camera: KITTI camera index (2 = left colour, 3 = right colour).

    Returns:
        :class:`Intrinsics` whose ``source`` is ``path`` (errors name the file).

    Raises:
        DataError: unreadable file, unknown layout, a bare matrix without a convention,
            implausible values (the message suggests the other convention).
    """
    path = Path(path)
    conv = parse_convention(convention)
    suffix = path.suffix.lower()
    if suffix == ".json":
        if not path.is_file():
            raise DataError(path, "intrinsics file not found" if not path.exists() else "not a regular file")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(path, f"not valid JSON ({exc})") from None
        if isinstance(data, Mapping):
            return intrinsics_from_dict(data, path, conv)
        arr = read_matrix_file(path, "intrinsics")
    elif suffix != ".npy" and path.is_file() and _looks_like_kitti_calib(path):
        return read_kitti_intrinsics(path, camera)
    else:
        arr = read_matrix_file(path, "intrinsics")
    n = arr.size
    if arr.ndim == 2 and arr.shape == (3, 4) or (arr.ndim <= 1 and n == 12):
        return Intrinsics.from_projection(arr.reshape(3, 4), source=path)
    if n == 16 and conv is None and not _is_padded_k(arr.reshape(4, 4)):
        return Intrinsics.from_projection(arr.reshape(4, 4), source=path)
    if n in (9, 16, 4, 6) and conv is None:
        raise DataError(path, "a bare intrinsics matrix or list does not say whether it is in pixels or "
                              "normalised (fx/W, ...); state the convention (e.g. --intrinsics-convention "
                              "normalised for a Monodepth2 / ManyDepth intrinsics file)")
    if n in (9, 16):
        return Intrinsics.from_matrix(arr.reshape(3, 3) if n == 9 else arr.reshape(4, 4), conv, source=path)
    if n in (4, 6) and arr.ndim <= 1:
        width, height = (arr[4], arr[5]) if n == 6 else (None, None)
        if n == 6 and conv == NORMALISED:
            raise DataError(path, "normalised intrinsics have no image size; give 4 numbers fx fy cx cy")
        return Intrinsics(arr[0], arr[1], arr[2], arr[3], conv, width, height, 0.0, path)
    raise DataError(path, f"cannot read intrinsics from {n} numbers of shape {arr.shape}: expected 9, 4 or 6 "
                          "numbers (a 3x3 K, fx fy cx cy [width height]), 12 or 16 (a 3x4 / 4x4 projection "
                          "matrix), a JSON object or a KITTI calibration file")
