"""Metric scale for the assist app: turning a depth model's output into metres.

A **metric** model (supervised on metric depth, or a metric checkpoint) is used as is. A
**relative** model (self-supervised Monodepth2 / Lite-Mono, scale-invariant training) is only
right up to an unknown factor, which the user supplies in one of three ways
(:func:`parse_scale`):

* ``fixed:F`` — multiply by ``F`` (e.g. a factor found once with a tape measure);
* ``calibrate:D`` — one-shot: the median depth of the **first frame's central region**
  (the middle 20 % x 20 % of the image) is ``D`` metres; the factor is then kept;
* ``camera-height:H`` — the camera is ``H`` metres above a **flat floor that fills most of the
  lower image rows** (bottom 35 % by default). Each frame's lower rows are back-projected with
  the intrinsics, a plane is fitted (RANSAC, then least squares on the inliers; normals more
  than 30 deg from the image's vertical axis are rejected), and ``factor = H / distance from
  the camera to that plane``. The factor is the running median of the last 15 successful
  fits; frames without a floor fit keep the previous factor.

Disparity outputs are first converted to (relative) depth as Monodepth2 does
(:func:`relative_depth`). Every scale states what it did (:meth:`DepthScale.describe`), and the
assist app writes that into its event log header and summary.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections import deque

import numpy as np

from litedepth.errors import ConfigError
from litedepth.geometry.intrinsics import Intrinsics

log = logging.getLogger(__name__)

__all__ = [
    "CalibrateScale",
    "CameraHeightScale",
    "DepthScale",
    "FixedScale",
    "MetricScale",
    "fit_floor_plane",
    "intrinsics_from_hfov",
    "parse_scale",
    "relative_depth",
]


def relative_depth(pred: np.ndarray, kind: str, min_depth: float = 0.1, max_depth: float = 100.0) -> np.ndarray:
    """Depth (metres, or relative units for relative models) from a model's ``(H, W)`` output.

    ``kind == "depth"`` returns ``pred`` unchanged. ``kind == "disparity"`` maps a sigmoid
    disparity in ``[0, 1]`` to ``1 / (1/max_depth + (1/min_depth - 1/max_depth) * disp)``
    (Monodepth2's ``disp_to_depth``, :mod:`litedepth.geometry.depth`).
    """
    from litedepth.inference.pointcloud import as_depth

    return as_depth(pred, kind, min_depth, max_depth)[0]


def intrinsics_from_hfov(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """``(3, 3)`` pixel intrinsics of a centred pinhole with square pixels and the given
    horizontal field of view (``fx = fy = (W / 2) / tan(hfov / 2)``, principal point ``(W/2, H/2)``,
    :meth:`litedepth.geometry.intrinsics.Intrinsics.from_fov`)."""
    return Intrinsics.from_fov(width, height, hfov_deg).K


def fit_floor_plane(
    depth: np.ndarray,
    K: np.ndarray,
    lower_fraction: float = 0.35,
    max_tilt_deg: float = 30.0,
    inlier_tol: float = 0.01,
    min_inlier_fraction: float = 0.3,
    iterations: int = 200,
    max_points: int = 4000,
    seed: int = 0,
) -> tuple[np.ndarray, float, float] | None:
    """Fit the floor plane to the lower image rows of a depth map.

    Args:
        depth: ``(H, W)`` depth (any consistent unit; 0 / non-finite = invalid).
        K: ``(3, 3)`` pixel intrinsics for ``(H, W)``.
        lower_fraction: the bottom fraction of the rows assumed to see mostly floor.
        max_tilt_deg: planes whose normal is farther than this from the camera's y axis are
            rejected (the camera is roughly level).
        inlier_tol: inlier distance to the plane as a fraction of each point's depth.
        min_inlier_fraction: fewer inliers than this fraction of the points fails the fit.
        iterations, max_points, seed: RANSAC settings (deterministic for a seed).

    Returns:
        ``(normal, height, inlier_fraction)``: the unit normal (camera frame, pointing from
        the floor towards the camera), the camera's distance to the plane in ``depth`` units,
        and the inlier fraction; ``None`` when no floor is found.
    """
    h, w = depth.shape
    r0 = int(round(h * (1.0 - lower_fraction)))
    sub = depth[r0:]
    vv, uu = np.nonzero(np.isfinite(sub) & (sub > 0))
    if vv.size < 50:
        return None
    if vv.size > max_points:
        keep = np.linspace(0, vv.size - 1, max_points).astype(int)
        vv, uu = vv[keep], uu[keep]
    z = sub[vv, uu].astype(np.float64)
    v = vv + r0
    pts = np.stack([(uu - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], axis=1)
    tol = inlier_tol * z  # per point: depth errors grow with depth
    cos_tilt = math.cos(math.radians(max_tilt_deg))
    rng = np.random.default_rng(seed)
    best_count, best = 0, None
    for _ in range(iterations):
        a, b, c = pts[rng.choice(len(pts), 3, replace=False)]
        n = np.cross(b - a, c - a)
        norm = np.linalg.norm(n)
        if norm < 1e-12:
            continue
        n /= norm
        if abs(n[1]) < cos_tilt:
            continue
        count = int((np.abs((pts - a) @ n) < tol).sum())
        if count > best_count:
            best_count, best = count, (n, a)
    if best is None or best_count < min_inlier_fraction * len(pts):
        return None
    normal, centroid = best
    for _ in range(3):  # refine: least squares on the inliers (weights 1/z: near points are surer)
        inl = np.abs((pts - centroid) @ normal) < tol
        if inl.sum() < 3:
            return None
        wts = 1.0 / z[inl]
        centroid = (pts[inl] * wts[:, None]).sum(0) / wts.sum()
        normal = np.linalg.svd((pts[inl] - centroid) * np.sqrt(wts)[:, None], full_matrices=False)[2][-1]
    inliers = pts[np.abs((pts - centroid) @ normal) < tol]
    if abs(normal[1]) < cos_tilt or len(inliers) < min_inlier_fraction * len(pts):
        return None
    height = float(abs(normal @ centroid))
    if normal @ centroid > 0:  # point from the floor towards the camera (the origin)
        normal = -normal
    return normal, height, len(inliers) / len(pts)


class DepthScale(ABC):
    """Turns relative depth into metres; states how (:meth:`describe`).

    Call with a ``(H, W)`` depth map (relative units) to get metres, or ``None`` while no
    factor is known yet (``camera-height`` before its first floor fit).
    """

    method: str

    def __init__(self) -> None:
        self.factors: list[float] = []

    @abstractmethod
    def factor_for(self, depth: np.ndarray, K: np.ndarray | None) -> float | None:
        """The factor for this frame (``None``: unknown)."""

    def __call__(self, depth: np.ndarray, K: np.ndarray | None = None) -> np.ndarray | None:
        """``(H, W)`` relative depth (and optional ``(3, 3)`` pixel intrinsics) -> ``(H, W)``
        float32 metres, or ``None`` while the factor is unknown."""
        f = self.factor_for(depth, K)
        if f is None:
            return None
        self.factors.append(float(f))
        return (depth * np.float32(f)).astype(np.float32, copy=False)

    def describe(self) -> dict:
        """Method, parameters, the assumption made, and the factors applied so far."""
        out = {"method": self.method, **self._params()}
        if self.factors:
            f = np.asarray(self.factors)
            out["factor"] = {"first": float(f[0]), "last": float(f[-1]), "median": float(np.median(f)),
                             "min": float(f.min()), "max": float(f.max()), "frames": int(f.size)}
        return out

    def _params(self) -> dict:
        return {}


class MetricScale(DepthScale):
    """The model is metric: its output is used as metres (factor 1)."""

    method = "metric"

    def factor_for(self, depth: np.ndarray, K: np.ndarray | None) -> float:
        return 1.0

    def _params(self) -> dict:
        return {"assumption": "the depth model predicts metres"}


class FixedScale(DepthScale):
    """Multiply by a known factor."""

    method = "fixed"

    def __init__(self, factor: float) -> None:
        super().__init__()
        if not factor > 0 or not math.isfinite(factor):
            raise ConfigError(f"scale factor must be a positive number, got {factor}")
        self.factor = float(factor)

    def factor_for(self, depth: np.ndarray, K: np.ndarray | None) -> float:
        return self.factor

    def _params(self) -> dict:
        return {"factor_given": self.factor, "assumption": "metres = model depth x the given factor"}


class CalibrateScale(DepthScale):
    """One-shot: the first frame's central region is at ``distance_m`` metres."""

    method = "calibrate"

    def __init__(self, distance_m: float, region: float = 0.2) -> None:
        super().__init__()
        if not distance_m > 0 or not math.isfinite(distance_m):
            raise ConfigError(f"calibration distance must be positive metres, got {distance_m}")
        if not 0.0 < region <= 1.0:
            raise ConfigError(f"calibration region must be a fraction in (0, 1], got {region}")
        self.distance_m, self.region = float(distance_m), float(region)
        self.factor: float | None = None

    def factor_for(self, depth: np.ndarray, K: np.ndarray | None) -> float | None:
        if self.factor is None:
            h, w = depth.shape
            dh, dw = max(1, round(h * self.region / 2)), max(1, round(w * self.region / 2))
            centre = depth[h // 2 - dh : h // 2 + dh, w // 2 - dw : w // 2 + dw]
            valid = centre[np.isfinite(centre) & (centre > 0)]
            if valid.size == 0:
                log.warning("calibration frame has no valid depth in its centre; trying the next frame")
                return None
            self.factor = self.distance_m / float(np.median(valid))
            log.info("scale calibrated: centre of the first frame = %.2f m -> factor %.4f", self.distance_m, self.factor)
        return self.factor

    def _params(self) -> dict:
        return {"distance_m": self.distance_m, "region": self.region,
                "assumption": f"the central {self.region:.0%} x {self.region:.0%} of the first frame "
                              f"is {self.distance_m} m away (median)"}


class CameraHeightScale(DepthScale):
    """Known camera height over a flat floor (see the module docstring).

    Args:
        height_m: camera height above the floor in metres.
        hfov_deg: horizontal field of view used when no intrinsics are passed per call.
        lower_fraction: bottom fraction of the rows used for the floor fit.
        window: number of recent fits whose median is the factor.
    """

    method = "camera-height"

    def __init__(self, height_m: float, hfov_deg: float = 70.0, lower_fraction: float = 0.35, window: int = 15) -> None:
        super().__init__()
        if not height_m > 0 or not math.isfinite(height_m):
            raise ConfigError(f"camera height must be positive metres, got {height_m}")
        self.height_m, self.hfov_deg, self.lower_fraction = float(height_m), float(hfov_deg), float(lower_fraction)
        self._recent: deque[float] = deque(maxlen=int(window))
        self.fits = 0
        self.failed = 0

    def factor_for(self, depth: np.ndarray, K: np.ndarray | None) -> float | None:
        if K is None:
            K = intrinsics_from_hfov(depth.shape[1], depth.shape[0], self.hfov_deg)
        fit = fit_floor_plane(depth, K, lower_fraction=self.lower_fraction)
        if fit is None or fit[1] <= 0:
            self.failed += 1
            if self.failed == 1 or self.failed % 100 == 0:
                log.warning("camera-height scale: no floor plane in the lower image rows (%d frames so far)",
                            self.failed)
        else:
            self.fits += 1
            self._recent.append(self.height_m / fit[1])
        return float(np.median(self._recent)) if self._recent else None

    def _params(self) -> dict:
        return {"camera_height_m": self.height_m, "hfov_deg_default": self.hfov_deg,
                "lower_fraction": self.lower_fraction, "floor_fits": self.fits, "floor_fit_failures": self.failed,
                "assumption": f"a flat floor fills most of the bottom {self.lower_fraction:.0%} of the image and the "
                              f"camera is {self.height_m} m above it, within 30 deg of level"}


def parse_scale(spec: str | None, hfov_deg: float = 70.0) -> DepthScale:
    """A :class:`DepthScale` from ``metric``, ``fixed:F``, ``calibrate:D`` or ``camera-height:H``.

    Raises:
        ConfigError: anything else, or a non-positive number.
    """
    text = (spec or "metric").strip().lower()
    if text in ("metric", "none"):
        return MetricScale()
    method, _, value = text.partition(":")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    makers = {"fixed": FixedScale, "calibrate": CalibrateScale,
              "camera-height": lambda h: CameraHeightScale(h, hfov_deg=hfov_deg)}
    if method not in makers or not math.isfinite(number):
        raise ConfigError(f"--scale {spec!r}: use metric, fixed:FACTOR, calibrate:METRES or camera-height:METRES")
    return makers[method](number)
