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
  encoder + semantic decoder only) to ONNX, checked against eager PyTorch with onnxruntime.
* ``run_predict`` / ``run_evaluate``: the segmentation branches of ``litedepth predict`` and
  ``litedepth evaluate``.

Example:
    >>> pred = SegmentationPredictor.from_checkpoint("runs/seed002/checkpoints/best.ckpt")  # doctest: +SKIP
    >>> out = pred.infer_image(rgb)        # out.labels (H, W) uint8 class ids  # doctest: +SKIP
    >>> out.depth                          # (H, W) float32 for multi-task networks, else None  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from litedepth.errors import CheckpointError, ConfigError, DataError

log = logging.getLogger(__name__)

__all__ = [
    "SEGMENTATION_TASKS",
    "SegPrediction",
    "SegmentationPredictor",
    "evaluate_segmentation",
    "export_segmentation_onnx",
    "is_segmentation_request",
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
        depth_kind: ``"disparity"`` (relative, ``(0, 1)``, bigger = nearer) or ``"depth"``
            (metres); ``None`` without depth.
    """

    labels: np.ndarray
    depth: np.ndarray | None = None
    depth_kind: str | None = None


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


class SegmentationPredictor:
    """Run a segmentation or multi-task network on images of any size.

    Args:
        model: a registered segmentation / multi-task network (RGB in ``[0, 1]`` in,
            :class:`~litedepth.models.segmentation_outputs.SegmentationOutput` out).
        input_size: ``(height, width)`` images are resized to before the network.
        device: ``"cpu"``, ``"cuda"``; default CUDA when available.
        class_names: names of the classes (for reports), default ids.
    """

    def __init__(self, model: nn.Module, input_size: tuple[int, int], device: str | torch.device | None = None,
                 class_names: Sequence[str] | None = None) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval().to(self.device)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.num_classes = int(getattr(model, "num_classes", 0)) or None
        self.kind = "multitask" if "depth" in getattr(model, "heads", ("seg",)) else "segmentation"
        n = self.num_classes or 0
        self.class_names = list(class_names) if class_names else [str(i) for i in range(n)]

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kw: Any) -> SegmentationPredictor:
        """Build from a ``litedepth train`` checkpoint (input size and class names from its data)."""
        from litedepth.models import create_model, model_info
        from litedepth.tasks.engine import read_checkpoint

        ckpt = read_checkpoint(path)
        hp = ckpt.get("hyper_parameters") or {}
        name = hp.get("network")
        if name is None:
            raise CheckpointError(f"{path}: no 'network' in the checkpoint's hyper-parameters (not a litedepth checkpoint?)")
        if model_info(name).task not in SEGMENTATION_TASKS:
            raise CheckpointError(f"{path}: network {name!r} is not a segmentation or multi-task network")
        options = {k: v for k, v in (hp.get("network_options") or {}).items() if k not in _DROP_OPTIONS}
        net = create_model(name, **options)
        sd = {k[len("net."):]: v for k, v in ckpt.get("state_dict", {}).items() if k.startswith("net.")}
        result = net.load_state_dict(sd, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(f"{path}: weights do not fit {name!r} (missing {result.missing_keys[:3]}, "
                                  f"unexpected {result.unexpected_keys[:3]})")
        dm = ckpt.get("datamodule_hyper_parameters") or {}
        size = kw.pop("input_size", None) or tuple(dm.get("size") or model_info(name).default_size)
        names = kw.pop("class_names", None) or hp.get("class_names") or dm.get("class_names")
        if names is None and dm.get("layout") == "voc" and int(getattr(net, "num_classes", 0)) == 21:
            from litedepth.data.voc import VOC_CLASSES

            names = list(VOC_CLASSES)
        return cls(net, size, class_names=names, **kw)

    @classmethod
    def from_name(cls, network: str, input_size: tuple[int, int] | None = None, weights: str | None = None,
                  device: str | None = None, class_names: Sequence[str] | None = None, **options: Any) -> SegmentationPredictor:
        """Build a registered network by name (``weights``: a local file, see the family)."""
        from litedepth.models import create_model, model_info

        info = model_info(network)
        if info.task not in SEGMENTATION_TASKS:
            raise ConfigError(f"{network!r} is a {info.task} network, not a segmentation or multi-task one")
        if weights is not None:
            options["weights"] = weights
        net = create_model(network, **options)
        if class_names is None and int(getattr(net, "num_classes", 0)) == 21:
            from litedepth.data.voc import VOC_CLASSES

            class_names = VOC_CLASSES
        return cls(net, input_size or info.default_size, device=device, class_names=class_names)

    @torch.inference_mode()
    def infer_batch(self, images: Sequence[Any]) -> list[SegPrediction]:
        """Predict for RGB images (``(H, W, 3)`` uint8 arrays or PIL images, any sizes)."""
        from litedepth.inference.predictor import _to_rgb_array

        arrays = [_to_rgb_array(im) for im in images]
        h, w = self.input_size
        x = torch.cat([
            F.interpolate(torch.tensor(a).permute(2, 0, 1).float().div_(255.0)[None], size=(h, w),
                          mode="bilinear", align_corners=False, antialias=True)
            for a in arrays
        ]).to(self.device)
        out = self.model(x)
        results = []
        for i, a in enumerate(arrays):
            size = a.shape[:2]
            logits = F.interpolate(out.logits[i : i + 1].float(), size=size, mode="bilinear", align_corners=False)
            labels = logits.argmax(1)[0].to(torch.uint8).cpu().numpy()
            depth, kind = None, None
            if out.depth is not None:
                d = F.interpolate(out.depth.pred[i : i + 1].float(), size=size, mode="bilinear", align_corners=False)
                depth, kind = d[0, 0].cpu().numpy().astype(np.float32), out.depth.kind
            results.append(SegPrediction(labels, depth, kind))
        return results

    def infer_image(self, image: Any) -> SegPrediction:
        """:class:`SegPrediction` for one RGB image."""
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
    from litedepth.data.io import read_rgb
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
    """Export a deployable segmentation network to ONNX and check it with onnxruntime.

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
        ConfigError: onnxruntime and PyTorch disagree beyond the tolerance.
    """
    import onnxruntime as ort

    from litedepth.utils.atomic import atomic_write_bytes

    class _Logits(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            out = self.inner(image)
            return out if isinstance(out, torch.Tensor) else out.logits

    wrapper = _Logits(net).eval().cpu()
    gen = torch.Generator().manual_seed(0)
    xs = [torch.rand(b, 3, int(height), int(width), generator=gen) for b in (1, 2)]
    with torch.no_grad():
        refs = [wrapper(x).numpy() for x in xs]
    buf = io.BytesIO()
    torch.onnx.export(wrapper, (xs[0],), buf, dynamo=False, opset_version=opset, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    data = buf.getvalue()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    diff = 0.0
    for x, ref in zip(xs, refs):
        got = session.run(["logits"], {"image": x.numpy()})[0]
        if got.shape != ref.shape:
            raise ConfigError(f"ONNX output shape {got.shape} differs from PyTorch {ref.shape}")
        d = float(np.max(np.abs(got.astype(np.float64) - ref)))
        if not d <= atol * max(1.0, float(np.max(np.abs(ref)))):
            raise ConfigError(f"{path}: ONNX output differs from PyTorch by {d:.3e} (no file written)")
        diff = max(diff, d)
    atomic_write_bytes(path, data)
    log.info("wrote %s (max abs diff vs PyTorch %.2e)", path, diff)
    return diff


# ---------------------------------------------------------------------------- CLI branches


def is_segmentation_request(args: argparse.Namespace) -> bool:
    """Whether ``litedepth predict`` arguments name a segmentation or multi-task network."""
    name = getattr(args, "model", None)
    if name is None and getattr(args, "checkpoint", None):
        from litedepth.tasks.engine import read_checkpoint

        # mapped, not read: only the network name is needed; the predictor loads the weights
        name = (read_checkpoint(args.checkpoint, mmap=True).get("hyper_parameters") or {}).get("network")
    if name is None:
        return False
    try:
        return _task_of(name) in SEGMENTATION_TASKS
    except ConfigError:
        return False


def _predictor_from_args(args: argparse.Namespace, model: str | None, weights: str | None,
                         size: Sequence[int] | None) -> SegmentationPredictor:
    kw: dict[str, Any] = {"device": getattr(args, "device", None)}
    if size:
        kw["input_size"] = (int(size[0]), int(size[1]))
    if getattr(args, "checkpoint", None):
        return SegmentationPredictor.from_checkpoint(args.checkpoint, **kw)
    if model is None:
        raise ConfigError("give --checkpoint or a segmentation model name")
    return SegmentationPredictor.from_name(model, weights=weights, **kw)


def run_predict(args: argparse.Namespace) -> int:
    """``litedepth predict`` for segmentation / multi-task networks.

    Writes ``<stem>_seg.png`` (palette PNG: pixel value = class id, VOC colours) per image,
    for multi-task networks also the depth outputs of ``--formats`` (``<stem>.npy``,
    ``<stem>_depth.png``, ``<stem>_color.png``, as for depth networks), and
    ``predictions.json``.
    """
    from litedepth.cli.predict import collect_images, parse_common_options, write_outputs
    from litedepth.data.io import read_rgb
    from litedepth.utils.atomic import atomic_write_bytes
    from litedepth.utils.paths import check_unique_stems

    formats = parse_common_options(args)
    predictor = _predictor_from_args(args, args.model, args.weights, args.size)
    images = collect_images(args.inputs)
    check_unique_stems(images)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    depth_kind = None
    for i in range(0, len(images), args.batch_size):
        chunk = images[i : i + args.batch_size]
        for path, pred in zip(chunk, predictor.infer_batch([read_rgb(p) for p in chunk])):
            save_palette_png(out_dir / f"{path.stem}_seg.png", pred.labels)
            if pred.depth is not None:
                depth_kind = pred.depth_kind
                write_outputs(out_dir, path.stem, pred.depth, pred.depth_kind or "disparity", formats)
    meta: dict[str, Any] = {
        "kind": predictor.kind, "input_size": list(predictor.input_size), "count": len(images),
        "segmentation": "<stem>_seg.png: palette PNG, pixel value = class id (PASCAL VOC colours)",
        "classes": predictor.class_names,
    }
    if depth_kind is not None:
        meta["depth"] = {"kind": depth_kind, "formats": sorted(formats),
                         "units": "metres" if depth_kind == "depth" else "relative disparity in (0, 1), bigger = nearer"}
    atomic_write_bytes(out_dir / "predictions.json", json.dumps(meta, indent=2).encode())
    log.info("wrote %d segmentation predictions to %s", len(images), out_dir)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """``litedepth evaluate --seg-data ...``: scores, per-class IoU table, JSON report."""
    from litedepth import __version__
    from litedepth.data.segmentation import folder_items, voc_items
    from litedepth.utils.atomic import atomic_write_bytes

    predictor = _predictor_from_args(args, args.seg_model, args.seg_weights, args.seg_size)
    if args.seg_layout == "voc":
        items = voc_items(args.seg_data, args.seg_split)
    else:
        from litedepth.data.folder import split_indices

        everything = folder_items(args.seg_data, args.images_dir, args.masks_dir, args.image_suffix, args.mask_suffix)
        items = [everything[i] for i in split_indices(len(everything), args.seg_split)]
        if not items:
            raise DataError(args.seg_data, f"split {args.seg_split!r} is empty ({len(everything)} images in total)")
    result = evaluate_segmentation(predictor, items)
    result["options"] = {"data": str(args.seg_data), "layout": args.seg_layout, "split": args.seg_split,
                         "checkpoint": str(args.checkpoint) if args.checkpoint else None, "model": args.seg_model,
                         "input_size": list(predictor.input_size), "resolution": "original image size"}
    result["litedepth_version"] = __version__
    atomic_write_bytes(args.output, (json.dumps(result, indent=2) + "\n").encode())
    print_report(result, f"segmentation: {result['count']} images ({args.seg_layout} {args.seg_split})")
    return 0
