"""Metric scale for relative depth: disparity conversion, fixed, calibrate, camera height (floor fit)."""

from __future__ import annotations

import numpy as np
import pytest

from litedepth.apps.assistant.scale import (
    CalibrateScale,
    CameraHeightScale,
    FixedScale,
    MetricScale,
    fit_floor_plane,
    intrinsics_from_hfov,
    parse_scale,
    relative_depth,
)
from litedepth.errors import ConfigError


def _floor_depth(h: int, w: int, K: np.ndarray, cam_height: float, pitch_deg: float = 0.0) -> np.ndarray:
    """Exact depth of a flat floor ``cam_height`` below a camera pitched down by ``pitch_deg``,
    with a wall at 6 m (camera z) where the floor is farther or not visible."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    p = np.radians(pitch_deg)
    down = np.array([0.0, np.cos(p), np.sin(p)])  # world "down" in camera coordinates
    t = cam_height / np.maximum(rays @ down, 1e-9)  # ray parameter = camera z of the hit
    t[(rays @ down) <= 1e-9] = np.inf
    return np.minimum(t, 6.0).astype(np.float32)


def test_relative_depth_from_disparity():
    disp = np.array([[0.0, 1.0]], np.float32)
    np.testing.assert_allclose(relative_depth(disp, "disparity"), [[100.0, 0.1]], rtol=1e-5)
    d = np.ones((2, 2), np.float32)
    assert relative_depth(d, "depth") is d
    with pytest.raises(ConfigError):
        relative_depth(d, "normals")


@pytest.mark.parametrize("pitch", [0.0, 8.0])
def test_floor_fit_recovers_camera_height(pitch):
    h, w = 96, 128
    K = intrinsics_from_hfov(w, h, 70.0)
    depth = _floor_depth(h, w, K, 1.4, pitch)
    depth[70:, 50:70] = 1.2  # an obstacle standing on the floor (outliers)
    fit = fit_floor_plane(depth * 0.37, K)
    assert fit is not None
    normal, height, inliers = fit
    assert height == pytest.approx(1.4 * 0.37, rel=0.01)  # the floor-wall junction costs ~0.5 %
    assert normal[1] < -0.95 and inliers > 0.6  # pointing up (towards the camera), most points on the floor
    scale = CameraHeightScale(1.4, hfov_deg=70.0)
    metric = scale(depth * 0.37)
    assert scale.factors[-1] == pytest.approx(1 / 0.37, rel=0.01)
    np.testing.assert_allclose(metric, depth, rtol=0.01)
    desc = scale.describe()
    assert desc["method"] == "camera-height" and desc["floor_fits"] == 1 and "flat floor" in desc["assumption"]


def test_camera_height_without_floor_keeps_previous_factor():
    K = intrinsics_from_hfov(64, 48, 70.0)
    scale = CameraHeightScale(1.5)
    wall = np.full((48, 64), 3.0, np.float32)  # a wall facing the camera: no floor anywhere
    assert scale(wall, K) is None and scale.failed == 1
    floor = _floor_depth(48, 64, K, 1.5)
    assert scale(floor, K) is not None
    out = scale(wall, K)  # keeps the factor of the last fit
    assert out is not None and scale.factors[-1] == scale.factors[-2] == pytest.approx(1.0, rel=0.03)


def test_calibrate_and_fixed_and_metric():
    depth = np.full((40, 60), 0.5, np.float32)
    depth[14:26, 21:39] = 0.25  # the central 20 % x 20 % and a bit more
    cal = CalibrateScale(2.0)
    np.testing.assert_allclose(cal(depth)[20, 30], 2.0)
    np.testing.assert_allclose(cal(depth * 2)[20, 30], 4.0)  # one-shot: the factor is kept
    assert cal.describe()["factor"]["median"] == pytest.approx(8.0)
    assert CalibrateScale(1.0)(np.zeros((8, 8), np.float32)) is None  # no valid centre yet
    np.testing.assert_allclose(FixedScale(3.0)(depth), depth * 3)
    assert MetricScale()(depth) is not None and MetricScale().describe()["method"] == "metric"


def test_parse_scale():
    assert isinstance(parse_scale(None), MetricScale)
    assert parse_scale("fixed:2.5").factor == 2.5
    assert parse_scale("calibrate:1.2").distance_m == 1.2
    s = parse_scale("camera-height:1.6", hfov_deg=60)
    assert s.height_m == 1.6 and s.hfov_deg == 60
    for bad in ("fixed", "fixed:x", "height:1", "fixed:-1", "calibrate:0"):
        with pytest.raises(ConfigError):
            parse_scale(bad)
