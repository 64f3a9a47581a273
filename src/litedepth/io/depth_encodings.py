"""Depth encodings: how a depth file stores metres, as one registry.

Every decoder returns a ``float32`` array ``(H, W)`` of **metres**, ``0.0`` meaning "no
measurement". A depth file does not say how it encodes depth (a 16-bit PNG may hold
millimetres, 1/256 m or 1/5000 m; a ``.pgm`` may hold millimetres or raw Kinect disparity), so
the encoding is always **named** by the caller, recorded with the data, and never guessed.
The only self-describing format is ``.npy``, which litedepth defines as float metres.

==============  =====================================  ==========================================
name            aliases                                decodes
==============  =====================================  ==========================================
``kitti``       ``kitti-depth``                        uint16 PNG, metres = value / 256
``mm``          ``nyu``, ``kinect``, ``scannet``,      uint16 PNG/PGM, millimetres
                ``millimetres``, ``millimeters``       (value / 1000)
``tum``         ``tum-rgbd``                           uint16 PNG, metres = value / 5000
``sunrgbd``     ``sun-rgbd``                           uint16 PNG, value rotated right by 3 bits
                                                       ``((v >> 3) | (v << 13)) & 0xFFFF``, / 1000
``nyu-raw``     ``kinect-raw``                         NYU v2 raw Kinect ``.pgm`` (little-endian as
                                                       dumped): 11-bit disparity ``raw``,
                                                       ``351.3 / (1092.5 - raw)`` m, 2047 = invalid
``nyu-raw-be``  -                                      the same, big-endian (a standard PGM, e.g.
                                                       re-saved after MATLAB's ``swapbytes``)
``npy``         ``float-npy``                          ``.npy`` float metres (never unpickled)
``pfm-depth``   -                                      ``.pfm`` float metres (inf/NaN/<=0 invalid)
``middlebury``  ``middlebury-pfm``, ``pfm-disparity``  Middlebury ``.pfm`` disparity (pixels) with
                                                       ``calib.txt`` beside it:
                                                       ``baseline * f / (d + doffs)`` m
``tiff-float``  ``float-tiff``                         32-bit float TIFF, metres
                                                       (NaN/inf/<=0 invalid)
a number        -                                      uint16 PNG/PGM/TIFF, metres = value / number
==============  =====================================  ==========================================

PFM files hold depth in some datasets and disparity in others (Middlebury, SceneFlow), so
there is no ``pfm`` name: ``pfm-depth`` reads float metres and ``middlebury`` converts
Middlebury disparity with the scene's calibration. OpenEXR is not supported: no library
that litedepth depends on reads it (OpenCV's wheels ship without the EXR codec).

Use :func:`parse_encoding` to turn a name, alias or number into a :class:`DepthEncoding`,
:func:`decode_depth` to read a file and :func:`encode_depth` to write one.

Example:
    >>> enc = parse_encoding("kitti")
    >>> enc.name, enc.scale
    ('kitti', 256.0)
    >>> parse_encoding(1000).describe()
    'uint16, metres = value / 1000'
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from litedepth.errors import ConfigError, DataError
from litedepth.utils.arrays import load_npy
from litedepth.utils.atomic import atomic_open, atomic_write_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "DepthEncoding",
    "decode_depth",
    "encode_depth",
    "encode_depth_uint16",
    "encoding_choices",
    "encoding_for_file",
    "kinect_raw_to_metres",
    "linear_encoding",
    "list_encodings",
    "open_image",
    "parse_encoding",
    "read_middlebury_calib",
    "read_pfm",
    "read_pgm",
    "write_depth_npy",
    "write_pfm",
    "write_pgm",
]

UINT16_MAX = 65535
#: NYU v2 raw Kinect: depth = KINECT_A / (KINECT_B - raw) metres (NYU Depth v2 toolbox).
KINECT_A, KINECT_B = 351.3, 1092.5
#: NYU v2 raw Kinect invalid value (11-bit all ones).
KINECT_INVALID = 2047
#: Decoded raw-Kinect depths beyond this are marked invalid (the NYU toolbox clamps them to 10 m,
#: which would invent a measurement).
KINECT_MAX_M = 10.0
_NPY_SUSPICIOUS_M = 1000.0  # no depth sensor or benchmark measures beyond this
PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError)
_INT_SUFFIXES = (".png", ".pgm", ".tif", ".tiff")


# --------------------------------------------------------------------------- the type


@dataclass(frozen=True)
class DepthEncoding:
    """One way of storing depth in a file.

    Attributes:
        name: canonical name (what is recorded in checkpoints and ``predictions.json``).
        description: what a stored value means, in one line.
        suffixes: file suffixes (lower case, with the dot) this encoding reads.
        decoder: ``(path, allow_8bit) -> float32 (H, W) metres``, 0 = invalid.
        aliases: other accepted names.
        scale: integer units per metre of the linear uint16 encodings (``value / scale`` =
            metres), ``None`` for the others.
        encoder: ``(path, depth_m) -> None`` writing a file, or ``None`` (decode only).
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    decoder: Callable[[Path, bool], np.ndarray] = field(compare=False, repr=False)
    aliases: tuple[str, ...] = ()
    scale: float | None = None
    encoder: Callable[[Path, np.ndarray], None] | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.name

    @property
    def writable(self) -> bool:
        """Whether :meth:`encode` can write this encoding."""
        return self.encoder is not None

    def describe(self) -> str:
        """The one-line description of what a stored value means."""
        return self.description

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: ``{"name", "description"}`` plus ``"scale"`` for linear encodings.

        :func:`parse_encoding` of the ``name`` gives this encoding back.
        """
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.scale is not None:
            out["scale"] = self.scale
        return out

    def check_suffix(self, path: str | Path) -> Path:
        """``path`` as a :class:`Path`; a file suffix this encoding does not read is a DataError."""
        path = Path(path)
        if path.suffix.lower() not in self.suffixes:
            raise DataError(
                path, f"depth encoding {self.name!r} reads {'/'.join(self.suffixes)} files, not "
                f"{path.suffix or 'files without a suffix'}"
            )
        return path

    def decode(self, path: str | Path, *, allow_8bit: bool = False) -> np.ndarray:
        """Read ``path`` as depth in this encoding.

        Args:
            path: the depth file (a suffix of :attr:`suffixes`).
            allow_8bit: linear encodings only: accept an 8-bit greyscale image (value / scale
                metres). Off by default: an 8-bit "depth" PNG is almost always a visualisation.

        Returns:
            ``float32`` array ``(H, W)``, metres, ``0.0`` where there is no measurement.

        Raises:
            DataError: missing or corrupt file, a file of another format or bit depth.
        """
        return self.decoder(self.check_suffix(path), allow_8bit)

    def encode(self, path: str | Path, depth_m: np.ndarray) -> None:
        """Write ``depth_m`` (``(H, W)`` metres; NaN/Inf/<=0 = invalid) to ``path`` atomically.

        Raises:
            ConfigError: the encoding is decode-only.
            DataError: a suffix this encoding does not read.
        """
        if self.encoder is None:
            raise ConfigError(f"depth encoding {self.name!r} can be read but not written")
        self.encoder(self.check_suffix(path), depth_m)


# --------------------------------------------------------------------------- file access


def open_image(path: str | Path) -> tuple[Image.Image, bool]:
    """Open and decode an image; also report whether its pixels were stored with 16 bits.

    Raises:
        DataError: missing, unreadable or corrupt file.
    """
    path = Path(path)
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
    except PIL_ERRORS as exc:
        raise DataError(path, f"cannot read image ({type(exc).__name__}: {exc})") from None
    return img, bits16


def _read_integer_image(path: Path, allow_8bit: bool) -> np.ndarray:
    """The stored integers of a single-channel 16-bit image (``uint16``), or 8-bit if allowed."""
    img, bits16 = open_image(path)
    if bits16:
        raw = np.asarray(img)
        if raw.ndim != 2:
            raise DataError(path, f"expected a single-channel depth image, got shape {raw.shape}")
        if raw.dtype != np.uint16:
            if raw.size and (raw.min() < 0 or raw.max() > UINT16_MAX):
                raise DataError(path, "16-bit depth image holds values outside 0..65535")
            raw = raw.astype(np.uint16)
        return raw
    if img.mode == "L":
        if not allow_8bit:
            raise DataError(
                path, "expected a single-channel 16-bit depth PNG/PGM/TIFF, got an 8-bit image (mode L): "
                "depth files must be uint16 (an 8-bit PNG is usually a visualisation); pass "
                "allow_8bit=True if it really holds depth"
            )
        return np.asarray(img)
    if img.mode == "F":
        raise DataError(path, "32-bit float image: use the encoding 'tiff-float' (metres)")
    raise DataError(path, f"image mode {img.mode!r} is not a single-channel 16-bit depth image")


def _read_bytes(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "not a regular file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read {what} ({exc})") from None


def read_pgm(path: str | Path, byte_order: str = "big") -> tuple[np.ndarray, int]:
    """Read a binary 16-bit PGM (``P5``, maxval > 255) with an explicit byte order.

    The PGM standard stores 16-bit samples big-endian, but the NYU v2 raw Kinect dumps store
    them little-endian under the same header; the header cannot say which, so the caller
    states it. Comments (``#`` to the end of a line) in the header are skipped.

    Args:
        path: the ``.pgm`` file.
        byte_order: ``"big"`` (the standard) or ``"little"`` (NYU v2 raw dumps).

    Returns:
        ``(values, maxval)``: ``uint16`` array ``(H, W)`` and the header's maxval.

    Raises:
        DataError: not a binary PGM, an 8-bit PGM, or a truncated file.
    """
    path = Path(path)
    if byte_order not in ("big", "little"):
        raise ConfigError(f"byte_order must be 'big' or 'little', not {byte_order!r}")
    data = _read_bytes(path, "PGM file")
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if pos < len(data) and data[pos : pos + 1] == b"#":
            end = data.find(b"\n", pos)
            pos = len(data) if end < 0 else end + 1
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace() and data[pos : pos + 1] != b"#":
            pos += 1
        if start == pos:
            raise DataError(path, "truncated PGM header")
        fields.append(data[start:pos])
    if fields[0] != b"P5":
        raise DataError(path, f"not a binary PGM (magic {fields[0][:8]!r}, expected b'P5')")
    try:
        width, height, maxval = (int(f) for f in fields[1:])
    except ValueError:
        raise DataError(path, f"malformed PGM header {b' '.join(fields)!r}") from None
    if width < 1 or height < 1 or not 0 < maxval <= UINT16_MAX:
        raise DataError(path, f"PGM header has size {width}x{height} and maxval {maxval}")
    if maxval <= 255:
        raise DataError(path, f"8-bit PGM (maxval {maxval}); depth PGMs hold 16-bit values")
    body = data[pos + 1 :]  # exactly one whitespace byte ends the header
    need = width * height * 2
    if len(body) < need:
        raise DataError(path, f"truncated: {len(body)} bytes of pixel data, {width}x{height} 16-bit needs {need}")
    dtype = "<u2" if byte_order == "little" else ">u2"
    values = np.frombuffer(body[:need], dtype=dtype).reshape(height, width).astype(np.uint16)
    return values, maxval


def write_pgm(path: str | Path, values: np.ndarray, byte_order: str = "big", maxval: int = UINT16_MAX) -> None:
    """Write ``uint16`` ``(H, W)`` values as a binary 16-bit PGM (atomically).

    Args:
        byte_order: ``"big"`` (the PGM standard) or ``"little"`` (as the NYU v2 raw dumps).
        maxval: the header's maxval (256..65535).
    """
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise ValueError(f"values must have shape (H, W), got {arr.shape}")
    if byte_order not in ("big", "little") or not 255 < int(maxval) <= UINT16_MAX:
        raise ValueError(f"byte_order must be big/little and maxval in 256..65535, got {byte_order!r}, {maxval}")
    header = f"P5\n{arr.shape[1]} {arr.shape[0]}\n{int(maxval)}\n".encode("ascii")
    dtype = "<u2" if byte_order == "little" else ">u2"
    atomic_write_bytes(path, header + arr.astype(dtype).tobytes())


def read_pfm(path: str | Path) -> np.ndarray:
    """Read a single-channel PFM (``Pf``) as ``float32`` ``(H, W)``, first row at the top.

    PFM stores rows bottom to top; a negative scale in the header means little-endian. The
    values are returned as stored (their meaning depends on the encoding).

    Raises:
        DataError: not a ``Pf`` file (a colour ``PF`` is refused), a malformed header or
            truncated data.
    """
    path = Path(path)
    data = _read_bytes(path, "PFM file")
    lines = []
    pos = 0
    for _ in range(3):
        end = data.find(b"\n", pos)
        if end < 0:
            raise DataError(path, "truncated PFM header")
        lines.append(data[pos:end].strip())
        pos = end + 1
    if lines[0] == b"PF":
        raise DataError(path, "colour PFM (PF, 3 channels); a depth or disparity map is single-channel (Pf)")
    if lines[0] != b"Pf":
        raise DataError(path, f"not a PFM file (magic {lines[0][:8]!r}, expected b'Pf')")
    try:
        width, height = (int(v) for v in lines[1].split())
        scale = float(lines[2])
    except ValueError:
        raise DataError(path, f"malformed PFM header {lines!r}") from None
    if width < 1 or height < 1 or scale == 0 or not math.isfinite(scale):
        raise DataError(path, f"PFM header has size {width}x{height} and scale {scale}")
    need = width * height * 4
    if len(data) - pos < need:
        raise DataError(path, f"truncated: {len(data) - pos} bytes of pixel data, {width}x{height} floats need {need}")
    dtype = "<f4" if scale < 0 else ">f4"
    values = np.frombuffer(data[pos : pos + need], dtype=dtype).reshape(height, width)
    return np.ascontiguousarray(values[::-1], dtype=np.float32)


def write_pfm(path: str | Path, values: np.ndarray) -> None:
    """Write ``(H, W)`` floats as a little-endian single-channel PFM (atomically)."""
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"values must have shape (H, W), got {arr.shape}")
    header = f"Pf\n{arr.shape[1]} {arr.shape[0]}\n-1.0\n".encode("ascii")
    atomic_write_bytes(path, header + np.ascontiguousarray(arr[::-1]).astype("<f4").tobytes())


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


def encode_depth_uint16(depth_m: np.ndarray, scale: float) -> np.ndarray:
    """Encode metres as ``uint16`` ``round(depth * scale)``; 0 = invalid.

    Non-finite, zero and negative depths become 0. Depths above ``65535 / scale`` are clipped
    to 65535 and positive depths that would round to 0 are stored as 1 (so they stay valid);
    both are reported with a warning.

    Args:
        depth_m: ``(H, W)`` float array, metres.
        scale: integer units per metre (a number, or an encoding with a :attr:`~DepthEncoding.scale`).
    Returns:
        ``uint16`` array ``(H, W)``.
    """
    units = _linear_scale(scale)
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


def _linear_scale(scale: Any) -> float:
    enc = parse_encoding(scale)
    if enc.scale is None:
        raise ConfigError(f"depth encoding {enc.name!r} is not a linear scale (value / scale = metres)")
    return enc.scale


def _write_uint16(path: Path, values: np.ndarray) -> None:
    if path.suffix.lower() == ".pgm":
        write_pgm(path, values, "big")
        return
    buf = io.BytesIO()
    Image.fromarray(np.asarray(values, dtype=np.uint16)).save(buf, format="TIFF" if path.suffix.lower() in (".tif", ".tiff") else "PNG")
    atomic_write_bytes(path, buf.getvalue())


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


# --------------------------------------------------------------------------- decoders


def _linear(scale: float) -> tuple[Callable[[Path, bool], np.ndarray], Callable[[Path, np.ndarray], None]]:
    def decode(path: Path, allow_8bit: bool) -> np.ndarray:
        raw = _read_integer_image(path, allow_8bit)
        return raw.astype(np.float32) / np.float32(scale)

    def encode(path: Path, depth_m: np.ndarray) -> None:
        _write_uint16(path, encode_depth_uint16(depth_m, scale))

    return decode, encode


def _rotate_right3(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.uint32)
    return (((v >> 3) | (v << 13)) & 0xFFFF).astype(np.uint16)


def _rotate_left3(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.uint32)
    return (((v << 3) | (v >> 13)) & 0xFFFF).astype(np.uint16)


def _sunrgbd_decode(path: Path, allow_8bit: bool) -> np.ndarray:
    raw = _read_integer_image(path, False)
    return _rotate_right3(raw).astype(np.float32) / np.float32(1000.0)


def _sunrgbd_encode(path: Path, depth_m: np.ndarray) -> None:
    _write_uint16(path, _rotate_left3(encode_depth_uint16(depth_m, 1000.0)))


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


def _nyu_raw(byte_order: str) -> tuple[Callable[[Path, bool], np.ndarray], Callable[[Path, np.ndarray], None]]:
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


def _npy_decode(path: Path, allow_8bit: bool) -> np.ndarray:
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


def _pfm_depth_decode(path: Path, allow_8bit: bool) -> np.ndarray:
    return _valid_float(path, read_pfm(path))


def _pfm_depth_encode(path: Path, depth_m: np.ndarray) -> None:
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
        text = _read_bytes(path, "Middlebury calibration").decode("utf-8")
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


def _middlebury_decode(path: Path, allow_8bit: bool) -> np.ndarray:
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


def _tiff_float_decode(path: Path, allow_8bit: bool) -> np.ndarray:
    img, _ = open_image(path)
    if img.mode != "F":
        raise DataError(
            path, f"image mode {img.mode!r} is not a 32-bit float TIFF; a 16-bit TIFF needs a scale "
            "encoding (a number, 'mm', 'kitti', ...)"
        )
    return _valid_float(path, np.asarray(img))


def _tiff_float_encode(path: Path, depth_m: np.ndarray) -> None:
    d = _as_depth_2d(depth_m)
    arr = np.where(np.isfinite(d) & (d > 0), d, 0.0).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="F").save(buf, format="TIFF")
    atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------- registry


def _number_name(value: float) -> str:
    return format(value, "g")


def linear_encoding(scale: float, name: str | None = None, aliases: Sequence[str] = (),
                    description: str | None = None) -> DepthEncoding:
    """A uint16 encoding ``metres = value / scale`` (``scale`` integer units per metre)."""
    value = float(scale)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"depth scale must be a finite positive number, not {scale!r}")
    decode, encode = _linear(value)
    return DepthEncoding(
        name=name or _number_name(value),
        description=description or f"uint16, metres = value / {_number_name(value)}",
        suffixes=_INT_SUFFIXES, decoder=decode, aliases=tuple(aliases), scale=value, encoder=encode,
    )


def _build_registry() -> tuple[DepthEncoding, ...]:
    raw_le, raw_le_enc = _nyu_raw("little")
    raw_be, raw_be_enc = _nyu_raw("big")
    return (
        linear_encoding(256.0, "kitti", ("kitti-depth",),
                        "KITTI depth benchmark / projected LiDAR: uint16 PNG, metres = value / 256"),
        linear_encoding(1000.0, "mm", ("nyu", "kinect", "scannet", "millimetres", "millimeters"),
                        "NYU Depth v2 / Kinect / ScanNet: uint16 PNG or PGM, millimetres (value / 1000)"),
        linear_encoding(5000.0, "tum", ("tum-rgbd",), "TUM RGB-D: uint16 PNG, metres = value / 5000"),
        DepthEncoding("sunrgbd", "SUN RGB-D: uint16 PNG rotated right by 3 bits "
                      "((v >> 3) | (v << 13)) & 0xFFFF, then millimetres (/ 1000)",
                      (".png",), _sunrgbd_decode, ("sun-rgbd",), None, _sunrgbd_encode),
        DepthEncoding("nyu-raw", "NYU Depth v2 raw Kinect .pgm, little-endian as dumped: 11-bit disparity raw, "
                      "metres = 351.3 / (1092.5 - raw), 2047 = invalid, > 10 m invalid; not registered to RGB",
                      (".pgm",), raw_le, ("kinect-raw",), None, raw_le_enc),
        DepthEncoding("nyu-raw-be", "NYU Depth v2 raw Kinect disparity in a big-endian (standard) .pgm, "
                      "as nyu-raw", (".pgm",), raw_be, (), None, raw_be_enc),
        DepthEncoding("npy", "float .npy, metres (0 = invalid; never unpickled)", (".npy",), _npy_decode,
                      ("float-npy",), None, lambda p, d: write_depth_npy(p, d)),
        DepthEncoding("pfm-depth", "float PFM, metres (inf/NaN/<= 0 = invalid)", (".pfm",), _pfm_depth_decode,
                      (), None, _pfm_depth_encode),
        DepthEncoding("middlebury", "Middlebury PFM disparity in pixels with the scene's calib.txt beside it: "
                      "metres = baseline * f / (d + doffs) / 1000 (inf = invalid); read only",
                      (".pfm",), _middlebury_decode, ("middlebury-pfm", "pfm-disparity")),
        DepthEncoding("tiff-float", "32-bit float TIFF, metres (NaN/inf/<= 0 = invalid)", (".tif", ".tiff"),
                      _tiff_float_decode, ("float-tiff",), None, _tiff_float_encode),
    )


_ENCODINGS: tuple[DepthEncoding, ...] = _build_registry()
_BY_NAME: dict[str, DepthEncoding] = {
    key: enc for enc in _ENCODINGS for key in (enc.name, *enc.aliases)
}
#: Names that sound like an encoding but could mean several: the error says which to choose.
_AMBIGUOUS = {
    "pfm": "PFM holds depth in some datasets and disparity in others: name 'pfm-depth' (float metres) "
           "or 'middlebury' (disparity + calib.txt)",
    "pgm": "a .pgm may hold millimetres ('nyu', registered NYU v2 / Kinect depth) or raw Kinect "
           "disparity ('nyu-raw', NYU v2 raw dumps)",
    "png": "a 16-bit PNG stores depth times a dataset-specific scale: name it ('kitti', 'mm', 'tum', "
           "'sunrgbd' or a number)",
    "tiff": "name 'tiff-float' (32-bit float metres) or a scale for a 16-bit TIFF",
    "metres": "name the file format: 'npy', 'pfm-depth' or 'tiff-float'",
    "meters": "name the file format: 'npy', 'pfm-depth' or 'tiff-float'",
}


def list_encodings() -> list[DepthEncoding]:
    """Every named encoding, in the order of the module table (numeric scales not included)."""
    return list(_ENCODINGS)


def encoding_choices() -> str:
    """``"kitti, mm (nyu, kinect, ...), tum, ..."``: the names (and aliases) for messages and help."""
    parts = []
    for enc in _ENCODINGS:
        parts.append(f"{enc.name} ({', '.join(enc.aliases)})" if enc.aliases else enc.name)
    return ", ".join(parts) + " or a number (integer units per metre)"


def parse_encoding(spec: Any) -> DepthEncoding:
    """The :class:`DepthEncoding` named by ``spec``.

    Args:
        spec: a :class:`DepthEncoding` (returned as is), a name or alias (case-insensitive,
            e.g. ``"kitti"``, ``"NYU"``, ``"sunrgbd"``, ``"nyu-raw"``), or a positive number of
            integer units per metre (``256``, ``"1000"``, ``5000.0``) for ``metres = value / number``.

    Raises:
        ConfigError: an unknown or ambiguous name (the message lists the choices), a number
            that is not finite and positive, or another type (``None``, ``True``, ...).
    """
    if isinstance(spec, DepthEncoding):
        return spec
    if isinstance(spec, bool) or spec is None:
        raise ConfigError(f"depth encoding must be a name or a number, not {spec!r}; use one of {encoding_choices()}")
    if isinstance(spec, (int, float, np.integer, np.floating)):
        return linear_encoding(float(spec))
    if not isinstance(spec, str):
        raise ConfigError(f"depth encoding must be a name or a number, not {type(spec).__name__} {spec!r}")
    key = spec.strip().lower()
    if key in _BY_NAME:
        return _BY_NAME[key]
    try:
        number = float(key)
    except ValueError:
        number = None
    if number is not None:
        return linear_encoding(number)
    if key in _AMBIGUOUS:
        raise ConfigError(f"depth encoding {spec!r} is ambiguous: {_AMBIGUOUS[key]}")
    raise ConfigError(f"unknown depth encoding {spec!r}; use one of {encoding_choices()}")


_UNNAMED_HINTS = {
    ".pgm": "a .pgm is not self-describing: registered NYU v2 / Kinect depth is uint16 millimetres "
            "(encoding 'nyu'), NYU v2 raw dumps hold raw Kinect disparity ('nyu-raw'); name the encoding",
    ".png": "a 16-bit PNG stores depth times a dataset-specific scale; name the encoding: 'kitti' (/256), "
            "'mm' / 'nyu' (/1000), 'tum' (/5000), 'sunrgbd' (bit-rotated mm) or a number",
    ".pfm": "a PFM may hold depth or disparity; name the encoding: 'pfm-depth' (float metres) or "
            "'middlebury' (disparity + calib.txt)",
}


def encoding_for_file(path: str | Path, encoding: Any = None) -> DepthEncoding:
    """The encoding to decode ``path`` with: the named one, checked against the file's suffix.

    ``.npy`` files are float metres by definition (the ``npy`` encoding) and need no name; a
    folder may mix them with files of the named encoding, which is then validated but not
    applied to them. Every other file needs ``encoding``: there is no default.

    Raises:
        ConfigError: no encoding named for a file that needs one (the message names the file
            and the choices), or an invalid ``encoding``.
        DataError: the named encoding does not read files with this suffix.
    """
    path = Path(path)
    enc = None if encoding is None else parse_encoding(encoding)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _BY_NAME["npy"]
    if enc is None:
        hint = _UNNAMED_HINTS.get(suffix, f"name the depth encoding ({encoding_choices()})")
        raise ConfigError(f"{path}: no depth encoding given; {hint}")
    enc.check_suffix(path)
    return enc


def decode_depth(path: str | Path, encoding: Any = None, *, allow_8bit: bool = False) -> np.ndarray:
    """Read a depth file as metres with its named encoding.

    Args:
        path: the depth file.
        encoding: anything :func:`parse_encoding` accepts; may be ``None`` only for ``.npy``
            (float metres).
        allow_8bit: linear encodings only: accept an 8-bit greyscale image.

    Returns:
        ``float32`` ``(H, W)``, metres, ``0.0`` = no measurement.

    Raises:
        ConfigError: no or an invalid encoding (see :func:`encoding_for_file`).
        DataError: missing, corrupt or mismatched file (naming it).
    """
    return encoding_for_file(path, encoding).decode(path, allow_8bit=allow_8bit)


def encode_depth(path: str | Path, depth_m: np.ndarray, encoding: Any) -> None:
    """Write ``depth_m`` (``(H, W)`` metres; NaN/Inf/<=0 = invalid) in ``encoding``, atomically.

    Raises:
        ConfigError: invalid or read-only encoding.
        DataError: a suffix the encoding does not write.
    """
    parse_encoding(encoding).encode(path, depth_m)
