"""Web demo (``litedepth serve``): upload an image or take a webcam snapshot, pick a model,
see the depth map and a near-object alert overlay.

The work is split so that everything but the page is testable without Gradio:

* :class:`ModelSource` names one entry of the model picker (a registered network with
  optional weights, a ``litedepth train`` checkpoint, or an exported ONNX file run by
  onnxruntime) and builds its :class:`~litedepth.inference.Predictor` on first use.
* :func:`near_region_overlay` is the default alert overlay, computed from the depth map
  alone with the alert logic of :mod:`litedepth.apps.alerts`: pixels nearer than
  ``near_m`` / ``close_m`` are tinted, the distance of the left / ahead / right thirds of the
  image is printed on it, and near thirds are announced. :func:`detector_overlay` does the
  same for the boxes of an object detector (``litedepth serve --detector ...``).
* :class:`DepthService` runs a prediction and the overlay for one image. Its ``overlay``
  argument is the hook for other alert logic: any callable with the signature of
  :data:`OverlayFn` (e.g. one that runs an object detector and ``litedepth assist``'s alert
  policy) replaces the depth-only overlay.
* :func:`build_app` lays out the Gradio page (an optional dependency: ``pip install
  'litedepth[serve]'``) and :func:`launch` serves it, on ``127.0.0.1`` unless told otherwise.

The page's prediction is also an HTTP API endpoint, ``/predict`` (inputs: image, model label,
near threshold in metres; outputs: depth image, overlay image, summary text), callable with
``gradio_client``.

Example:
    >>> service = DepthService([ModelSource("lite-mono-tiny", "lite-mono-tiny")], input_size=(64, 96))  # doctest: +SKIP
    >>> result = service.predict(rgb, "lite-mono-tiny")  # doctest: +SKIP
    >>> result.depth_rgb.shape == rgb.shape  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError, DataError

log = logging.getLogger(__name__)

__all__ = [
    "DIRECTIONS",
    "DepthService",
    "ModelSource",
    "OverlayFn",
    "OverlayResult",
    "ServeResult",
    "build_app",
    "detector_overlay",
    "launch",
    "near_region_overlay",
]

#: names of the image thirds, left to right
DIRECTIONS = ("left", "ahead", "right")
_NEAR_RGB = np.array([230, 30, 30], np.float32)
_CLOSE_RGB = np.array([255, 160, 0], np.float32)
GRADIO_HINT = "the web demo needs Gradio: pip install 'litedepth[serve]'"


@dataclass(frozen=True)
class ModelSource:
    """One entry of the model picker.

    Attributes:
        label: the name shown in the picker (unique).
        network: registered network name (``None`` for an ONNX file).
        weights: weights for ``network`` (a file or a folder of official files).
        checkpoint: a ``litedepth train`` checkpoint instead.
        onnx: an exported ``.onnx`` file, run by onnxruntime.
    """

    label: str
    network: str | None = None
    weights: str | None = None
    checkpoint: str | None = None
    onnx: str | None = None

    @property
    def random_weights(self) -> bool:
        """True for a registered network without weights (an untrained network)."""
        return self.network is not None and not (self.weights or self.checkpoint or self.onnx)

    def build(self, input_size: tuple[int, int] | None = None, device: str | None = None):
        """The :class:`~litedepth.inference.Predictor` of this entry (input size: ``input_size``
        or the network's training / export size); loaded by the one loader, so that its output
        spec and whether its weights are trained travel with it."""
        from litedepth.inference import Predictor

        if self.onnx or self.checkpoint:
            return Predictor.load(self.onnx or self.checkpoint, network=self.network if self.checkpoint else None,
                                  input_size=input_size, device=device)
        if self.network is None:
            raise ConfigError(f"model entry {self.label!r} names no network, checkpoint or ONNX file")
        return Predictor.load(self.network, weights=self.weights, input_size=input_size, device=device)


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
    :mod:`litedepth.apps.alerts` (the alert logic of ``litedepth assist``): a low percentile
    of its valid depths (:func:`~litedepth.apps.alerts.object_distance`), bands ``near`` <
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
    from litedepth.apps.alerts import AlertConfig, AlertPolicy, Detection, Observation, object_distance

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
            :class:`~litedepth.utils.video_io.Frame`, e.g. from
            :func:`litedepth.apps.detectors.create_detector` (SSDlite, Faster R-CNN, YOLO).
        percentile: percentile of the valid depth inside a box (or mask) taken as the
            object's distance (:func:`~litedepth.apps.alerts.object_distance`).

    Returns:
        an :data:`OverlayFn`: near / close pixels tinted, each object boxed in its band's
        colour with its label and distance, and a stateless
        :class:`~litedepth.apps.alerts.AlertPolicy` decision announcing objects nearer than
        the close limit (near first, then nearest and most central).
    """
    from litedepth.apps.alerts import AlertConfig, AlertPolicy, Observation, object_distance
    from litedepth.utils.video_io import Frame

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
    """

    depth_rgb: np.ndarray
    overlay_rgb: np.ndarray
    depth: np.ndarray
    units: str
    messages: list[str]
    summary: str
    latency_ms: float


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
    """

    sources: Sequence[ModelSource]
    input_size: tuple[int, int] | None = None
    device: str | None = None
    close_m: float = 2.0
    relative_scale: float = 1.0
    overlay: OverlayFn = near_region_overlay
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
        from litedepth.inference.visualize import colorize

        if rgb is None:
            raise DataError(None, "no image: upload one or take a webcam snapshot")
        label = label or self.labels[0]
        image = to_rgb_array(rgb)
        predictor = self.predictor(label)
        start = time.perf_counter()
        pred = predictor.infer_image(image)
        latency_ms = (time.perf_counter() - start) * 1e3
        spec = pred.spec
        if spec.needs_alignment:  # affine-invariant disparity: show it, announce nothing in any unit
            depth = None
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
        if depth is None:
            return ServeResult(depth_rgb, image.copy(), pred.raw, units, [], head, latency_ms)
        result = self.overlay(image, depth, units, near, close)
        lines = [head]
        lines += result.messages or [f"nothing nearer than {close:g} m" if units == "metres"
                                     else f"nothing nearer than {close:g} (relative units)"]
        return ServeResult(depth_rgb, result.image, depth, units, result.messages, "\n".join(lines), latency_ms)


def build_app(service: DepthService, title: str = "litedepth depth demo"):
    """The Gradio page of ``service`` (a ``gradio.Blocks``; not launched).

    Raises:
        ConfigError: Gradio is not installed.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio as gr
    except ImportError as exc:
        raise ConfigError(GRADIO_HINT) from exc

    def run(image: np.ndarray | None, label: str, near_m: float):
        try:
            r = service.predict(image, label, near_m)
        except (DataError, ConfigError) as exc:
            raise gr.Error(str(exc)) from exc
        return r.depth_rgb, r.overlay_rgb, r.summary

    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(f"## {title}\nUpload an image or take a webcam snapshot, pick a model, press "
                    "**Estimate depth**. Bright = near. The overlay tints what is nearer than the "
                    "near (red) and close (orange) limits and announces what is near: detected "
                    "objects, or the left / ahead / right thirds of the view without a detector.")
        with gr.Row():
            with gr.Column():
                image = gr.Image(sources=["upload", "webcam", "clipboard"], type="numpy", label="image",
                                 elem_id="input-image")
                shown = [(f"{s.label} (untrained: random weights)" if s.random_weights else s.label, s.label)
                         for s in service.sources]
                model = gr.Dropdown(choices=shown, value=service.labels[0], label="model", elem_id="model")
                near = gr.Slider(0.2, 5.0, value=1.0, step=0.1, label="near limit (m)", elem_id="near")
                button = gr.Button("Estimate depth", variant="primary", elem_id="run")
            with gr.Column():
                depth = gr.Image(label="depth", type="numpy", format="png", interactive=False, elem_id="depth")
                overlay = gr.Image(label="alert overlay", type="numpy", format="png", interactive=False,
                                   elem_id="overlay")
                summary = gr.Textbox(label="alerts", lines=4, interactive=False, elem_id="summary")
        button.click(run, [image, model, near], [depth, overlay, summary], api_name="predict")
    return app


def launch(app: Any, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> str:
    """Serve ``app`` (from :func:`build_app`) on ``host:port``; returns the local URL.

    ``block=False`` returns once the server is up (stop it with ``app.close()``).
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: reachable from other machines, without authentication", host)
    _, local_url, _ = app.launch(server_name=host, server_port=int(port), prevent_thread_lock=True,
                                 share=False, quiet=True, show_error=True, inbrowser=False)
    url = str(local_url or f"http://{host}:{port}/")
    log.info("litedepth web demo on %s (Ctrl+C stops it)", url)
    if block:
        try:
            app.block_thread()
        finally:
            app.close()
    return url


def default_sources(models: Sequence[str] | None = None, weights: dict[str, str] | None = None,
                    checkpoints: Sequence[str] = (), onnx_files: Sequence[str] = ()) -> list[ModelSource]:
    """Picker entries from command-line style options.

    Args:
        models: registered depth networks (default: all of them when nothing else is given;
            ``lite-mono-tiny`` first).
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
