"""Reading colour images and depth maps in the encodings users meet, writing depth maps.

Depth maps are always returned as ``float32`` arrays of shape ``(H, W)`` in **metres**, with
``0.0`` meaning "no measurement". Integer depth files store ``metres * scale``; the scale is
always a parameter (a number or a name from :data:`DEPTH_ENCODINGS`) and is never guessed:

=========  ======  ============================================================
name       scale   files
=========  ======  ============================================================
``kitti``  256     KITTI depth benchmark / projected LiDAR uint16 PNG
``nyu``    1000    NYU Depth v2 Kinect, millimetres (PGM or PNG)
``kinect`` 1000    raw Kinect millimetres
``mm``     1000    any millimetre encoding
``tum``    5000    TUM RGB-D depth PNG
=========  ======  ============================================================

Every problem with a file (missing, corrupt, wrong bit depth, NaN in a ``.npy``) raises
:class:`litedepth.errors.DataError` naming the file; a bad scale raises
:class:`litedepth.errors.ConfigError`.
"""

from __future__ import annotations

import io
import logging
import math
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from litedepth.errors import ConfigError, DataError
from litedepth.utils.arrays import load_npy
from litedepth.utils.atomic import atomic_open, atomic_write_bytes

logger = logging.getLogger(__name__)

#: Integer units per metre of the common integer depth encodings.
DEPTH_ENCODINGS: dict[str, float] = {
    "kitti": 256.0,
    "nyu": 1000.0,
    "kinect": 1000.0,
    "mm": 1000.0,
    "tum": 5000.0,
}

_UINT16_MAX = 65535
_NPY_SUSPICIOUS_M = 1000.0  # no depth sensor or benchmark measures beyond this
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError)


def resolve_depth_scale(scale: float | str) -> float:
    """Integer units per metre for ``scale``: a positive number or a :data:`DEPTH_ENCODINGS` name.

    Raises:
        ConfigError: unknown name, or a scale that is not a finite positive number.
    """
    if isinstance(scale, str):
        key = scale.strip().lower()
        if key not in DEPTH_ENCODINGS:
            names = ", ".join(sorted(DEPTH_ENCODINGS))
            raise ConfigError(f"unknown depth encoding {scale!r}; use one of {names} or a number")
        return DEPTH_ENCODINGS[key]
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise ConfigError(f"depth scale must be a number or an encoding name, not {scale!r}")
    value = float(scale)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"depth scale must be a finite positive number, not {scale!r}")
    return value


def _open_image(path: Path) -> tuple[Image.Image, bool]:
    """Open and decode an image; also report whether its pixels were stored with 16 bits."""
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "not a regular file")
    try:
        img = Image.open(path)
        # The raw modes must be read before load() clears ``tile``: a 16-bit PGM (and a 16-bit
        # PNG in older Pillow) decodes to mode "I" and only the raw mode says "16".
        bits16 = img.mode.startswith("I;16") or (
            img.mode == "I" and any("16" in str(tile[3]) for tile in img.tile)
        )
        img.load()
    except _PIL_ERRORS as exc:
        raise DataError(path, f"cannot read image ({type(exc).__name__}: {exc})") from None
    return img, bits16


def read_image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` in pixels of an image file, read from its header only (no decoding)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "not a regular file")
    try:
        with Image.open(path) as img:
            w, h = img.size
    except _PIL_ERRORS as exc:
        raise DataError(path, f"cannot read image header ({type(exc).__name__}: {exc})") from None
    return int(h), int(w)


def read_rgb(path: str | Path) -> np.ndarray:
    """Read a colour image as ``uint8`` RGB of shape ``(H, W, 3)``.

    Greyscale (``L``), palette and ``RGBA``/``LA`` images are converted to RGB (alpha is
    dropped, grey is repeated on the three channels).

    Raises:
        DataError: missing, unreadable or corrupt file, or a 16-bit/float image (which is a
            depth map or similar, not a colour image).
    """
    path = Path(path)
    img, _ = _open_image(path)
    if img.mode.startswith("I") or img.mode == "F":
        raise DataError(
            path, f"image mode {img.mode!r} is 16/32-bit or float, not a colour image "
            "(use read_depth for depth maps)"
        )
    if img.mode != "RGB":
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:  # pragma: no cover - PIL guarantees this for RGB
        raise DataError(path, f"unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)


def read_depth(path: str | Path, scale: float | str, *, allow_8bit: bool = False) -> np.ndarray:
    """Read a depth map in metres.

    Args:
        path: a uint16 ``.png``/``.pgm`` (value = metres * scale, 0 = invalid) or a ``.npy``
            of floating-point metres (0 = invalid).
        scale: integer units per metre (e.g. 256.0) or a name from :data:`DEPTH_ENCODINGS`
            (``"kitti"``, ``"nyu"``, ``"kinect"``, ``"mm"``, ``"tum"``). It is validated but
            ignored for ``.npy`` files, which hold metres already.
        allow_8bit: accept an 8-bit greyscale image (value / scale metres). Off by default
            because an 8-bit "depth" PNG is almost always a visualisation, not measurements.

    Returns:
        ``float32`` array ``(H, W)``, metres, ``0.0`` where there is no measurement.

    Raises:
        DataError: missing or corrupt file, an 8-bit / colour / float image, a ``.npy`` that
            is not a 2-D floating-point array or that contains NaN, Inf or negative values.
        ConfigError: invalid ``scale``.
    """
    path = Path(path)
    units = resolve_depth_scale(scale)  # validated for every format
    if path.suffix.lower() == ".npy":
        return _read_depth_npy(path)
    img, bits16 = _open_image(path)
    if bits16:
        raw = np.asarray(img)
        if raw.ndim != 2:
            raise DataError(path, f"expected a single-channel depth image, got shape {raw.shape}")
        if raw.dtype != np.uint16:
            if raw.size and (raw.min() < 0 or raw.max() > _UINT16_MAX):
                raise DataError(path, "16-bit depth image holds values outside 0..65535")
            raw = raw.astype(np.uint16)
    elif img.mode == "L":
        if not allow_8bit:
            raise DataError(
                path, "8-bit image: depth files must be uint16 (an 8-bit PNG is usually a "
                "visualisation); pass allow_8bit=True if it really holds depth"
            )
        raw = np.asarray(img)
    else:
        raise DataError(
            path, f"image mode {img.mode!r} is not a single-channel 16-bit depth image"
        )
    depth = raw.astype(np.float32) / np.float32(units)
    return depth


def _read_depth_npy(path: Path) -> np.ndarray:
    arr = load_npy(path, what="depth")
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(path, f"expected floating-point metres, got dtype {arr.dtype}")
    if arr.ndim != 2:
        squeezed = np.squeeze(arr)
        if squeezed.ndim != 2:
            raise DataError(path, f"expected a 2-D (H, W) depth map, got shape {arr.shape}")
        arr = squeezed
    finite = np.isfinite(arr)
    if not finite.all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int((~finite).sum()) - n_nan
        raise DataError(
            path, f"contains {n_nan} NaN and {n_inf} Inf values; store invalid depth as 0.0"
        )
    if (arr < 0).any():
        raise DataError(path, f"contains {int((arr < 0).sum())} negative depths")
    if arr.size and arr.max() > _NPY_SUSPICIOUS_M:
        logger.warning(
            "%s: depth up to %.0f m; .npy depth must be in metres (millimetres saved as .npy?)",
            path, float(arr.max()),
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def _as_depth_2d(depth_m: np.ndarray) -> np.ndarray:
    arr = np.asarray(depth_m)
    if arr.ndim != 2:
        raise ValueError(f"depth map must have shape (H, W), got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"depth map must be numeric, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def encode_depth_uint16(depth_m: np.ndarray, scale: float | str) -> np.ndarray:
    """Encode metres as ``uint16`` ``round(depth * scale)``; 0 = invalid.

    Non-finite, zero and negative depths become 0. Depths above ``65535 / scale`` are clipped
    to 65535 and positive depths that would round to 0 are stored as 1 (so they stay valid);
    both are reported with a warning.

    Args:
        depth_m: ``(H, W)`` float array, metres.
        scale: integer units per metre or a :data:`DEPTH_ENCODINGS` name.
    Returns:
        ``uint16`` array ``(H, W)``.
    """
    units = resolve_depth_scale(scale)
    arr = _as_depth_2d(depth_m)
    valid = np.isfinite(arr) & (arr > 0)
    scaled = np.zeros(arr.shape, dtype=np.float64)
    scaled[valid] = np.round(arr[valid] * units)
    over = scaled > _UINT16_MAX
    if over.any():
        logger.warning(
            "%d depth values exceed %.3f m (65535 / scale %g) and were clipped",
            int(over.sum()), _UINT16_MAX / units, units,
        )
        scaled[over] = _UINT16_MAX
    tiny = valid & (scaled == 0)
    if tiny.any():
        logger.warning(
            "%d positive depths below %.2g m would encode as 0 (invalid); stored as 1",
            int(tiny.sum()), 0.5 / units,
        )
        scaled[tiny] = 1
    return scaled.astype(np.uint16)


def write_depth_png(path: str | Path, depth_m: np.ndarray, scale: float | str) -> None:
    """Write a depth map as a 16-bit greyscale PNG, value = ``round(metres * scale)``, 0 = invalid.

    The write is atomic (a reader never sees a half-written file).

    Args:
        path: destination ``.png``; parent folders are created.
        depth_m: ``(H, W)`` float array, metres; NaN/Inf/<=0 are written as 0 (invalid).
        scale: integer units per metre or an encoding name (``"kitti"`` = 256).
    """
    encoded = encode_depth_uint16(depth_m, scale)
    buf = io.BytesIO()
    Image.fromarray(encoded).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def write_depth_npy(path: str | Path, depth_m: np.ndarray) -> None:
    """Write a depth map as a ``float32`` ``.npy`` of metres (0.0 = invalid), atomically.

    NaN, Inf and negative values are written as 0.0 with a warning, so that
    :func:`read_depth` can read the file back.

    Args:
        path: destination ``.npy``; parent folders are created.
        depth_m: ``(H, W)`` array, metres.
    """
    arr = _as_depth_2d(depth_m).astype(np.float32)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        logger.warning("%d NaN/Inf/negative depths written as 0.0 (invalid)", int(bad.sum()))
        arr = np.where(bad, np.float32(0.0), arr)
    with atomic_open(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)
