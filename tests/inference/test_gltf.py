"""Depth surfaces and binary glTF files (the web demo's 3-D view): geometry, edges, winding,
the file layout the glTF 2.0 specification requires, and round trips."""

from __future__ import annotations

import doctest
import json
import struct

import numpy as np
import pytest

import litedepth.inference.gltf as gltf_module
from litedepth.errors import ConfigError, DataError
from litedepth.inference.gltf import camera_to_gltf, read_glb, save_depth_glb, write_glb
from litedepth.inference.pointcloud import depth_surface, depth_to_points

K = np.array([[50.0, 0.0, 15.5], [0.0, 40.0, 9.0], [0.0, 0.0, 1.0]])


def test_a_plane_becomes_two_triangles_per_pixel_square_facing_the_camera():
    h, w = 6, 8
    depth = np.full((h, w), 2.0, np.float32)
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    points, colours, faces = depth_surface(depth, K, rgb)
    ref_points, ref_colours = depth_to_points(depth, K, rgb)
    np.testing.assert_array_equal(points, ref_points)  # the same points as the point cloud
    np.testing.assert_array_equal(colours, ref_colours)
    assert faces.shape == (2 * (h - 1) * (w - 1), 3) and faces.dtype == np.int32
    tri = points[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (normals[:, 2] < 0).all()  # every face turns towards the camera (at the origin, looking along +z)


def test_depth_edges_and_invalid_pixels_are_left_open():
    depth = np.full((5, 6), 2.0, np.float32)
    depth[:, 3:] = 4.0  # a step: the column of squares between x=2 and x=3 is an edge
    depth[0, 0] = 0.0   # no depth: its one square goes
    points, _, faces = depth_surface(depth, K, max_depth_ratio=1.25)
    squares = 4 * 5 - 4 - 1  # 4x5 squares, minus 4 across the step, minus 1 at the hole
    assert len(faces) == 2 * squares
    z = points[faces][..., 2]
    assert (z.max(axis=1) / z.min(axis=1) <= 1.25).all()
    assert len(points) == 5 * 6 - 1  # the pixel without depth is no vertex
    # a looser edge limit bridges the step
    assert len(depth_surface(depth, K, max_depth_ratio=2.5)[2]) == 2 * (4 * 5 - 1)
    with pytest.raises(ConfigError, match="max_depth_ratio"):
        depth_surface(depth, K, max_depth_ratio=1.0)
    with pytest.raises(ConfigError, match="stride"):
        depth_surface(depth, K, stride=0)


def test_glb_layout_follows_the_specification(tmp_path):
    points = camera_to_gltf(np.array([[0, 0, 1], [1, 0, 1], [0, 1, 2]], np.float32))
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    path = write_glb(tmp_path / "t.glb", points, colours, np.array([[0, 2, 1]]), comment="units metres")
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<III", data)
    assert (magic, version, total) == (0x46546C67, 2, len(data))  # "glTF", 2, whole file
    json_len, json_kind = struct.unpack_from("<II", data, 12)
    assert json_kind == 0x4E4F534A and json_len % 4 == 0
    doc = json.loads(data[20:20 + json_len])
    bin_len, bin_kind = struct.unpack_from("<II", data, 20 + json_len)
    assert bin_kind == 0x004E4942 and bin_len % 4 == 0 and 28 + json_len + bin_len == len(data)
    prim = doc["meshes"][0]["primitives"][0]
    assert prim["mode"] == 4 and set(prim["attributes"]) == {"POSITION", "COLOR_0"}
    position = doc["accessors"][prim["attributes"]["POSITION"]]
    assert position["min"] == [0.0, -1.0, -2.0] and position["max"] == [1.0, 0.0, -1.0]
    assert doc["accessors"][prim["attributes"]["COLOR_0"]]["normalized"] is True
    assert "KHR_materials_unlit" in doc["materials"][0]["extensions"] and doc["asset"]["version"] == "2.0"
    assert doc["asset"]["extras"]["comment"] == "units metres"
    for view in doc["bufferViews"]:
        assert view["byteOffset"] % 4 == 0
    back, back_colours, back_faces = read_glb(path)
    np.testing.assert_array_equal(back, points)
    np.testing.assert_array_equal(back_colours, colours)
    assert back_faces.tolist() == [[0, 2, 1]]
    # camera frame (y down, z forward) -> glTF (y up, z towards the viewer)
    assert points[2].tolist() == [0.0, -1.0, -2.0]


def test_points_without_faces_and_bad_input(tmp_path):
    write_glb(tmp_path / "p.glb", np.zeros((5, 3)))
    doc_len = struct.unpack_from("<I", (tmp_path / "p.glb").read_bytes(), 12)[0]
    doc = json.loads((tmp_path / "p.glb").read_bytes()[20:20 + doc_len])
    assert doc["meshes"][0]["primitives"][0]["mode"] == 0  # drawn as points
    assert read_glb(tmp_path / "p.glb")[2] is None
    with pytest.raises(DataError, match="no points"):
        write_glb(tmp_path / "e.glb", np.zeros((0, 3)))
    with pytest.raises(DataError, match="2 colours for 5 points"):
        write_glb(tmp_path / "c.glb", np.zeros((5, 3)), np.zeros((2, 3), np.uint8))
    with pytest.raises(DataError, match="face indices"):
        write_glb(tmp_path / "f.glb", np.zeros((5, 3)), faces=np.array([[0, 1, 5]]))
    (tmp_path / "x.glb").write_bytes(b"not a glb file at all")
    with pytest.raises(DataError, match="not a binary glTF"):
        read_glb(tmp_path / "x.glb")
    data = (tmp_path / "p.glb").read_bytes()
    (tmp_path / "cut.glb").write_bytes(data[:-4])
    with pytest.raises(DataError, match="truncated"):
        read_glb(tmp_path / "cut.glb")


def test_save_depth_glb_keeps_to_the_vertex_budget(tmp_path):
    depth = np.full((60, 80), 3.0, np.float32)
    rgb = np.zeros((60, 80, 3), np.uint8)
    n = save_depth_glb(tmp_path / "s.glb", depth, K, rgb, max_vertices=1200)
    points, colours, faces = read_glb(tmp_path / "s.glb")
    assert len(points) <= 1200 and len(faces) == n > 0 and colours.shape == points.shape
    np.testing.assert_allclose(points[:, 2], -3.0)  # the plane 3 m in front of the camera
    with pytest.raises(DataError, match="no surface"):
        save_depth_glb(tmp_path / "none.glb", np.zeros((4, 4), np.float32), K)


def test_docstring_examples():
    import litedepth.inference.pointcloud as pointcloud_module

    for module in (gltf_module, pointcloud_module):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0
