"""Inference: preprocess -> forward -> postprocess, plus one convenience call.

:class:`Predictor` runs any loaded network (:func:`~litedepth.inference.loading.load_model`:
a registered name, a checkpoint, an official folder, a weights file, an ONNX file) on images
of any size given as a path, a PIL image or an array, and returns :class:`Prediction`
objects that carry the map **with its meaning** (:class:`~litedepth.models.spec.OutputSpec`).
The post-processing step is pluggable: depth networks resize their map back to each image's
size; segmentation and multi-task networks also give class ids
(:class:`DepthPostprocess`, :class:`SegmentationPostprocess`).

Example:
    >>> from litedepth.inference import Predictor
    >>> pred = Predictor.load("runs/demo/checkpoints/best.ckpt")  # doctest: +SKIP
    >>> out = pred.infer_image("photo.jpg")  # doctest: +SKIP
    >>> out.spec.kind, out.depth_units, out.depth.shape  # doctest: +SKIP
    ('depth', 'metres', (480, 640))
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from litedepth.errors import ConfigError, DataError
from litedepth.inference.loading import LoadedModel, load_checkpoint_model, load_model, warn_if_untrained
from litedepth.models.outputs import DepthOutput
from litedepth.models.registry import output_spec_of
from litedepth.models.segmentation_outputs import SegmentationOutput
from litedepth.models.spec import OutputSpec, WeightsInfo, to_depth

log = logging.getLogger(__name__)

__all__ = ["DepthPostprocess", "LoadedModel", "Prediction", "Predictor", "SegmentationPostprocess",
           "load_checkpoint_model", "to_rgb_array"]


@dataclass
class Prediction:
    """One image's prediction, at the image's own resolution, with its meaning.

    Attributes:
        raw: ``(H, W)`` float32 network output in the units of :attr:`spec` (for a multi-task
            network: its depth head; ``None`` for segmentation-only networks).
        spec: what ``raw`` means.
        labels: ``(H, W)`` uint8 class ids of segmentation / multi-task networks, else ``None``.
        source: the image's path when it was given as one.

    ``numpy.asarray(prediction)`` gives :attr:`raw` (or :attr:`labels` for segmentation).

    Example:
        >>> p = Prediction(np.ones((2, 2), np.float32), OutputSpec.metric_depth())
        >>> p.depth_units, float(p.depth[0, 0])
        ('metres', 1.0)
    """

    raw: np.ndarray | None
    spec: OutputSpec
    labels: np.ndarray | None = None
    source: str | None = None

    @property
    def depth(self) -> np.ndarray:
        """``(H, W)`` float32 depth (:func:`~litedepth.models.spec.to_depth`); metres when
        :attr:`depth_units` is ``"metres"``, else relative.

        Raises:
            ConfigError: relative-disparity (needs alignment), segmentation-only output, or a
                sigmoid disparity whose range is unknown.
        """
        if self.raw is None:
            raise ConfigError("a segmentation network predicts no depth")
        return np.asarray(to_depth(self.raw, self.spec), dtype=np.float32)

    @property
    def depth_units(self) -> str:
        """``"metres"`` or ``"relative"`` (:attr:`OutputSpec.depth_units`)."""
        return self.spec.depth_units

    @property
    def units(self) -> str:
        """What :attr:`raw` holds, in words."""
        return self.spec.units

    @property
    def kind(self) -> str:
        """Legacy two-word kind (``"depth"`` or ``"disparity"``); prefer :attr:`spec`."""
        return "depth" if self.spec.kind == "depth" else "disparity"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple((self.raw if self.raw is not None else self.labels).shape)  # type: ignore[union-attr]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.raw if self.raw is not None else self.labels
        return np.asarray(arr, dtype=dtype)


def to_rgb_array(image: Any) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB array from a path, a PIL image or an array.

    Arrays may be ``(H, W)`` grey, ``(H, W, 3|4)`` uint8, or float in ``[0, 1]``.

    Raises:
        DataError: unreadable file or an array of another shape (naming what was given).
    """
    from PIL import Image

    if isinstance(image, (str, Path)):
        from litedepth.io.images import read_rgb

        return read_rgb(image)
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise DataError(None, f"expected an image path, a PIL image or an RGB array (H, W, 3); got "
                              f"{type(image).__name__} of shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.max() <= 1.0:
            arr = (arr * 255.0).round()
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return arr


_to_rgb_array = to_rgb_array  # old private name, used by external code


def _resize(t: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(t.shape[-2:]) == tuple(size):
        return t.float()
    return F.interpolate(t.float(), size=size, mode="bilinear", align_corners=False)


class DepthPostprocess:
    """Resize the depth map of each image back to the image's size (bilinear, as the
    evaluation protocols resize; values keep the network's units)."""

    def __call__(self, output: Any, sizes: Sequence[tuple[int, int]], spec: OutputSpec) -> list[Prediction]:
        pred = output.pred if isinstance(output, DepthOutput) else output
        if not isinstance(pred, torch.Tensor) or pred.dim() != 4:
            raise ConfigError(f"expected a depth network output (B, 1, H, W), got {type(output).__name__}")
        return [Prediction(_resize(pred[i : i + 1], size)[0, 0].cpu().numpy().astype(np.float32), spec)
                for i, size in enumerate(sizes)]


class SegmentationPostprocess:
    """Class ids by ``argmax`` of the logits resized to each image (bilinear); a multi-task
    network's depth head is resized like :class:`DepthPostprocess`."""

    def __call__(self, output: Any, sizes: Sequence[tuple[int, int]], spec: OutputSpec) -> list[Prediction]:
        if not isinstance(output, SegmentationOutput) or output.logits is None:
            raise ConfigError(f"expected a segmentation network output, got {type(output).__name__}")
        results = []
        for i, size in enumerate(sizes):
            labels = _resize(output.logits[i : i + 1], size).argmax(1)[0].to(torch.uint8).cpu().numpy()
            raw = None
            if output.depth is not None:
                raw = _resize(output.depth.pred[i : i + 1], size)[0, 0].cpu().numpy().astype(np.float32)
            results.append(Prediction(raw, spec, labels))
        return results


Postprocess = Callable[[Any, Sequence[tuple[int, int]], OutputSpec], list[Prediction]]


class Predictor:
    """Run a network on images of any size: preprocess -> forward -> postprocess.

    Args:
        model: a :class:`LoadedModel` (from :func:`load_model`), or an ``nn.Module`` whose
            ``forward`` takes RGB ``(B, 3, H, W)`` in ``[0, 1]`` and that declares its
            ``output_spec`` (every network from :func:`litedepth.models.create_model` does).
        input_size: ``(height, width)`` each image is resized to (antialiased bilinear) before
            the network; default: the loaded model's training size. Must be a multiple of
            the spec's ``size_multiple``. For a network that applies its own image processor
            (``own_preprocessing``: the transformers backends of ``hf:`` sources) images are
            passed at their own size and ``input_size`` sets the processor's size instead
            (Depth Anything: the lower bound of its aspect-keeping resize).
        device: ``"cpu"``, ``"cuda"``; default CUDA when available.
        spec: the output spec of a module that does not declare one.
        postprocess: turns the network output into :class:`Prediction` objects (default:
            by output type, :class:`DepthPostprocess` or :class:`SegmentationPostprocess`).
        weights: where the weights of a bare ``nn.Module`` came from (default: its
            ``weights_info``); untrained weights are warned about.
        kind: deprecated (the spec says it); must agree with the spec when given.

    Attributes:
        spec: :class:`OutputSpec` of the output.
        loaded: the :class:`LoadedModel` (name, weights, training encoding ...).

    Raises:
        ConfigError: an ``input_size`` the network does not accept (a side < 1, or not a
            multiple of its size multiple).
    """

    def __init__(
        self,
        model: nn.Module | LoadedModel,
        input_size: tuple[int, int] | None = None,
        device: str | torch.device | None = None,
        kind: str | None = None,
        *,
        spec: OutputSpec | None = None,
        postprocess: Postprocess | None = None,
        weights: WeightsInfo | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        if isinstance(model, LoadedModel):
            loaded = model
            if spec is not None and spec != loaded.spec:
                raise ConfigError(f"{loaded.name} records output {loaded.spec.describe()}; "
                                  f"the given spec {spec.describe()} contradicts it")
        else:
            net_spec = spec if spec is not None else output_spec_of(model)
            if getattr(model, "output_spec", None) is None:
                model.output_spec = net_spec  # type: ignore[attr-defined]  # the module now says what it outputs
            info = weights or getattr(model, "weights_info", None) or WeightsInfo(True, "module")
            name = getattr(model, "model_name", type(model).__name__)
            size = input_size or getattr(model, "input_size", None)
            if size is None:
                raise ConfigError(f"{name}: give input_size (height, width)")
            loaded = LoadedModel(model, name, net_spec, (int(size[0]), int(size[1])), info,
                                 "segmentation" if net_spec.kind == "segmentation" else "depth")
            warn_if_untrained(loaded)
        if kind is not None:
            warnings.warn("Predictor(kind=...) is deprecated: the network's OutputSpec says what its output is",
                          DeprecationWarning, stacklevel=2)
            if kind != loaded.kind:
                raise ConfigError(f"kind={kind!r} contradicts the network's output {loaded.spec.describe()}")
        self.loaded = loaded
        self.spec = loaded.spec
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = loaded.net.eval().to(self.device)
        #: the network applies its own image processor (a transformers backend): images reach it
        #: at their own size, and ``input_size`` is the processor's size setting
        self.own_preprocessing = bool(getattr(loaded.net, "own_preprocessing", False))
        if self.own_preprocessing:
            if input_size is not None:
                loaded.net.set_input_size(input_size, "--size (the model's image processor size)")
                loaded.input_size = tuple(loaded.net.input_size)
            self.input_size = tuple(loaded.net.input_size)
        else:
            from litedepth.models.input_size import check_input_size

            self.input_size = check_input_size(loaded.net, input_size or loaded.input_size,
                                               "--size (network input size)")
        self.postprocess = postprocess
        names = list(class_names) if class_names else (loaded.class_names or [])
        self.class_names = names or [str(i) for i in range(self.spec.num_classes or 0)]

    # ------------------------------------------------------------------ constructors
    @classmethod
    def load(cls, source: str | Path, *, weights: str | Path | None = None, network: str | None = None,
             input_size: tuple[int, int] | None = None, device: str | None = None,
             spec: OutputSpec | None = None, **options: Any) -> Predictor:
        """A Predictor for any source :func:`~litedepth.inference.loading.load_model` takes."""
        loaded = load_model(source, weights=weights, network=network, device=device, spec=spec, **options)
        return cls(loaded, input_size=input_size, device=device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, network: str | None = None, **kw: Any) -> Predictor:
        """Build from a ``litedepth train`` checkpoint (input size from the training data)."""
        return cls(load_checkpoint_model(path, network), **kw)

    @classmethod
    def from_name(cls, network: str, input_size: tuple[int, int] | None = None, **options: Any) -> Predictor:
        """Build a registered network by name (``weights=``: a weights file, official folder or
        published-weights name; without it the network is random, and a warning says so)."""
        device = options.pop("device", None)
        weights = options.pop("weights", None)
        return cls.load(network, weights=weights, input_size=input_size, device=device, **options)

    # ------------------------------------------------------------------ running
    @property
    def kind(self) -> str:
        """Legacy two-word kind (``"depth"`` or ``"disparity"``); prefer :attr:`spec`."""
        return self.loaded.kind

    @property
    def num_classes(self) -> int | None:
        return self.spec.num_classes

    def _postprocess(self, output: Any) -> Postprocess:
        if self.postprocess is not None:
            return self.postprocess
        return SegmentationPostprocess() if isinstance(output, SegmentationOutput) else DepthPostprocess()

    @torch.inference_mode()
    def infer_batch(self, images: Sequence[Any]) -> list[Prediction]:
        """Predict for several images (any sizes, one forward pass).

        Args:
            images: image paths, PIL images, or RGB ``(H, W, 3)`` uint8 arrays (float in
                ``[0, 1]`` accepted).

        Returns:
            one :class:`Prediction` per image at its original resolution.
        """
        sources = [str(im) if isinstance(im, (str, Path)) else None for im in images]
        arrays = [to_rgb_array(im) for im in images]
        if self.own_preprocessing:
            results = self._infer_native(arrays)
            for r, src in zip(results, sources):
                r.source = src
            return results
        h, w = self.input_size
        batch = [F.interpolate(torch.from_numpy(np.require(a, requirements=('C', 'W'))).permute(2, 0, 1).float().div_(255.0)[None],
                               size=(h, w), mode="bilinear", align_corners=False, antialias=True) for a in arrays]
        x = torch.cat(batch).to(self.device)
        output = self.model(x)
        results = self._postprocess(output)(output, [a.shape[:2] for a in arrays], self.spec)
        for r, src in zip(results, sources):
            r.source = src
        return results

    def _infer_native(self, arrays: list[np.ndarray]) -> list[Prediction]:
        """Images at their own size, one forward pass per size (the network resizes them)."""
        groups: dict[tuple[int, int], list[int]] = {}
        for i, a in enumerate(arrays):
            groups.setdefault((a.shape[0], a.shape[1]), []).append(i)
        results: list[Prediction | None] = [None] * len(arrays)
        for size, idx in groups.items():
            x = torch.from_numpy(np.stack([arrays[i] for i in idx])).to(self.device).permute(0, 3, 1, 2).float() / 255.0
            output = self.model(x)
            for i, r in zip(idx, self._postprocess(output)(output, [size] * len(idx), self.spec)):
                results[i] = r
        return results  # type: ignore[return-value]

    def infer_image(self, image: Any) -> Prediction:
        """:class:`Prediction` for one image (a path, a PIL image or an RGB array)."""
        return self.infer_batch([image])[0]
