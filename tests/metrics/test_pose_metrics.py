"""KITTI odometry ATE (litedepth.metrics.pose): known values, the chaining convention, files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from litedepth.errors import DataError
from litedepth.metrics.pose import (
    compute_ate,
    evaluate_ate,
    read_kitti_poses,
    relative_from_absolute,
    snippets_from_relative,
    write_kitti_poses,
)


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def smooth_trajectory(n: int = 25, seed: int = 0) -> np.ndarray:
    """``(n, 4, 4)`` camera-to-world poses of a car-like camera: ~1 m forward per frame along
    its own z axis, turning (yaw changing up to ~8 deg per frame), some pitch and sway."""
    rng = np.random.default_rng(seed)
    poses = np.tile(np.eye(4), (n, 1, 1))
    pos, yaw = np.zeros(3), 0.0
    phase = rng.uniform(0, 2 * math.pi, 3)
    for i in range(n):
        yaw += 0.08 * math.sin(i / 3 + phase[0]) + 0.04
        R = _rot_y(yaw) @ _rot_x(0.03 * math.sin(i / 2 + phase[1]))
        poses[i, :3, :3] = R
        poses[i, :3, 3] = pos
        pos = pos + R @ np.array([0.1 * math.sin(i / 2 + phase[2]), 0.02, 1.0 + 0.2 * rng.uniform()])
    return poses


# ------------------------------------------------------------------------------ compute_ate


def test_compute_ate_identical_trajectories_is_zero():
    xyz = np.random.default_rng(1).normal(size=(5, 3))
    assert compute_ate(xyz, xyz) == pytest.approx(0.0, abs=1e-12)


def test_compute_ate_scaled_prediction_is_zero_after_scale_alignment():
    gt = np.cumsum(np.random.default_rng(2).normal(size=(5, 3)), axis=0)
    assert compute_ate(gt, 3.0 * gt) == pytest.approx(0.0, abs=1e-12)
    assert compute_ate(gt, gt / 7.0 + np.array([4.0, -2.0, 1.0])) == pytest.approx(0.0, abs=1e-12)  # and shift


def test_compute_ate_known_value():
    # gt moves 1 m per frame along z; the prediction also drifts 1 m per frame along x. After
    # first-frame alignment the best scale is sum(g.p)/sum(p.p) = 14 / 28 = 0.5, leaving an
    # error of (0.5k, 0, -0.5k) at frame k: sum of squares = 0.5 * (0+1+4+9) = 7, over L = 4.
    gt = np.array([[0.0, 0, k] for k in range(4)])
    pred = np.array([[k, 0.0, k] for k in range(4)])
    assert compute_ate(gt, pred) == pytest.approx(math.sqrt(7.0) / 4)
    # a prediction that does not move: scale 0, the error is the ground-truth's own extent
    assert compute_ate(gt, np.zeros((4, 3))) == pytest.approx(math.sqrt(14.0) / 4)


def test_compute_ate_shape_errors():
    with pytest.raises(ValueError, match=r"\(L, 3\)"):
        compute_ate(np.zeros((5, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(L, 3\)"):
        compute_ate(np.zeros((5, 2)), np.zeros((5, 2)))


# ------------------------------------------------------------------------------ snippets


def test_snippets_count_lengths_and_chaining():
    gt = smooth_trajectory(7)
    rel = relative_from_absolute(gt)
    assert rel.shape == (6, 4, 4)
    # the project's convention: X_{i+1} = rel[i] @ X_i, i.e. T_source_from_target for (i, i+1)
    x_cam0 = np.array([0.3, -0.2, 5.0, 1.0])
    np.testing.assert_allclose(rel[0] @ x_cam0, np.linalg.inv(gt[1]) @ gt[0] @ x_cam0)
    snippets = snippets_from_relative(rel, track_length=5)
    assert [len(s) for s in snippets] == [5, 5, 5, 4, 3, 2]  # N - 1 snippets, shorter at the end
    np.testing.assert_allclose(snippets[1][0], 0.0)
    np.testing.assert_allclose(snippets[1][2], (rel[1] @ rel[2])[:3, 3])
    # pure forward motion: positions are minus the travelled distance
    straight = np.tile(np.eye(4), (4, 1, 1))
    straight[:, 2, 3] = [0.0, 1.0, 3.0, 6.0]
    np.testing.assert_allclose(snippets_from_relative(relative_from_absolute(straight))[0][:, 2], [0, -1, -3, -6])


def test_exact_relative_poses_give_zero_ate_at_any_scale():
    gt = smooth_trajectory(25)
    rel = relative_from_absolute(gt)
    r = evaluate_ate(gt, rel)
    assert (r.n_snippets, r.track_length, r.per_snippet.shape) == (24, 5, (24,))
    assert r.mean < 1e-9 and r.std < 1e-9
    scaled = rel.copy()
    scaled[:, :3, 3] *= 0.03  # a monocular network's arbitrary scale
    assert evaluate_ate(gt, scaled).mean < 1e-9


def test_corrupted_relative_poses_give_positive_ate():
    gt = smooth_trajectory(25)
    rel = relative_from_absolute(gt)
    noisy = rel.copy()
    noisy[:, :3, 3] += np.random.default_rng(3).normal(0.0, 0.1, size=(len(rel), 3))
    r = evaluate_ate(gt, noisy)
    assert 0.005 < r.mean < 0.5 and r.std > 0
    assert r.mean == pytest.approx(float(np.mean(r.per_snippet)))
    assert r.std == pytest.approx(float(np.std(r.per_snippet)))


def test_inverted_convention_is_clearly_wrong():
    # T_{i <- i+1} instead of T_{i+1 <- i}: with rotation, no scale can fix the chained snippets
    gt = smooth_trajectory(25)
    rel = relative_from_absolute(gt)
    wrong = evaluate_ate(gt, np.linalg.inv(rel))
    assert wrong.mean > 0.1, wrong.mean
    assert wrong.mean > 1e6 * max(evaluate_ate(gt, rel).mean, 1e-15)


def test_evaluate_ate_count_and_value_errors():
    gt = smooth_trajectory(6)
    rel = relative_from_absolute(gt)
    with pytest.raises(DataError, match="expected 5"):
        evaluate_ate(gt, rel[:4])
    bad = rel.copy()
    bad[2, 0, 3] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        evaluate_ate(gt, bad)
    with pytest.raises(DataError, match=r"\(N, 4, 4\)"):
        evaluate_ate(gt, rel[:, :3])


# ------------------------------------------------------------------------------ files


def test_read_kitti_poses_round_trip(tmp_path):
    gt = smooth_trajectory(9)
    path = tmp_path / "poses" / "09.txt"
    write_kitti_poses(path, gt)
    assert len(path.read_text().splitlines()) == 9
    assert all(len(line.split()) == 12 for line in path.read_text().splitlines())
    np.testing.assert_allclose(read_kitti_poses(path), gt, atol=1e-12)
    # the KITTI layout: 12 numbers, 3x4 [R | t] row-major, blank lines ignored
    (tmp_path / "k.txt").write_text("1 0 0 1.5 0 1 0 -2 0 0 1 3\n\n1 0 0 0 0 1 0 0 0 0 1 0\n")
    got = read_kitti_poses(tmp_path / "k.txt")
    assert got.shape == (2, 4, 4)
    np.testing.assert_allclose(got[0, :3, 3], [1.5, -2.0, 3.0])
    np.testing.assert_allclose(got[:, 3], [[0, 0, 0, 1]] * 2)


@pytest.mark.parametrize("text, message", [
    ("1 0 0 0 0 1 0 0 0 0 1 0\n1 0 0 0 0 1 0 0 0 0 1\n", "line 2: expected 12 numbers"),
    ("1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1\n", "line 1: expected 12 numbers .* got 16"),
    ("1 0 0 nan 0 1 0 0 0 0 1 0\n", "line 1: non-finite"),
    ("1 0 0 x 0 1 0 0 0 0 1 0\n", "line 1: not a list of numbers"),
    ("\n", "no poses"),
])
def test_read_kitti_poses_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "09.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        read_kitti_poses(path)
    assert str(path) in str(info.value)


def test_read_kitti_poses_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read poses file"):
        read_kitti_poses(tmp_path / "absent.txt")
