"""One assistant session: a frame source through the pipeline into an output folder.

:func:`run_assist` drives a :class:`~litedepth.io.video.FrameSource` through an
:class:`~litedepth.apps.assistant.pipeline.AssistPipeline` and writes into an output folder:

* ``events.jsonl`` — one JSON object per line: first a ``"type": "header"`` line (source,
  depth model, detector, scale method and its assumption, bands, policy), then one
  ``"type": "alert"`` line per alert (``time_s``, ``frame``, ``track_id``, ``label``,
  ``distance_m``, ``band``, ``direction``, ``message``). Lines are flushed as they happen, so
  the log can be followed live; every line is complete.
* ``annotated.mp4`` (or ``frames/frame_NNNNNN.png``) — boxes coloured by band, labels with
  track id and distance, a depth inset (near = bright), the latest alert
  (:func:`~litedepth.apps.assistant.drawing.annotate`).
* ``objects.jsonl`` (with ``log_objects``) — every tracked object of every frame (``frame``,
  ``time_s``, ``track_id``, ``label``, ``box``, ``score``, ``distance_m``, ``band``, ``direction``,
  ``alerted``), for analysis and replay.
* ``summary.json`` — frames, end-to-end frames per second (all frames, from opening the log
  to the last frame written; and after the first, warm-up, frame) and per-stage milliseconds, scale
  method with the factors applied, counts of alerts by band and objects, outputs.

Alerts also go to the terminal (logging) and to speech (:mod:`litedepth.apps.assistant.speech`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.apps.assistant.drawing import annotate
from litedepth.apps.assistant.pipeline import AssistPipeline, FrameResult
from litedepth.apps.assistant.speech import NullSpeaker, Speaker
from litedepth.errors import DataError, OutputError
from litedepth.io.video import Frame, FrameSource, ImageSequenceWriter, VideoWriter
from litedepth.utils.atomic import atomic_write_bytes, first_missing, make_dirs

log = logging.getLogger(__name__)

__all__ = ["run_assist"]


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
