"""Depth for videos and cameras: temporal smoothing with scene-cut reset, depth videos.

:class:`TemporalSmoother` reduces frame-to-frame flicker with an exponential moving average
(EMA) of the per-frame predictions, ``s_t = alpha * p_t + (1 - alpha) * s_{t-1}``, in the
prediction's own units (metres or disparity). For independent per-frame noise of variance
``sigma^2`` on a static scene, the smoothed map's noise variance is ``alpha / (2 - alpha) *
sigma^2`` and the variance of its frame-to-frame change falls from ``2 sigma^2`` to
``2 sigma^2 * alpha^2 / (2 - alpha)``: at ``alpha = 0.5`` the typical change between
consecutive frames (the flicker) is ``0.5 / sqrt(1.5) = 41 %`` of the raw one. The price is
lag: a moving object's depth follows with a time constant of about ``1 / alpha`` frames. At a **scene cut** (a new shot), averaging across the cut would
blend two unrelated scenes, so the average restarts from the new frame. A cut is declared
when the mean absolute difference of 32 x 32 grey thumbnails of consecutive frames (in
``[0, 1]``) exceeds ``cut_threshold``: camera motion within one shot typically changes the
thumbnail by 0.01-0.1, a cut to another scene by 0.2 or more.

:func:`predict_video` runs a :class:`~litedepth.inference.Predictor` over a
:class:`~litedepth.io.video.FrameSource` (video file, camera, image sequence) and
writes a depth video at the input's frame rate: the colourised map alone (``layout="depth"``)
or the input and the map side by side (``"side-by-side"``), optionally one ``.npy`` per
frame. The colour range follows the smoothed 2nd-98th percentiles of the map (reset at
cuts) instead of each frame's own min / max, which would make the colours flicker even when
the depth does not.

Example:
    >>> from litedepth.inference import Predictor
    >>> from litedepth.io.video import open_source
    >>> predictor = Predictor.from_name("lite-mono-tiny")  # doctest: +SKIP
    >>> with open_source("walk.mp4") as src:  # doctest: +SKIP
    ...     result = predict_video(predictor, src, "out/walk_depth.mp4", smoothing=0.5)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_CUT_THRESHOLD",
    "LAYOUTS",
    "TemporalSmoother",
    "VideoDepthResult",
    "frame_difference",
    "predict_video",
    "temporal_flicker",
]

LAYOUTS = ("side-by-side", "depth")
DEFAULT_CUT_THRESHOLD = 0.2
_THUMB = 32


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    """32 x 32 grey thumbnail in ``[0, 1]`` (area average)."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two RGB frames' 32 x 32 grey thumbnails, in ``[0, 1]``.

    Args:
        a, b: ``(H, W, 3)`` uint8 RGB frames (sizes may differ).

    Example:
        >>> frame_difference(np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8))
        1.0
    """
    return float(np.abs(_thumbnail(a) - _thumbnail(b)).mean())


def temporal_flicker(frames: np.ndarray | list[np.ndarray]) -> float:
    """Mean absolute frame-to-frame change ``mean |x_t - x_{t-1}|`` of a ``(T, H, W)`` sequence."""
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim < 2 or len(x) < 2:
        raise ValueError(f"need a (T, H, W) sequence with T >= 2, got shape {x.shape}")
    return float(np.abs(np.diff(x, axis=0)).mean())


@dataclass
class TemporalSmoother:
    """Exponential moving average of per-frame maps, restarted at scene cuts.

    Args:
        alpha: weight of the newest frame in ``(0, 1]``; 1 = no smoothing.
        cut_threshold: :func:`frame_difference` above which a new shot starts (the average
            restarts from that frame); ``None`` never restarts.

    Attributes:
        cuts: frame numbers (0-based calls of :meth:`update`) where a cut was detected.

    Example:
        >>> s = TemporalSmoother(alpha=0.5, cut_threshold=None)
        >>> rgb = np.zeros((4, 4, 3), np.uint8)
        >>> float(s.update(np.full((2, 2), 2.0), rgb)[0, 0]), float(s.update(np.full((2, 2), 4.0), rgb)[0, 0])
        (2.0, 3.0)
    """

    alpha: float = 0.5
    cut_threshold: float | None = DEFAULT_CUT_THRESHOLD
    cuts: list[int] = field(default_factory=list, init=False)
    _state: np.ndarray | None = field(default=None, init=False, repr=False)
    _thumb: np.ndarray | None = field(default=None, init=False, repr=False)
    _count: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < float(self.alpha) <= 1.0:
            raise ConfigError(f"smoothing alpha must be in (0, 1], got {self.alpha}")
        if self.cut_threshold is not None and not 0.0 < float(self.cut_threshold) <= 1.0:
            raise ConfigError(f"scene-cut threshold must be in (0, 1], got {self.cut_threshold}")

    def reset(self) -> None:
        """Forget the average (the next frame starts a new one)."""
        self._state = None

    def is_cut(self, rgb: np.ndarray) -> bool:
        """Whether ``rgb`` (``(H, W, 3)`` uint8) starts a new shot relative to the previous frame
        (updates the memory)."""
        thumb = _thumbnail(rgb)
        prev, self._thumb = self._thumb, thumb
        if prev is None or self.cut_threshold is None:
            return False
        return float(np.abs(thumb - prev).mean()) > float(self.cut_threshold)

    def update(self, pred: np.ndarray, rgb: np.ndarray | None = None) -> np.ndarray:
        """Smoothed map for the next frame.

        Args:
            pred: ``(H, W)`` float prediction of this frame (metres or disparity).
            rgb: this frame's ``(H, W, 3)`` uint8 image, for scene-cut detection (``None``:
                no detection).

        Returns:
            ``(H, W)`` float32 smoothed map (a new array).
        """
        pred = np.asarray(pred, dtype=np.float32)
        cut = rgb is not None and self.is_cut(rgb)
        if cut:
            self.cuts.append(self._count)
            log.debug("scene cut at frame %d: smoothing restarted", self._count)
        self._count += 1
        if cut or self._state is None or self._state.shape != pred.shape or self.alpha == 1.0:
            self._state = pred.copy()
        else:
            valid = np.isfinite(pred)
            blended = self.alpha * pred + (1.0 - self.alpha) * self._state
            self._state = np.where(valid & np.isfinite(self._state), blended, pred).astype(np.float32)
        return self._state.copy()


@dataclass
class VideoDepthResult:
    """What :func:`predict_video` wrote.

    Attributes:
        video: the depth video (``None`` when no frame was read).
        npy_dir: folder of per-frame ``.npy`` maps, or ``None``.
        frames: frames processed.
        fps: frame rate of the written video (the input's).
        layout: ``"side-by-side"`` or ``"depth"``.
        kind: ``"depth"`` (metres) or ``"disparity"``.
        smoothing: EMA alpha (``None``: off).
        scene_cuts: frame indices where the smoothing restarted.
        seconds: wall-clock time; ``frames / seconds`` is the processing rate.
        interrupted: stopped by Ctrl+C (the video holds the frames before it).
        codec: the video's codec: ``"h264"`` (plays in browsers), or ``"mp4v"`` / ``"mjpeg"``
            (OpenCV fallback, see :class:`~litedepth.io.video.VideoWriter`).
    """

    video: Path | None
    npy_dir: Path | None
    frames: int
    fps: float
    layout: str
    kind: str
    smoothing: float | None
    scene_cuts: list[int]
    seconds: float
    interrupted: bool = False
    codec: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"video": None if self.video is None else str(self.video),
                "npy_dir": None if self.npy_dir is None else str(self.npy_dir), "frames": self.frames,
                "fps": self.fps, "layout": self.layout, "kind": self.kind, "smoothing": self.smoothing,
                "scene_cuts": list(self.scene_cuts), "seconds": round(self.seconds, 3),
                "processing_fps": round(self.frames / self.seconds, 3) if self.seconds > 0 else None,
                "interrupted": self.interrupted, "codec": self.codec}


def _display(pred: np.ndarray, kind: str) -> np.ndarray:
    """What is colourised: inverse depth for depth maps (near = bright), disparity as is."""
    if kind != "depth":
        return pred
    valid = np.isfinite(pred) & (pred > 0)
    return np.where(valid, 1.0 / np.where(valid, pred, 1.0), 0.0)


def _batches(source: Any, batch_size: int, max_frames: int | None) -> Iterator[list[Any]]:
    batch = []
    for frame in source:
        if max_frames is not None and frame.index >= max_frames:
            break
        batch.append(frame)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_video(
    predictor: Any,
    source: Any,
    output: str | Path,
    *,
    layout: str = "side-by-side",
    smoothing: float | None = None,
    cut_threshold: float | None = DEFAULT_CUT_THRESHOLD,
    npy_dir: str | Path | None = None,
    fps: float | None = None,
    batch_size: int = 1,
    max_frames: int | None = None,
    progress: bool = True,
) -> VideoDepthResult:
    """Predict depth for every frame of ``source`` and write a depth video.

    Args:
        predictor: a :class:`~litedepth.inference.Predictor` (eager or onnxruntime).
        source: a :class:`~litedepth.io.video.FrameSource` (``open_source(...)``).
        output: the video file (``.mp4``: H.264 when available, ``.avi`` ...; written atomically).
        layout: ``"side-by-side"`` (input | depth, ``2W x H``) or ``"depth"`` (``W x H``).
        smoothing: EMA weight of the newest frame in ``(0, 1]`` (see
            :class:`TemporalSmoother`); ``None`` = off.
        cut_threshold: scene-cut threshold restarting the smoothing and the colour range.
        npy_dir: also write each frame's ``(H, W)`` float32 map (after smoothing, in the
            predictor's units) as ``npy_dir/frame_NNNNNN.npy``.
        fps: frame rate of the output; default the source's (an error if it has none).
        batch_size: frames per network call.
        max_frames: stop after this many frames.
        progress: show a progress bar with the time remaining (when the length is known).

    Returns:
        :class:`VideoDepthResult`.

    Raises:
        ConfigError: bad options, or no frame rate known.
    """
    from litedepth.utils.visualize import colorize, make_panel
    from litedepth.utils.atomic import atomic_open
    from litedepth.io.video import VideoWriter

    if layout not in LAYOUTS:
        raise ConfigError(f"unknown video layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    if batch_size < 1 or (max_frames is not None and max_frames < 1):
        raise ConfigError("batch size and max frames must be >= 1")
    rate = fps or getattr(source, "fps", None)
    if not rate or rate <= 0:
        raise ConfigError(f"{getattr(source, 'name', 'source')}: no frame rate known; give one (--fps)")
    smoother = TemporalSmoother(smoothing if smoothing is not None else 1.0, cut_threshold)
    # the colour range is smoothed like the maps (restarted at cuts); without smoothing it is
    # still averaged a little, so that the colours do not pump with each frame's extremes
    range_alpha = smoothing if smoothing is not None else 0.3
    lo = hi = None
    output = Path(output)
    npy = Path(npy_dir) if npy_dir is not None else None
    if npy is not None:
        npy.mkdir(parents=True, exist_ok=True)
    total = getattr(source, "frame_count", None)
    if total is not None and max_frames is not None:
        total = min(total, max_frames)
    frames = 0
    interrupted = False
    start = time.perf_counter()
    bar = _progress(progress)
    with bar, VideoWriter(output, rate) as writer:
        task = bar.add_task("depth video", total=total)
        try:
            for batch in _batches(source, batch_size, max_frames):
                preds = predictor.infer_batch([f.rgb for f in batch])
                for frame, pred in zip(batch, preds):
                    n_cuts = len(smoother.cuts)
                    smoothed = smoother.update(np.asarray(pred, dtype=np.float32), frame.rgb)  # raw map
                    shown = _display(smoothed, predictor.kind)
                    valid = np.isfinite(shown) & (shown > 0)
                    if valid.any():
                        p2, p98 = (float(v) for v in np.percentile(shown[valid], [2, 98]))
                        if lo is None or len(smoother.cuts) > n_cuts:
                            lo, hi = p2, p98
                        else:
                            lo = range_alpha * p2 + (1 - range_alpha) * lo
                            hi = range_alpha * p98 + (1 - range_alpha) * hi
                    colour = colorize(shown, vmin=lo, vmax=hi, valid=valid)
                    writer.write(make_panel([frame.rgb, colour], gap=0) if layout == "side-by-side" else colour)
                    if npy is not None:
                        with atomic_open(npy / f"frame_{frame.index:06d}.npy", "wb") as f:
                            np.save(f, smoothed.astype(np.float32))
                    frames += 1
                    bar.advance(task)
        except KeyboardInterrupt:
            interrupted = True
            log.warning("interrupted after %d frames: the video holds them", frames)
    seconds = time.perf_counter() - start
    video = output if frames else None
    log.info("wrote %s: %d frames at %.3g fps, %s (%.1f frames/s processed)%s", output, frames, rate, writer.codec,
             frames / seconds if seconds > 0 else 0.0,
             f", smoothing restarted at frames {smoother.cuts}" if smoother.cuts else "")
    return VideoDepthResult(video, npy, frames, float(rate), layout, predictor.kind, smoothing,
                            list(smoother.cuts), seconds, interrupted, writer.codec)


def _progress(enabled: bool):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("depth video"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), transient=True, disable=not enabled)
