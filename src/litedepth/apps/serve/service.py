"""The web demo's predictions, independent of the web framework.

* :class:`ModelSource` names one entry of the model picker (a registered network with
  optional weights, a ``litedepth train`` checkpoint, an exported ONNX file run by onnxruntime,
  or another source of :func:`~litedepth.inference.load_model`) and builds its
  :class:`~litedepth.inference.Predictor` on first use. Entries without weights are untrained:
  the picker, the map and the summary say so, and their random weights come from a fixed seed
  (the same network at every start). :func:`default_sources` makes the entries from
  command-line style options.
* :class:`DepthService` runs a prediction and the alert overlay
  (:mod:`litedepth.apps.serve.overlays`) for one image, and draws the map with its colour bar and
  unit (metres for metric depth; "relative", never metres, otherwise) into a :class:`ServeResult`.
  :meth:`DepthService.check_models` loads and runs every model before the server starts, so a
  bad ONNX file, a refused pickle or truncated weights stop it with one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.apps.serve.overlays import OverlayFn, near_region_overlay
from litedepth.apps.serve.uploads import UploadLimits, read_upload
from litedepth.errors import ConfigError, DataError, LitedepthError

log = logging.getLogger(__name__)

__all__ = ["RANDOM_WEIGHTS_SEED", "DepthService", "ModelSource", "ServeResult", "default_sources"]

#: torch seed of the random weights of untrained picker entries
RANDOM_WEIGHTS_SEED = 0


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
