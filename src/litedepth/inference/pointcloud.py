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

Example:
    >>> depth = np.full((2, 3), 2.0, np.float32)
    >>> K = np.array([[1.0, 0, 1], [0, 1.0, 0.5], [0, 0, 1]])
    >>> points, _ = depth_to_points(depth, K)
    >>> points[0].tolist()   # pixel (u=0, v=0): ((0-1)*2, (0-0.5)*2, 2)
    [-2.0, -1.0, 2.0]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.geometry.depth import disp_to_depth
from litedepth.utils.atomic import atomic_open

__all__ = ["DEFAULT_FOV_DEG", "as_depth", "default_intrinsics", "depth_to_points", "read_ply", "save_pointcloud", "write_ply"]

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

    ``fx = fy = (W / 2) / tan(fov / 2)`` (square pixels), ``cx = (W - 1) / 2``,
    ``cy = (H - 1) / 2`` (the centre of the pixel grid).

    Args:
        height, width: image size in pixels.
        fov_deg: horizontal field of view in degrees, in ``(0, 180)``.

    Returns:
        ``(3, 3)`` float64 pixel intrinsics.

    Raises:
        ConfigError: on a non-positive size or a field of view outside ``(0, 180)``.

    Example:
        >>> default_intrinsics(480, 640, 90.0)[0].tolist()
        [320.0, 0.0, 319.5]
    """
    if int(height) < 1 or int(width) < 1:
        raise ConfigError(f"image size must be positive, got {height}x{width}")
    if not 0.0 < float(fov_deg) < 180.0:
        raise ConfigError(f"field of view must be between 0 and 180 degrees, got {fov_deg}")
    f = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


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
    if int(stride) < 1:
        raise ConfigError(f"stride must be >= 1, got {stride}")
    h, w = depth.shape
    v, u = np.mgrid[0:h:stride, 0:w:stride]
    z = depth[::stride, ::stride].astype(np.float64)
    valid = np.isfinite(z) & (z > 0)
    if max_depth is not None:
        valid &= z <= float(max_depth)
    fx, s, cx = K[0, :3]
    fy, cy = K[1, 1], K[1, 2]
    z, u, v = z[valid], u[valid], v[valid]
    y = (v - cy) * z / fy
    x = ((u - cx) * z - s * y) / fx
    points = np.stack([x, y, z], axis=-1).astype(np.float32)
    colours = None if rgb is None else rgb[::stride, ::stride][valid].astype(np.uint8)
    return points, colours


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
) -> int:
    """Back-project ``depth`` and write a coloured PLY whose header states units and camera.

    Args:
        path: destination ``.ply``.
        depth: ``(H, W)`` depth along the optical axis (metres unless ``units`` says otherwise).
        rgb: optional ``(H, W, 3)`` uint8 colours.
        K: ``(3, 3)`` pixel intrinsics of the ``H x W`` map; ``None`` uses
            :func:`default_intrinsics` with ``fov_deg``.
        fov_deg: horizontal field of view used when ``K`` is ``None``.
        stride, max_depth: see :func:`depth_to_points`.
        binary: binary little-endian (default) or ASCII PLY.
        units: the unit written into the header.

    Returns:
        the number of points written.
    """
    h, w = np.asarray(depth).shape[:2]
    source = "given"
    if K is None:
        K = default_intrinsics(h, w, fov_deg)
        source = f"default: horizontal field of view {fov_deg:g} deg, centred principal point"
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
