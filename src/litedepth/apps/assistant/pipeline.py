"""The assistant's per-frame pipeline: depth + detector -> metres -> distances -> alerts.

Per frame (:meth:`AssistPipeline.process`): a depth source (:mod:`litedepth.apps.assistant.depth`)
gives a ``(H, W)`` map at the frame's resolution; :mod:`litedepth.apps.assistant.scale` turns it
into metres; the detector (:mod:`litedepth.apps.assistant.detectors`) finds objects, in a second
thread while the depth model runs; each object's distance is a low percentile of the metric depth
in its box or mask (:func:`~litedepth.apps.assistant.alerts.object_distance`);
:class:`~litedepth.apps.assistant.alerts.AlertPolicy` tracks objects and decides what to announce.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from litedepth.apps.assistant.alerts import AlertConfig, AlertPolicy, FrameDecision, Observation, object_distance
from litedepth.apps.assistant.depth import DepthEstimator, estimator_spec
from litedepth.apps.assistant.detectors import Detector
from litedepth.apps.assistant.scale import DepthScale, MetricScale, intrinsics_from_hfov
from litedepth.errors import ConfigError
from litedepth.io.video import Frame
from litedepth.models.spec import to_depth

log = logging.getLogger(__name__)

__all__ = ["AssistConfig", "AssistPipeline", "FrameResult"]


@dataclass(frozen=True)
class AssistConfig:
    """Options of the pipeline.

    Attributes:
        alert: the alert policy's options (bands, hysteresis, cooldown, rate, tracking).
        percentile: percentile of the valid depth in a box taken as the object's distance.
        hfov_deg: horizontal field of view assumed for the camera (when ``intrinsics`` is not
            given); used by the ``camera-height`` scale.
        intrinsics: ``(fx, fy, cx, cy)`` in pixels of the source frames, if known.
        inset: draw a depth inset in annotated frames.
        allow_untrained: run a depth network with random weights anyway (for timing and
            tests; its distances mean nothing). Refused by default.
        parallel: run the detector in a second thread while the depth model runs (both
            release the GIL in their kernels: on two cores the slower one sets the pace).
    """

    alert: AlertConfig = field(default_factory=AlertConfig)
    percentile: float = 15.0
    hfov_deg: float = 70.0
    intrinsics: tuple[float, float, float, float] | None = None
    inset: bool = True
    parallel: bool = True
    allow_untrained: bool = False


@dataclass(frozen=True, eq=False)
class FrameResult:
    """One processed frame.

    Attributes:
        frame: the input frame.
        depth_m: ``(H, W)`` float32 metres (``None`` while the scale is unknown).
        decision: tracked objects and alerts.
        timings_ms: milliseconds per stage (``depth``, ``detect``, ``decide``).
    """

    frame: Frame
    depth_m: np.ndarray | None
    decision: FrameDecision
    timings_ms: dict[str, float]


class AssistPipeline:
    """Depth + detector + scale + alert policy, one frame at a time.

    Args:
        depth: a :class:`DepthEstimator`.
        detector: a :class:`~litedepth.apps.assistant.detectors.Detector`.
        scale: the :class:`~litedepth.apps.assistant.scale.DepthScale` giving metres.
        config: the options.
    """

    def __init__(self, depth: DepthEstimator, detector: Detector, scale: DepthScale,
                 config: AssistConfig | None = None) -> None:
        self.depth, self.detector, self.scale = depth, detector, scale
        self.config = config or AssistConfig()
        self.depth_spec = estimator_spec(depth)
        if self.depth_spec.needs_alignment:
            raise ConfigError("this depth model predicts relative disparity (scale and shift unknown): no single "
                              "scale turns it into distances; use a depth model (metric, or relative with --scale)")
        if not getattr(depth, "trained", True) and self.config.allow_untrained:
            log.warning("the depth network has random (untrained) weights: its distances mean nothing "
                        "(allowed for timing and tests)")
        if not getattr(depth, "trained", True) and not self.config.allow_untrained:
            raise ConfigError("the depth network has random (untrained) weights, so its distances are noise: "
                              "give trained weights (--checkpoint, --weights, --onnx), or --allow-untrained for "
                              "timing and tests")
        if isinstance(scale, MetricScale) and not self.depth_spec.is_metric:
            raise ConfigError(f"the depth model is not metric ({self.depth_spec.units}): give a scale "
                              "(--scale fixed:F, calibrate:METRES or camera-height:METRES)")
        self.policy = AlertPolicy(self.config.alert)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="litedepth-detect") if self.config.parallel else None

    def intrinsics(self, height: int, width: int) -> np.ndarray:
        """``(3, 3)`` pixel intrinsics for frames of this size (given, or from ``hfov_deg``); given
        values are plausibility-checked against the frame size (normalised values are refused)."""
        if self.config.intrinsics is not None:
            from litedepth.geometry.intrinsics import Intrinsics

            fx, fy, cx, cy = self.config.intrinsics
            return Intrinsics.from_pixels(fx, fy, cx, cy, width, height, source="--intrinsics").K
        return intrinsics_from_hfov(width, height, self.config.hfov_deg)

    def process(self, frame: Frame) -> FrameResult:
        """Run depth, detection, distances and the alert policy on one frame."""
        cfg = self.config
        t0 = time.perf_counter()
        if self._pool is not None:  # detector in a second thread while the depth model runs here
            pending = self._pool.submit(self._timed_detect, frame)
            raw = self.depth(frame)
            t_depth = time.perf_counter() - t0
            detections, t_detect = pending.result()
        else:
            raw = self.depth(frame)
            t_depth = time.perf_counter() - t0
            detections, t_detect = self._timed_detect(frame)
        t2 = time.perf_counter()
        h, w = frame.rgb.shape[:2]
        rel = np.asarray(to_depth(np.asarray(raw, dtype=np.float32), self.depth_spec), dtype=np.float32)
        depth_m = self.scale(rel, self.intrinsics(h, w))
        observations = [
            Observation(d, None if depth_m is None else object_distance(depth_m, d.box, d.mask, cfg.percentile))
            for d in detections
        ]
        decision = self.policy.update(frame.time_s, frame.index, observations, w)
        t3 = time.perf_counter()
        timings = {"depth": t_depth * 1e3, "detect": t_detect * 1e3, "decide": (t3 - t2) * 1e3}
        return FrameResult(frame, depth_m, decision, timings)

    def _timed_detect(self, frame: Frame) -> tuple[list, float]:
        t = time.perf_counter()
        return self.detector.detect(frame), time.perf_counter() - t

    def close(self) -> None:
        """Stop the detector thread (if any)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> AssistPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict:
        """Everything that determines the results (for the log header and the summary)."""
        cfg = self.config
        return {
            "depth_model": self.depth.describe(),
            "detector": self.detector.describe(),
            "scale": self.scale.describe(),
            "distance": f"{cfg.percentile:g}th percentile of valid metric depth in the box (or mask)",
            "camera": {"intrinsics": list(cfg.intrinsics) if cfg.intrinsics else None,
                       "hfov_deg": None if cfg.intrinsics else cfg.hfov_deg},
            "policy": asdict(cfg.alert),
            "parallel_detector": cfg.parallel,
        }
