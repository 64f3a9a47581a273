"""Predict for image files and write the results with their meaning.

:func:`predict_files` is what ``litedepth predict`` runs for images: for each input ``<stem>``
it writes into the output folder

* ``<stem>.npy`` — float32 ``(H, W)`` at the image's resolution: the network's output in the
  units of its :class:`~litedepth.models.spec.OutputSpec` (e.g. sigmoid disparity for
  Lite-Mono, metres for a metric depth network);
* ``<stem>_depth.png`` — 16-bit PNG: depth in millimetres (value / 1000 = metres, 0 = none)
  when the depth is metric; otherwise the raw map scaled to ``65535 / max`` (relative, stated
  in the manifest);
* ``<stem>_color.png`` — colourised map (plasma; near = bright);
* ``<stem>_seg.png`` — class ids as a palette PNG (segmentation and multi-task networks);
* ``<stem>.ply`` — optional coloured point cloud (camera frame; metres only for metric depth);

and ``predictions.json`` (:mod:`litedepth.metrics.prediction_files`): the output spec, the
model and its weights (source, sha256, trained or random), the formats, what was skipped.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError, DataError, LitedepthError
from litedepth.inference.predictor import Prediction, Predictor
from litedepth.io.images import IMAGE_SUFFIXES
from litedepth.metrics.prediction_files import write_manifest
from litedepth.utils.paths import check_unique_stems

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "IMAGE_EXTS", "PointCloudOptions", "PredictFilesResult", "collect_images", "parse_formats",
           "predict_files", "write_prediction"]

IMAGE_EXTS = IMAGE_SUFFIXES  # alias of the one list of image suffixes (litedepth.io.images)
FORMATS = ("npy", "png16", "color")


def parse_formats(text: str) -> set[str]:
    """``"npy,png16"`` -> ``{"npy", "png16"}`` (a subset of :data:`FORMATS`)."""
    formats = {f.strip() for f in text.split(",") if f.strip()}
    unknown = formats - set(FORMATS)
    if unknown:
        raise ConfigError(f"unknown output format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    return formats


def collect_images(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand files, folders (non-recursive) and glob patterns into a sorted unique list.

    Raises:
        DataError: an input that is none of these, or no images at all.
    """
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_EXTS)
        elif path.is_file():
            found.append(path)
        else:
            matches = [Path(m) for m in sorted(glob.glob(str(item))) if Path(m).suffix.lower() in IMAGE_EXTS]
            if not matches:
                raise DataError(item, "no such image file, folder or matching glob")
            found.extend(matches)
    unique = list(dict.fromkeys(found))
    if not unique:
        raise DataError(inputs[0] if inputs else None, "no images found")
    check_unique_stems(unique)
    return unique


@dataclass(frozen=True)
class PointCloudOptions:
    """How to write ``<stem>.ply``.

    Attributes:
        camera: the :class:`~litedepth.inference.pointcloud.PointCloudCamera` giving each
            image's pixel intrinsics (from explicit intrinsics, a file, or a field of view).
        stride: keep every ``stride``-th row and column.
        binary: binary (default) or ASCII PLY.
    """

    camera: Any
    stride: int = 1
    binary: bool = True

    def describe(self, units: str) -> dict[str, Any]:
        return {**self.camera.to_dict(), "units": units, "frame": "camera: x right, y down, z forward"}


@dataclass
class PredictFilesResult:
    """What :func:`predict_files` did: ``written`` stems, ``skipped`` ``(file, reason)``."""

    out_dir: Path
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    manifest: Path | None = None


def _png16_note(pred: Prediction) -> str:
    if pred.spec.is_depth and not pred.spec.needs_alignment and pred.depth_units == "metres":
        return "uint16 millimetres: value / 1000 = metres, 0 = no depth (encoding 'mm')"
    return "uint16 relative: the .npy map x 65535 / its maximum per image (not metric)"


def write_prediction(out_dir: Path, stem: str, pred: Prediction, formats: set[str]) -> list[Path]:
    """Write one prediction in ``formats`` (atomic writes); returns the files written."""
    from PIL import Image

    from litedepth.utils.visualize import colorize, save_png
    from litedepth.utils.atomic import atomic_open

    written: list[Path] = []
    if pred.labels is not None:
        from litedepth.inference.segmentation import save_palette_png

        save_palette_png(out_dir / f"{stem}_seg.png", pred.labels)
        written.append(out_dir / f"{stem}_seg.png")
    if pred.raw is None:
        return written
    raw = pred.raw.astype(np.float32)
    if "npy" in formats:
        with atomic_open(out_dir / f"{stem}.npy", "wb") as f:
            np.save(f, raw, allow_pickle=False)
        written.append(out_dir / f"{stem}.npy")
    if "png16" in formats:
        if _png16_note(pred).startswith("uint16 millimetres"):
            enc = np.clip(np.round(pred.depth * 1000.0), 0, 65535).astype(np.uint16)
        else:
            enc = np.clip(np.round(raw / max(float(raw.max()), 1e-12) * 65535.0), 0, 65535).astype(np.uint16)
        with atomic_open(out_dir / f"{stem}_depth.png", "wb") as f:
            Image.fromarray(enc).save(f, format="PNG")
        written.append(out_dir / f"{stem}_depth.png")
    if "color" in formats:
        save_png(out_dir / f"{stem}_color.png", colorize(raw, invert=pred.spec.kind == "depth"))
        written.append(out_dir / f"{stem}_color.png")
    return written


def _write_pointcloud(path: Path, pred: Prediction, rgb: np.ndarray, options: PointCloudOptions) -> None:
    from litedepth.inference.pointcloud import save_pointcloud

    if pred.spec.needs_alignment:
        raise ConfigError(f"{path.name}: the network predicts relative disparity (scale and shift unknown), "
                          "which has no 3-D shape without a metric reference; a point cloud needs a depth model")
    units = "metres" if pred.depth_units == "metres" else f"relative ({pred.spec.units})"
    save_pointcloud(path, pred.depth, rgb, stride=options.stride, binary=options.binary, units=units,
                    camera=options.camera)


def predict_files(
    predictor: Predictor,
    images: Sequence[Path],
    out_dir: str | Path,
    *,
    formats: set[str] | None = None,
    batch_size: int = 4,
    pointcloud: PointCloudOptions | None = None,
    skip_bad: bool = False,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
) -> PredictFilesResult:
    """Predict every image and write the outputs and ``predictions.json`` (module docstring).

    Args:
        predictor: any :class:`Predictor` (depth, segmentation, multi-task, ONNX).
        images: image files (:func:`collect_images`).
        out_dir: output folder (created when the first prediction is written; its
            ``predictions.json`` is written before the first map and completed at the end, so
            an interrupted run's maps still say what they are).
        formats: subset of :data:`FORMATS` for the depth map (default all).
        batch_size: images per forward pass.
        pointcloud: write ``<stem>.ply`` with these options.
        skip_bad: log and count unreadable images instead of failing on the first one.
        progress: show a progress bar.
        extra: more keys for ``predictions.json``.

    Raises:
        DataError: an unreadable image (without ``skip_bad``), naming it; with ``skip_bad``,
            no readable image at all.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from litedepth.io.images import read_rgb

    if batch_size < 1:
        raise ConfigError("--batch-size must be >= 1")
    formats = set(FORMATS) if formats is None else formats
    out = Path(out_dir)
    result = PredictFilesResult(out)
    spec = predictor.spec
    files: dict[str, Any] = {}
    if spec.is_depth:
        probe = Prediction(np.ones((1, 1), np.float32), spec)
        files = {"npy": f"<stem>.npy: (H, W) float32 at the image's resolution, {spec.units}",
                 "png16": f"<stem>_depth.png: {_png16_note(probe)}",
                 "color": "<stem>_color.png: plasma colours, near = bright"}
        files = {k: v for k, v in files.items() if k in formats}
    if spec.num_classes:
        files["seg"] = "<stem>_seg.png: palette PNG, pixel value = class id (PASCAL VOC colours)"
    meta: dict[str, Any] = {"input_size": list(predictor.input_size), "formats": sorted(formats), "files": files}
    if spec.num_classes:
        meta["classes"] = predictor.class_names
    if pointcloud is not None:
        units = "relative" if spec.needs_alignment or spec.scale != "metric" else "metres"
        meta["pointcloud"] = pointcloud.describe(units)
    meta.update(extra or {})
    model = predictor.loaded.describe()

    def manifest(complete: bool) -> Path:
        return write_manifest(out, spec, model=model, complete=complete, count=len(result.written),
                              skipped=[{"file": f, "reason": r} for f, r in result.skipped], **meta)

    with Progress(TextColumn("predict"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True, disable=not progress) as bar:
        task = bar.add_task("predict", total=len(images))
        for i in range(0, len(images), batch_size):
            chunk, rgbs = [], []
            for path in images[i : i + batch_size]:
                try:
                    rgbs.append(read_rgb(path))
                    chunk.append(path)
                except LitedepthError as exc:
                    if not skip_bad:
                        raise
                    log.warning("skipped %s", exc)
                    result.skipped.append((str(path), str(exc)))
            if rgbs:
                preds = predictor.infer_batch(rgbs)
                if result.manifest is None:  # before the first map: a folder is never without its meaning
                    result.manifest = manifest(complete=False)
                for path, rgb, pred in zip(chunk, rgbs, preds):
                    write_prediction(out, path.stem, pred, formats)
                    if pointcloud is not None:
                        _write_pointcloud(out / f"{path.stem}.ply", pred, rgb, pointcloud)
                    result.written.append(path.stem)
            bar.advance(task, len(images[i : i + batch_size]))
    if not result.written:
        raise DataError(None, f"no image could be read ({len(result.skipped)} unreadable, skipped: "
                              f"{', '.join(f for f, _ in result.skipped[:3])}{' ...' if len(result.skipped) > 3 else ''})")
    result.manifest = manifest(complete=True)
    if result.skipped:
        log.warning("%d of %d inputs could not be read and were skipped (listed in %s)", len(result.skipped),
                    len(images), result.manifest)
    log.info("wrote %d predictions to %s", len(result.written), out)
    return result
