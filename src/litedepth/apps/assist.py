"""The near-object alert app (seed 000's system): depth + detector -> distances -> alerts.

Per frame (:meth:`AssistPipeline.process`): a depth model (or recorded depth files) gives a
``(H, W)`` map at the frame's resolution; :mod:`litedepth.apps.scale` turns it into metres; the
detector finds objects; each object's distance is a low percentile of the metric depth in its
box or mask (:func:`litedepth.apps.alerts.object_distance`); :class:`~litedepth.apps.alerts.AlertPolicy`
tracks objects and decides what to announce.

:func:`run_assist` drives a :class:`~litedepth.io.video.FrameSource` through the
pipeline and writes into an output folder:

* ``events.jsonl`` — one JSON object per line: first a ``"type": "header"`` line (source,
  depth model, detector, scale method and its assumption, bands, policy), then one
  ``"type": "alert"`` line per alert (``time_s``, ``frame``, ``track_id``, ``label``,
  ``distance_m``, ``band``, ``direction``, ``message``). Lines are flushed as they happen, so
  the log can be followed live; every line is complete.
* ``annotated.mp4`` (or ``frames/frame_NNNNNN.png``) — boxes coloured by band, labels with
  track id and distance, a depth inset (near = bright), the latest alert.
* ``objects.jsonl`` (with ``log_objects``) — every tracked object of every frame (``frame``,
  ``time_s``, ``track_id``, ``label``, ``box``, ``score``, ``distance_m``, ``band``, ``direction``,
  ``alerted``), for analysis and replay.
* ``summary.json`` — frames, end-to-end frames per second (all frames, from opening the log
  to the last frame written; and after the first, warm-up, frame) and per-stage milliseconds, scale
  method with the factors applied, counts of alerts by band and objects, outputs.

Alerts also go to the terminal (logging) and to speech (:mod:`litedepth.apps.speech`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from litedepth.apps.alerts import AlertConfig, AlertPolicy, FrameDecision, Observation, object_distance
from litedepth.apps.detectors import Detector
from litedepth.apps.scale import DepthScale, MetricScale, intrinsics_from_hfov
from litedepth.apps.speech import NullSpeaker, Speaker
from litedepth.errors import ConfigError, DataError, OutputError
from litedepth.models.spec import OutputSpec, to_depth
from litedepth.utils.atomic import atomic_write_bytes, first_missing, make_dirs
from litedepth.io.video import Frame, FrameSource, ImageSequenceWriter, VideoWriter

log = logging.getLogger(__name__)

__all__ = [
    "AssistConfig",
    "AssistPipeline",
    "DepthFiles",
    "DepthEstimator",
    "FrameResult",
    "PredictorDepth",
    "annotate",
    "run_assist",
]

# RGB colours per band index (near, close, far...) and for "no distance"
_BAND_COLOURS = [(255, 40, 40), (255, 160, 0), (60, 200, 60), (60, 160, 255)]
_UNKNOWN = (170, 170, 170)


class DepthEstimator(Protocol):
    """Anything giving a depth or disparity map for a frame.

    Attributes:
        spec: what the map means (:class:`~litedepth.models.spec.OutputSpec`): metric depth
            is used as is, relative depth and sigmoid disparity (through the spec's own
            ``disp_to_depth`` range) need a scale, relative disparity cannot be used.
        trained: whether the weights behind it are trained (an untrained network is refused
            unless :attr:`AssistConfig.allow_untrained`).
    """

    spec: OutputSpec
    trained: bool

    def __call__(self, frame: Frame) -> np.ndarray:
        """``(H, W)`` float32 map at the frame's resolution."""
        ...

    def describe(self) -> dict: ...


class PredictorDepth:
    """A :class:`~litedepth.inference.Predictor` (PyTorch or onnxruntime) as depth estimator.

    Args:
        predictor: the predictor.
        info: what to report about it (model name, weights, backend).
    """

    def __init__(self, predictor: Any, info: dict | None = None) -> None:
        self.predictor = predictor
        self.spec = predictor.spec
        self.kind = predictor.kind
        self.trained = bool(predictor.loaded.weights.trained)
        self.info = dict(info or {})

    def __call__(self, frame: Frame) -> np.ndarray:
        return np.asarray(self.predictor.infer_image(frame.rgb).raw)

    def describe(self) -> dict:
        return {**self.info, "kind": self.kind, "output_spec": self.spec.to_dict(), "units": self.spec.units,
                "input_size": list(self.predictor.input_size), "weights": self.predictor.loaded.weights.to_dict()}


class DepthFiles:
    """Recorded depth per frame (an RGB-D camera, ground truth, another tool's output).

    Frames from image sequences are matched by file stem; others by index into the sorted
    files. ``.npy`` files hold float metres; other files (uint16 PNG/PGM, ...) are read with
    their named ``depth_encoding`` (:mod:`litedepth.io.depth_encodings`; required for them).

    Raises:
        DataError: missing folder, no depth files, or no file for a frame.
    """

    kind = "depth"
    spec = OutputSpec.metric_depth(note="recorded depth files")
    trained = True

    def __init__(self, folder: str | Path, depth_encoding: str | float | None = None) -> None:
        from litedepth.io.depth_encodings import encoding_for_file, parse_encoding

        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DataError(self.folder, "depth folder not found")
        self.depth_encoding = None if depth_encoding is None else parse_encoding(depth_encoding)
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in (".npy", ".png", ".pgm"))
        if not self.files:
            raise DataError(self.folder, "no depth files (.npy, .png, .pgm) in the folder")
        encoding_for_file(self.files[0], self.depth_encoding)  # a missing encoding fails now, not mid-run
        self.by_stem = {p.stem: p for p in self.files}

    def __call__(self, frame: Frame) -> np.ndarray:
        from litedepth.io.images import read_depth

        if frame.name is not None:
            path = self.by_stem.get(frame.name)
        else:
            path = self.files[frame.index] if frame.index < len(self.files) else None
        if path is None:
            raise DataError(self.folder, f"no depth file for frame {frame.name or frame.index}")
        depth = read_depth(path, self.depth_encoding)
        if depth.shape != frame.rgb.shape[:2]:
            raise DataError(path, f"depth {depth.shape} and frame {frame.rgb.shape[:2]} differ in size")
        return depth

    def describe(self) -> dict:
        return {"name": "depth files", "folder": str(self.folder), "kind": self.kind,
                "encoding": None if self.depth_encoding is None else self.depth_encoding.name}


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


def _estimator_spec(depth: Any) -> OutputSpec:
    """The estimator's spec; estimators written before specs existed state only ``kind``,
    whose documented meaning was metres-or-relative depth, or a sigmoid disparity through
    ``disp_to_depth(0.1, 100)``."""
    spec = getattr(depth, "spec", None)
    if isinstance(spec, OutputSpec):
        return spec
    import warnings

    warnings.warn("depth estimators should state their OutputSpec as `spec` (a bare `kind` is deprecated)",
                  DeprecationWarning, stacklevel=3)
    kind = getattr(depth, "kind", None)
    if kind == "disparity":
        return OutputSpec.sigmoid_disparity(0.1, 100.0)
    if kind == "depth":
        return OutputSpec.relative_depth()
    raise ConfigError(f"depth estimator {type(depth).__name__} states no spec (OutputSpec) and no kind")


class AssistPipeline:
    """Depth + detector + scale + alert policy, one frame at a time.

    Args:
        depth: a :class:`DepthEstimator`.
        detector: a :class:`~litedepth.apps.detectors.Detector`.
        scale: the :class:`~litedepth.apps.scale.DepthScale` giving metres.
        config: the options.
    """

    def __init__(self, depth: DepthEstimator, detector: Detector, scale: DepthScale,
                 config: AssistConfig | None = None) -> None:
        self.depth, self.detector, self.scale = depth, detector, scale
        self.config = config or AssistConfig()
        self.depth_spec = _estimator_spec(depth)
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


# --------------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------------


def _band_colour(band: str | None, names: tuple[str, ...]) -> tuple[int, int, int]:
    if band is None:
        return _UNKNOWN
    return _BAND_COLOURS[min(names.index(band), len(_BAND_COLOURS) - 1)]


def annotate(result: FrameResult, band_names: tuple[str, ...] = ("near", "close", "far"),
             banner: str | None = None, inset: bool = True, max_range_m: float = 8.0) -> np.ndarray:
    """The frame with boxes, labels, distances, a depth inset and a text banner.

    Args:
        result: a processed frame.
        band_names: the policy's band names (box colours: red, orange, green, ...).
        banner: text drawn at the bottom (e.g. the latest alert).
        inset: draw the depth map (near = bright, 0.3 to ``max_range_m`` metres) top right.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    import cv2

    from litedepth.utils.visualize import colorize

    img = result.frame.rgb.copy()
    h, w = img.shape[:2]
    scale = max(0.35, min(h, w) / 600.0)
    thick = max(1, round(2 * scale))
    if inset and result.depth_m is not None:
        iw = max(8, w // 4)
        ih = max(4, round(h * iw / w))
        small = cv2.resize(result.depth_m, (iw, ih), interpolation=cv2.INTER_NEAREST)
        img[:ih, w - iw:] = colorize(small, vmin=1.0 / max_range_m, vmax=1.0 / 0.3, invert=True)
        cv2.rectangle(img, (w - iw, 0), (w - 1, ih - 1), (255, 255, 255), 1)
    for obj in result.decision.objects:
        x0, y0, x1, y1 = (int(round(v)) for v in obj.box)
        colour = _band_colour(obj.band, band_names)
        cv2.rectangle(img, (x0, y0), (x1, y1), colour, thick * (2 if obj.alerted else 1))
        dist = "?" if obj.distance_m is None else f"{obj.distance_m:.1f} m"
        text = f"#{obj.track_id} {obj.label} {dist}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, 1)
        ty = max(th + base, y0)
        cv2.rectangle(img, (x0, ty - th - base), (x0 + tw, ty), colour, -1)
        cv2.putText(img, text, (x0, ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 0, 0), 1, cv2.LINE_AA)
    if banner:
        (tw, th), base = cv2.getTextSize(banner, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thick)
        cv2.rectangle(img, (0, h - th - 2 * base), (min(w, tw + 2 * base), h), (0, 0, 0), -1)
        cv2.putText(img, banner, (base, h - base), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 0), thick,
                    cv2.LINE_AA)
    return img


# --------------------------------------------------------------------------------------------
# the run loop
# --------------------------------------------------------------------------------------------


def run_assist(
    source: FrameSource,
    pipeline: AssistPipeline,
    output: str | Path,
    speaker: Speaker | None = None,
    max_frames: int | None = None,
    annotated: str = "video",
    banner_s: float = 2.0,
    on_frame: Callable[[FrameResult], None] | None = None,
    progress: bool = False,
    log_objects: bool = False,
) -> dict:
    """Run the pipeline over a source and write the event log, annotated output and summary.

    Args:
        source: frames to process.
        pipeline: the pipeline.
        output: output folder (created).
        speaker: speech output (default: none).
        max_frames: stop after this many frames.
        annotated: ``"video"`` (``annotated.mp4``), ``"frames"`` (``frames/*.png``) or ``"none"``.
        banner_s: how long the latest alert stays in the annotated frames (seconds of frame time).
        on_frame: called with every :class:`FrameResult` (e.g. a live display).
        progress: show a progress bar.
        log_objects: also write ``objects.jsonl`` (every tracked object of every frame).

    Returns:
        the summary (also written to ``summary.json``).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    created_out = first_missing(output)
    out = make_dirs(output)
    speaker = speaker or NullSpeaker()
    if annotated not in ("video", "frames", "none"):
        raise ValueError(f"annotated must be video, frames or none, not {annotated!r}")
    band_names = pipeline.config.alert.band_names
    header = {"type": "header", "source": source.name, "source_fps": source.fps, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
              **pipeline.describe()}
    writer: VideoWriter | ImageSequenceWriter | None = None
    if annotated == "video":
        writer = VideoWriter(out / "annotated.mp4", fps=source.fps or 1.0)
    elif annotated == "frames":
        writer = ImageSequenceWriter(out / "frames", "frame_{:06d}.png")
    stage_ms: dict[str, list[float]] = {"read": [], "depth": [], "detect": [], "decide": [], "annotate_write": []}
    alerts_by_band: dict[str, int] = {}
    tracks: set[int] = set()
    frames = 0
    frame_s: list[float] = []
    interrupted = False
    banner: tuple[float, str] | None = None
    log.info("assist: %s -> %s (scale: %s; speech: %s)", source.name, out, pipeline.scale.method,
             speaker.describe()["speech"])
    bar = Progress(TextColumn("assist"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                   disable=not progress)
    total = source.frame_count if max_frames is None or source.frame_count is None else min(max_frames, source.frame_count)
    events = objects = None
    t_start = time.perf_counter()
    try:
        events = _LiveLog(out / "events.jsonl")
        objects = _LiveLog(out / "objects.jsonl") if log_objects else None
        events.write(header)
        events.flush()
        with bar:
            task = bar.add_task("assist", total=total)
            it = iter(source)
            while max_frames is None or frames < max_frames:
                t0 = time.perf_counter()
                frame = next(it, None)
                if frame is None:
                    break
                t1 = time.perf_counter()
                result = pipeline.process(frame)
                stage_ms["read"].append((t1 - t0) * 1e3)
                for k, v in result.timings_ms.items():
                    stage_ms[k].append(v)
                for alert in result.decision.alerts:
                    events.write({"type": "alert", **alert.to_json()})
                    alerts_by_band[alert.band] = alerts_by_band.get(alert.band, 0) + 1
                    log.info("[%7.2f s] %s: %s", alert.time_s, alert.band.upper(), alert.message)
                    speaker.say(alert.message)
                    banner = (alert.time_s, f"{alert.band.upper()}: {alert.message}")
                if result.decision.alerts:
                    events.flush()
                tracks.update(o.track_id for o in result.decision.objects)
                if objects is not None:
                    for o in result.decision.objects:
                        objects.write(_object_json(frame, o))
                t2 = time.perf_counter()
                if writer is not None:
                    text = banner[1] if banner and frame.time_s - banner[0] <= banner_s else None
                    writer.write(annotate(result, band_names, text, pipeline.config.inset))
                stage_ms["annotate_write"].append((time.perf_counter() - t2) * 1e3)
                frames += 1
                frame_s.append(time.perf_counter() - t0)
                bar.advance(task)
                if on_frame is not None:
                    on_frame(result)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("interrupted: finishing the outputs of %d frames", frames)
    except BaseException:
        if writer is not None:
            writer.abort()
        if frames == 0:  # failed before the first frame (e.g. an unreadable image): leave nothing behind
            _discard_outputs(out, created_out, events, objects)
        raise
    finally:
        for f in (events, objects):
            if f is not None:
                f.close()
    elapsed = time.perf_counter() - t_start
    if writer is not None:
        writer.close()
    speaker.close(wait=False)
    unreadable = [str(p) for p in getattr(source, "skipped", [])]
    summary = {
        "source": source.name,
        "frames": frames,
        "unreadable_skipped": len(unreadable),
        "unreadable_files": unreadable,
        "interrupted": interrupted,
        "elapsed_s": round(elapsed, 3),
        "fps_end_to_end": round(frames / elapsed, 3) if elapsed > 0 and frames else None,
        "fps_after_first_frame": round((len(frame_s) - 1) / sum(frame_s[1:]), 3) if len(frame_s) > 1 else None,
        "stage_ms_mean": {k: round(float(np.mean(v)), 2) for k, v in stage_ms.items() if v},
        "alerts": sum(alerts_by_band.values()),
        "alerts_by_band": alerts_by_band,
        "objects_tracked": len(tracks),
        **pipeline.describe(),
        "speech": speaker.describe(),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": _torch_threads()},
        "outputs": {"events": "events.jsonl", "objects": "objects.jsonl" if log_objects else None,
                    "annotated": {"video": "annotated.mp4", "frames": "frames/", "none": None}[annotated],
                    "video_codec": writer.codec if isinstance(writer, VideoWriter) else None},
    }
    if frames == 0:
        _discard_outputs(out, created_out, events, objects)
        raise DataError(source.name, "no frames were read" + (f" ({len(unreadable)} unreadable files skipped)"
                                                              if unreadable else ""))
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    fps = summary["fps_end_to_end"]
    log.info("assist: %d frames, %s fps end to end, %d alerts; wrote %s", frames, fps, summary["alerts"], out)
    if unreadable:
        log.warning("assist: %d unreadable images skipped (listed in summary.json)", len(unreadable))
    return summary


def _discard_outputs(out: Path, created: Path | None, *logs: _LiveLog | None) -> None:
    """Remove the logs of a run that processed no frame, and the folders up to ``created`` (the
    top-most one this run created) while they are empty."""
    for f in logs:
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
                f.path.unlink()
    if created is not None:
        folder = out.absolute()
        with contextlib.suppress(OSError):  # rmdir: only empty folders
            while True:
                folder.rmdir()
                if folder == created:
                    break
                folder = folder.parent


class _LiveLog:
    """A JSON-lines log written as it happens (not atomic: it can be followed live; every
    line is complete). Write failures raise :class:`OutputError` naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise OutputError(path, exc) from exc

    def write(self, record: dict) -> None:
        try:
            self.file.write(json.dumps(record) + "\n")
        except OSError as exc:
            raise OutputError(self.path, exc) from exc

    def flush(self) -> None:
        try:
            self.file.flush()
        except OSError as exc:
            raise OutputError(self.path, exc) from exc

    def close(self) -> None:
        try:
            self.file.close()
        except OSError as exc:
            raise OutputError(self.path, exc) from exc


def _object_json(frame: Frame, obj: Any) -> dict:
    return {"frame": frame.index, "time_s": round(frame.time_s, 4), "track_id": obj.track_id, "label": obj.label,
            "box": [round(float(v), 2) for v in obj.box], "score": round(obj.score, 4),
            "distance_m": None if obj.distance_m is None else round(obj.distance_m, 4), "band": obj.band,
            "direction": obj.direction, "alerted": obj.alerted}


def _torch_threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
