"""Evaluate depth predictions against ground truth under a protocol.

Three levels, each built on the one before:

* :func:`evaluate_pair` — one prediction map and one ground-truth map.
* :func:`evaluate_arrays` — any iterable of ``(name, pred, gt)``; per-image metrics
  averaged over images, median-scaling ratio statistics, per-image rows.
* :func:`evaluate_folders` — files on disk (folders of ``.npy``/``.png``, a Monodepth2-style
  ``(N, H, W)`` prediction array, a KITTI ``gt_depths.npz``), paired by :func:`load_pairs`.

Per image (:mod:`litedepth.metrics.scoring`, where the steps are listed): the prediction is
resized to the ground truth, masked by the protocol, made depth by its
:class:`~litedepth.io.output_spec.OutputSpec`, scaled by exactly one step (median scaling, a
fixed scale or scale-and-shift alignment), clamped, and scored. Reading and pairing files is
:mod:`litedepth.metrics.pairing`. The names callers imported from here before the split
(``resolve_options``, ``load_pairs``, ``read_split``, ``split_key``, ``PairSource``,
``GroundTruthStats`` ...) are re-exported.

Example:
    >>> import numpy as np
    >>> gt = np.full((4, 4), 6.0)
    >>> metrics, ratio = evaluate_pair(gt / 3, gt, "none")
    >>> round(metrics["abs_rel"], 6), round(ratio, 6)
    (0.0, 3.0)
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import DataError
from litedepth.io.depth_encodings import parse_encoding
from litedepth.io.output_spec import OutputSpec
from litedepth.metrics.depth import METRIC_NAMES, DepthMetricAccumulator
from litedepth.metrics.pairing import PairSource, load_pairs, read_depth_png, read_split, split_key
from litedepth.metrics.protocols import EvalProtocol, get_protocol
from litedepth.metrics.scoring import (
    ALIGN_MODES,
    OUT_OF_RANGE_WARNING,
    PRED_KINDS,
    GroundTruthStats,
    ScoredFrame,
    _scaling_words,
    resolve_options,
    score_frame,
)
from litedepth.utils.atomic import atomic_open
from litedepth.utils.parallel import ordered_map, resolve_workers

__all__ = [
    "ALIGN_MODES", "OUT_OF_RANGE_WARNING", "PRED_KINDS", "EvalResult", "GroundTruthStats", "ImageResult",
    "PairSource", "evaluate_arrays", "evaluate_folders", "evaluate_pair", "load_pairs", "read_depth_png",
    "read_split", "resolve_options", "split_key",
]

logger = logging.getLogger(__name__)


def evaluate_pair(
    pred: Any,
    gt: Any,
    protocol: str | EvalProtocol,
    *,
    pred_kind: str | None = None,
    median_scaling: bool | None = None,
    scale: float | None = None,
    align: str | None = None,
    name: str | Path | None = None,
    spec: OutputSpec | None = None,
    min_depth: float | None = None,
    max_depth: float | None = None,
) -> tuple[dict[str, float], float | None]:
    """Metrics of one prediction against one ground-truth map.

    Args:
        pred: prediction ``(H', W')`` (tensor or array; leading size-1 dims are dropped),
            any size, of the kind ``spec`` (or ``pred_kind``) states. Resized bilinearly to
            ``(H, W)`` when the sizes differ.
        gt: ground-truth depth in metres ``(H, W)``; 0 marks invalid pixels.
        protocol: a protocol name (``"kitti-eigen"``, ``"kitti-eigen-crop"``, ``"nyu"``,
            ``"none"``) or an :class:`~litedepth.metrics.protocols.EvalProtocol`.
        pred_kind: one of :data:`PRED_KINDS` when ``spec`` is not given (``"disparity"`` /
            ``"inverse-depth"``: ``depth = 1 / value``); ``None`` means inverse depth when
            aligning, depth otherwise.
        median_scaling: scale each prediction by ``median(gt) / median(pred)``; ``None``:
            unless the spec is metric. Ignored when ``scale`` or ``align`` is given.
        scale: fixed factor the predicted depth is multiplied by (5.4 for stereo models).
        align: ``"scale-shift"`` to fit ``s * pred + t ≈ 1 / gt`` in disparity space.
        name: the file or sample name used in error messages.
        spec: what the prediction is (:class:`OutputSpec`), e.g. a network's ``output_spec``.
        min_depth, max_depth: the ``disp_to_depth`` range of ``pred_kind="sigmoid-disparity"``.

    Returns:
        ``(metrics, ratio)``: ``{name: float}`` for every metric in
        :data:`~litedepth.metrics.depth.METRIC_NAMES`, and the median-scaling ratio
        (``None`` unless median scaling was applied).

    Raises:
        DataError: NaN/Inf in either map, a map that is not 2-D, no valid pixel.
        ConfigError: invalid options (see :func:`resolve_options`).
    """
    proto = get_protocol(protocol)
    opts = resolve_options(pred_kind, median_scaling, scale, align, recorded=spec, min_depth=min_depth,
                           max_depth=max_depth)
    scored = score_frame(pred, gt, proto, opts, name, with_counts=False)
    return scored.metrics, scored.ratio


# --------------------------------------------------------------------------- many images


@dataclass
class ImageResult:
    """Metrics of one image (``ratio``: its median-scaling ratio, when applied)."""

    name: str
    metrics: dict[str, float]
    ratio: float | None = None


@dataclass
class EvalResult:
    """Result of evaluating a set of images.

    Attributes:
        protocol: protocol name.
        metrics: mean over images of each per-image metric.
        count: number of images.
        ratio_median: median of the per-image median-scaling ratios (``None`` without
            median scaling).
        ratio_std: population standard deviation of ``ratios / ratio_median`` — the
            relative spread Monodepth2 prints as "std" (``None`` without median scaling).
        per_image: one :class:`ImageResult` per image, in evaluation order.
        options: the effective options: the predictions' spec and units, the scaling step
            in words, the protocol, ground-truth statistics (valid fraction, range), inputs.
        warnings: plausibility warnings (ground truth outside the protocol range, implausible
            medians or median ratios).
    """

    protocol: str
    metrics: dict[str, float]
    count: int
    ratio_median: float | None = None
    ratio_std: float | None = None
    per_image: list[ImageResult] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self, per_image: bool = False) -> dict[str, Any]:
        """JSON-ready dictionary; per-image rows only when ``per_image``."""
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "count": self.count,
            "metrics": {k: self.metrics[k] for k in METRIC_NAMES},
            "ratio_median": self.ratio_median,
            "ratio_std": self.ratio_std,
            "options": self.options,
            "warnings": self.warnings,
        }
        if per_image:
            out["per_image"] = [{"name": r.name, **r.metrics, "ratio": r.ratio} for r in self.per_image]
        return out

    def to_json(self, per_image: bool = False, indent: int = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(per_image), indent=indent)

    def write_json(self, path: str | Path, per_image: bool = False) -> None:
        """Write :meth:`to_json` to ``path`` atomically."""
        with atomic_open(path, "w") as f:
            f.write(self.to_json(per_image) + "\n")

    def write_csv(self, path: str | Path) -> None:
        """Write one row per image (``name``, metrics, ``ratio``) to ``path`` atomically."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["name", *METRIC_NAMES, "ratio"])
        for r in self.per_image:
            writer.writerow(
                [
                    r.name,
                    *(repr(r.metrics[k]) for k in METRIC_NAMES),
                    "" if r.ratio is None else repr(r.ratio),
                ]
            )
        with atomic_open(path, "w") as f:
            f.write(buf.getvalue())


def _progress_iter(items: Iterable[Any], total: int | None, enabled: bool, label: str) -> Iterator[Any]:
    if not enabled:
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task)


def _scorer(items: Any, proto: EvalProtocol, opts: dict[str, Any]) -> Callable[[Any], tuple[str, ScoredFrame]]:
    """The per-item job of :func:`evaluate_arrays`: sample index -> read and score (a
    :class:`PairSource`: the files are read in the worker), or ``(name, pred, gt)`` -> score."""
    if isinstance(items, PairSource):
        pairs = items

        def read_and_score(i: int) -> tuple[str, ScoredFrame]:
            pred, gt = pairs.load(i)
            return pairs.names[i], score_frame(pred, gt, proto, opts, pairs.label(i))

        return read_and_score

    def score(item: tuple[Any, Any, Any]) -> tuple[str, ScoredFrame]:
        name, pred, gt = item
        return str(name), score_frame(pred, gt, proto, opts, name)

    return score


def evaluate_arrays(
    items: Iterable[tuple[str, Any, Any]],
    protocol: str | EvalProtocol,
    *,
    pred_kind: str | None = None,
    median_scaling: bool | None = None,
    scale: float | None = None,
    align: str | None = None,
    progress: bool = False,
    total: int | None = None,
    spec: OutputSpec | None = None,
    min_depth: float | None = None,
    max_depth: float | None = None,
    force: bool = False,
    source: str = "the predictions",
    workers: int | None = None,
) -> EvalResult:
    """Evaluate an iterable of ``(name, pred, gt)`` and average the per-image metrics.

    Images are scored in parallel by ``workers`` threads (file decoding and NumPy release the
    GIL), in a bounded window; results are taken in input order, so the result is the same
    as one thread's, to the bit.

    Args:
        items: ``(name, pred, gt)`` triples as :func:`evaluate_pair` takes them
            (prediction ``(H', W')`` of the kind ``spec`` states; ground truth ``(H, W)``
            metres, 0 = invalid). Consumed lazily, a few images ahead of the scoring; a
            :class:`~litedepth.metrics.pairing.PairSource` is read by the workers themselves.
        protocol, pred_kind, median_scaling, scale, align, min_depth, max_depth: as in
            :func:`evaluate_pair`.
        progress: show a rich progress bar.
        total: number of items, for the progress bar (``len(items)`` when it has one).
        spec: the recorded meaning of the predictions; options contradicting it are an error
            unless ``force`` (:func:`resolve_options`).
        source: what recorded ``spec`` (for messages), e.g. ``"pred/predictions.json"``.
        workers: threads scoring images (``None``: every available core, at most one per
            image; ``1``: all in the calling thread).

    Returns:
        :class:`EvalResult` (metrics averaged over images, not pooled over pixels).

    Raises:
        DataError: no items, or any image error (naming that image).
    """
    proto = get_protocol(protocol)
    opts = resolve_options(pred_kind, median_scaling, scale, align, recorded=spec, min_depth=min_depth,
                           max_depth=max_depth, force=force, source=source)
    stats = GroundTruthStats()
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    acc = DepthMetricAccumulator()
    per_image: list[ImageResult] = []
    ratios: list[float] = []
    scored = ordered_map(_scorer(items, proto, opts), range(len(items)) if isinstance(items, PairSource) else items,
                         resolve_workers(workers, total), name="litedepth-eval")
    for name, frame in _progress_iter(scored, total, progress, f"evaluating ({proto.name})"):
        acc.add(frame.metrics)
        stats.add_counts(frame.counts)
        per_image.append(ImageResult(name, frame.metrics, frame.ratio))
        if frame.ratio is not None:
            ratios.append(frame.ratio)
    if acc.count == 0:
        raise DataError(None, "no images to evaluate")
    ratio_median = ratio_std = None
    if ratios:
        r = np.asarray(ratios, dtype=np.float64)
        ratio_median = float(np.median(r))
        ratio_std = float(np.std(r / ratio_median))
    used: OutputSpec = opts["spec"]
    options = {**opts, "spec": used.to_dict(), "units": used.units, "protocol": proto.to_dict(),
               "scaling": _scaling_words(opts), "ground_truth_stats": stats.to_dict()}
    warnings = stats.warnings(proto)
    warnings += [f"forced: {what}" for what in opts["forced"]]
    if ratio_median is not None and used.is_metric and not 0.5 <= ratio_median <= 2.0:
        warnings.append(f"the predictions are metric but median scaling multiplied them by {ratio_median:.3g} "
                        "(median ratio): the ground truth's encoding or the predictions' units are likely wrong")
    for w in warnings:
        logger.warning("%s", w)
    result = EvalResult(proto.name, acc.compute(), acc.count, ratio_median, ratio_std, per_image, options, warnings)
    logger.info(
        "%s: %d images, abs_rel %.4f, rmse %.3f, a1 %.4f",
        proto.name, result.count, result.metrics["abs_rel"], result.metrics["rmse"], result.metrics["a1"],
    )  # fmt: skip
    return result


def evaluate_folders(
    pred_dir: str | Path,
    gt_dir: str | Path,
    protocol: str | EvalProtocol,
    *,
    gt_scale: Any = 256.0,
    split: str | Path | None = None,
    pred_kind: str | None = None,
    median_scaling: bool | None = None,
    scale: float | None = None,
    align: str | None = None,
    progress: bool = False,
    allow_pickle: bool = False,
    min_depth: float | None = None,
    max_depth: float | None = None,
    force: bool = False,
    workers: int | None = None,
) -> EvalResult:
    """Evaluate predictions stored in files against ground truth stored in files.

    ``pred_dir`` and ``gt_dir`` may be folders or stacked array files; see
    :func:`load_pairs` for the formats and the pairing rules, and :func:`evaluate_pair`
    for the remaining options. Errors name the offending file. ``workers`` threads read and
    score the files (:func:`evaluate_arrays`; ``None``: every available core).

    A predictions folder written by ``litedepth predict`` holds ``predictions.json``
    (:mod:`litedepth.metrics.prediction_files`): what its maps mean is read from it, the
    options only override it (a contradicting option is an error unless ``force``), and
    predictions of an untrained network are warned about.

    Returns:
        :class:`EvalResult`, with the input paths and the recorded model recorded in ``options``.
    """
    from litedepth.metrics.prediction_files import read_manifest

    proto = get_protocol(protocol)
    manifest = read_manifest(pred_dir)
    recorded = manifest.spec if manifest is not None else None
    source = str(manifest.path) if manifest is not None else "the predictions"
    kw = {"recorded": recorded, "min_depth": min_depth, "max_depth": max_depth, "force": force, "source": source}
    resolve_options(pred_kind, median_scaling, scale, align, warn=False, **kw)  # fail before reading files
    if manifest is not None and manifest.trained is False:
        logger.warning("%s: these predictions come from a network with RANDOM (untrained) weights", manifest.path)
    if manifest is not None and manifest.data.get("complete") is False:
        logger.warning("%s: the predict run that wrote these maps did not finish", manifest.path)
    pairs = load_pairs(pred_dir, gt_dir, gt_scale=gt_scale, split=split, allow_pickle=allow_pickle)
    result = evaluate_arrays(
        pairs, proto, pred_kind=pred_kind, median_scaling=median_scaling, scale=scale, align=align,
        progress=progress, total=len(pairs), spec=recorded, min_depth=min_depth, max_depth=max_depth,
        force=force, source=source, workers=workers,
    )  # fmt: skip
    result.options.update(
        {"predictions": str(pred_dir), "ground_truth": str(gt_dir), "gt_encoding": parse_encoding(gt_scale).to_dict(),
         "split": None if split is None else str(split),
         "manifest": None if manifest is None else str(manifest.path),
         "model": None if manifest is None else manifest.model}  # fmt: skip
    )
    if manifest is not None and manifest.trained is False:
        result.warnings.append("the predictions come from a network with random (untrained) weights")
    return result
