"""Inference, evaluation and export for segmentation and multi-task networks.

* :class:`SegmentationPredictor`: preprocess -> forward -> postprocess. Each image is resized
  to the network's input size, class scores (and the depth map of a multi-task network) are
  resized back to the image's own size (bilinear), then ``argmax`` gives class ids.
* :func:`save_palette_png`: class ids as a palette PNG (VOC colours; pixel value = class id,
  so the file is both a viewable colour image and a label map).
* :func:`evaluate_segmentation`: mIoU, pixel accuracy, iIoU and per-class IoU of a predictor
  over a VOC split or a folder of images + masks, at each image's **original** resolution
  (:mod:`litedepth.metrics.segmentation` states the definitions).
* :func:`export_segmentation_onnx`: the deployable network (for a multi-task network:
  encoder + semantic decoder only) to ONNX through the one exporter
  (:func:`litedepth.export.export_onnx` with ``output="logits"``).

Example:
    >>> pred = SegmentationPredictor.from_checkpoint("runs/seed002/checkpoints/best.ckpt")  # doctest: +SKIP
    >>> out = pred.infer_image(rgb)        # out.labels (H, W) uint8 class ids  # doctest: +SKIP
    >>> out.depth                          # (H, W) float32 for multi-task networks, else None  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from litedepth.errors import ConfigError, DataError
from litedepth.inference.loading import LoadedModel
from litedepth.inference.predictor import Predictor, SegmentationPostprocess
from litedepth.models.spec import OutputSpec

log = logging.getLogger(__name__)

__all__ = [
    "SEGMENTATION_TASKS",
    "SegPrediction",
    "SegmentationPredictor",
    "evaluate_segmentation",
    "export_segmentation_onnx",
    "save_palette_png",
]

SEGMENTATION_TASKS = ("segmentation", "multitask")
_DROP_OPTIONS = ("weights", "encoder_weights", "pretrained_path")


@dataclass
class SegPrediction:
    """Prediction for one image at its original size.

    Attributes:
        labels: ``(H, W)`` uint8 class ids.
        depth: ``(H, W)`` float32 depth head output (multi-task networks), else ``None``.
        depth_kind: legacy two-word kind of ``depth`` (``"disparity"`` or ``"depth"``);
            ``None`` without depth. :attr:`spec` says exactly what ``depth`` holds.
        spec: the network's :class:`~litedepth.models.spec.OutputSpec` (its depth head's
            meaning for multi-task networks).
    """

    labels: np.ndarray
    depth: np.ndarray | None = None
    depth_kind: str | None = None
    spec: OutputSpec | None = None


def save_palette_png(path: str | Path, labels: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write ``(H, W)`` class ids as a palette PNG (mode ``"P"``) atomically.

    Args:
        path: destination ``.png``.
        labels: ``(H, W)`` integer class ids in ``[0, 255]``.
        palette: ``(256, 3)`` uint8 RGB per id (default: the PASCAL VOC palette).
    """
    from PIL import Image

    from litedepth.data.voc import voc_palette
    from litedepth.utils.atomic import atomic_open

    arr = np.asarray(labels)
    if arr.ndim != 2 or arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(f"labels must be (H, W) class ids in [0, 255], got shape {arr.shape}")
    pal = voc_palette() if palette is None else np.asarray(palette, dtype=np.uint8)
    im = Image.fromarray(arr.astype(np.uint8), mode="P")
    im.putpalette(pal.reshape(-1).tolist())
    with atomic_open(path, "wb") as f:
        im.save(f, format="PNG")


# ---------------------------------------------------------------------------- predictor


def _task_of(name: str) -> str:
    from litedepth.models import model_info

    return model_info(name).task


class SegmentationPredictor(Predictor):
    """:class:`~litedepth.inference.Predictor` for segmentation and multi-task networks,
    returning :class:`SegPrediction` (class ids, and a multi-task network's depth head).

    Args: as :class:`~litedepth.inference.Predictor`; ``class_names`` name the classes in
    reports (default: VOC names for 21 classes, else ids).
    """

    def __init__(self, model: nn.Module | LoadedModel, input_size: tuple[int, int] | None = None,
                 device: str | torch.device | None = None, class_names: Sequence[str] | None = None,
                 **kw: Any) -> None:
        super().__init__(model, input_size, device, class_names=class_names, **kw)
        if self.loaded.task not in SEGMENTATION_TASKS and self.spec.num_classes is None:
            raise ConfigError(f"{self.loaded.name!r} is a {self.loaded.task} network, not a segmentation or "
                              "multi-task one")
        self.postprocess = SegmentationPostprocess()
        if not class_names and self.spec.num_classes == 21 and not self.loaded.class_names:
            from litedepth.data.voc import VOC_CLASSES

            self.class_names = list(VOC_CLASSES)

    @property
    def kind(self) -> str:  # type: ignore[override]
        """``"multitask"`` (class ids + depth) or ``"segmentation"``."""
        return "segmentation" if self.spec.kind == "segmentation" else "multitask"

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kw: Any) -> SegmentationPredictor:
        """Build from a ``litedepth train`` checkpoint (input size and class names from its data)."""
        from litedepth.inference.loading import load_checkpoint_model

        return cls(load_checkpoint_model(path), **kw)

    @classmethod
    def from_name(cls, network: str, input_size: tuple[int, int] | None = None, weights: str | None = None,
                  device: str | None = None, class_names: Sequence[str] | None = None,
                  **options: Any) -> SegmentationPredictor:
        """Build a registered network by name (``weights``: a local file, see the family)."""
        info_task = _task_of(network)
        if info_task not in SEGMENTATION_TASKS:
            raise ConfigError(f"{network!r} is a {info_task} network, not a segmentation or multi-task one")
        from litedepth.inference.loading import load_model

        if weights is not None:
            options["weights"] = weights  # the family's weights= option (whole network or backbone)
        loaded = load_model(network, **options)
        return cls(loaded, input_size, device=device, class_names=class_names)

    def infer_batch(self, images: Sequence[Any]) -> list[SegPrediction]:  # type: ignore[override]
        """Predict for images (paths, PIL images or ``(H, W, 3)`` arrays, any sizes)."""
        return [SegPrediction(p.labels, p.raw, None if p.raw is None else p.kind, p.spec)
                for p in super().infer_batch(images)]

    def infer_image(self, image: Any) -> SegPrediction:  # type: ignore[override]
        """:class:`SegPrediction` for one image."""
        return self.infer_batch([image])[0]


# ---------------------------------------------------------------------------- evaluation


def evaluate_segmentation(
    predictor: SegmentationPredictor,
    items: Sequence[Any],
    ignore_index: int = 255,
    background: Sequence[int] = (0,),
    batch_size: int = 1,
) -> dict[str, Any]:
    """Score ``predictor`` on ``items`` (:class:`~litedepth.data.segmentation.SegItem`) at
    each image's original resolution.

    Returns:
        ``{"miou", "pixel_acc", "iiou", "iou": {class name: IoU or None}, "count"}``.
    """
    from litedepth.io.images import read_rgb
    from litedepth.data.segmentation import read_mask
    from litedepth.metrics.segmentation import SegmentationMetrics

    n = predictor.num_classes
    if not n:
        raise ConfigError("the network does not state its number of classes")
    metrics = SegmentationMetrics(n, ignore_index, background)
    for start in range(0, len(items), max(1, batch_size)):
        chunk = items[start : start + batch_size]
        images = [read_rgb(it.image) for it in chunk]
        for it, img, pred in zip(chunk, images, predictor.infer_batch(images)):
            mask = read_mask(it.mask, n, ignore_index)
            if mask.shape != img.shape[:2]:
                raise DataError(it.mask, f"mask is {mask.shape[1]}x{mask.shape[0]} but image {it.image.name} is "
                                         f"{img.shape[1]}x{img.shape[0]}")
            metrics.update(torch.from_numpy(pred.labels.astype(np.int64))[None], torch.from_numpy(mask.astype(np.int64))[None])
    scores = metrics.compute()
    names = predictor.class_names if len(predictor.class_names) == n else [str(i) for i in range(n)]
    iou = {name: (None if np.isnan(v) else float(v)) for name, v in zip(names, scores["iou"].tolist())}
    return {"miou": float(scores["miou"]), "pixel_acc": float(scores["pixel_acc"]), "iiou": float(scores["iiou"]),
            "iou": iou, "count": len(items)}


def print_report(result: dict[str, Any], title: str, console: Any = None) -> None:
    """Rich tables: the summary scores and the per-class IoU."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    summary = Table(title=title, title_justify="left")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for k in ("miou", "pixel_acc", "iiou"):
        summary.add_row(k, f"{result[k]:.4f}")
    console.print(summary)
    per_class = Table(title="per-class IoU", title_justify="left")
    per_class.add_column("id", justify="right")
    per_class.add_column("class")
    per_class.add_column("IoU", justify="right")
    for i, (name, v) in enumerate(result["iou"].items()):
        per_class.add_row(str(i), name, "-" if v is None else f"{v:.4f}")
    console.print(per_class)


# ---------------------------------------------------------------------------- ONNX


def export_segmentation_onnx(net: nn.Module, path: str | Path, height: int, width: int, opset: int = 17,
                             atol: float = 1e-4) -> float:
    """Export a deployable segmentation network's class scores to ONNX, parity-checked.

    A thin call of :func:`litedepth.export.export_onnx` with ``output="logits"`` (one
    exporter for depth and segmentation).

    Args:
        net: a module mapping RGB ``(B, 3, H, W)`` in ``[0, 1]`` to class scores
            ``(B, C, H, W)`` (e.g. ``MultiDecoderUNet.segmentation_only()``), or a
            segmentation network returning ``SegmentationOutput`` (its ``logits`` are used).
        path: destination ``.onnx`` (written atomically only after the check passes).
        height, width: export input size; the batch axis is dynamic.
        atol: tolerance on ``max |onnx - eager|`` relative to ``max(1, max |eager|)``.

    Returns:
        The largest absolute difference between onnxruntime and eager PyTorch (batch 1 and 2).

    Raises:
        ConfigError / ExportError: the network cannot be exported; ParityError: onnxruntime
            and PyTorch disagree beyond the tolerance (no file is written).
    """
    from litedepth.export.onnx import export_onnx

    return export_onnx(net, path, height, width, opset=opset, atol=atol, output="logits").max_abs_diff
