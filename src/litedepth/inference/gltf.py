"""Binary glTF 2.0 (``.glb``) files of coloured point clouds and depth surfaces, for 3-D viewers.

Web viewers (the web demo's ``gradio.Model3D``, which draws with Babylon.js; three.js;
Blender; Windows 3D Viewer) all read glTF, while a PLY point cloud is read as a Gaussian
splat by some of them. A ``.glb`` written here holds one mesh with one primitive:

* ``POSITION``: float32 ``VEC3`` in the **glTF frame** (x right, y up, z towards the viewer,
  metres or whatever unit the caller states), with its ``min`` / ``max`` as the format requires;
* ``COLOR_0``: the points' colours (unsigned bytes, normalised ``VEC3``), optional;
* triangles (``indices``, ``uint32``; mode 4) or bare points (mode 0) when no faces are given;
* an unlit material (``KHR_materials_unlit``), so a photo's colours are shown as they are,
  not shaded by the viewer's lights; double-sided.

:func:`camera_to_gltf` turns litedepth's camera frame (OpenCV: x right, y down, z forward)
into the glTF frame, so that a viewer's default "front" camera looks where the photo's
camera looked. :func:`save_depth_glb` does the whole job for a depth map
(:func:`~litedepth.inference.pointcloud.depth_surface`, then :func:`write_glb`).

The file layout follows the glTF 2.0 specification (Khronos): a 12-byte header (magic
``glTF``, version 2, total length), a JSON chunk padded with spaces and a BIN chunk padded
with zeros, each to a multiple of 4 bytes. :func:`read_glb` reads such files back.

Example:
    >>> pts = np.array([[0, 0, 1], [1, 0, 1], [0, 1, 1]], np.float32)
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.glb")
    >>> _ = write_glb(path, camera_to_gltf(pts), faces=np.array([[0, 2, 1]]))
    >>> points, colours, faces = read_glb(path)
    >>> points[1].tolist(), faces.tolist()
    ([1.0, -0.0, -1.0], [[0, 2, 1]])
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from litedepth.errors import DataError
from litedepth.utils.atomic import atomic_write_bytes

__all__ = ["camera_to_gltf", "read_glb", "save_depth_glb", "write_glb"]

_MAGIC, _JSON, _BIN = 0x46546C67, 0x4E4F534A, 0x004E4942  # "glTF", "JSON", "BIN\0" (little-endian)
_FLOAT, _UBYTE, _UINT = 5126, 5121, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_POINTS, _TRIANGLES = 0, 4


def camera_to_gltf(points: np.ndarray) -> np.ndarray:
    """Camera-frame points (x right, y down, z forward) -> glTF frame (x right, y up, z back).

    Args:
        points: ``(N, 3)`` coordinates.

    Returns:
        ``(N, 3)`` float32 ``(x, -y, -z)``.
    """
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    return points * np.array([1.0, -1.0, -1.0], np.float32)


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


def write_glb(path: str | Path, points: np.ndarray, colours: np.ndarray | None = None,
              faces: np.ndarray | None = None, *, name: str = "litedepth", comment: str | None = None) -> Path:
    """Write a coloured point cloud or triangle mesh as a binary glTF 2.0 file, atomically.

    Args:
        path: destination ``.glb``.
        points: ``(N, 3)`` vertex positions in the glTF frame (see :func:`camera_to_gltf`).
        colours: optional ``(N, 3)`` uint8 RGB per vertex.
        faces: optional ``(F, 3)`` vertex indices of triangles; without them the primitive is
            drawn as points.
        name: the mesh's and node's name.
        comment: a line stored in ``asset.extras.comment`` (e.g. the units).

    Returns:
        ``path``.

    Raises:
        DataError: no points, mismatched colours, or a face index out of range.
    """
    path = Path(path)
    points = np.ascontiguousarray(np.asarray(points, dtype=np.float32).reshape(-1, 3))
    if len(points) == 0:
        raise DataError(path, "no points to write")
    blobs: list[bytes] = []
    views: list[dict] = []
    accessors: list[dict] = []

    def add(array: np.ndarray, component: int, kind: str, target: int, **extra: object) -> int:
        offset = sum(len(b) for b in blobs)
        data = np.ascontiguousarray(array).tobytes()
        blobs.append(_pad(data, b"\0"))
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(data), "target": target})
        count = len(array) if kind != "SCALAR" else array.size
        accessors.append({"bufferView": len(views) - 1, "componentType": component, "count": int(count),
                          "type": kind, **extra})
        return len(accessors) - 1

    attributes = {"POSITION": add(points, _FLOAT, "VEC3", _ARRAY_BUFFER,
                                  min=[float(v) for v in points.min(axis=0)],
                                  max=[float(v) for v in points.max(axis=0)])}
    if colours is not None:
        colours = np.asarray(colours).reshape(-1, 3)
        if len(colours) != len(points):
            raise DataError(path, f"{len(colours)} colours for {len(points)} points")
        attributes["COLOR_0"] = add(colours.astype(np.uint8), _UBYTE, "VEC3", _ARRAY_BUFFER, normalized=True)
    primitive: dict = {"attributes": attributes, "mode": _POINTS, "material": 0}
    if faces is not None:
        faces = np.asarray(faces).reshape(-1, 3)
        if len(faces) and (faces.min() < 0 or faces.max() >= len(points)):
            raise DataError(path, f"face indices must be in [0, {len(points)}), got [{faces.min()}, {faces.max()}]")
        primitive["indices"] = add(faces.astype(np.uint32).ravel(), _UINT, "SCALAR", _ELEMENT_ARRAY_BUFFER)
        primitive["mode"] = _TRIANGLES
    binary = b"".join(blobs)
    asset: dict = {"version": "2.0", "generator": "litedepth"}
    if comment:
        asset["extras"] = {"comment": comment}
    gltf = {
        "asset": asset,
        "extensionsUsed": ["KHR_materials_unlit"],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "primitives": [primitive]}],
        "materials": [{"name": "vertex colours, unlit", "doubleSided": True,
                       "pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0,
                                                "roughnessFactor": 1.0},
                       "extensions": {"KHR_materials_unlit": {}}}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": accessors,
    }
    json_chunk = _pad(json.dumps(gltf, separators=(",", ":")).encode("utf-8"), b" ")
    total = 12 + 8 + len(json_chunk) + 8 + len(binary)
    data = (struct.pack("<III", _MAGIC, 2, total) + struct.pack("<II", len(json_chunk), _JSON) + json_chunk
            + struct.pack("<II", len(binary), _BIN) + binary)
    atomic_write_bytes(path, data)
    return path


def read_glb(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Read the first primitive of a ``.glb`` written by :func:`write_glb` (or a similar one).

    Returns:
        ``(points (N, 3) float32, colours (N, 3) uint8 or None, faces (F, 3) int64 or None)``.

    Raises:
        DataError: not a binary glTF 2.0 file, or a layout this reader does not handle.
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 20 or struct.unpack_from("<II", data) != (_MAGIC, 2):
        raise DataError(path, "not a binary glTF 2.0 file (no 'glTF' magic, version 2)")
    total = struct.unpack_from("<I", data, 8)[0]
    if total != len(data):
        raise DataError(path, f"truncated: the header says {total} bytes, the file has {len(data)}")
    length, kind = struct.unpack_from("<II", data, 12)
    if kind != _JSON:
        raise DataError(path, "the first chunk is not JSON")
    gltf = json.loads(data[20:20 + length])
    offset = 20 + length
    binary = b""
    if offset < len(data):
        blen, bkind = struct.unpack_from("<II", data, offset)
        if bkind == _BIN:
            binary = data[offset + 8:offset + 8 + blen]
    dtypes = {_FLOAT: np.float32, _UBYTE: np.uint8, _UINT: np.uint32}
    widths = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}

    def accessor(i: int) -> np.ndarray:
        acc = gltf["accessors"][i]
        view = gltf["bufferViews"][acc["bufferView"]]
        if acc["componentType"] not in dtypes or acc["type"] not in widths:
            raise DataError(path, f"unsupported accessor {acc['componentType']} {acc['type']}")
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        n = acc["count"] * widths[acc["type"]]
        arr = np.frombuffer(binary, dtype=dtypes[acc["componentType"]], count=n, offset=start)
        return arr.reshape(acc["count"], widths[acc["type"]])

    prim = gltf["meshes"][0]["primitives"][0]
    points = accessor(prim["attributes"]["POSITION"]).astype(np.float32)
    colours = accessor(prim["attributes"]["COLOR_0"])[:, :3] if "COLOR_0" in prim["attributes"] else None
    faces = accessor(prim["indices"]).reshape(-1, 3).astype(np.int64) if "indices" in prim else None
    return points, None if colours is None else colours.astype(np.uint8), faces


def save_depth_glb(path: str | Path, depth: np.ndarray, K: np.ndarray, rgb: np.ndarray | None = None, *,
                   max_vertices: int = 60_000, max_depth_ratio: float = 1.25, units: str = "metres") -> int:
    """The coloured surface of a depth map as a ``.glb`` for a 3-D viewer.

    The map is subsampled (every ``stride``-th row and column, the smallest stride keeping at
    most ``max_vertices`` vertices) and meshed by
    :func:`~litedepth.inference.pointcloud.depth_surface` (depth edges left open), then turned
    into the glTF frame.

    Args:
        path: destination ``.glb``.
        depth: ``(H, W)`` depth along the optical axis (``units``); invalid pixels are dropped.
        K: ``(3, 3)`` pixel intrinsics of the ``H x W`` map.
        rgb: optional ``(H, W, 3)`` uint8 colours.
        max_vertices: vertex budget (browsers draw ~60 000 vertices without effort).
        max_depth_ratio: depth jump that counts as an edge (see ``depth_surface``).
        units: the unit of the coordinates, stored in the file's ``asset.extras``.

    Returns:
        the number of triangles written.

    Raises:
        DataError: no two neighbouring pixels with a valid depth (nothing to draw).
    """
    from litedepth.inference.pointcloud import depth_surface

    h, w = np.asarray(depth).shape[:2]
    stride = max(1, int(np.ceil(np.sqrt(h * w / max(1, int(max_vertices))))))
    points, colours, faces = depth_surface(depth, K, rgb, stride=stride, max_depth_ratio=max_depth_ratio)
    if len(faces) == 0:
        raise DataError(path, "the depth map has no surface to draw (no neighbouring valid pixels)")
    write_glb(path, camera_to_gltf(points), colours, faces,
              comment=f"litedepth depth surface; units {units}; one vertex every {stride} pixel(s) in each "
                      "direction; y up, the photo's camera at the origin looking along -z")
    return len(faces)
