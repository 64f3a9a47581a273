"""Reading intrinsics from files and JSON-style objects: :func:`read_intrinsics` (any layout),
:func:`intrinsics_from_dict`, :func:`read_kitti_intrinsics` and :func:`read_matrix_file`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.geometry.intrinsics.checks import NORMALISED, PIXELS, fail, parse_convention
from litedepth.geometry.intrinsics.pinhole import Intrinsics

__all__ = ["intrinsics_from_dict", "read_intrinsics", "read_kitti_intrinsics", "read_matrix_file"]


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
        fail(source, f"the file says {stated} intrinsics but {caller} were expected")
    conv = stated or caller or PIXELS
    width = height = None
    if ("width" in data) != ("height" in data):
        fail(source, "give both 'width' and 'height' or neither")
    if "width" in data and conv == PIXELS:
        width, height = data["width"], data["height"]
    if "K" in data:
        return Intrinsics.from_matrix(data["K"], conv, width, height, source)
    missing = [k for k in ("fx", "fy", "cx", "cy") if k not in data]
    if missing:
        fail(source, f"missing key(s) {missing}; expected fx, fy, cx, cy (pixels, with width and height) or "
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
