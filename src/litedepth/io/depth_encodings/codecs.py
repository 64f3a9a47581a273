"""The decoders and encoders of the named depth encodings: stored values <-> metres.

Every decoder is ``(path, allow_8bit) -> float32 (H, W) metres`` (0.0 = no measurement) and
every encoder ``(path, depth_m) -> None`` (written atomically); the registry
(:mod:`litedepth.io.depth_encodings.registry`) names them. Linear uint16 (``value / scale``),
SUN RGB-D's bit rotation, NYU v2 raw Kinect disparity, float ``.npy``, PFM depth, Middlebury
PFM disparity with its ``calib.txt``, and 32-bit float TIFF.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from litedepth.errors import DataError
from litedepth.io.depth_encodings.formats import (
    UINT16_MAX,
    open_image,
    read_integer_image,
    read_file_bytes,
    read_pfm,
    read_pgm,
    write_integer_image,
    write_pfm,
    write_pgm,
)
from litedepth.utils.arrays import load_npy
from litedepth.utils.atomic import atomic_open, atomic_write_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "KINECT_A",
    "KINECT_B",
    "KINECT_INVALID",
    "KINECT_MAX_M",
    "kinect_raw_to_metres",
    "read_middlebury_calib",
    "write_depth_npy",
]

#: NYU v2 raw Kinect: depth = KINECT_A / (KINECT_B - raw) metres (NYU Depth v2 toolbox).
KINECT_A, KINECT_B = 351.3, 1092.5
#: NYU v2 raw Kinect invalid value (11-bit all ones).
KINECT_INVALID = 2047
#: Decoded raw-Kinect depths beyond this are marked invalid (the NYU toolbox clamps them to 10 m,
#: which would invent a measurement).
KINECT_MAX_M = 10.0
_NPY_SUSPICIOUS_M = 1000.0  # no depth sensor or benchmark measures beyond this

#: ``(decoder, encoder)`` of one encoding.
Codec = tuple[Callable[[Path, bool], np.ndarray], Callable[[Path, np.ndarray], None]]


# --------------------------------------------------------------------------- helpers


def _as_depth_2d(depth_m: np.ndarray) -> np.ndarray:
    arr = np.asarray(depth_m)
    if arr.ndim != 2:
        raise ValueError(f"depth map must have shape (H, W), got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"depth map must be numeric, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _valid_float(path: Path, values: np.ndarray) -> np.ndarray:
    """Float maps (PFM, TIFF): NaN, Inf and <= 0 become 0.0 (invalid); float32 out."""
    arr = np.asarray(values, dtype=np.float32)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        arr = np.where(bad, np.float32(0.0), arr)
    _warn_if_huge(path, arr)
    return np.ascontiguousarray(arr)


def _warn_if_huge(path: Path, arr: np.ndarray) -> None:
    if arr.size and float(arr.max()) > _NPY_SUSPICIOUS_M:
        logger.warning(
            "%s: depth up to %.0f m; float depth must be in metres (millimetres saved as floats?)",
            path, float(arr.max()),
        )


def uint16_from_metres(depth_m: np.ndarray, units: float) -> np.ndarray:
    """:func:`~litedepth.io.depth_encodings.encode_depth_uint16` with ``units`` (integer units per
    metre, > 0) given as a number: ``(H, W)`` metres -> ``uint16`` ``round(depth * units)``."""
    arr = _as_depth_2d(depth_m)
    valid = np.isfinite(arr) & (arr > 0)
    scaled = np.zeros(arr.shape, dtype=np.float64)
    scaled[valid] = np.round(arr[valid] * units)
    over = scaled > UINT16_MAX
    if over.any():
        logger.warning(
            "%d depth values exceed %.3f m (65535 / scale %g) and were clipped",
            int(over.sum()), UINT16_MAX / units, units,
        )
        scaled[over] = UINT16_MAX
    tiny = valid & (scaled == 0)
    if tiny.any():
        logger.warning(
            "%d positive depths below %.2g m would encode as 0 (invalid); stored as 1",
            int(tiny.sum()), 0.5 / units,
        )
        scaled[tiny] = 1
    return scaled.astype(np.uint16)


def write_depth_npy(path: str | Path, depth_m: np.ndarray) -> None:
    """Write a depth map as a ``float32`` ``.npy`` of metres (0.0 = invalid), atomically.

    NaN, Inf and negative values are written as 0.0 with a warning, so that the ``npy``
    decoder can read the file back.

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


# --------------------------------------------------------------------------- decoders / encoders


def linear_codec(scale: float) -> Codec:
    """Decoder and encoder of ``metres = value / scale`` in a 16-bit PNG / PGM / TIFF."""
    def decode(path: Path, allow_8bit: bool) -> np.ndarray:
        raw = read_integer_image(path, allow_8bit)
        return raw.astype(np.float32) / np.float32(scale)

    def encode(path: Path, depth_m: np.ndarray) -> None:
        write_integer_image(path, uint16_from_metres(depth_m, scale))

    return decode, encode


def _rotate_right3(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.uint32)
    return (((v >> 3) | (v << 13)) & 0xFFFF).astype(np.uint16)


def _rotate_left3(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.uint32)
    return (((v << 3) | (v >> 13)) & 0xFFFF).astype(np.uint16)


def sunrgbd_decode(path: Path, allow_8bit: bool) -> np.ndarray:
    raw = read_integer_image(path, False)
    return _rotate_right3(raw).astype(np.float32) / np.float32(1000.0)


def sunrgbd_encode(path: Path, depth_m: np.ndarray) -> None:
    write_integer_image(path, _rotate_left3(uint16_from_metres(depth_m, 1000.0)))


def kinect_raw_to_metres(raw: np.ndarray) -> np.ndarray:
    """NYU v2 raw Kinect disparity -> metres: ``351.3 / (1092.5 - raw)``.

    ``raw == 2047`` (no return), non-positive, non-finite and implausible results (beyond
    :data:`KINECT_MAX_M` = 10 m, the NYU toolbox's maximum) are ``0.0`` (invalid).

    Args:
        raw: integer array of raw 11-bit disparities.
    Returns:
        ``float32`` metres of ``raw``'s shape.
    """
    raw = np.asarray(raw)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = KINECT_A / (KINECT_B - raw.astype(np.float64))
    bad = (raw == KINECT_INVALID) | ~np.isfinite(depth) | (depth <= 0) | (depth > KINECT_MAX_M)
    depth[bad] = 0.0
    return depth.astype(np.float32)


def nyu_raw_codec(byte_order: str) -> Codec:
    """Decoder and encoder of NYU v2 raw Kinect disparity in a PGM of ``byte_order``."""
    other = "nyu-raw-be" if byte_order == "little" else "nyu-raw"

    def decode(path: Path, allow_8bit: bool) -> np.ndarray:
        raw, _ = read_pgm(path, byte_order)
        if raw.size and int(raw.max()) > KINECT_INVALID:
            swapped = raw.byteswap()
            hint = (f"; read in the other byte order they are (use the encoding {other!r})"
                    if int(swapped.max()) <= KINECT_INVALID else "")
            raise DataError(
                path, f"values up to {int(raw.max())} read {byte_order}-endian, but raw Kinect "
                f"disparities are 11-bit (0..2047){hint}"
            )
        return kinect_raw_to_metres(raw)

    def encode(path: Path, depth_m: np.ndarray) -> None:
        d = _as_depth_2d(depth_m)
        lo = KINECT_A / KINECT_B  # depth of raw 0
        valid = np.isfinite(d) & (d > lo) & (d <= KINECT_MAX_M)
        raw = np.full(d.shape, KINECT_INVALID, dtype=np.uint16)
        raw[valid] = np.round(KINECT_B - KINECT_A / d[valid]).astype(np.uint16)
        dropped = int((np.isfinite(d) & (d > 0) & ~valid).sum())
        if dropped:
            logger.warning("%d depths outside the raw Kinect range (%.2f, %g] m written as invalid (2047)",
                           dropped, lo, KINECT_MAX_M)
        write_pgm(path, raw, byte_order)

    return decode, encode


def npy_decode(path: Path, allow_8bit: bool) -> np.ndarray:
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


def pfm_depth_decode(path: Path, allow_8bit: bool) -> np.ndarray:
    return _valid_float(path, read_pfm(path))


def pfm_depth_encode(path: Path, depth_m: np.ndarray) -> None:
    d = _as_depth_2d(depth_m)
    write_pfm(path, np.where(np.isfinite(d) & (d > 0), d, 0.0))


def read_middlebury_calib(path: str | Path) -> dict[str, float]:
    """``f`` (pixels, of ``cam0``), ``doffs`` (pixels) and ``baseline`` (mm) of a Middlebury
    2014 ``calib.txt`` (``cam0=[f 0 cx; 0 f cy; 0 0 1]``, ``doffs=...``, ``baseline=...``).

    Raises:
        DataError: missing file or keys, malformed numbers.
    """
    path = Path(path)
    try:
        text = read_file_bytes(path, "Middlebury calibration").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not a text file ({exc})") from None
    entries = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            entries[key.strip()] = value.strip()
    missing = [k for k in ("cam0", "doffs", "baseline") if k not in entries]
    if missing:
        raise DataError(path, f"missing key(s) {missing} (a Middlebury calib.txt has cam0, doffs, baseline)")
    try:
        cam0 = [float(v) for v in re.split(r"[\s;\[\]]+", entries["cam0"]) if v]
        doffs, baseline = float(entries["doffs"]), float(entries["baseline"])
    except ValueError:
        raise DataError(path, "malformed numbers in cam0, doffs or baseline") from None
    if len(cam0) != 9 or cam0[0] <= 0 or baseline <= 0:
        raise DataError(path, f"cam0 must be a 3x3 matrix with f > 0 and baseline > 0, got {cam0}, {baseline}")
    return {"f": cam0[0], "doffs": doffs, "baseline": baseline}


def middlebury_decode(path: Path, allow_8bit: bool) -> np.ndarray:
    calib_path = path.parent / "calib.txt"
    if not calib_path.is_file():
        raise DataError(path, f"Middlebury disparity needs the scene's calib.txt beside it ({calib_path} not found)")
    calib = read_middlebury_calib(calib_path)
    disp = read_pfm(path).astype(np.float64)
    denom = disp + calib["doffs"]
    valid = np.isfinite(disp) & (denom > 0)
    depth = np.zeros(disp.shape, dtype=np.float64)
    depth[valid] = (calib["baseline"] / 1000.0) * calib["f"] / denom[valid]
    return depth.astype(np.float32)


def tiff_float_decode(path: Path, allow_8bit: bool) -> np.ndarray:
    img, _ = open_image(path)
    if img.mode != "F":
        raise DataError(
            path, f"image mode {img.mode!r} is not a 32-bit float TIFF; a 16-bit TIFF needs a scale "
            "encoding (a number, 'mm', 'kitti', ...)"
        )
    return _valid_float(path, np.asarray(img))


def tiff_float_encode(path: Path, depth_m: np.ndarray) -> None:
    d = _as_depth_2d(depth_m)
    arr = np.where(np.isfinite(d) & (d > 0), d, 0.0).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="F").save(buf, format="TIFF")
    atomic_write_bytes(path, buf.getvalue())
