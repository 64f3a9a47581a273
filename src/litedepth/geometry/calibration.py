"""KITTI calibration files and camera intrinsics.

Two file layouts give the same Velodyne-to-image projection, returned as :class:`VeloToImage`:

* **raw drives** (``<date>/calib_cam_to_cam.txt`` + ``<date>/calib_velo_to_cam.txt``):
  ``P_rect_0X`` (3x4), ``R_rect_00`` (3x3), ``S_rect_0X`` (W H) and ``R`` (3x3) + ``T`` (3);
* **object / tracking benchmark** (one file per frame): ``P2``/``P3`` (3x4), ``R0_rect`` (3x3)
  and ``Tr_velo_to_cam`` (3x4). Raw-style names (``P_rect_02``, ``R_rect_00``) and the tracking
  names (``R_rect``, ``Tr_velo_cam``) are accepted too, with or without the colon.

* **a projection matrix** (one file for every frame, or one per frame): the product
  ``P2 @ R0_rect @ Tr_velo_to_cam`` as a 3x4 matrix, or mmdetection3d's 4x4 ``lidar2img``
  (last row ``[0, 0, 0, 1]``), as text (12 or 16 numbers), JSON or ``.npy``
  (:func:`load_projection_matrix`, :meth:`VeloToImage.from_projection`).

A Velodyne point ``X = (x, y, z, 1)`` (metres) maps to the homogeneous pixel
``P @ R_rect @ velo_to_cam @ X`` of the rectified camera image (pixel units).

Intrinsics helpers: :func:`intrinsics_from_P` gives a 3x3 ``K`` in **pixels**. Pixel <->
normalised conversion is :func:`litedepth.geometry.intrinsics.normalise_matrix` /
:func:`~litedepth.geometry.intrinsics.denormalise_matrix` (``normalize_intrinsics`` and
``denormalize_intrinsics`` here are deprecated aliases for one release);
:class:`~litedepth.geometry.intrinsics.Intrinsics` and
:func:`~litedepth.geometry.intrinsics.read_kitti_intrinsics` carry the convention with the numbers.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.geometry.intrinsics.matrix import denormalise_matrix, normalise_matrix
from litedepth.geometry.intrinsics.readers import read_matrix_file

logger = logging.getLogger(__name__)

__all__ = [
    "VeloToImage",
    "denormalize_intrinsics",
    "intrinsics_from_P",
    "load_object_calib",
    "load_projection_matrix",
    "load_raw_calib",
    "load_raw_calib_dir",
    "normalize_intrinsics",
    "read_calib_file",
]

_CAMERAS = (0, 1, 2, 3)


@dataclass(frozen=True, eq=False)
class VeloToImage:
    """Projection of Velodyne points into one rectified KITTI camera.

    Attributes:
        P: ``(3, 4)`` float64 rectified projection matrix of the camera (pixels).
        R_rect: ``(4, 4)`` float64 rectifying rotation of camera 0, padded with ``[0 0 0 1]``.
        velo_to_cam: ``(4, 4)`` float64 rigid transform Velodyne -> unrectified camera 0
            (metres).
        image_size: ``(H, W)`` in pixels of the rectified image when the calibration states it
            (raw ``S_rect_0X``) or the caller supplied it, else ``None``.
        camera: KITTI camera index (2 = left colour, 3 = right colour).
        source: the file(s) the calibration was read from (for messages).
    """

    P: np.ndarray
    R_rect: np.ndarray
    velo_to_cam: np.ndarray
    image_size: tuple[int, int] | None = None
    camera: int = 2
    source: tuple[Path, ...] = field(default=(), compare=False)

    @property
    def velo_to_image(self) -> np.ndarray:
        """``(3, 4)`` float64 matrix ``P @ R_rect @ velo_to_cam`` (Velodyne metres -> pixels)."""
        return np.dot(np.dot(self.P, self.R_rect), self.velo_to_cam)

    @property
    def K(self) -> np.ndarray:
        """``(3, 3)`` float64 pixel intrinsics of the rectified camera (see :func:`intrinsics_from_P`)."""
        return intrinsics_from_P(self.P, self.image_size)

    @classmethod
    def from_projection(cls, matrix: np.ndarray, image_size: Sequence[int] | None = None, camera: int = 2,
                        source: Sequence[Path] = ()) -> VeloToImage:
        """The projection ``velo_to_image = matrix`` itself (``P = matrix``, ``R_rect`` and
        ``velo_to_cam`` the identity, so :attr:`velo_to_image` equals ``matrix`` bit for bit).

        Args:
            matrix: ``(3, 4)`` Velodyne metres -> homogeneous pixels, e.g.
                ``P2 @ R0_rect @ Tr_velo_to_cam`` or the top rows of a 4x4 ``lidar2img``.
            image_size: ``(H, W)`` pixels, when known.
        """
        M = np.asarray(matrix, dtype=np.float64)
        if M.shape != (3, 4):
            raise ConfigError(f"projection matrix must be 3x4, got shape {M.shape}")
        size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        return cls(M.copy(), np.eye(4), np.eye(4), size, camera, tuple(Path(s) for s in source))

    def with_image_size(self, image_size: Sequence[int]) -> VeloToImage:
        """A copy with ``image_size = (H, W)`` (pixels)."""
        h, w = (int(v) for v in image_size)
        return VeloToImage(self.P, self.R_rect, self.velo_to_cam, (h, w), self.camera, self.source)


# --------------------------------------------------------------------------- file parsing


def read_calib_file(path: str | Path) -> dict[str, str]:
    """Read a KITTI ``key: values`` calibration text file into ``{key: value string}``.

    Keys may end with a colon or not (``P2: ...``, ``R_rect ...``); blank lines are skipped.
    Values are kept as text (``calib_time`` is a date); use the loaders below to get numbers.

    Raises:
        DataError: missing or unreadable file, or a file with no ``key value`` lines.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "calibration file not found" if not path.exists() else "not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read calibration file ({exc})") from None
    entries: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        first = line.split(None, 1)[0]
        if ":" in first:  # "P2: 7.0 ..." or "P2:7.0 ..."
            key, _, value = line.partition(":")
        else:  # tracking style "R_rect 1 0 0 ..."
            key, _, value = first, None, line[len(first):]
        entries[key.strip()] = value.strip()
    if not entries:
        raise DataError(path, "calibration file is empty")
    return entries


def _numbers(entries: dict[str, str], path: Path, names: Sequence[str], count: int) -> np.ndarray:
    """The first of ``names`` present in ``entries`` as ``count`` float64 numbers."""
    for name in names:
        if name in entries:
            raw = entries[name]
            try:
                values = np.array([float(tok) for tok in raw.split()], dtype=np.float64)
            except ValueError:
                raise DataError(
                    path, f"key {name!r} has non-numeric values: {raw[:60]!r}"
                ) from None
            if values.size != count:
                raise DataError(path, f"key {name!r} has {values.size} numbers, expected {count}")
            if not np.isfinite(values).all():
                raise DataError(path, f"key {name!r} contains NaN or Inf")
            return values
    wanted = " or ".join(repr(n) for n in names)
    present = ", ".join(sorted(entries)) or "none"
    raise DataError(path, f"missing key {wanted} (keys present: {present})")


def _check_camera(camera: int) -> int:
    if camera not in _CAMERAS:
        raise ConfigError(f"KITTI camera must be one of {_CAMERAS}, not {camera!r}")
    return int(camera)


def _pad4(mat3x4_or_3x3: np.ndarray) -> np.ndarray:
    out = np.eye(4, dtype=np.float64)
    rows, cols = mat3x4_or_3x3.shape
    out[:rows, :cols] = mat3x4_or_3x3
    return out


def load_raw_calib(
    cam_to_cam: str | Path, velo_to_cam: str | Path, camera: int = 2
) -> VeloToImage:
    """Parse a KITTI raw-drive calibration pair into a :class:`VeloToImage`.

    Uses ``P_rect_0{camera}`` (3x4, pixels), ``R_rect_00`` (3x3; every ``P_rect_0X`` is
    relative to rectified camera 0, as in the KITTI devkit and Monodepth2), ``S_rect_0{camera}``
    (``W H``, optional: gives ``image_size``) from ``calib_cam_to_cam.txt`` and ``R`` (3x3) +
    ``T`` (3, metres) from ``calib_velo_to_cam.txt``.

    Raises:
        DataError: missing file, missing key or malformed numbers (naming file and key).
    """
    camera = _check_camera(camera)
    c2c_path, v2c_path = Path(cam_to_cam), Path(velo_to_cam)
    c2c = read_calib_file(c2c_path)
    v2c = read_calib_file(v2c_path)
    P = _numbers(c2c, c2c_path, [f"P_rect_0{camera}"], 12).reshape(3, 4)
    R_rect = _pad4(_numbers(c2c, c2c_path, ["R_rect_00"], 9).reshape(3, 3))
    R = _numbers(v2c, v2c_path, ["R"], 9).reshape(3, 3)
    T = _numbers(v2c, v2c_path, ["T"], 3)
    velo = np.vstack((np.hstack((R, T[:, None])), [0.0, 0.0, 0.0, 1.0]))
    image_size = None
    size_key = f"S_rect_0{camera}"
    if size_key in c2c:
        w, h = _numbers(c2c, c2c_path, [size_key], 2)
        if w < 1 or h < 1 or w != int(w) or h != int(h):
            raise DataError(c2c_path, f"key {size_key!r} is not a positive integer size: {w} {h}")
        image_size = (int(h), int(w))
    return VeloToImage(P, R_rect, velo, image_size, camera, (c2c_path, v2c_path))


def load_raw_calib_dir(date_dir: str | Path, camera: int = 2) -> VeloToImage:
    """:func:`load_raw_calib` on ``date_dir/calib_cam_to_cam.txt`` and ``calib_velo_to_cam.txt``."""
    date_dir = Path(date_dir)
    return load_raw_calib(
        date_dir / "calib_cam_to_cam.txt", date_dir / "calib_velo_to_cam.txt", camera
    )


def load_object_calib(
    path: str | Path, camera: int = 2, image_size: Sequence[int] | None = None
) -> VeloToImage:
    """Parse a KITTI object/tracking-benchmark calibration file into a :class:`VeloToImage`.

    Keys (first found wins): ``P{camera}`` / ``P_rect_0{camera}`` (3x4, pixels);
    ``R0_rect`` / ``R_rect`` / ``R_rect_00`` (3x3); ``Tr_velo_to_cam`` / ``Tr_velo_cam``
    (3x4, metres). The file does not state the image size: pass ``image_size=(H, W)``
    (pixels; e.g. from the image header) to record it.

    Raises:
        DataError: missing file, missing key or malformed numbers (naming file and key).
    """
    camera = _check_camera(camera)
    path = Path(path)
    entries = read_calib_file(path)
    P = _numbers(entries, path, [f"P{camera}", f"P_rect_0{camera}"], 12).reshape(3, 4)
    R_rect = _pad4(_numbers(entries, path, ["R0_rect", "R_rect", "R_rect_00"], 9).reshape(3, 3))
    velo = _pad4(_numbers(entries, path, ["Tr_velo_to_cam", "Tr_velo_cam"], 12).reshape(3, 4))
    size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
    return VeloToImage(P, R_rect, velo, size, camera, (path,))


def load_projection_matrix(path: str | Path) -> np.ndarray:
    """Read one Velodyne-to-image projection matrix: ``(3, 4)`` float64.

    The file holds a 3x4 ``P2 @ R0_rect @ Tr_velo_to_cam`` or a 4x4 (mmdetection3d's
    ``lidar2img``, last row ``[0, 0, 0, 1]``): text of 12 or 16 numbers (commas and brackets
    allowed), a JSON nested list, or a ``.npy`` (read without unpickling).

    Raises:
        DataError: missing or unreadable file, another count of numbers, a 4x4 whose last row
            is not ``[0, 0, 0, 1]``, NaN or Inf.
    """
    path = Path(path)
    values = read_matrix_file(path, "projection matrix")
    if values.size not in (12, 16):
        raise DataError(path, f"expected a 3x4 or 4x4 projection matrix (12 or 16 numbers), got {values.size}")
    M = values.reshape(-1, 4)
    if M.shape[0] == 4:
        if np.abs(M[3] - [0.0, 0.0, 0.0, 1.0]).max() > 1e-9:
            raise DataError(path, f"a 4x4 projection matrix must end in the row [0, 0, 0, 1], got {M[3].tolist()}")
        M = M[:3]
    return np.ascontiguousarray(M)


# --------------------------------------------------------------------------- intrinsics


def intrinsics_from_P(P: np.ndarray, image_size: Sequence[int] | None = None) -> np.ndarray:
    """Pixel intrinsics ``K`` (3x3 float64) of a rectified projection matrix ``P`` (3x4).

    A rectified KITTI ``P_rect_0X = K @ [I | t]``, so ``K = P[:, :3]``
    (``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``, pixels).

    Args:
        P: ``(3, 4)`` (or ``(3, 3)``) projection matrix in pixels.
        image_size: optional ``(H, W)`` in pixels; when given, a principal point outside the
            image is reported with a warning (it usually means swapped ``H``/``W``).

    Raises:
        ConfigError: ``P`` has the wrong shape, is not of the rectified form (non-zero skew
            terms below the diagonal, last row not ``[0, 0, 1]``) or has non-positive focal
            lengths.
    """
    P = np.asarray(P, dtype=np.float64)
    if P.shape not in ((3, 4), (3, 3)):
        raise ConfigError(f"projection matrix must be 3x4 or 3x3, got shape {P.shape}")
    K = P[:, :3].copy()
    scale = max(abs(K[0, 0]), abs(K[1, 1]), 1.0)
    lower = np.array([K[1, 0], K[2, 0], K[2, 1]])
    if np.abs(lower).max() > 1e-9 * scale or abs(K[2, 2] - 1.0) > 1e-9:
        raise ConfigError(
            "projection matrix is not rectified (expected P[:, :3] = [[fx, s, cx], [0, fy, cy], "
            f"[0, 0, 1]]), got {K.tolist()}"
        )
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ConfigError(f"focal lengths must be positive, got fx={K[0, 0]}, fy={K[1, 1]}")
    if image_size is not None:
        h, w = image_size
        if not (0 <= K[0, 2] <= w and 0 <= K[1, 2] <= h):
            logger.warning(
                "principal point (%.1f, %.1f) px lies outside the %dx%d (WxH) image",
                K[0, 2], K[1, 2], w, h,
            )
    return K


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"litedepth.geometry.calibration.{old} is deprecated; use litedepth.geometry.intrinsics.{new}",
                  DeprecationWarning, stacklevel=3)


def normalize_intrinsics(K: np.ndarray, image_size: Sequence[int]) -> np.ndarray:
    """Deprecated: :func:`litedepth.geometry.intrinsics.normalise_matrix` ``(K, H, W)``, the one
    pixel -> normalised conversion (``fx/W, s/W, cx/W`` in row 0; ``fy/H, cy/H`` in row 1).

    Args:
        K: ``(3, 3)`` or ``(4, 4)`` intrinsics in pixels.
        image_size: ``(H, W)`` of the image ``K`` refers to, in pixels.
    Returns:
        float64 array of ``K``'s shape.
    """
    _deprecated("normalize_intrinsics(K, (H, W))", "normalise_matrix(K, H, W)")
    h, w = _size(image_size)
    return normalise_matrix(np.asarray(K, dtype=np.float64), h, w)


def denormalize_intrinsics(K_norm: np.ndarray, image_size: Sequence[int]) -> np.ndarray:
    """Deprecated: :func:`litedepth.geometry.intrinsics.denormalise_matrix` ``(K_norm, H, W)``
    (normalised ``K`` -> pixel ``K`` for an image of ``image_size = (H, W)`` pixels)."""
    _deprecated("denormalize_intrinsics(K_norm, (H, W))", "denormalise_matrix(K_norm, H, W)")
    h, w = _size(image_size)
    return denormalise_matrix(np.asarray(K_norm, dtype=np.float64), h, w)


def _size(image_size: Sequence[int]) -> tuple[float, float]:
    if len(image_size) != 2:
        raise ConfigError(f"image_size must be (H, W), got {image_size!r}")
    h, w = float(image_size[0]), float(image_size[1])
    if h <= 0 or w <= 0:
        raise ConfigError(f"image_size must be positive, got {image_size!r}")
    return h, w
