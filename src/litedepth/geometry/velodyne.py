"""Velodyne scans and their projection to sparse ground-truth depth maps (KITTI Eigen protocol).

:func:`velodyne_to_depth` reproduces the depth maps of Monodepth2's ``generate_depth_map``
(used by ``export_gt_depth.py`` to build the Eigen-split ``gt_depths.npz`` that published
KITTI numbers are computed on):

1. points with Velodyne forward coordinate ``x < 0`` are dropped;
2. ``(x, y, z, 1)`` is projected with ``P_rect @ R_rect @ velo_to_cam`` (float64) and ``u, v``
   are divided by the projected ``z``;
3. the depth is the Velodyne ``x`` (``vel_depth=True``, the Eigen protocol) or the camera
   ``z`` (``vel_depth=False``; precisely the homogeneous ``w`` of the projection, i.e. the
   rectified z plus ``P[2, 3]``, a few mm for cameras 2/3, exactly as Monodepth2);
4. the pixel is ``(round(u) - 1, round(v) - 1)`` with numpy's round-half-to-even, kept when
   ``0 <= col < W`` and ``0 <= row < H``;
5. several points on one pixel keep the minimum depth; finally negative depths become 0.

Monodepth2 finds duplicates through ``sub2ind`` = ``row * (W - 1) + col - 1``, which also
merges pixel ``(row, W-1)`` with ``(row+1, 0)``. That changes only pixels in the first and
last image columns (outside the Eigen/Garg evaluation crop). ``monodepth2_index_quirk=True``
reproduces it bit for bit; the default keeps the true per-pixel minimum.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.geometry.calibration import VeloToImage

logger = logging.getLogger(__name__)

__all__ = ["EmptyScanError", "project_velodyne", "read_velodyne", "velodyne_to_depth"]

_POINT_BYTES = 16  # four float32: x, y, z, reflectance


#: what an empty scan is called in messages
EMPTY_SCAN = ("empty Velodyne scan (0 bytes; a failed download or copy?): it would give an all-zero "
              "ground-truth map")


class EmptyScanError(DataError):
    """A Velodyne scan file holds no point (0 bytes): a failed download or copy.

    Projected, it would give an all-zero ground-truth map that looks like a frame without
    LiDAR returns; :func:`read_velodyne` refuses it instead.
    """


def read_velodyne(path: str | Path) -> np.ndarray:
    """Read a KITTI Velodyne scan ``.bin``.

    Returns:
        ``(N, 4)`` float32: ``x`` (forward), ``y`` (left), ``z`` (up) in metres in the Velodyne
        frame, and reflectance in ``[0, 1]``.

    Raises:
        EmptyScanError: the file is empty (0 bytes).
        DataError: missing/unreadable file, or a size that is not a multiple of 16 bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "Velodyne scan not found" if not path.exists() else "not a file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read Velodyne scan ({exc})") from None
    if not raw:
        raise EmptyScanError(path, EMPTY_SCAN)
    if len(raw) % _POINT_BYTES:
        raise DataError(
            path, f"size {len(raw)} bytes is not a multiple of 16 (4 float32 per point): "
            "not a KITTI Velodyne .bin or truncated"
        )
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 4).astype(np.float32)


def _image_size(calib: VeloToImage, image_size: Sequence[int] | None) -> tuple[int, int]:
    size = image_size if image_size is not None else calib.image_size
    if size is None:
        raise ConfigError(
            "image size unknown: pass image_size=(H, W) (the calibration does not state it)"
        )
    h, w = (int(v) for v in size)
    if h <= 0 or w <= 0:
        raise ConfigError(f"image_size must be positive (H, W), got {tuple(size)}")
    return h, w


def project_velodyne(points: np.ndarray, calib: VeloToImage) -> tuple[np.ndarray, np.ndarray]:
    """Project Velodyne points into the rectified image.

    Args:
        points: ``(N, 3)`` or ``(N, 4)`` Velodyne points (metres; column 3, reflectance, is
            ignored).
        calib: the camera's :class:`VeloToImage`.
    Returns:
        ``uvz``: ``(N, 3)`` float64 ``(u, v, z)`` -- continuous pixel coordinates (``u`` right,
        ``v`` down; pixel units, before the ``-1`` of the Eigen protocol) and the camera depth
        ``z`` in metres; and ``homog``: the ``(N, 4)`` float64 ``(x, y, z, 1)`` points.
        Points with ``z == 0`` get non-finite ``u, v``.
    """
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] not in (3, 4):
        raise ValueError(f"points must have shape (N, 3) or (N, 4), got {pts.shape}")
    homog = np.ones((pts.shape[0], 4), dtype=np.float64)
    homog[:, :3] = pts[:, :3]
    proj = np.dot(calib.velo_to_image, homog.T).T
    with np.errstate(divide="ignore", invalid="ignore"):
        proj[:, :2] = proj[:, :2] / proj[:, 2][:, None]
    return proj, homog


def velodyne_to_depth(
    points: np.ndarray,
    calib: VeloToImage,
    image_size: Sequence[int] | None = None,
    vel_depth: bool = True,
    *,
    monodepth2_index_quirk: bool = False,
) -> np.ndarray:
    """Sparse depth map from a Velodyne scan, as the KITTI Eigen protocol (Monodepth2) builds it.

    Args:
        points: ``(N, 4)`` (or ``(N, 3)``) Velodyne points, metres (see :func:`read_velodyne`).
        calib: projection into the wanted camera.
        image_size: ``(H, W)`` in pixels; defaults to ``calib.image_size``.
        vel_depth: depth = Velodyne forward ``x`` (True, the Eigen protocol) or camera ``z``.
        monodepth2_index_quirk: also merge pixels ``(r, W-1)`` and ``(r+1, 0)`` the way
            Monodepth2's ``sub2ind`` does (see the module docstring).

    Returns:
        ``float32`` ``(H, W)`` depth in metres, ``0.0`` where no point projects.

    Raises:
        ConfigError: no image size known.
    """
    h, w = _image_size(calib, image_size)
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] not in (3, 4):
        raise ValueError(f"points must have shape (N, 3) or (N, 4), got {pts.shape}")
    pts = pts[pts[:, 0] >= 0]
    proj, homog = project_velodyne(pts, calib)
    depth_values = homog[:, 0] if vel_depth else proj[:, 2]
    with np.errstate(invalid="ignore"):
        col = np.round(proj[:, 0]) - 1
        row = np.round(proj[:, 1]) - 1
        keep = (col >= 0) & (row >= 0) & (col < w) & (row < h)
    col = col[keep].astype(np.int64)
    row = row[keep].astype(np.int64)
    d = depth_values[keep]

    depth = np.zeros(h * w, dtype=np.float64)
    lin = row * w + col
    if lin.size:
        order = np.lexsort((d, lin))  # by pixel, then depth ascending
        lin_sorted = lin[order]
        first = np.ones(lin_sorted.size, dtype=bool)
        first[1:] = lin_sorted[1:] != lin_sorted[:-1]
        depth[lin_sorted[first]] = d[order][first]
        if monodepth2_index_quirk:
            _apply_sub2ind_quirk(depth, row, col, lin, d, w)
    depth[depth < 0] = 0
    return depth.reshape(h, w).astype(np.float32)


def _apply_sub2ind_quirk(
    depth: np.ndarray, row: np.ndarray, col: np.ndarray, lin: np.ndarray, d: np.ndarray, w: int
) -> None:
    """Reproduce Monodepth2's aliased duplicate handling on ``depth`` (flat, in place).

    Monodepth2 first writes every point (the last write to a pixel wins), then for every
    ``sub2ind`` key shared by several points writes the minimum depth of all of them to the
    pixel of the first such point. Keys of pixel ``(r, W-1)`` and ``(r+1, 0)`` coincide, so for a
    key spanning both pixels the first point's pixel gets the minimum over both pixels and the
    other pixel keeps its last-written depth.
    """
    key = row * (w - 1) + col - 1
    order = np.argsort(key, kind="stable")  # stable: first point of each key comes first
    key_sorted = key[order]
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    lin_sorted = lin[order]
    lo = np.minimum.reduceat(lin_sorted, starts)
    hi = np.maximum.reduceat(lin_sorted, starts)
    aliased = lo != hi
    if not aliased.any():
        return
    group_min = np.minimum.reduceat(d[order], starts)[aliased]
    first_pixel = lin_sorted[starts][aliased]
    other_pixel = lo[aliased] + hi[aliased] - first_pixel
    # last-written depth of every pixel: last point of each pixel in the original order
    by_pixel = np.argsort(lin, kind="stable")
    lin_by_pixel = lin[by_pixel]
    last = np.flatnonzero(np.r_[lin_by_pixel[1:] != lin_by_pixel[:-1], True])
    pixels, last_depth = lin_by_pixel[last], d[by_pixel][last]
    depth[other_pixel] = last_depth[np.searchsorted(pixels, other_pixel)]
    depth[first_pixel] = group_min
    logger.debug("sub2ind quirk: %d aliased pixel pairs", int(aliased.sum()))
