"""File formats under the depth encodings: 16-bit integer images (PNG / TIFF through Pillow),
binary 16-bit PGM with an explicit byte order, and single-channel PFM.

These read and write the *stored values* (uint16 or float32); what a value means in metres is
the encoding's business (:mod:`litedepth.io.depth_encodings.codecs`).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from litedepth.errors import ConfigError, DataError
from litedepth.utils.atomic import atomic_write_bytes

__all__ = ["PIL_ERRORS", "UINT16_MAX", "open_image", "read_pfm", "read_pgm", "write_pfm", "write_pgm"]

UINT16_MAX = 65535
PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError)


# --------------------------------------------------------------------------- 16-bit images


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


def read_integer_image(path: Path, allow_8bit: bool) -> np.ndarray:
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


def write_integer_image(path: Path, values: np.ndarray) -> None:
    """Write ``uint16`` ``(H, W)`` values atomically: a big-endian PGM for ``.pgm``, else a 16-bit
    TIFF (``.tif``/``.tiff``) or PNG."""
    if path.suffix.lower() == ".pgm":
        write_pgm(path, values, "big")
        return
    buf = io.BytesIO()
    Image.fromarray(np.asarray(values, dtype=np.uint16)).save(buf, format="TIFF" if path.suffix.lower() in (".tif", ".tiff") else "PNG")
    atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------- PGM and PFM


def read_file_bytes(path: Path, what: str) -> bytes:
    """The bytes of a regular file; a missing or unreadable one is a DataError naming ``what``."""
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
    data = read_file_bytes(path, "PGM file")
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
    data = read_file_bytes(path, "PFM file")
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
