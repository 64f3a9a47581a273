"""Point clouds: back-projection geometry, PLY round trips, and ``predict --pointcloud``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from litedepth.errors import ConfigError, DataError
from litedepth.geometry import backproject
from litedepth.inference.pointcloud import (
    DEFAULT_FOV_DEG,
    default_intrinsics,
    depth_to_points,
    read_ply,
    save_pointcloud,
    write_ply,
)

K = np.array([[50.0, 0.0, 15.5], [0.0, 40.0, 9.0], [0.0, 0.0, 1.0]])


def _rgb(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("binary", [True, False])
def test_fronto_parallel_plane_round_trip(tmp_path, binary):
    h, w, z = 20, 32, 2.5
    depth = np.full((h, w), z, np.float32)
    rgb = _rgb(h, w)
    n = save_pointcloud(tmp_path / "plane.ply", depth, rgb, K, binary=binary)
    points, colours, comments = read_ply(tmp_path / "plane.ply")
    assert n == h * w and points.shape == (h * w, 3)
    v, u = np.mgrid[0:h, 0:w]
    np.testing.assert_allclose(points[:, 2], z, atol=1e-6)  # every point on the plane z = depth
    np.testing.assert_allclose(points[:, 0], ((u - K[0, 2]) * z / K[0, 0]).ravel(), atol=1e-5)
    np.testing.assert_allclose(points[:, 1], ((v - K[1, 2]) * z / K[1, 1]).ravel(), atol=1e-5)
    # the plane's extent is the image's extent seen through the lens
    assert points[:, 0].min() == pytest.approx(-K[0, 2] * z / K[0, 0], abs=1e-5)
    np.testing.assert_array_equal(colours, rgb.reshape(-1, 3))
    assert "units metres" in comments and any("fx=50 fy=40 cx=15.5 cy=9" in c for c in comments)


def test_projection_returns_the_pixel_grid_and_matches_geometry_backproject():
    h, w = 12, 16
    depth = np.random.default_rng(1).uniform(0.5, 10.0, (h, w)).astype(np.float32)
    points, colours = depth_to_points(depth, K)
    assert colours is None
    uv = (K @ points.T.astype(np.float64)).T
    uv = uv[:, :2] / uv[:, 2:]
    v, u = np.mgrid[0:h, 0:w]
    np.testing.assert_allclose(uv, np.stack([u.ravel(), v.ravel()], -1), atol=1e-3)
    ref = backproject(torch.from_numpy(depth)[None, None], torch.linalg.inv(torch.tensor(K, dtype=torch.float32)))
    np.testing.assert_allclose(points, ref[0].T.numpy(), rtol=1e-5, atol=1e-5)


def test_invalid_pixels_stride_and_far_limit_are_dropped():
    depth = np.full((4, 6), 3.0, np.float32)
    depth[0, 0], depth[1, 1], depth[2, 2], depth[3, 3] = 0.0, np.nan, np.inf, 50.0
    rgb = _rgb(4, 6)
    points, colours = depth_to_points(depth, K, rgb, max_depth=10.0)
    assert len(points) == 24 - 4 and len(colours) == 20
    points, _ = depth_to_points(np.full((4, 6), 1.0), K, stride=2)
    assert len(points) == 2 * 3 and set(points[:, 2].tolist()) == {1.0}


def test_default_intrinsics_from_field_of_view():
    K90 = default_intrinsics(480, 640, 90.0)
    # centred principal point = the normalised 0.5 (W / 2), the one convention of geometry.intrinsics
    np.testing.assert_allclose(K90, [[320.0, 0, 320.0], [0, 320.0, 240.0], [0, 0, 1]])
    K60 = default_intrinsics(480, 640)
    # the image's left and right pixel edges subtend the stated field of view
    half = np.degrees(np.arctan((640 / 2) / K60[0, 0]))
    assert 2 * half == pytest.approx(DEFAULT_FOV_DEG)
    with pytest.raises(ConfigError, match="field of view"):
        default_intrinsics(10, 10, 180.0)


def test_default_intrinsics_are_stated_in_the_file(tmp_path):
    save_pointcloud(tmp_path / "d.ply", np.ones((8, 10), np.float32))
    _, colours, comments = read_ply(tmp_path / "d.ply")
    assert colours is None and any("default: horizontal field of view 60 deg" in c for c in comments)


def test_errors(tmp_path):
    with pytest.raises(DataError, match=r"\(H, W\)"):
        depth_to_points(np.ones((2, 2, 1)), K)
    with pytest.raises(DataError, match="intrinsics"):
        depth_to_points(np.ones((2, 2)), np.eye(2))
    with pytest.raises(DataError, match="colours"):
        depth_to_points(np.ones((2, 2)), K, _rgb(3, 2))
    with pytest.raises(ConfigError, match="stride"):
        depth_to_points(np.ones((2, 2)), K, stride=0)
    with pytest.raises(DataError, match="colours for"):
        write_ply(tmp_path / "x.ply", np.zeros((3, 3)), np.zeros((2, 3), np.uint8))
    (tmp_path / "junk.ply").write_text("hello")
    with pytest.raises(DataError, match="not a PLY"):
        read_ply(tmp_path / "junk.ply")
    with pytest.raises(DataError, match="not found"):
        read_ply(tmp_path / "none.ply")
    for binary in (True, False):
        cut = write_ply(tmp_path / "cut.ply", np.zeros((10, 3)), binary=binary)
        cut.write_bytes(cut.read_bytes()[:-30])
        with pytest.raises(DataError, match="cut.ply: truncated"):
            read_ply(cut)


def test_as_depth_matches_disp_to_depth():
    from litedepth.geometry import disp_to_depth
    from litedepth.inference.pointcloud import as_depth

    disp = np.array([[0.0, 0.5, 1.0]], np.float32)
    depth, units = as_depth(disp, "disparity")
    np.testing.assert_allclose(depth, disp_to_depth(torch.from_numpy(disp))[1].numpy(), rtol=1e-6)
    assert units.startswith("relative")
    same, units = as_depth(np.full((2, 2), 3.0), "depth")
    assert units == "metres" and float(same[0, 0]) == 3.0
    with pytest.raises(ConfigError, match="kind"):
        as_depth(disp, "height")


def test_predict_cli_writes_a_ply_consistent_with_the_depth_map(tmp_path):
    from PIL import Image

    from litedepth.cli.main import main

    (tmp_path / "in").mkdir()
    rgb = _rgb(30, 40)
    Image.fromarray(rgb).save(tmp_path / "in" / "room.png")
    fx, fy, cx, cy = 35.0, 30.0, 19.5, 14.5
    torch.manual_seed(0)
    rc = main(["predict", str(tmp_path / "in"), "--model", "deeplabv3-mobilenet-v3-large", "--size", "32", "32",
               "--output", str(tmp_path / "out"), "--formats", "npy", "--device", "cpu", "--pointcloud",
               "--intrinsics", str(fx), str(fy), str(cx), str(cy)])
    assert rc == 0
    depth = np.load(tmp_path / "out" / "room.npy")
    points, colours, comments = read_ply(tmp_path / "out" / "room.ply")
    valid = np.isfinite(depth) & (depth > 0)
    assert len(points) == valid.sum() > 0
    v, u = np.mgrid[0:30, 0:40]
    np.testing.assert_allclose(points[:, 2], depth[valid], rtol=1e-6)
    np.testing.assert_allclose(points[:, 0], (u[valid] - cx) * depth[valid] / fx, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(points[:, 1], (v[valid] - cy) * depth[valid] / fy, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(colours, rgb[valid])
    assert "units metres" in comments


def test_predict_cli_pointcloud_option_errors(tmp_path, capsys):
    from litedepth.cli.main import main

    rc = main(["predict", str(tmp_path), "--model", "lite-mono-tiny", "--output", str(tmp_path / "o"),
               "--pointcloud", "--intrinsics", "1", "1", "1", "1", "--fov", "70"])
    assert rc == 2 and "either --intrinsics or --fov" in capsys.readouterr().err
