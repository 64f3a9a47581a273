"""Web demo (``litedepth serve``): upload an image, take a webcam snapshot or pick an example,
pick a model, see the depth map with its colour bar, a near-object alert overlay and a 3-D view
of the point cloud, download the raw depth and the point cloud; or turn a video into a depth video.

The work is split so that everything but the page is testable without Gradio:

* :class:`ModelSource` names one entry of the model picker (a registered network with
  optional weights, a ``litedepth train`` checkpoint, or an exported ONNX file run by
  onnxruntime) and builds its :class:`~litedepth.inference.Predictor` on first use. Entries
  without weights are untrained: the picker, the map and the summary say so, and their random
  weights come from a fixed seed (the same network at every start).
* :func:`near_region_overlay` is the default alert overlay, computed from the depth map
  alone with the alert logic of :mod:`litedepth.apps.assistant.alerts`: pixels nearer than
  ``near_m`` / ``close_m`` are tinted, the distance of the left / ahead / right thirds of the
  image is printed on it, and near thirds are announced. :func:`detector_overlay` does the
  same for the boxes of an object detector (``litedepth serve --detector ...``).
* :class:`DepthService` runs a prediction and the overlay for one image, and draws the map
  with its colour bar and unit (metres for metric depth; "relative", never metres, otherwise).
  Its ``overlay`` argument is the hook for other alert logic: any callable with the signature
  of :data:`OverlayFn` (e.g. one that runs an object detector and ``litedepth assist``'s alert
  policy) replaces the depth-only overlay.
* :mod:`litedepth.apps.serve_media` renders the example inputs (synthetic scenes), writes the
  downloads (``.npy``, 16-bit PNG, ``.ply``, the ``.glb`` of the 3-D view) and the depth videos.
* :func:`build_app` lays out the Gradio page (an optional dependency: ``pip install
  'litedepth[serve]'``) and :func:`launch` serves it, on ``127.0.0.1`` unless told otherwise.

Under attack and failure:

* Uploads are capped (:class:`UploadLimits`: bytes, refused by the upload route before they
  are stored, and pixels, read from the image header) before anything is decoded
  (:func:`read_upload`); an empty, non-image, truncated or oversized upload is refused with a
  message naming the file and the problem (one log line, no traceback).
* :func:`private_storage` keeps uploads and results in a private temporary folder (``0700``,
  files ``0600``) that is removed when the server stops (Ctrl+C or SIGTERM).
* :meth:`DepthService.check_models` loads and runs every model before the server starts, so
  a bad ONNX file, a refused pickle or truncated weights stop it with one line.

The page's predictions are also HTTP API endpoints, callable with ``gradio_client``:
``/predict`` (inputs: image, model label, near threshold in metres, field of view in degrees;
outputs: depth view with colour bar, overlay image, summary text, download files, 3-D view
``.glb``, a note on the files) and ``/predict_video`` (video, model label -> depth video,
summary).

Example:
    >>> service = DepthService([ModelSource("lite-mono-tiny", "lite-mono-tiny")], input_size=(64, 96))  # doctest: +SKIP
    >>> result = service.predict(rgb, "lite-mono-tiny")  # doctest: +SKIP
    >>> result.depth_rgb.shape == rgb.shape  # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError, DataError, LitedepthError

log = logging.getLogger(__name__)

__all__ = [
    "DIRECTIONS",
    "DepthService",
    "ModelSource",
    "OverlayFn",
    "OverlayResult",
    "ServeResult",
    "UploadLimits",
    "build_app",
    "detector_overlay",
    "launch",
    "near_region_overlay",
    "private_storage",
    "read_upload",
]

#: names of the image thirds, left to right
DIRECTIONS = ("left", "ahead", "right")
_NEAR_RGB = np.array([230, 30, 30], np.float32)
_CLOSE_RGB = np.array([255, 160, 0], np.float32)
GRADIO_HINT = "the web demo needs Gradio: pip install 'litedepth[serve]'"
#: torch seed of the random weights of untrained picker entries
RANDOM_WEIGHTS_SEED = 0


@dataclass(frozen=True)
class UploadLimits:
    """What the demo accepts from a visitor.

    Attributes:
        max_bytes: largest upload in bytes (``litedepth serve --max-upload-mb``).
        max_pixels: largest image (or video frame) in pixels, width x height, read from the
            file's header before decoding (``--max-upload-mp``): a small file can decode to a
            huge image.
        max_video_frames: frames of an uploaded video that are turned into a depth video
            (``--max-video-frames``); the rest is ignored, and the page says so.
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_video_frames: int = 150

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ConfigError(f"--max-upload-mb must be > 0, got {self.max_bytes / 2**20:g}")
        if self.max_pixels < 1:
            raise ConfigError(f"--max-upload-mp must be > 0, got {self.max_pixels / 1e6:g}")
        if self.max_video_frames < 1:
            raise ConfigError(f"--max-video-frames must be >= 1, got {self.max_video_frames}")

    def check_bytes(self, path: Path, label: str) -> int:
        """The size of the uploaded file ``path`` in bytes, from the file system.

        Raises:
            DataError: missing, empty or over :attr:`max_bytes` (the message calls it ``label``).
        """
        try:
            size = path.stat().st_size
        except OSError:
            raise DataError(label, "the upload is missing on the server (expired? upload it again)") from None
        if size == 0:
            raise DataError(label, "empty upload (0 bytes)")
        if size > self.max_bytes:
            raise DataError(label, f"upload of {size / 2**20:.1f} MB is over the limit of "
                                   f"{self.max_bytes / 2**20:g} MB (litedepth serve --max-upload-mb)")
        return size


def read_upload(path: str | Path, limits: UploadLimits = UploadLimits(), name: str | None = None) -> np.ndarray:
    """Check an uploaded file against ``limits``, then decode it: ``(H, W, 3)`` uint8 RGB.

    The byte size comes from the file system and the pixel size from the image header, both
    before any pixel is decoded.

    Args:
        path: the uploaded file.
        limits: the caps.
        name: what to call the file in messages (default: its file name).

    Raises:
        DataError: an empty file, one over a cap, not an image, or a truncated / corrupt one;
            the message names the file and the problem.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    label = name or path.name
    limits.check_bytes(path, label)
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > limits.max_pixels:
                raise DataError(label, f"image of {w}x{h} pixels ({w * h / 1e6:.1f} megapixels) is over the limit of "
                                       f"{limits.max_pixels / 1e6:g} megapixels (litedepth serve --max-upload-mp)")
            img.load()
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except Image.DecompressionBombError:
        raise DataError(label, f"image is far over the limit of {limits.max_pixels / 1e6:g} megapixels "
                               "(litedepth serve --max-upload-mp)") from None
    except UnidentifiedImageError:
        raise DataError(label, "not an image (PNG, JPEG, BMP, WebP, TIFF...)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(label, f"truncated or corrupt image ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    return np.ascontiguousarray(rgb)


@dataclass(frozen=True)
class ModelSource:
    """One entry of the model picker.

    Attributes:
        label: the name shown in the picker (unique).
        network: registered network name (``None`` for an ONNX file).
        weights: weights for ``network`` (a file or a folder of official files).
        checkpoint: a ``litedepth train`` checkpoint instead.
        onnx: an exported ``.onnx`` file, run by onnxruntime.
        source: any other source of :func:`~litedepth.inference.load_model`: a transformers
            depth model (``hf:owner/name``, ``hf:FOLDER``, a published name such as
            ``depth-anything-v2-small``) or a litedepth network in the Hugging Face format
            (``hub:owner/name`` or its folder).
    """

    label: str
    network: str | None = None
    weights: str | None = None
    checkpoint: str | None = None
    onnx: str | None = None
    source: str | None = None

    @property
    def random_weights(self) -> bool:
        """True for a registered network without weights (an untrained network, initialised
        from the seed :data:`RANDOM_WEIGHTS_SEED`, so that it is the same at every start)."""
        return self.network is not None and not (self.weights or self.checkpoint or self.onnx)

    def build(self, input_size: tuple[int, int] | None = None, device: str | None = None):
        """The :class:`~litedepth.inference.Predictor` of this entry (input size: ``input_size``
        or the network's training / export size); loaded by the one loader, so that its output
        spec and whether its weights are trained travel with it."""
        from litedepth.inference import Predictor

        if self.source:
            return Predictor.load(self.source, input_size=input_size, device=device)
        if self.onnx or self.checkpoint:
            return Predictor.load(self.onnx or self.checkpoint, network=self.network if self.checkpoint else None,
                                  input_size=input_size, device=device)
        if self.network is None:
            raise ConfigError(f"model entry {self.label!r} names no network, checkpoint or ONNX file")
        if not self.random_weights:
            return Predictor.load(self.network, weights=self.weights, input_size=input_size, device=device)
        import torch

        with torch.random.fork_rng(devices=[]):  # the same untrained network at every start
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            return Predictor.load(self.network, input_size=input_size, device=device)


@dataclass
class OverlayResult:
    """What an overlay function returns.

    Attributes:
        image: ``(H, W, 3)`` uint8 annotated image.
        messages: alert lines, most urgent first (empty: nothing to say).
        nearest_m: nearest distance found (units of the depth map), ``None`` if no valid pixel.
    """

    image: np.ndarray
    messages: list[str]
    nearest_m: float | None = None


#: ``overlay(rgb (H, W, 3) uint8, depth (H, W) float32, units, near_m, close_m) -> OverlayResult``
OverlayFn = Callable[[np.ndarray, np.ndarray, str, float, float], OverlayResult]


def near_region_overlay(
    rgb: np.ndarray,
    depth: np.ndarray,
    units: str = "metres",
    near_m: float = 1.0,
    close_m: float = 2.0,
    percentile: float = 15.0,
) -> OverlayResult:
    """Depth-only alert overlay: tint near / close pixels and announce near thirds of the view.

    Without an object detector, the left, ahead and right thirds of the image stand in for
    objects (label ``"obstacle"``). Each gets the distance, band and message of
    :mod:`litedepth.apps.assistant.alerts` (the alert logic of ``litedepth assist``): a low percentile
    of its valid depths (:func:`~litedepth.apps.assistant.alerts.object_distance`), bands ``near`` <
    ``near_m`` <= ``close`` < ``close_m``, and one stateless :class:`AlertPolicy` decision
    (every region nearer than ``close_m`` announced, most urgent, nearest and most central
    first).

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        depth: ``(H, W)`` depth along the optical axis (metres, or relative units as ``units``
            says); non-finite and ``<= 0`` pixels are ignored.
        units: ``"metres"``, or a description of relative units (messages then say so).
        near_m: pixels nearer than this are tinted red (band ``near``).
        close_m: pixels nearer than this are tinted orange (band ``close``).
        percentile: percentile of a region's depths taken as its distance.

    Returns:
        :class:`OverlayResult` (same size as ``rgb``).

    Raises:
        DataError: ``rgb`` and ``depth`` sizes differ.
        ConfigError: ``not 0 < near_m < close_m``.

    Example:
        >>> depth = np.full((4, 6), 3.0, np.float32); depth[:, :2] = 0.5
        >>> near_region_overlay(np.zeros((4, 6, 3), np.uint8), depth).messages
        ['obstacle on the left, 0.5 metres']
        >>> near_region_overlay(np.zeros((4, 6, 3), np.uint8), depth, units="relative").messages
        ['obstacle on the left, relative distance 0.5']
    """
    from litedepth.apps.assistant.alerts import AlertConfig, AlertPolicy, Detection, Observation, object_distance

    rgb = np.asarray(rgb)
    depth = np.asarray(depth, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[:2] != depth.shape:
        raise DataError(None, f"image {rgb.shape} and depth {depth.shape} sizes differ")
    if not 0.0 < near_m < close_m:
        raise ConfigError(f"limits must satisfy 0 < near < close, got near={near_m}, close={close_m}")
    metric = units == "metres"
    out = _tint(rgb, depth, near_m, close_m)
    h, w = depth.shape
    edges = [0, w // 3, (2 * w) // 3, w]
    observations = []
    for i in range(3):
        box = (float(edges[i]), 0.0, float(edges[i + 1]), float(h))
        observations.append(Observation(Detection(box, "obstacle"),
                                        object_distance(depth, box, percentile=percentile, min_valid=1)))
    policy = AlertPolicy(AlertConfig(bands_m=(near_m, close_m), min_hits=1, min_interval_s=0.0, cooldown_s=0.0,
                                     max_alerts_per_frame=len(observations), units="metres" if metric else "relative"))
    decision = policy.update(0.0, 0, observations, image_width=w)
    messages = [a.message for a in decision.alerts]  # relative distances are never called metres
    labels = [(edges[i], d, o.distance_m) for i, (o, d) in enumerate(zip(observations, DIRECTIONS))]
    image = _draw_labels(out, labels, "m" if metric else "", edges)
    distances = [o.distance_m for o in observations if o.distance_m is not None]
    return OverlayResult(image, messages, min(distances) if distances else None)


def _tint(rgb: np.ndarray, depth: np.ndarray, near_m: float, close_m: float) -> np.ndarray:
    """``rgb`` with pixels nearer than ``near_m`` tinted red and than ``close_m`` orange."""
    valid = np.isfinite(depth) & (depth > 0)
    out = rgb.astype(np.float32)
    close = valid & (depth < close_m)
    near = valid & (depth < near_m)
    out[close & ~near] = 0.65 * out[close & ~near] + 0.35 * _CLOSE_RGB
    out[near] = 0.45 * out[near] + 0.55 * _NEAR_RGB
    return out.round().clip(0, 255).astype(np.uint8)


_BAND_RGB = {"near": (230, 30, 30), "close": (255, 160, 0), "far": (60, 200, 60), None: (160, 160, 160)}


def detector_overlay(detector: Any, percentile: float = 15.0) -> OverlayFn:
    """An overlay that announces detected objects instead of image thirds.

    Args:
        detector: anything with ``detect(frame) -> list[Detection]`` for a
            :class:`~litedepth.io.video.Frame`, e.g. from
            :func:`litedepth.apps.assistant.detectors.create_detector` (SSDlite, Faster R-CNN, YOLO).
        percentile: percentile of the valid depth inside a box (or mask) taken as the
            object's distance (:func:`~litedepth.apps.assistant.alerts.object_distance`).

    Returns:
        an :data:`OverlayFn`: near / close pixels tinted, each object boxed in its band's
        colour with its label and distance, and a stateless
        :class:`~litedepth.apps.assistant.alerts.AlertPolicy` decision announcing objects nearer than
        the close limit (near first, then nearest and most central).
    """
    from litedepth.apps.assistant.alerts import AlertConfig, AlertPolicy, Observation, object_distance
    from litedepth.io.video import Frame

    def overlay(rgb: np.ndarray, depth: np.ndarray, units: str, near_m: float, close_m: float) -> OverlayResult:
        from PIL import Image, ImageDraw, ImageFont

        depth = np.asarray(depth, dtype=np.float32)
        if rgb.shape[:2] != depth.shape:
            raise DataError(None, f"image {rgb.shape} and depth {depth.shape} sizes differ")
        detections = list(detector.detect(Frame(0, rgb, 0.0)))
        observations = [Observation(d, object_distance(depth, d.box, d.mask, percentile=percentile, min_valid=1))
                        for d in detections]
        policy = AlertPolicy(AlertConfig(bands_m=(near_m, close_m), min_hits=1, min_interval_s=0.0,
                                         cooldown_s=0.0, max_alerts_per_frame=max(1, len(observations)),
                                         units="metres" if units == "metres" else "relative"))
        decision = policy.update(0.0, 0, observations, image_width=depth.shape[1])
        pil = Image.fromarray(_tint(rgb, depth, near_m, close_m))
        draw = ImageDraw.Draw(pil)
        w = depth.shape[1]
        try:
            font = ImageFont.load_default(size=max(9, w // 40))
        except TypeError:  # Pillow < 10.1
            font = ImageFont.load_default()
        unit = "m" if units == "metres" else ""
        for obj in decision.objects:
            colour = _BAND_RGB.get(obj.band, _BAND_RGB[None])
            draw.rectangle(obj.box, outline=colour, width=max(1, w // (150 if obj.alerted else 300)))
            dist = "?" if obj.distance_m is None else f"{obj.distance_m:.2f}{unit}"
            draw.text((obj.box[0] + 2, obj.box[1] + 2), f"{obj.label} {dist}", fill=colour, font=font,
                      stroke_width=1, stroke_fill=(0, 0, 0))
        messages = [a.message for a in decision.alerts]
        distances = [o.distance_m for o in observations if o.distance_m is not None]
        return OverlayResult(np.asarray(pil), messages, min(distances) if distances else None)

    return overlay


def _draw_labels(image: np.ndarray, labels: list[tuple[int, str, float | None]], unit: str,
                 edges: list[int]) -> np.ndarray:
    """Third boundaries and each third's distance (font scaled to the image width)."""
    from PIL import Image, ImageDraw, ImageFont

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    h, w = image.shape[:2]
    try:
        font = ImageFont.load_default(size=max(9, w // 30))
    except TypeError:  # Pillow < 10.1: one bitmap size
        font = ImageFont.load_default()
    for x in edges[1:-1]:
        draw.line([(x, 0), (x, h - 1)], fill=(255, 255, 255), width=max(1, w // 400))
    for (x0, _, d), x1 in zip(labels, edges[1:]):
        text = f"{d:.2f}{unit}" if d is not None else "-"
        draw.text(((x0 + x1) / 2, 2), text, fill=(255, 255, 255), font=font, anchor="ma",
                  stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(pil)


@dataclass
class ServeResult:
    """One prediction of the demo.

    Attributes:
        depth_rgb: ``(H, W, 3)`` uint8 colourised map (plasma, near = bright).
        overlay_rgb: ``(H, W, 3)`` uint8 alert overlay.
        depth: ``(H, W)`` float32 depth (metres, or relative as ``units`` says; for a
            relative-disparity network its raw disparity, and no distances are announced).
        units: ``"metres"`` or a statement that the scale is relative.
        messages: alert lines from the overlay.
        summary: one paragraph for the page.
        latency_ms: network time (pre- and post-processing included).
        depth_view: ``(H', W', 3)`` uint8 the map with its colour bar, tick values, unit and
            the model's name (and whether it is untrained) written on it
            (:func:`~litedepth.utils.visualize.map_with_colorbar`).
        quantity: ``"depth"``, or ``"disparity"`` for a relative-disparity network.
        label: the picker entry that made it.
        untrained: the network has random weights.
    """

    depth_rgb: np.ndarray
    overlay_rgb: np.ndarray
    depth: np.ndarray
    units: str
    messages: list[str]
    summary: str
    latency_ms: float
    depth_view: np.ndarray | None = None
    quantity: str = "depth"
    label: str = ""
    untrained: bool = False

    @property
    def metric(self) -> bool:
        """True when :attr:`depth` is in metres."""
        return self.units == "metres"


#: the red of warnings drawn on images (untrained networks)
_WARNING_RGB = (200, 0, 0)


def _depth_view(values: np.ndarray, label: str, untrained: bool, units: str, quantity: str) -> np.ndarray:
    """The map with its colour bar and what it is, for the page."""
    from litedepth.utils.visualize import map_with_colorbar

    heads = [(label, (0, 0, 0))]
    if untrained:
        heads.append(("UNTRAINED: random weights, the map is noise", _WARNING_RGB))
    if quantity == "disparity":
        what, bar, unit = "relative disparity: no unit, scale and shift unknown; near = bright", \
            "relative disparity (no unit)", ""
    elif units == "metres":
        what, bar, unit = "metric depth in metres; near = bright", "depth (m)", "m"
    else:
        what, bar, unit = "relative depth: no unit, scale unknown; near = bright", "relative depth (no unit)", ""
    return map_with_colorbar(values, label=bar, unit=unit, invert=quantity == "depth",
                             title=[*heads, (what, (0, 0, 0))])


@dataclass
class DepthService:
    """Predictions and overlays for the demo, independent of the web framework.

    Args:
        sources: the model picker's entries (the first is the default).
        input_size: ``(height, width)`` network input for every entry (default: each entry's
            own training / export size).
        device: ``"cpu"`` / ``"cuda"`` (default: CUDA when available).
        close_m: the ``close`` band's limit in metres (the ``near`` limit is per request).
        relative_scale: factor applied to the relative depth of disparity networks before the
            thresholds (stated in the summary; 1 = none).
        overlay: the alert overlay hook (default :func:`near_region_overlay`).
        limits: the upload caps of :meth:`predict_upload`.
    """

    sources: Sequence[ModelSource]
    input_size: tuple[int, int] | None = None
    device: str | None = None
    close_m: float = 2.0
    relative_scale: float = 1.0
    overlay: OverlayFn = near_region_overlay
    limits: UploadLimits = field(default_factory=UploadLimits)
    _predictors: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        labels = [s.label for s in self.sources]
        if not labels:
            raise ConfigError("the web demo needs at least one model")
        if len(set(labels)) != len(labels):
            raise ConfigError(f"model labels must be unique, got {labels}")
        if self.relative_scale <= 0:
            raise ConfigError(f"relative scale must be > 0, got {self.relative_scale}")

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.sources]

    def untrained(self, label: str) -> bool:
        """Whether picker entry ``label`` has random weights (from the loaded model when it is
        loaded, e.g. a checkpoint that records it was never trained; else from the entry)."""
        predictor = self._predictors.get(label)
        if predictor is not None and getattr(predictor, "loaded", None) is not None:
            return not predictor.loaded.weights.trained
        return next(s for s in self.sources if s.label == label).random_weights

    def picker_label(self, label: str) -> str:
        """What the model picker shows for ``label``: untrained networks say so."""
        return f"{label} (untrained: random weights)" if self.untrained(label) else label

    def predictor(self, label: str):
        """The (cached) Predictor of picker entry ``label``."""
        by_label = {s.label: s for s in self.sources}
        if label not in by_label:
            raise ConfigError(f"unknown model {label!r}; choose from {', '.join(by_label)}")
        with self._lock:
            if label not in self._predictors:
                source = by_label[label]
                log.info("loading %s", label)
                self._predictors[label] = source.build(self.input_size, self.device)
            return self._predictors[label]

    def check_models(self) -> dict[str, float]:
        """Load every model and run it once on a grey image, before serving.

        Returns:
            ``{label: milliseconds of the check run}``.

        Raises:
            LitedepthError: the first model that cannot be loaded or run (a bad ONNX file, a
                refused or truncated weights file...), naming it.
        """
        timings = {}
        for source in self.sources:
            predictor = self.predictor(source.label)
            h, w = predictor.input_size if getattr(predictor, "input_size", None) else (64, 64)
            start = time.perf_counter()
            try:
                predictor.infer_image(np.full((int(h), int(w), 3), 128, np.uint8))
            except LitedepthError:
                raise
            except Exception as exc:  # noqa: BLE001 - a model that does not run is the user's file / option
                raise ConfigError(f"model {source.label!r} cannot run: {type(exc).__name__}: "
                                  f"{(str(exc).splitlines() or [''])[0][:200]}") from None
            timings[source.label] = (time.perf_counter() - start) * 1e3
            log.info("model %s checked: loads and runs (%.0f ms)", source.label, timings[source.label])
        return timings

    def predict_upload(self, path: str | Path, label: str | None = None, near_m: float = 1.0) -> ServeResult:
        """:meth:`predict` for an uploaded file, checked by :func:`read_upload` first."""
        return self.predict(read_upload(path, self.limits), label, near_m)

    def predict(self, rgb: Any, label: str | None = None, near_m: float = 1.0) -> ServeResult:
        """Depth map and alert overlay of one image.

        Args:
            rgb: ``(H, W, 3)`` uint8 RGB (or anything the Predictor accepts).
            label: picker entry (default: the first).
            near_m: the ``near`` band's limit in metres (``close`` is :attr:`close_m`, or
                ``near_m + 1`` when that is not larger).

        Returns:
            :class:`ServeResult` at the image's resolution.
        """
        from litedepth.inference.predictor import to_rgb_array
        from litedepth.utils.visualize import colorize

        if rgb is None:
            raise DataError(None, "no image: upload one or take a webcam snapshot")
        label = label or self.labels[0]
        image = to_rgb_array(rgb)
        predictor = self.predictor(label)
        start = time.perf_counter()
        pred = predictor.infer_image(image)
        latency_ms = (time.perf_counter() - start) * 1e3
        spec = pred.spec
        quantity = "depth"
        if spec.needs_alignment:  # affine-invariant disparity: show it, announce nothing in any unit
            depth = None
            quantity = "disparity"
            units = "relative disparity (no distances: scale and shift unknown)"
            depth_rgb = colorize(pred.raw)
        else:
            depth = pred.depth
            units = "metres" if pred.depth_units == "metres" else f"relative ({spec.units})"
            if units != "metres" and self.relative_scale != 1.0:
                depth = depth * np.float32(self.relative_scale)
                units = f"relative x {self.relative_scale:g} (scale given; not calibrated)"
            depth_rgb = colorize(depth, invert=True)
        near = float(near_m)
        close = self.close_m if self.close_m > near else near + 1.0
        untrained = not predictor.loaded.weights.trained
        head = (f"{label}{' (UNTRAINED: random weights, output is noise)' if untrained else ''}: "
                f"{'metric depth in metres' if units == 'metres' else units}; {latency_ms:.0f} ms")
        values = pred.raw if depth is None else depth
        view = _depth_view(values, label, untrained, units, quantity)
        extra = dict(depth_view=view, quantity=quantity, label=label, untrained=untrained)
        if depth is None:
            return ServeResult(depth_rgb, image.copy(), pred.raw, units, [], head, latency_ms, **extra)
        result = self.overlay(image, depth, units, near, close)
        lines = [head]
        lines += result.messages or [f"nothing nearer than {close:g} m" if units == "metres"
                                     else f"nothing nearer than {close:g} (relative units)"]
        return ServeResult(depth_rgb, result.image, depth, units, result.messages, "\n".join(lines), latency_ms,
                           **extra)


def import_gradio():  # noqa: ANN201 - the gradio module
    """``import gradio`` (analytics off), or a :class:`ConfigError` saying how to install it."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio as gr
    except ImportError as exc:
        raise ConfigError(GRADIO_HINT) from exc
    return gr


def build_app(service: DepthService, title: str = "litedepth depth demo", max_queue: int = 64,
              workdir: str | Path | None = None):
    """The Gradio page of ``service`` (a ``gradio.Blocks``; not launched).

    One model picker (untrained networks are labelled) serves two tabs:

    * **Image**: an upload / webcam / pasted image, or one of the example scenes
      (:func:`~litedepth.apps.serve_media.make_examples`, rendered into ``workdir`` when the page
      is built) -> the depth map with its colour bar and unit, the alert overlay, the alerts,
      a 3-D view of the coloured point cloud (``.glb`` surface) and downloads of the raw map
      (``.npy``, 16-bit PNG) and of the point cloud (``.ply``), with a field of view input for
      its intrinsics (:func:`~litedepth.apps.serve_media.write_downloads`).
    * **Video**: an uploaded video or the example walk -> a depth video (input | depth, H.264;
      the first :attr:`UploadLimits.max_video_frames` frames).

    Uploads reach :meth:`DepthService.predict_upload` undecoded; a bad one is refused with its
    message (a one-line warning in the log, no traceback). At most ``max_queue`` requests wait
    (more are told the queue is full); files older than an hour are deleted every 10 minutes.
    The two predictions are API endpoints too: ``/predict`` (image, model, near limit in metres,
    field of view in degrees -> depth view, overlay, summary, files, 3-D view, note on the
    files) and ``/predict_video`` (video, model -> depth video, summary).

    Args:
        service: predictions and overlays.
        title: the page's title.
        max_queue: requests that may wait.
        workdir: where the examples and results are written (default: ``$GRADIO_TEMP_DIR``,
            the private folder of :func:`private_storage`, else the system's temporary folder).

    Raises:
        ConfigError: Gradio is not installed.
    """
    from litedepth.apps import serve_media
    from litedepth.inference.pointcloud import DEFAULT_FOV_DEG

    gr = import_gradio()
    work = Path(workdir or os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir())
    examples = serve_media.make_examples(work / "examples")
    results = work / "results"

    def undecoded(payload: Any) -> str | None:
        """The image input's preprocessing: the uploaded file's path, undecoded. (``gr.Image``
        opens it with PIL first, so a non-image fails there with Gradio's own error and a
        traceback; :func:`read_upload` checks and decodes it instead.) Set on the instance:
        subclassing a Gradio component makes Gradio write a ``.pyi`` stub next to our module."""
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):  # base64 image from an API client
            return _save_data_url(payload.url, image.GRADIO_CACHE, service.limits)
        if payload.path is None:
            raise gr.Error("no image was received", print_exception=False)
        return str(payload.path)

    def refuse(exc: LitedepthError) -> Exception:
        log.warning("refused a request: %s", exc)
        return gr.Error(str(exc), title="Cannot use this input", print_exception=False)

    def run(image: str | None, label: str, near_m: float, fov_deg: float):
        try:
            if image is None:
                raise DataError(None, "no image: upload one, take a webcam snapshot or pick an example")
            rgb = read_upload(image, service.limits)
            r = service.predict(rgb, label, near_m)
            stem = f"{serve_media.safe_stem(Path(image).name)}_{serve_media.safe_stem(r.label, 'model')}"
            files = serve_media.write_downloads(_request_folder(results), stem, r, rgb, float(fov_deg))
        except LitedepthError as exc:
            raise refuse(exc) from None
        return (r.depth_view, r.overlay_rgb, r.summary, [str(p) for p in files.files],
                None if files.glb is None else str(files.glb), files.note)

    def run_video(video: str | None, label: str):
        try:
            if video is None:
                raise DataError(None, "no video: upload one or pick the example")
            r = serve_media.predict_video_file(service, video, label, _request_folder(results))
        except LitedepthError as exc:
            raise refuse(exc) from None
        return str(r.video), r.summary

    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(600, 3600)) as app:
        gr.Markdown(f"## {title}\nPick a model, then an image (upload, webcam snapshot or one of the synthetic "
                    "examples) or a video. The depth map's colour bar gives the colours' values: **metres** for "
                    "metric models, **relative** values (no unit) otherwise. Networks marked *untrained* have "
                    "random weights: their maps are noise. The overlay tints what is nearer than the near (red) "
                    "and close (orange) limits and announces it: detected objects, or the left / ahead / right "
                    "thirds of the view without a detector.")
        model = gr.Dropdown(choices=[(service.picker_label(label), label) for label in service.labels],
                            value=service.labels[0], label="model", elem_id="model")
        with gr.Tabs():
            with gr.Tab("Image", elem_id="image-tab"):
                with gr.Row():
                    with gr.Column():
                        image = gr.Image(sources=["upload", "webcam", "clipboard"], type="filepath", image_mode=None,
                                         label="image", elem_id="input-image")
                        image.preprocess = undecoded
                        near = gr.Slider(0.2, 5.0, value=1.0, step=0.1, label="near limit (m)", elem_id="near")
                        fov = gr.Slider(20, 120, value=DEFAULT_FOV_DEG, step=1, elem_id="fov",
                                        label="camera field of view (degrees, horizontal): the point cloud's "
                                              "intrinsics (phones and webcams: about 60-70)")
                        button = gr.Button("Estimate depth", variant="primary", elem_id="run")
                        gr.Examples([[str(p)] for p in examples.images], inputs=[image], elem_id="examples",
                                    label="examples: synthetic scenes rendered by litedepth (click one, then "
                                          "Estimate depth)")
                    with gr.Column():
                        depth = gr.Image(label="depth (colour bar in the map's units)", type="numpy", format="png",
                                         interactive=False, show_label=False, buttons=["download", "fullscreen"],
                                         elem_id="depth")
                        overlay = gr.Image(label="alert overlay", type="numpy", format="png", interactive=False,
                                           buttons=["download", "fullscreen"], elem_id="overlay")
                        summary = gr.Textbox(label="alerts", lines=4, interactive=False, elem_id="summary")
                with gr.Row():
                    view3d = gr.Model3D(label="3-D view of the coloured point cloud (drag: turn, scroll: zoom)",
                                        clear_color=(0.93, 0.93, 0.93, 1.0), camera_position=(65, 75, None),
                                        height=420, elem_id="view3d")
                    with gr.Column():
                        downloads = gr.File(label="downloads: raw depth and point cloud", file_count="multiple",
                                            interactive=False, elem_id="downloads")
                        note = gr.Markdown(elem_id="downloads-note")
            with gr.Tab("Video", elem_id="video-tab"):
                with gr.Row():
                    with gr.Column():
                        video_in = gr.Video(sources=["upload"], label="video", elem_id="input-video")
                        video_button = gr.Button("Make a depth video", variant="primary", elem_id="run-video")
                        gr.Markdown(f"The first {service.limits.max_video_frames} frames are used "
                                    f"(`--max-video-frames`); frames larger than {serve_media.MAX_VIDEO_SIDE} pixels "
                                    "are shrunk.")
                        if examples.video is not None:
                            gr.Examples([[str(examples.video)]], inputs=[video_in], elem_id="video-examples",
                                        label="example: a walk down a synthetic street")
                    with gr.Column():
                        video_out = gr.Video(label="depth video (left: input, right: depth, near = bright)",
                                             interactive=False, elem_id="output-video")
                        video_summary = gr.Textbox(label="about this video", lines=4, interactive=False,
                                                   elem_id="video-summary")
        button.click(run, [image, model, near, fov], [depth, overlay, summary, downloads, view3d, note],
                     api_name="predict")
        video_button.click(run_video, [video_in, model], [video_out, video_summary], api_name="predict_video")
    app.queue(max_size=max_queue)
    return app


def _request_folder(root: Path, keep_s: float = 3600.0) -> Path:
    """A new private folder under ``root`` for one request's files; folders older than
    ``keep_s`` are removed first (Gradio serves its own copies of returned files)."""
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        with contextlib.suppress(OSError):
            if old.is_dir() and now - old.stat().st_mtime > keep_s:
                shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="request-", dir=root))


def _save_data_url(url: str, folder: str | Path, limits: UploadLimits) -> str:
    """Write a ``data:image/...;base64,...`` payload into ``folder`` (size checked before
    decoding the base64); returns the file's path."""
    import base64
    import binascii

    header, _, data = url.partition(",")
    if len(data) * 3 // 4 > limits.max_bytes:
        raise DataError("the pasted image", f"upload of about {len(data) * 3 / 4 / 2**20:.1f} MB is over the limit "
                                            f"of {limits.max_bytes / 2**20:g} MB (litedepth serve --max-upload-mb)")
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise DataError("the pasted image", "not valid base64 image data") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="pasted-", suffix=".img", dir=folder)  # 0600
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    return name


@contextlib.contextmanager
def private_storage(prefix: str = "litedepth-serve-") -> Iterator[Path]:
    """A private temporary folder for the demo's uploads and results, removed on exit.

    The folder is created ``0700`` and, while inside, the process umask is ``077`` (new files
    ``0600``, folders ``0700``) and ``GRADIO_TEMP_DIR`` points at it, so Gradio keeps every
    upload and every result image there. Enter it before :func:`build_app`.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    env_before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    umask_before = os.umask(0o077)
    log.info("uploads and results are kept in %s (private: 0700, files 0600; removed when the server stops)",
             folder)
    try:
        yield folder
    finally:
        os.umask(umask_before)
        if env_before is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = env_before
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed %s", folder)


def launch(app: Any, host: str = "127.0.0.1", port: int = 7860, block: bool = True,
           limits: UploadLimits | None = None) -> str:
    """Serve ``app`` (from :func:`build_app`) on ``host:port``; returns the local URL.

    ``limits.max_bytes`` caps every upload at the upload route, before it is stored.
    ``block=False`` returns once the server is up (stop it with ``app.close()``); with
    ``block=True``, SIGTERM stops the server like Ctrl+C (so that cleanup runs).
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: reachable from other machines, without authentication", host)
    max_bytes = (limits or UploadLimits()).max_bytes
    _, local_url, _ = app.launch(server_name=host, server_port=int(port), prevent_thread_lock=True,
                                 share=False, quiet=True, show_error=True, inbrowser=False,
                                 max_file_size=max_bytes)
    url = str(local_url or f"http://{host}:{port}/")
    log.info("litedepth web demo on %s (Ctrl+C stops it); uploads up to %g MB", url, max_bytes / 2**20)
    if block:
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            app.block_thread()  # returns on KeyboardInterrupt (Ctrl+C, or SIGTERM via _interrupt)
        finally:
            app.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    return url


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _other_source(name: str) -> bool:
    """Whether ``name`` is a model source other than a registered name (``hf:``, ``hub:``, a
    Hub-format or transformers folder, a published transformers model)."""
    from litedepth.inference.hub import HUB_PREFIX, is_litedepth_folder
    from litedepth.models.hf_depth import HF_PREFIX, is_transformers_depth_folder
    from litedepth.weights import load_manifest

    if name.startswith((HF_PREFIX, HUB_PREFIX)):
        return True
    if Path(name).is_dir():
        return is_litedepth_folder(name) or is_transformers_depth_folder(name)
    manifest = load_manifest()
    return name in manifest and manifest.get(name).is_hf


def default_sources(models: Sequence[str] | None = None, weights: dict[str, str] | None = None,
                    checkpoints: Sequence[str] = (), onnx_files: Sequence[str] = ()) -> list[ModelSource]:
    """Picker entries from command-line style options.

    Args:
        models: registered depth networks (default: all of them when nothing else is given;
            ``lite-mono-tiny`` first), or other model sources of
            :func:`~litedepth.inference.load_model`: ``hf:owner/name`` / ``hf:FOLDER`` (a
            transformers depth model), ``hub:owner/name`` or a Hub-format folder (a litedepth
            network), a published name of a transformers model.
        weights: ``{network: weights path}``; a network named here is added if missing.
        checkpoints: ``litedepth train`` checkpoints (labelled by file name).
        onnx_files: exported ONNX files (labelled ``<file> (onnxruntime)``).
    """
    from litedepth.models import list_models, model_info

    weights = dict(weights or {})
    names = list(models or [])
    if not names and not checkpoints and not onnx_files and not weights:
        names = list_models(task="depth")
        names.sort(key=lambda n: n != "lite-mono-tiny")
    for name in weights:
        if name not in names:
            names.append(name)
    sources = []
    for name in names:
        if name not in list_models() and _other_source(name):
            if name in weights:
                raise ConfigError(f"--weights {name}=...: {name} brings its own weights")
            sources.append(ModelSource(name, source=name))
            continue
        if model_info(name).task != "depth":
            raise ConfigError(f"model {name!r} is a {model_info(name).task} network, not a depth network")
        sources.append(ModelSource(name, name, weights=weights.get(name)))
    for ckpt in checkpoints:
        if not Path(ckpt).is_file():
            raise DataError(ckpt, "checkpoint not found")
        sources.append(ModelSource(Path(ckpt).name, checkpoint=str(ckpt)))
    for path in onnx_files:
        if not Path(path).is_file():
            raise DataError(path, "ONNX file not found")
        sources.append(ModelSource(f"{Path(path).name} (onnxruntime)", onnx=str(path)))
    return sources
