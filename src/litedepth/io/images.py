"""Reading colour images and depth maps in the encodings users meet, writing depth maps.

Depth maps are always returned as ``float32`` arrays of shape ``(H, W)`` in **metres**, with
``0.0`` meaning "no measurement". How a file stores depth is its **encoding**, always named by
the caller (never guessed): a name or alias from the one registry
:mod:`litedepth.io.depth_encodings` (``kitti``, ``mm``/``nyu``/``kinect``, ``tum``,
``sunrgbd``, ``nyu-raw``, ``npy``, ``pfm-depth``, ``middlebury``, ``tiff-float``) or a number
(integer units per metre, ``metres = value / number``). ``.npy`` files are float metres and
need no name.

Every problem with a file (missing, corrupt, wrong bit depth, NaN in a ``.npy``) raises
:class:`litedepth.errors.DataError` naming the file; a bad or missing encoding raises
:class:`litedepth.errors.ConfigError`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from litedepth.errors import ConfigError, DataError
from litedepth.io.depth_encodings import (
    PIL_ERRORS,
    decode_depth,
    encode_depth,
    encode_depth_uint16,
    list_encodings,
    open_image,
    parse_encoding,
    write_depth_npy,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DEPTH_ENCODINGS",
    "IMAGE_SUFFIXES",
    "folder_images",
    "encode_depth_uint16",
    "read_depth",
    "read_image_size",
    "read_rgb",
    "resolve_depth_scale",
    "write_depth",
    "write_depth_npy",
    "write_depth_png",
]

#: File suffixes read as images, lower case (compare ``path.suffix.lower()``): the formats
#: :func:`read_rgb` decodes through Pillow. The one list: every reader of image files and folders
#: (supervised folders, segmentation, VOC, video folders, teacher frames, ``predict``, video
#: input) uses it; their old ``IMAGE_EXTS`` names are aliases of it.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")

#: Integer units per metre of the linear uint16 encodings, by name and alias (``kitti`` 256,
#: ``mm``/``nyu``/``kinect`` 1000, ``tum`` 5000, ...). The full registry, non-linear encodings
#: included, is :func:`litedepth.io.depth_encodings.list_encodings`.
DEPTH_ENCODINGS: dict[str, float] = {
    key: enc.scale for enc in list_encodings() if enc.scale is not None for key in (enc.name, *enc.aliases)
}


def folder_images(folder: str | Path) -> list[Path]:
    """The image files directly in ``folder`` (suffix in :data:`IMAGE_SUFFIXES`, any case),
    sorted by name; sub-folders are not searched. The caller checks that ``folder`` is one."""
    return [p for p in sorted(Path(folder).iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def resolve_depth_scale(scale: float | str) -> float:
    """Integer units per metre of a linear encoding: a positive number or a linear encoding name.

    Raises:
        ConfigError: unknown name, a non-linear encoding (``sunrgbd``, ``nyu-raw``, ...), or a
            scale that is not a finite positive number.
    """
    enc = parse_encoding(scale)
    if enc.scale is None:
        raise ConfigError(f"depth encoding {enc.name!r} is not a linear scale (value / scale = metres)")
    return enc.scale


def read_image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` in pixels of an image file, read from its header only (no decoding)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "not a regular file")
    try:
        with Image.open(path) as img:
            w, h = img.size
    except PIL_ERRORS as exc:
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
    img, _ = open_image(path)
    if img.mode.startswith("I") or img.mode == "F":
        raise DataError(
            path, f"image mode {img.mode!r} is 16/32-bit or float, not a colour image "
            "(a depth map? colour images are expected here)"
        )
    if img.mode != "RGB":
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:  # pragma: no cover - PIL guarantees this for RGB
        raise DataError(path, f"unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)


def read_depth(path: str | Path, encoding: Any = None, *, allow_8bit: bool = False) -> np.ndarray:
    """Read a depth map in metres (:func:`litedepth.io.depth_encodings.decode_depth`).

    Args:
        path: a depth file: uint16 ``.png``/``.pgm``/``.tif``, ``.npy`` float metres, ``.pfm``,
            float ``.tif``.
        encoding: the file's encoding: a name or alias (``"kitti"``, ``"nyu"``, ``"tum"``,
            ``"sunrgbd"``, ``"nyu-raw"``, ...), a number (integer units per metre) or a
            :class:`~litedepth.io.depth_encodings.DepthEncoding`. Required for every file but
            ``.npy`` (float metres), for which it is validated but not applied.
        allow_8bit: accept an 8-bit greyscale image (value / scale metres, linear encodings
            only). Off by default because an 8-bit "depth" PNG is almost always a
            visualisation, not measurements.

    Returns:
        ``float32`` array ``(H, W)``, metres, ``0.0`` where there is no measurement.

    Raises:
        DataError: missing or corrupt file, an 8-bit / colour image, a format the encoding
            does not read, a ``.npy`` that is not a 2-D floating-point array or that contains
            NaN, Inf or negative values.
        ConfigError: no encoding for a file that needs one, or an invalid encoding.
    """
    return decode_depth(path, encoding, allow_8bit=allow_8bit)


def write_depth(path: str | Path, depth_m: np.ndarray, encoding: Any) -> None:
    """Write ``depth_m`` (``(H, W)`` metres; NaN/Inf/<=0 = invalid) in a named encoding, atomically
    (:func:`litedepth.io.depth_encodings.encode_depth`)."""
    encode_depth(path, depth_m, encoding)


def write_depth_png(path: str | Path, depth_m: np.ndarray, scale: Any) -> None:
    """Write a depth map as a 16-bit greyscale PNG in a uint16 encoding, atomically.

    Args:
        path: destination ``.png``; parent folders are created.
        depth_m: ``(H, W)`` float array, metres; NaN/Inf/<=0 are written as 0 (invalid).
        scale: the encoding: integer units per metre or a name (``"kitti"`` = 256,
            ``"sunrgbd"`` for SUN RGB-D's bit-rotated millimetres).
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise DataError(path, "write_depth_png writes .png files")
    encode_depth(path, depth_m, scale)
