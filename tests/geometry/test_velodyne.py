"""Velodyne reading and the Eigen-protocol projection, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from litedepth.errors import ConfigError, DataError
from litedepth.geometry.calibration import VeloToImage
from litedepth.geometry.velodyne import project_velodyne, read_velodyne, velodyne_to_depth
from tests.conftest import real_subdir

H, W = 80, 100


def _calib(image_size=None):
    """fx = fy = 100 px, cx = 50, cy = 40; identity rectification; the KITTI axis swap
    (camera x = -velo y, camera y = -velo z, camera z = velo x) plus 1 m forward, so camera
    z = velo x + 1 and the two depth conventions differ by exactly 1 m.

    Hence u = 50 + 100 * (-y) / (x + 1) and v = 40 + 100 * (-z) / (x + 1).
    """
    P = np.array([[100.0, 0, 50, 0], [0, 100, 40, 0], [0, 0, 1, 0]])
    velo_to_cam = np.array(
        [[0.0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 1], [0, 0, 0, 1]]
    )
    return VeloToImage(P, np.eye(4), velo_to_cam, image_size)


# (x, y, z) Velodyne metres -> comment: u, v, (row, col) = (round(v) - 1, round(u) - 1)
POINTS = np.array(
    [
        [19, 0, 0],  # u=50 v=40 -> (39, 49), x=19
        [9, 0, 0],  # same pixel, x=9  <- minimum, kept
        [14, 0, 0],  # same pixel, x=14 (written after the minimum: "last wins" would fail)
        [4, -1, -0.5],  # u=70 v=50 -> (49, 69), x=4
        [-2, 0, 0],  # behind (x<0): would land on (39, 49) with z_cam=-1; dropped
        [1, -10, 0],  # u=550: out of bounds
        [1, 0, -1],  # v=90 -> row 89 >= 80: out of bounds
        [3, -0.5, -0.5],  # u=62.5 v=52.5 -> half to even: 62, 52 -> (51, 61), x=3
        [1, -0.75, 0],  # u=87.5 -> half to even: 88 -> (39, 87), x=1
        [1, -1, 0],  # u=100 -> col 99 = W-1, kept
        [1, -1.02, 0],  # u=101 -> col 100 = W, dropped
        [0.5, 0, 0.806],  # v=40-80.6/1.5=-13.7: row < 0, dropped
        [1, 0.985, 0],  # u=0.75 -> round 1 -> col 0, kept
        [1, 0.992, 0],  # u=0.4 -> round 0 -> col -1, dropped
    ],
    dtype=np.float32,
)
EXPECTED_VEL = {(39, 49): 9.0, (49, 69): 4.0, (51, 61): 3.0, (39, 87): 1.0, (39, 99): 1.0,
                (39, 0): 1.0}


def _as_dict(depth):
    rows, cols = np.nonzero(depth)
    return {(int(r), int(c)): float(depth[r, c]) for r, c in zip(rows, cols)}


def test_known_answer_velodyne_depth():
    depth = velodyne_to_depth(POINTS, _calib(), (H, W))
    assert depth.dtype == np.float32 and depth.shape == (H, W)
    assert _as_dict(depth) == EXPECTED_VEL


def test_known_answer_camera_z():
    depth = velodyne_to_depth(POINTS, _calib(), (H, W), vel_depth=False)
    assert _as_dict(depth) == {k: v + 1.0 for k, v in EXPECTED_VEL.items()}


def test_order_reflectance_and_size_from_calib():
    rng = np.random.default_rng(0)
    shuffled = POINTS[rng.permutation(len(POINTS))]
    with_refl = np.hstack([shuffled, rng.random((len(POINTS), 1), dtype=np.float32)])
    depth = velodyne_to_depth(with_refl, _calib(image_size=(H, W)))
    assert _as_dict(depth) == EXPECTED_VEL


def test_project_velodyne_uv():
    uvz, homog = project_velodyne(POINTS[[3, 7]], _calib())
    np.testing.assert_allclose(uvz, [[70, 50, 5], [62.5, 52.5, 4]])
    assert homog[:, 3].tolist() == [1.0, 1.0]


def test_empty_and_errors():
    empty = velodyne_to_depth(np.zeros((0, 4), np.float32), _calib(), (2, 3))
    assert empty.shape == (2, 3) and not empty.any()
    with pytest.raises(ConfigError, match="image size unknown"):
        velodyne_to_depth(POINTS, _calib())
    with pytest.raises(ValueError, match=r"\(N, 3\) or \(N, 4\)"):
        velodyne_to_depth(POINTS[:, :2], _calib(), (H, W))


# Three points on the two pixels that Monodepth2's sub2ind = row*(W-1) + col - 1 confuses:
# (10, 99) -> 10*99 + 98 = 1088 and (11, 0) -> 11*99 - 1 = 1088.
Q1 = [4, -2.5, 1.45]  # z_cam 5: u = 50 + 250/5 = 100, v = 40 - 145/5 = 11 -> (10, 99), x=4
Q2 = [1, 0.98, 0.56]  # z_cam 2: u = 50 - 98/2 = 1, v = 40 - 56/2 = 12 -> (11, 0), x=1
Q3 = [6, 3.43, 1.96]  # z_cam 7: u = 50 - 343/7 = 1, v = 40 - 196/7 = 12 -> (11, 0), x=6


def test_true_minimum_per_pixel_by_default():
    depth = velodyne_to_depth(np.array([Q1, Q2, Q3]), _calib(), (H, W))
    assert _as_dict(depth) == {(10, 99): 4.0, (11, 0): 1.0}


def test_monodepth2_sub2ind_quirk():
    # Monodepth2: write all points (last wins: (10,99)=4, (11,0)=6), then for the shared
    # key put the minimum of all three (1) on the pixel of the FIRST point of the key.
    depth = velodyne_to_depth(np.array([Q1, Q2, Q3]), _calib(), (H, W),
                              monodepth2_index_quirk=True)
    assert _as_dict(depth) == {(10, 99): 1.0, (11, 0): 6.0}
    # first point on (11, 0): it gets min = 1, (10, 99) keeps its only value 4
    depth = velodyne_to_depth(np.array([Q3, Q1, Q2]), _calib(), (H, W),
                              monodepth2_index_quirk=True)
    assert _as_dict(depth) == {(10, 99): 4.0, (11, 0): 1.0}
    # without aliasing the quirk changes nothing
    depth = velodyne_to_depth(POINTS, _calib(), (H, W), monodepth2_index_quirk=True)
    assert _as_dict(depth) == EXPECTED_VEL


def test_read_velodyne_roundtrip_and_bad_size(tmp_path):
    pts = np.array([[1.5, -2.0, 0.25, 0.5], [10.0, 0.0, -1.0, 1.0]], dtype=np.float32)
    pts.tofile(tmp_path / "scan.bin")
    out = read_velodyne(tmp_path / "scan.bin")
    assert out.dtype == np.float32 and out.shape == (2, 4)
    np.testing.assert_array_equal(out, pts)
    out[0, 0] = 7  # writable copy
    (tmp_path / "cut.bin").write_bytes(pts.tobytes()[:20])
    with pytest.raises(DataError, match="cut.bin.*size 20 bytes is not a multiple of 16"):
        read_velodyne(tmp_path / "cut.bin")
    with pytest.raises(DataError, match="none.bin.*not found"):
        read_velodyne(tmp_path / "none.bin")


@pytest.mark.real_data
def test_read_real_velodyne(real_data):
    folder = real_subdir(real_data, "kitti_object_frames_with_lidar") / "kitti_object_vis"
    pts = read_velodyne(folder / "velodyne" / "000000.bin")
    assert pts.shape == (1846144 // 16, 4)
    assert 0.0 <= pts[:, 3].min() and pts[:, 3].max() <= 1.0
    ranges = np.linalg.norm(pts[:, :3], axis=1)
    assert ranges.max() < 130 and np.median(ranges) < 40
