"""The registry of named depth encodings: the table, name / alias / number lookup, and the
entry points :func:`decode_depth`, :func:`encode_depth` and :func:`encode_depth_uint16`.

The table of names is in the package docstring (:mod:`litedepth.io.depth_encodings`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError
from litedepth.io.depth_encodings import codecs
from litedepth.io.depth_encodings.encoding import DepthEncoding

__all__ = [
    "decode_depth",
    "encode_depth",
    "encode_depth_uint16",
    "encoding_choices",
    "encoding_for_file",
    "linear_encoding",
    "list_encodings",
    "parse_encoding",
]

_INT_SUFFIXES = (".png", ".pgm", ".tif", ".tiff")


def encode_depth_uint16(depth_m: np.ndarray, scale: float) -> np.ndarray:
    """Encode metres as ``uint16`` ``round(depth * scale)``; 0 = invalid.

    Non-finite, zero and negative depths become 0. Depths above ``65535 / scale`` are clipped
    to 65535 and positive depths that would round to 0 are stored as 1 (so they stay valid);
    both are reported with a warning.

    Args:
        depth_m: ``(H, W)`` float array, metres.
        scale: integer units per metre: a number, or a linear encoding (name or
            :class:`DepthEncoding` with a :attr:`~DepthEncoding.scale`).
    Returns:
        ``uint16`` array ``(H, W)``.

    Raises:
        ConfigError: an encoding that is not a linear scale.
    """
    return codecs.uint16_from_metres(depth_m, _linear_scale(scale))


def _linear_scale(scale: Any) -> float:
    enc = parse_encoding(scale)
    if enc.scale is None:
        raise ConfigError(f"depth encoding {enc.name!r} is not a linear scale (value / scale = metres)")
    return enc.scale


def _number_name(value: float) -> str:
    return format(value, "g")


def linear_encoding(scale: float, name: str | None = None, aliases: Sequence[str] = (),
                    description: str | None = None) -> DepthEncoding:
    """A uint16 encoding ``metres = value / scale`` (``scale`` integer units per metre)."""
    value = float(scale)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"depth scale must be a finite positive number, not {scale!r}")
    decode, encode = codecs.linear_codec(value)
    return DepthEncoding(
        name=name or _number_name(value),
        description=description or f"uint16, metres = value / {_number_name(value)}",
        suffixes=_INT_SUFFIXES, decoder=decode, aliases=tuple(aliases), scale=value, encoder=encode,
    )


def _build_registry() -> tuple[DepthEncoding, ...]:
    raw_le, raw_le_enc = codecs.nyu_raw_codec("little")
    raw_be, raw_be_enc = codecs.nyu_raw_codec("big")
    return (
        linear_encoding(256.0, "kitti", ("kitti-depth",),
                        "KITTI depth benchmark / projected LiDAR: uint16 PNG, metres = value / 256"),
        linear_encoding(1000.0, "mm", ("nyu", "kinect", "scannet", "millimetres", "millimeters"),
                        "NYU Depth v2 / Kinect / ScanNet: uint16 PNG or PGM, millimetres (value / 1000)"),
        linear_encoding(5000.0, "tum", ("tum-rgbd",), "TUM RGB-D: uint16 PNG, metres = value / 5000"),
        DepthEncoding("sunrgbd", "SUN RGB-D: uint16 PNG rotated right by 3 bits "
                      "((v >> 3) | (v << 13)) & 0xFFFF, then millimetres (/ 1000)",
                      (".png",), codecs.sunrgbd_decode, ("sun-rgbd",), None, codecs.sunrgbd_encode),
        DepthEncoding("nyu-raw", "NYU Depth v2 raw Kinect .pgm, little-endian as dumped: 11-bit disparity raw, "
                      "metres = 351.3 / (1092.5 - raw), 2047 = invalid, > 10 m invalid; not registered to RGB",
                      (".pgm",), raw_le, ("kinect-raw",), None, raw_le_enc),
        DepthEncoding("nyu-raw-be", "NYU Depth v2 raw Kinect disparity in a big-endian (standard) .pgm, "
                      "as nyu-raw", (".pgm",), raw_be, (), None, raw_be_enc),
        DepthEncoding("npy", "float .npy, metres (0 = invalid; never unpickled)", (".npy",), codecs.npy_decode,
                      ("float-npy",), None, codecs.write_depth_npy),
        DepthEncoding("pfm-depth", "float PFM, metres (inf/NaN/<= 0 = invalid)", (".pfm",), codecs.pfm_depth_decode,
                      (), None, codecs.pfm_depth_encode),
        DepthEncoding("middlebury", "Middlebury PFM disparity in pixels with the scene's calib.txt beside it: "
                      "metres = baseline * f / (d + doffs) / 1000 (inf = invalid); read only",
                      (".pfm",), codecs.middlebury_decode, ("middlebury-pfm", "pfm-disparity")),
        DepthEncoding("tiff-float", "32-bit float TIFF, metres (NaN/inf/<= 0 = invalid)", (".tif", ".tiff"),
                      codecs.tiff_float_decode, ("float-tiff",), None, codecs.tiff_float_encode),
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
    """Every named encoding, in the order of the table of :mod:`litedepth.io.depth_encodings`
    (numeric scales not included)."""
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
