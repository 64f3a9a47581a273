"""Coloured point clouds from a depth map: back-projection and PLY files.

A pixel ``(u, v)`` (column, row; integer coordinates are pixel centres, as everywhere in
:mod:`litedepth.geometry.camera`) with depth ``z`` becomes the camera-frame point

``X = (u - cx) z / fx``, ``Y = (v - cy) z / fy``, ``Z = z``

(zero skew), in the OpenCV camera frame: x right, y down, z forward, metres. This is
:func:`litedepth.geometry.backproject` on one image; here it runs in numpy because a point
cloud is an output file, not part of a network.

Intrinsics are the *pixel* intrinsics of the depth map's resolution. When none are known,
:func:`default_intrinsics` builds them from a horizontal field of view
(:data:`DEFAULT_FOV_DEG`, 60 degrees, a typical phone / webcam lens) with square pixels and
the principal point at the image centre; files record which one was used.
:func:`pointcloud_camera` turns the user's choice (numbers in pixels or normalised, an
intrinsics file, a field of view) into a :class:`PointCloudCamera` that gives each image its
plausibility-checked pixel :class:`~litedepth.geometry.intrinsics.Intrinsics`.

Example:
    >>> depth = np.full((2, 3), 2.0, np.float32)
    >>> K = np.array([[1.0, 0, 1], [0, 1.0, 0.5], [0, 0, 1]])
    >>> points, _ = depth_to_points(depth, K)
    >>> points[0].tolist()   # pixel (u=0, v=0): ((0-1)*2, (0-0.5)*2, 2)
    [-2.0, -1.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.geometry.depth import disp_to_depth
from litedepth.geometry.intrinsics import Intrinsics, parse_convention, read_intrinsics
from litedepth.utils.atomic import atomic_open

__all__ = ["DEFAULT_FOV_DEG", "PointCloudCamera", "as_depth", "default_intrinsics", "depth_surface", "depth_to_points",
           "pointcloud_camera", "read_ply", "save_pointcloud", "write_ply"]

#: horizontal field of view assumed when no intrinsics are given, degrees
DEFAULT_FOV_DEG = 60.0

_VERTEX_XYZ = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
_VERTEX_RGB = [("red", "u1"), ("green", "u1"), ("blue", "u1")]
_PLY_TYPES = {"float": "<f4", "float32": "<f4", "double": "<f8", "float64": "<f8",
              "uchar": "u1", "uint8": "u1", "int": "<i4", "int32": "<i4"}


def as_depth(pred: np.ndarray, kind: str, min_depth: float = 0.1, max_depth: float = 100.0) -> tuple[np.ndarray, str]:
    """Depth from a prediction of either kind, with the unit to state beside it.

    Args:
        pred: ``(H, W)`` prediction: metres for ``kind="depth"``, sigmoid disparity in
            ``[0, 1]`` for ``kind="disparity"`` (self-supervised networks).
        kind: ``"depth"`` or ``"disparity"``.
        min_depth, max_depth: the disparity range of
            :func:`litedepth.geometry.disp_to_depth` (Monodepth2's 0.1 and 100).

    Returns:
        ``(depth (H, W) float32, units)``: ``"metres"`` for depth networks; for disparity
        networks ``1 / (1/max + (1/min - 1/max) disp)``, whose scale is unknown without a
        metric calibration (the unit says so).
    """
    pred = np.asarray(pred, dtype=np.float32)
    if kind == "depth":
        return pred, "metres"
    if kind != "disparity":
        raise ConfigError(f"unknown prediction kind {kind!r}; expected 'depth' or 'disparity'")
    depth = disp_to_depth(np.clip(pred, 0.0, 1.0), min_depth, max_depth)[1]
    return depth.astype(np.float32), (f"relative (disp_to_depth({min_depth:g}, {max_depth:g}) of a disparity "
                                      f"network; multiply by a metric scale for metres)")


def default_intrinsics(height: int, width: int, fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """Pixel intrinsics of a ``height x width`` image from its horizontal field of view.

    ``fx = fy = (W / 2) / tan(fov / 2)`` (square pixels), ``cx = W / 2``, ``cy = H / 2`` (the
    normalised 0.5, litedepth's one centred principal point:
    :meth:`litedepth.geometry.intrinsics.Intrinsics.from_fov`).

    Args:
        height, width: image size in pixels.
        fov_deg: horizontal field of view in degrees, in ``(0, 180)``.

    Returns:
        ``(3, 3)`` float64 pixel intrinsics.

    Raises:
        ConfigError: on a non-positive size or a field of view outside ``(0, 180)``.

    Example:
        >>> default_intrinsics(480, 640, 90.0)[0].round(6).tolist()
        [320.0, 0.0, 320.0]
    """
    return Intrinsics.from_fov(int(width), int(height), fov_deg).K


@dataclass(frozen=True)
class PointCloudCamera:
    """Where the pixel intrinsics of each image's point cloud come from.

    Attributes:
        intrinsics: the given intrinsics (pixels of a stated size, pixels of each input image
            when no size is stated, or normalised), or ``None`` for the field-of-view default.
        fov_deg: horizontal field of view used when ``intrinsics`` is ``None``.
        source: ``"--intrinsics"``, the intrinsics file, or ``"default"``.
    """

    intrinsics: Intrinsics | None
    fov_deg: float = DEFAULT_FOV_DEG
    source: str = "default"

    def for_image(self, height: int, width: int) -> Intrinsics:
        """Plausibility-checked pixel intrinsics of a ``height x width`` image (see
        :meth:`~litedepth.geometry.intrinsics.Intrinsics.to_pixels`).

        Raises:
            ConfigError / DataError: implausible for this image (e.g. normalised values given as
                pixels: the message suggests the other convention), or another aspect ratio.
        """
        if self.intrinsics is None:
            return Intrinsics.from_fov(int(width), int(height), self.fov_deg)
        return self.intrinsics.to_pixels(height, width)

    def describe(self) -> str:
        """One line for file headers."""
        if self.intrinsics is None:
            return f"default: horizontal field of view {self.fov_deg:g} deg, centred principal point"
        return f"{self.intrinsics.convention} intrinsics from {self.source}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record for ``predictions.json``: the intrinsics as given (with their
        convention) and their source, or the field of view."""
        if self.intrinsics is None:
            return {"source": "default", "fov_deg": self.fov_deg, "principal_point": "centred (W/2, H/2)"}
        return {"source": self.source, "intrinsics": self.intrinsics.to_dict(),
                "convention": self.intrinsics.convention}


def pointcloud_camera(
    intrinsics: Sequence[float] | None = None,
    intrinsics_file: str | Path | None = None,
    convention: str | None = None,
    fov_deg: float | None = None,
    *,
    camera: int = 2,
) -> PointCloudCamera:
    """The point-cloud camera from ``predict``'s options (one of them at most).

    Args:
        intrinsics: ``(fx, fy, cx, cy)``: pixels of each input image (checked against its
            size), or normalised when ``convention == "normalised"``.
        intrinsics_file: any layout :func:`~litedepth.geometry.intrinsics.read_intrinsics` reads
            (JSON object, bare 3x3 list with ``convention``, KITTI calibration, projection matrix).
        convention: ``"pixels"`` / ``"normalised"`` for values that do not state theirs.
        fov_deg: horizontal field of view for the default (centred, square pixels).
        camera: KITTI camera index for a KITTI calibration file.

    Raises:
        ConfigError: more than one source given, a bad field of view, implausible values.
        DataError: an unreadable or implausible intrinsics file (naming it).
    """
    given = [name for name, v in (("--intrinsics", intrinsics), ("--intrinsics-file", intrinsics_file),
                                   ("--fov", fov_deg)) if v is not None]
    if len(given) > 1:
        raise ConfigError(f"give either --intrinsics or --fov (or --intrinsics-file), not both: got {' and '.join(given)}")
    conv = parse_convention(convention)
    if intrinsics is not None:
        values = [float(v) for v in intrinsics]
        if len(values) != 4:
            raise ConfigError(f"--intrinsics needs four numbers FX FY CX CY, got {len(values)}")
        return PointCloudCamera(Intrinsics(*values, convention=conv or "pixels", source="--intrinsics"),
                                source="--intrinsics")
    if intrinsics_file is not None:
        return PointCloudCamera(read_intrinsics(intrinsics_file, conv, camera=camera), source=str(intrinsics_file))
    if conv is not None:
        raise ConfigError("--intrinsics-convention applies to --intrinsics or --intrinsics-file values")
    fov = DEFAULT_FOV_DEG if fov_deg is None else float(fov_deg)
    Intrinsics.from_fov(2, 2, fov)  # validates the field of view now
    return PointCloudCamera(None, fov)


def depth_to_points(
    depth: np.ndarray,
    K: np.ndarray,
    rgb: np.ndarray | None = None,
    *,
    stride: int = 1,
    max_depth: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Back-project a depth map into camera-frame points, with the pixels' colours.

    Args:
        depth: ``(H, W)`` depth along the optical axis in metres; pixels that are not finite,
            ``<= 0`` or beyond ``max_depth`` are dropped.
        K: ``(3, 3)`` (or ``(4, 4)``) pixel intrinsics of this ``H x W`` map.
        rgb: optional ``(H, W, 3)`` uint8 colours of the same size.
        stride: keep every ``stride``-th row and column (1 = every pixel).
        max_depth: optional far limit in metres.

    Returns:
        ``(points, colours)``: ``(N, 3)`` float32 metres in row-major pixel order, and
        ``(N, 3)`` uint8 (``None`` without ``rgb``).

    Raises:
        DataError: wrong shapes.
        ConfigError: ``stride < 1``.
    """
    z, x, y, valid, rgb = _grid(depth, K, rgb, stride, max_depth)
    points = np.stack([x[valid], y[valid], z[valid]], axis=-1).astype(np.float32)
    colours = None if rgb is None else rgb[valid].astype(np.uint8)
    return points, colours


def _grid(depth: np.ndarray, K: np.ndarray, rgb: np.ndarray | None, stride: int,
          max_depth: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Back-projection of every ``stride``-th pixel: ``(z, x, y, valid, rgb)`` grids of shape
    ``(ceil(H / stride), ceil(W / stride))`` (float64 metres, bool, uint8 colours or ``None``)."""
    if int(stride) < 1:
        raise ConfigError(f"stride must be >= 1, got {stride}")
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise DataError(None, f"depth must have shape (H, W), got {depth.shape}")
    K = np.asarray(K, dtype=np.float64)
    if K.shape not in ((3, 3), (4, 4)):
        raise DataError(None, f"intrinsics must have shape (3, 3) or (4, 4), got {K.shape}")
    if rgb is not None:
        rgb = np.asarray(rgb)
        if rgb.shape != (*depth.shape, 3):
            raise DataError(None, f"colours must have shape {(*depth.shape, 3)}, got {rgb.shape}")
        rgb = rgb[::stride, ::stride]
    h, w = depth.shape
    v, u = np.mgrid[0:h:stride, 0:w:stride]
    z = depth[::stride, ::stride].astype(np.float64)
    valid = np.isfinite(z) & (z > 0)
    if max_depth is not None:
        valid &= z <= float(max_depth)
    z = np.where(valid, z, 0.0)
    fx, s, cx = K[0, :3]
    fy, cy = K[1, 1], K[1, 2]
    y = (v - cy) * z / fy
    x = ((u - cx) * z - s * y) / fx
    return z, x, y, valid, rgb


def depth_surface(
    depth: np.ndarray,
    K: np.ndarray,
    rgb: np.ndarray | None = None,
    *,
    stride: int = 1,
    max_depth_ratio: float = 1.25,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """A triangle mesh of a depth map: the point cloud of :func:`depth_to_points` with
    neighbouring pixels joined, for 3-D viewers that draw surfaces better than points.

    Every square of four neighbouring kept pixels (every ``stride``-th row and column) becomes
    two triangles when all four have a valid depth and the largest is at most
    ``max_depth_ratio`` times the smallest; larger jumps are depth edges (an object in front of
    a wall) and are left open instead of being bridged by a skin.

    Args:
        depth: ``(H, W)`` depth along the optical axis (metres, or relative units); pixels that
            are not finite or ``<= 0`` are dropped.
        K: ``(3, 3)`` pixel intrinsics of the ``H x W`` map.
        rgb: optional ``(H, W, 3)`` uint8 colours.
        stride: keep every ``stride``-th row and column.
        max_depth_ratio: the depth jump (largest / smallest of a square) above which a square
            is an edge, > 1.

    Returns:
        ``(points (N, 3) float32, colours (N, 3) uint8 or None, faces (F, 3) int32)``: camera
        frame (x right, y down, z forward), only the points used by a face; faces index
        ``points`` and are wound counter-clockwise as seen from the camera.

    Example:
        >>> points, _, faces = depth_surface(np.full((2, 2), 1.0, np.float32), np.eye(3))
        >>> points.shape, faces.tolist()
        ((4, 3), [[0, 2, 1], [1, 2, 3]])
    """
    if not float(max_depth_ratio) > 1.0:
        raise ConfigError(f"max_depth_ratio must be > 1, got {max_depth_ratio}")
    z, x, y, valid, rgb = _grid(depth, K, rgb, stride, None)
    gh, gw = z.shape
    index = np.arange(gh * gw).reshape(gh, gw)
    corners = [(slice(0, -1), slice(0, -1)), (slice(0, -1), slice(1, None)),
               (slice(1, None), slice(0, -1)), (slice(1, None), slice(1, None))]
    a, b, c, d = (index[r, q] for r, q in corners)  # top-left, top-right, bottom-left, bottom-right
    zs = np.stack([z[r, q] for r, q in corners])
    ok = np.stack([valid[r, q] for r, q in corners]).all(axis=0)
    ok &= zs.max(axis=0) <= float(max_depth_ratio) * np.where(ok, zs.min(axis=0), 1.0)
    # image rows grow downwards, so (a, c, b) is counter-clockwise as the camera sees it
    faces = np.concatenate([np.stack([a[ok], c[ok], b[ok]], -1), np.stack([b[ok], c[ok], d[ok]], -1)])
    used = np.zeros(gh * gw, bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    points = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=-1)[used].astype(np.float32)
    colours = None if rgb is None else rgb.reshape(-1, 3)[used].astype(np.uint8)
    return points, colours, remap[faces].astype(np.int32)


def write_ply(
    path: str | Path,
    points: np.ndarray,
    colours: np.ndarray | None = None,
    *,
    binary: bool = True,
    comments: list[str] | None = None,
) -> Path:
    """Write points (and colours) as a PLY file, atomically.

    Args:
        path: destination ``.ply``.
        points: ``(N, 3)`` float coordinates (stored as float32).
        colours: optional ``(N, 3)`` uint8 RGB (``red``, ``green``, ``blue`` properties).
        binary: ``binary_little_endian`` (default) or ``ascii``.
        comments: header comment lines (e.g. units and intrinsics).

    Returns:
        ``path``.
    """
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    fields = list(_VERTEX_XYZ)
    if colours is not None:
        colours = np.asarray(colours).reshape(-1, 3)
        if len(colours) != len(points):
            raise DataError(path, f"{len(colours)} colours for {len(points)} points")
        fields += _VERTEX_RGB
    vertices = np.empty(len(points), dtype=fields)
    for i, axis in enumerate("xyz"):
        vertices[axis] = points[:, i]
    if colours is not None:
        for i, ch in enumerate(("red", "green", "blue")):
            vertices[ch] = colours[:, i].astype(np.uint8)
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0"]
    header += [f"comment {c}".replace("\n", " ") for c in (comments or [])]
    header += [f"element vertex {len(points)}", "property float x", "property float y", "property float z"]
    if colours is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header.append("end_header")
    path = Path(path)
    with atomic_open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        if binary:
            f.write(vertices.tobytes())
        else:
            fmt = "%.7g %.7g %.7g" + (" %d %d %d" if colours is not None else "")
            rows = [tuple(r) for r in vertices.tolist()]
            f.write("".join(fmt % r + "\n" for r in rows).encode("ascii"))
    return path


def read_ply(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Read the vertices of a PLY file written by :func:`write_ply` (or a similar one).

    Supports ``ascii`` and ``binary_little_endian`` files whose first element is ``vertex``
    with scalar properties including ``x, y, z`` (and optionally ``red, green, blue``).

    Returns:
        ``(points (N, 3) float32, colours (N, 3) uint8 or None, header comments)``.

    Raises:
        DataError: not a PLY file, or a layout this reader does not handle.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "PLY file not found")
    data = path.read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply") or end < 0:
        raise DataError(path, "not a PLY file (no 'ply' magic or 'end_header')")
    lines = data[:end].decode("ascii", "replace").splitlines()
    body = data[end + len(b"end_header\n"):]
    fmt, count, props, comments, element = None, 0, [], [], None
    for line in lines[1:]:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "format":
            fmt = parts[1]
        elif parts[0] == "comment":
            comments.append(line[len("comment "):])
        elif parts[0] == "element":
            element = parts[1]
            if element == "vertex":
                count = int(parts[2])
        elif parts[0] == "property" and element == "vertex":
            if parts[1] == "list" or parts[1] not in _PLY_TYPES:
                raise DataError(path, f"unsupported vertex property {line!r}")
            props.append((parts[2], _PLY_TYPES[parts[1]]))
    names = [n for n, _ in props]
    if not {"x", "y", "z"} <= set(names):
        raise DataError(path, f"vertices have no x, y, z (properties {names})")
    if fmt == "binary_little_endian":
        if len(body) < count * np.dtype(props).itemsize:
            raise DataError(path, f"truncated: the header declares {count} vertices, the data holds fewer")
        vertices = np.frombuffer(body, dtype=props, count=count)
    elif fmt == "ascii":
        try:
            table = np.loadtxt(body.decode("ascii").splitlines(), ndmin=2, max_rows=count) if count else np.zeros((0, len(props)))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(path, f"malformed ASCII vertex data ({exc})") from None
        if len(table) < count:
            raise DataError(path, f"truncated: the header declares {count} vertices, the data holds {len(table)}")
        vertices = np.empty(count, dtype=props)
        for i, name in enumerate(names):
            vertices[name] = table[:, i]
    else:
        raise DataError(path, f"unsupported PLY format {fmt!r}")
    points = np.stack([vertices[a] for a in "xyz"], axis=-1).astype(np.float32)
    colours = None
    if {"red", "green", "blue"} <= set(names):
        colours = np.stack([vertices[c] for c in ("red", "green", "blue")], axis=-1).astype(np.uint8)
    return points, colours, comments


def save_pointcloud(
    path: str | Path,
    depth: np.ndarray,
    rgb: np.ndarray | None = None,
    K: np.ndarray | None = None,
    *,
    fov_deg: float = DEFAULT_FOV_DEG,
    stride: int = 1,
    max_depth: float | None = None,
    binary: bool = True,
    units: str = "metres",
    camera: PointCloudCamera | None = None,
) -> int:
    """Back-project ``depth`` and write a coloured PLY whose header states units and camera.

    Args:
        path: destination ``.ply``.
        depth: ``(H, W)`` depth along the optical axis (metres unless ``units`` says otherwise).
        rgb: optional ``(H, W, 3)`` uint8 colours.
        K: ``(3, 3)`` pixel intrinsics of the ``H x W`` map; ``None`` uses ``camera`` or
            :func:`default_intrinsics` with ``fov_deg``.
        fov_deg: horizontal field of view used when ``K`` and ``camera`` are ``None``.
        camera: a :class:`PointCloudCamera` giving this map's plausibility-checked intrinsics.
        stride, max_depth: see :func:`depth_to_points`.
        binary: binary little-endian (default) or ASCII PLY.
        units: the unit written into the header.

    Returns:
        the number of points written.
    """
    h, w = np.asarray(depth).shape[:2]
    source = "given"
    if K is None:
        camera = camera or PointCloudCamera(None, fov_deg)
        K = camera.for_image(h, w).K
        source = camera.describe()
    K = np.asarray(K, dtype=np.float64)
    points, colours = depth_to_points(depth, K, rgb, stride=stride, max_depth=max_depth)
    comments = [
        "litedepth point cloud",
        f"units {units}",
        "frame camera (x right, y down, z forward = depth)",
        f"intrinsics fx={K[0, 0]:.6g} fy={K[1, 1]:.6g} cx={K[0, 2]:.6g} cy={K[1, 2]:.6g} "
        f"for {w}x{h} (WxH) pixels ({source})",
    ]
    write_ply(path, points, colours, binary=binary, comments=comments)
    return len(points)
