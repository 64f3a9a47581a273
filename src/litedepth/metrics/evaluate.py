"""Evaluate depth predictions against ground truth under a protocol.

Three levels, each built on the one before:

* :func:`evaluate_pair` — one prediction map and one ground-truth map.
* :func:`evaluate_arrays` — any iterable of ``(name, pred, gt)``; per-image metrics
  averaged over images, median-scaling ratio statistics, per-image rows.
* :func:`evaluate_folders` — files on disk (folders of ``.npy``/``.png``, a Monodepth2-style
  ``(N, H, W)`` prediction array, a KITTI ``gt_depths.npz``), paired by :func:`load_pairs`.

Per image, in this order (the Monodepth2 order):

1. the prediction ``(H', W')`` is resized bilinearly (``align_corners=False``) to the
   ground-truth size ``(H, W)`` — a disparity prediction is resized *as disparity*;
2. the protocol's valid mask (crop and ground-truth range) selects the pixels;
3. the prediction becomes depth by its :class:`~litedepth.io.output_spec.OutputSpec`
   (:func:`~litedepth.io.output_spec.to_depth`: a sigmoid disparity through its
   ``disp_to_depth`` range, an inverse depth as ``1 / value``, a depth map as is);
4. exactly one scale step: median scaling (``ratio = median(gt) / median(pred)`` over
   the valid pixels), or a fixed ``scale`` (e.g. 5.4 for stereo-trained Monodepth2), or
   ``align="scale-shift"`` — least squares ``s, t`` with ``s * pred + t ≈ 1 / gt``
   in disparity space (for relative models such as Depth Anything), then
   ``depth = 1 / (s * pred + t)`` with the aligned disparity clipped to the protocol's
   range;
5. predictions are clamped to the protocol's range and the metrics are computed
   (:func:`~litedepth.metrics.depth.compute_depth_metrics`).

Example:
    >>> import numpy as np
    >>> gt = np.full((4, 4), 6.0)
    >>> metrics, ratio = evaluate_pair(gt / 3, gt, "none")
    >>> round(metrics["abs_rel"], 6), round(ratio, 6)
    (0.0, 3.0)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from litedepth.errors import ConfigError, DataError
from litedepth.io.depth_encodings import decode_depth, parse_encoding
from litedepth.metrics.depth import METRIC_NAMES, DepthMetricAccumulator, compute_depth_metrics
from litedepth.metrics.protocols import EvalProtocol, get_protocol
from litedepth.io.output_spec import OutputSpec, to_depth, to_inverse_depth
from litedepth.utils.arrays import is_map_archive, load_npy, npz_entry, open_npz, read_map_archive
from litedepth.utils.atomic import atomic_open

logger = logging.getLogger(__name__)

#: values of ``pred_kind`` (``"disparity"`` is the old name of ``"inverse-depth"``: ``depth = 1 / value``)
PRED_KINDS = ("depth", "inverse-depth", "disparity", "sigmoid-disparity", "relative-disparity")
ALIGN_MODES = ("scale-shift",)
#: share of valid ground-truth pixels outside the protocol's depth range above which the report warns
OUT_OF_RANGE_WARNING = 0.10

Name = str | Path | None


# --------------------------------------------------------------------------- options


def _kind_spec(pred_kind: str, min_depth: float | None, max_depth: float | None, metric: bool) -> OutputSpec:
    """The spec a ``pred_kind`` flag stands for."""
    if pred_kind == "depth":
        return OutputSpec("depth", "metric" if metric else "relative")
    if pred_kind in ("disparity", "inverse-depth"):
        return OutputSpec("inverse-depth", "metric" if metric else "relative")
    if pred_kind == "sigmoid-disparity":
        if min_depth is None or max_depth is None:
            raise ConfigError("pred_kind 'sigmoid-disparity' needs its disp_to_depth range: min_depth and max_depth "
                              "(--min-depth, --max-depth; Monodepth2 / Lite-Mono use 0.1 and 100)")
        return OutputSpec.sigmoid_disparity(min_depth, max_depth, metric=metric)
    return OutputSpec.relative_disparity()


def resolve_options(
    pred_kind: str | None = None,
    median_scaling: bool | None = None,
    scale: float | None = None,
    align: str | None = None,
    *,
    recorded: OutputSpec | None = None,
    min_depth: float | None = None,
    max_depth: float | None = None,
    force: bool = False,
    source: str = "the predictions",
    warn: bool = True,
) -> dict[str, Any]:
    """Resolve what the predictions are and how they are scaled, shared by every ``evaluate_*``.

    The meaning comes from ``recorded`` (the :class:`OutputSpec` a ``predictions.json``,
    checkpoint or ONNX file states); the options only override it, and an option that
    contradicts it is a :class:`ConfigError` naming both unless ``force``. Without a recorded
    spec, ``pred_kind`` says it (default ``"depth"``, or ``"inverse-depth"`` when aligning).

    Scaling: exactly one step among median scaling, a fixed ``scale`` and ``align``. By
    default (``median_scaling=None``) metric predictions are not scaled, relative ones are
    median-scaled and affine-invariant ones (``relative-disparity``) are aligned with
    ``scale-shift``.

    Returns:
        ``{"spec", "pred_kind", "median_scaling", "scale", "align", "meaning_from"}``.

    Raises:
        ConfigError: unknown kind or mode, a non-positive scale, ``scale`` with ``align``,
            a missing sigmoid range, or a contradiction with ``recorded`` (without ``force``).
    """
    if align is not None and align not in ALIGN_MODES:
        raise ConfigError(f"unknown align mode {align!r}; choose one of: {', '.join(ALIGN_MODES)}")
    if pred_kind is not None and pred_kind not in PRED_KINDS:
        raise ConfigError(f"unknown prediction kind {pred_kind!r}; choose one of: {', '.join(PRED_KINDS)}")
    if scale is not None:
        if align:
            raise ConfigError("a fixed scale and align='scale-shift' are alternatives; give only one")
        if not (math.isfinite(scale) and scale > 0):
            raise ConfigError(f"scale must be a finite number > 0, got {scale}")
        scale = float(scale)
    if (min_depth is None) != (max_depth is None):
        raise ConfigError("give both min_depth and max_depth (--min-depth, --max-depth) or neither")

    def contradiction(what: str) -> None:
        if not force:
            raise ConfigError(f"{source} record {recorded.describe()}; {what} contradicts it "  # type: ignore[union-attr]
                              "(pass --force / force=True to evaluate anyway)")
        if warn:
            logger.warning("%s record %s; %s contradicts it (forced)", source, recorded.describe(), what)  # type: ignore[union-attr]

    if recorded is not None:
        spec, meaning_from = recorded, "recorded"
        if pred_kind is not None:
            wanted = "inverse-depth" if pred_kind == "disparity" else pred_kind
            if wanted != recorded.kind:
                contradiction(f"pred_kind {pred_kind!r}")
                spec = _kind_spec(pred_kind, min_depth if min_depth is not None else recorded.min_depth,
                                  max_depth if max_depth is not None else recorded.max_depth, recorded.is_metric)
                meaning_from = "pred_kind (forced)"
        if min_depth is not None and spec.kind == "sigmoid-disparity":
            if spec.has_range and (spec.min_depth, spec.max_depth) != (float(min_depth), float(max_depth)):
                contradiction(f"the range min_depth={min_depth:g}, max_depth={max_depth:g}")
            spec = spec.replace(min_depth=float(min_depth), max_depth=float(max_depth))
    else:
        kind = pred_kind or ("inverse-depth" if align else "depth")
        metric = median_scaling is False and scale is None and align is None
        spec, meaning_from = _kind_spec(kind, min_depth, max_depth, metric), "pred_kind" if pred_kind else "default"
    if spec.kind == "sigmoid-disparity" and not spec.has_range:
        raise ConfigError(f"{source} are sigmoid disparities whose disp_to_depth range is not recorded: give "
                          "min_depth and max_depth (--min-depth, --max-depth; Monodepth2 / Lite-Mono use 0.1 and 100)")
    if not spec.is_depth:
        raise ConfigError(f"{source} are {spec.kind} outputs, not depth")

    if spec.needs_alignment and align is None:
        if scale is not None or median_scaling:
            if recorded is not None:
                contradiction("scaling without scale-and-shift alignment")
        else:
            align = "scale-shift"  # the only way relative disparity becomes depth
    if recorded is not None and spec.is_metric and spec is recorded:
        if scale is not None:
            contradiction(f"a fixed scale {scale:g} (the depth is metric already)")
    if recorded is not None and not spec.is_metric and not spec.needs_alignment:
        if median_scaling is False and scale is None and align is None:
            contradiction("no scaling (relative depth would be compared with metres)")
    if median_scaling is None:
        median_scaling = not spec.is_metric
    return {
        "spec": spec,
        "pred_kind": spec.kind,
        "median_scaling": bool(median_scaling) and scale is None and align is None,
        "scale": scale,
        "align": align,
        "meaning_from": meaning_from,
    }


# --------------------------------------------------------------------------- one image


def _as_map(x: Any, what: str, name: Name) -> np.ndarray:
    """A finite 2-D float NumPy array from a tensor or array; leading size-1 dims dropped.

    Tensors are moved to the CPU: the per-pixel steps run in NumPy, which is fast and
    single-threaded for full-resolution masks; the metric arithmetic runs in torch.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = (x.to(torch.float32) if x.dtype in (torch.float16, torch.bfloat16) else x).numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise DataError(name, f"{what} has dtype {arr.dtype}, expected real numbers")
    if arr.dtype.kind != "f" or arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise DataError(name, f"{what} must be a 2-D (H, W) map, got shape {arr.shape}")
    if arr.size == 0:
        raise DataError(name, f"{what} is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(np.isinf(arr).sum())
        raise DataError(
            name, f"{what} contains {n_nan} NaN and {n_inf} Inf values; mark invalid pixels with 0"
        )
    return arr


def _bilinear_at(
    src: np.ndarray, rows: np.ndarray, cols: np.ndarray, out_h: int, out_w: int
) -> np.ndarray:
    """Values at pixels ``(rows, cols)`` of ``src`` resized bilinearly to ``(out_h, out_w)``.

    Same sampling as ``F.interpolate(..., mode="bilinear", align_corners=False)``
    (source coordinate ``(i + 0.5) * in / out - 0.5``, clamped at 0; no antialiasing),
    evaluated only where needed instead of on the whole resized map.
    """
    in_h, in_w = src.shape

    def axis(idx: np.ndarray, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.maximum((idx + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = pos.astype(np.int64)  # floor, pos >= 0
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, pos - i0

    y0, y1, wy = axis(rows, in_h, out_h)
    x0, x1, wx = axis(cols, in_w, out_w)
    s = src.astype(np.float64, copy=False)
    top = s[y0, x0] * (1.0 - wx) + s[y0, x1] * wx
    bottom = s[y1, x0] * (1.0 - wx) + s[y1, x1] * wx
    return top * (1.0 - wy) + bottom * wy


def _fit_scale_shift(x: np.ndarray, y: np.ndarray, name: Name) -> tuple[float, float]:
    """Least squares ``s, t`` minimising ``sum((s * x + t - y)^2)`` (float64 vectors)."""
    xm, ym = x.mean(), y.mean()
    xc = x - xm
    var = float(xc @ xc)
    if x.size < 2 or var <= 1e-12 * float(x @ x):
        raise DataError(
            name, "prediction is constant over the valid pixels; scale-shift alignment is undefined"
        )
    s = float(xc @ (y - ym)) / var
    return s, float(ym - s * xm)


@dataclass
class GroundTruthStats:
    """Running statistics of the ground truth seen by an evaluation (for the report)."""

    pixels: int = 0
    valid: int = 0  # finite and > 0
    outside_range: int = 0  # valid but outside the protocol's (min_depth, max_depth)
    lo: float = math.inf
    hi: float = -math.inf
    medians: list[float] = field(default_factory=list)

    def add(self, g: np.ndarray, gt_v: np.ndarray, protocol: EvalProtocol) -> None:
        """Count one map ``g`` (the whole frame) and its evaluated pixels ``gt_v`` (after the
        protocol's crop and range)."""
        pos = g > 0  # NaN compares False
        n_pos = int(np.count_nonzero(pos))
        in_range = pos & (g > protocol.min_depth)
        if protocol.max_depth is not None:
            in_range &= g < protocol.max_depth
        self.pixels += g.size
        self.valid += n_pos
        self.outside_range += n_pos - int(np.count_nonzero(in_range))
        if gt_v.size:
            self.lo = min(self.lo, float(gt_v.min()))
            self.hi = max(self.hi, float(gt_v.max()))
            if protocol.plausible_median is not None:
                self.medians.append(float(np.median(gt_v)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid_fraction": self.valid / self.pixels if self.pixels else 0.0,
            "min_m": self.lo if math.isfinite(self.lo) else None,  # of the evaluated pixels
            "max_m": self.hi if math.isfinite(self.hi) else None,
            "median_of_image_medians_m": float(np.median(self.medians)) if self.medians else None,
            "outside_protocol_range_fraction": self.outside_range / self.valid if self.valid else 0.0,
        }

    def warnings(self, protocol: EvalProtocol) -> list[str]:
        """Plausibility warnings: an unusual share outside the protocol range, implausible medians."""
        out: list[str] = []
        d = self.to_dict()
        share = d["outside_protocol_range_fraction"]
        if share > OUT_OF_RANGE_WARNING:
            rng = f"{protocol.min_depth:g}-{protocol.max_depth:g} m" if protocol.max_depth else f"> {protocol.min_depth:g} m"
            out.append(f"{share:.0%} of the valid ground-truth pixels lie outside the {protocol.name} range {rng} "
                       "and are not scored: is the ground truth's depth encoding (--gt-scale) right?")
        med = d["median_of_image_medians_m"]
        if protocol.plausible_median is not None and med is not None:
            lo, hi = protocol.plausible_median
            if not lo <= med <= hi:
                out.append(f"the median ground-truth depth is {med:.3g} m, implausible for {protocol.name} "
                           f"(usually {lo:g}-{hi:g} m): is the ground truth's depth encoding (--gt-scale) right?")
        return out


def _score_pair(
    pred: Any, gt: Any, protocol: EvalProtocol, opts: dict[str, Any], name: Name,
    stats: GroundTruthStats | None = None,
) -> tuple[dict[str, torch.Tensor], float | None]:
    p = _as_map(pred, "prediction", name)
    g = _as_map(gt, "ground truth", name)
    mask = protocol.valid_mask(g, name)
    rows, cols = np.divmod(np.flatnonzero(mask), g.shape[1])  # faster than np.nonzero
    if rows.size == 0:
        raise DataError(
            name, f"no valid ground-truth pixels under protocol {protocol.name!r} ({protocol.description})"
        )
    gt_v = g[rows, cols].astype(np.float64)
    if stats is not None:
        stats.add(g, gt_v, protocol)
    if p.shape == g.shape:
        p_v = p[rows, cols].astype(np.float64)
    else:
        # Resize before any conversion: a disparity is resized as disparity (Monodepth2).
        p_v = _bilinear_at(p, rows, cols, g.shape[0], g.shape[1])

    spec: OutputSpec = opts["spec"]
    ratio: float | None = None
    with np.errstate(divide="ignore"):  # a zero disparity is an infinite depth, clamped below
        if opts["align"] == "scale-shift":
            s, t = _fit_scale_shift(to_inverse_depth(p_v, spec), 1.0 / gt_v, name)
            hi_depth = protocol.clamp_max if protocol.clamp_max is not None else np.finfo(np.float64).max
            depth = 1.0 / np.clip(s * to_inverse_depth(p_v, spec) + t, 1.0 / hi_depth, 1.0 / protocol.clamp_min)
        else:
            depth = to_depth(p_v, spec)
            if opts["scale"] is not None:
                depth = depth * opts["scale"]
            elif opts["median_scaling"]:
                pred_median = float(np.median(depth))
                ratio = float(np.median(gt_v)) / pred_median
                if not (math.isfinite(ratio) and ratio > 0):
                    raise DataError(
                        name, f"median scaling failed: the median predicted depth is {pred_median}"
                    )
                depth = depth * ratio
    depth = protocol.clamp(depth)
    return compute_depth_metrics(torch.from_numpy(depth), torch.from_numpy(gt_v)), ratio


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
    metrics, ratio = _score_pair(pred, gt, proto, opts, name)
    return {k: float(v) for k, v in metrics.items()}, ratio


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


@contextlib.contextmanager
def _one_cpu_thread() -> Iterator[None]:
    """Run per-image CPU tensor work on one thread.

    Each image is a few thousand to a few hundred thousand pixels: too little work to share
    between threads, and on a busy machine OpenMP's thread synchronisation made the eigen
    evaluation ~10x slower (benchmarks/bench_eval.py). The previous setting is restored.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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
) -> EvalResult:
    """Evaluate an iterable of ``(name, pred, gt)`` and average the per-image metrics.

    Args:
        items: ``(name, pred, gt)`` triples as :func:`evaluate_pair` takes them
            (prediction ``(H', W')`` of the kind ``spec`` states; ground truth ``(H, W)``
            metres, 0 = invalid). Consumed lazily, one image at a time.
        protocol, pred_kind, median_scaling, scale, align, min_depth, max_depth: as in
            :func:`evaluate_pair`.
        progress: show a rich progress bar.
        total: number of items, for the progress bar (``len(items)`` when it has one).
        spec: the recorded meaning of the predictions; options contradicting it are an error
            unless ``force`` (:func:`resolve_options`).
        source: what recorded ``spec`` (for messages), e.g. ``"pred/predictions.json"``.

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
    labels = items.label if isinstance(items, PairSource) else None
    stream = _progress_iter(items, total, progress, f"evaluating ({proto.name})")
    with _one_cpu_thread():
        for i, (name, pred, gt) in enumerate(stream):
            metrics, ratio = _score_pair(pred, gt, proto, opts, labels(i) if labels else name, stats)
            acc.add(metrics)
            per_image.append(ImageResult(str(name), {k: float(v) for k, v in metrics.items()}, ratio))
            if ratio is not None:
                ratios.append(ratio)
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


def _scaling_words(opts: dict[str, Any]) -> str:
    if opts["align"]:
        return "per-image least-squares scale and shift in inverse-depth space"
    if opts["scale"] is not None:
        return f"fixed scale x {opts['scale']:g}"
    if opts["median_scaling"]:
        return "per-image median scaling"
    return "none (metric)"


# --------------------------------------------------------------------------- files

_MAX_LISTED = 5


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f", ... ({more} more)" if more > 0 else "")


def _load_npy(path: Path, mmap: bool = False, allow_pickle: bool = False) -> np.ndarray:
    return load_npy(path, allow_pickle=allow_pickle, mmap=mmap)


def _check_float_map(arr: Any, path: Path | str, what: str) -> np.ndarray:
    """A finite floating-point ``(H, W)`` array (leading size-1 dims dropped)."""
    arr = np.asarray(arr)
    if arr.dtype.kind != "f":
        raise DataError(path, f"{what} has dtype {arr.dtype}; expected floating point")
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise DataError(path, f"{what} must be a 2-D (H, W) map, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        n_nan = int(np.isnan(arr).sum())
        raise DataError(
            path, f"{what} contains {n_nan} NaN and {int((~np.isfinite(arr)).sum()) - n_nan} Inf values"
        )
    return arr


def read_depth_png(path: str | Path, gt_scale: float = 256.0) -> np.ndarray:
    """Read a 16-bit depth PNG as metres: ``value / gt_scale``, 0 stays 0 (invalid).

    Returns:
        ``(H, W)`` float32 depth in metres.

    Raises:
        DataError: unreadable file, or not a single-channel 16-bit image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            mode = im.mode
            arr = np.asarray(im)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(path, f"cannot read as an image ({exc})") from None
    if mode not in ("I;16", "I;16B", "I;16L", "I"):
        raise DataError(
            path,
            f"expected a single-channel 16-bit depth PNG (uint16 = metres * {gt_scale:g}), got mode {mode}",
        )
    if arr.ndim != 2:
        raise DataError(path, f"expected a single-channel depth image, got shape {arr.shape}")
    if mode == "I" and arr.size and (arr.min() < 0 or arr.max() > 65535):
        raise DataError(path, "depth PNG values outside the uint16 range")
    return arr.astype(np.float32) / np.float32(gt_scale)


def split_key(line: str) -> str:
    """The file stem a split-file line stands for.

    * ``<date>/<drive> <frame> <side>`` (KITTI, Monodepth2 split files) ->
      ``<drive>_<frame as 10 digits>_<side>``, e.g.
      ``2011_09_26/2011_09_26_drive_0002_sync 69 l`` -> ``2011_09_26_drive_0002_sync_0000000069_l``
      (the Eigen and Eigen-benchmark files, which pad frames differently, give the same key);
    * one field -> that field (a file stem);
    * anything else -> the fields joined by ``_``, with ``/`` replaced by ``_``.
    """
    fields = line.split()
    if len(fields) == 3 and fields[1].isdigit() and fields[2] in ("l", "r"):
        drive = fields[0].replace("\\", "/").strip("/").split("/")[-1]
        return f"{drive}_{int(fields[1]):010d}_{fields[2]}"
    return "_".join(f.replace("/", "_").replace("\\", "_") for f in fields)


def read_split(path: str | Path) -> list[str]:
    """Sample keys (:func:`split_key`) of a split file, one per non-empty line, in order.

    Prediction and ground-truth files are matched to these keys by stem; stacked arrays
    are taken to be in this order.

    Raises:
        DataError: missing/unreadable file, no lines, or duplicate keys.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read split file ({exc})") from None
    keys = [split_key(line) for line in lines if line.strip()]
    if not keys:
        raise DataError(path, "split file has no entries")
    seen: set[str] = set()
    dups: list[str] = []
    for k in keys:
        if k in seen:
            dups.append(k)
        seen.add(k)
    if dups:
        raise DataError(path, f"split file lists {len(dups)} entries twice: {_listing(dups)}")
    return keys


@dataclass
class _Side:
    """One side (predictions or ground truth): files keyed by stem, or a stacked array."""

    path: Path
    what: str
    files: dict[str, Path] | None = None
    stack: Any = None  # (N, H, W) array or object array of N maps
    fmt: str = ""

    def __len__(self) -> int:
        return len(self.files) if self.files is not None else len(self.stack)


def _array_from_file(path: Path, what: str, preferred_keys: Sequence[str], allow_pickle: bool = False) -> Any:
    """An ``(N, H, W)`` array, or a 1-D object array of ``(H, W)`` maps, from a ``.npy`` or ``.npz``.

    A ``.npz`` is either a litedepth map archive (one float array per frame, written by
    ``litedepth kitti-gt``) or an archive with one stacked entry. Pickled (object) entries,
    such as Monodepth2's own ``gt_depths.npz``, are refused unless ``allow_pickle``.
    """
    if path.suffix == ".npy":
        # (N, H, W) stacks can be large: read entries on demand
        arr = _load_npy(path, mmap=True, allow_pickle=allow_pickle)
    else:
        with open_npz(path, what=what) as z:
            keys = list(z.keys())
            if is_map_archive(z):
                maps, _ = read_map_archive(path)
                arr = np.empty(len(maps), dtype=object)  # in memory only: nothing is unpickled
                for i, m in enumerate(maps):
                    arr[i] = m
            else:
                only = keys[0] if len(keys) == 1 else None
                key = next((k for k in preferred_keys if k in keys), only)
                if key is None:
                    raise DataError(
                        path,
                        f"cannot tell which array holds the {what}: keys {keys}; "
                        f"expected {preferred_keys[0]!r}",
                    )
                arr = npz_entry(z, key, path, allow_pickle=allow_pickle)
    if arr.dtype == object:
        if arr.ndim != 1:
            raise DataError(
                path, f"object array of {what} must be 1-D (one map per entry), got shape {arr.shape}"
            )
    elif arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim != 3:
        raise DataError(
            path, f"{what} array must have shape (N, H, W) or (N, 1, H, W), got {arr.shape}"
        )
    if len(arr) == 0:
        raise DataError(path, f"{what} array is empty")
    return arr


def _open_side(
    path: str | Path, what: str, suffixes: tuple[str, ...], keys: Sequence[str], allow_pickle: bool = False
) -> _Side:
    path = Path(path)
    if path.is_dir():
        files: dict[str, Path] = {}
        for f in sorted(path.iterdir()):
            if f.is_file() and f.suffix.lower() in suffixes:
                if f.stem in files:
                    raise DataError(
                        path, f"two {what} files share the stem {f.stem!r}: {files[f.stem].name}, {f.name}"
                    )
                files[f.stem] = f
        if not files:
            raise DataError(path, f"folder has no {what} files ({' or '.join(suffixes)})")
        kinds = {f.suffix.lower() for f in files.values()}
        fmt = kinds.pop().lstrip(".") if len(kinds) == 1 else "mixed"
        return _Side(path, what, files=files, fmt=fmt)
    if not path.exists():
        raise DataError(path, f"{what} path does not exist")
    if path.suffix not in (".npy", ".npz"):
        raise DataError(path, f"{what} must be a folder or a .npy/.npz array file")
    return _Side(
        path, what, stack=_array_from_file(path, what, keys, allow_pickle), fmt=path.suffix.lstrip(".")
    )


class PairSource:
    """A sized iterable of ``(name, pred, gt)`` read lazily from files (see :func:`load_pairs`).

    Attributes:
        names: sample names in evaluation order.
        gt_format: ``"png"``, ``"npy"``, ``"npz"`` or ``"mixed"``.
    """

    def __init__(
        self,
        names: list[str],
        load: Callable[[int], tuple[np.ndarray, np.ndarray]],
        gt_format: str,
        label: Callable[[int], str] | None = None,
    ):
        self.names = names
        self._load = load
        self._label = label
        self.gt_format = gt_format

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for i, name in enumerate(self.names):
            pred, gt = self._load(i)
            yield name, pred, gt

    def label(self, i: int) -> str:
        """The files of sample ``i``, for error messages."""
        return self._label(i) if self._label is not None else self.names[i]


def load_pairs(
    pred_path: str | Path,
    gt_path: str | Path,
    *,
    gt_scale: Any = 256.0,
    split: str | Path | None = None,
    allow_pickle: bool = False,
) -> PairSource:
    """Pair prediction and ground-truth files.

    Args:
        pred_path: a folder of ``.npy`` maps ``(H', W')`` (depth or disparity), or one
            ``.npy``/``.npz`` array ``(N, H', W')`` such as Monodepth2's ``disps`` export.
        gt_path: a folder of ``.png`` (uint16, metres = value / ``gt_scale``, 0 = invalid)
            and/or ``.npy`` (float metres) maps, or a ``gt_depths.npz`` (key ``data``: an
            object array of ``(H, W)`` float maps in metres, or an ``(N, H, W)`` array).
        gt_scale: the ground-truth files' depth encoding: a divisor of the PNG values (256 for
            KITTI, 1000 for NYU, 5000 for TUM) or any name of the depth-encoding registry
            (:func:`litedepth.io.parse_encoding`: ``kitti``, ``nyu``, ``tum``, ``sunrgbd``,
            ``nyu-raw``, ...). ``.npy`` files are metres whatever it says.
        split: optional split file (:func:`read_split`) fixing which samples and their order.
        allow_pickle: read pickled (object) arrays such as Monodepth2's own ``gt_depths.npz``;
            unpickling executes any code stored in the file, so only an explicit user
            opt-in (``--allow-pickle``) sets this. Without it such files are refused.

    Pairing: two folders are matched by file stem, and every stem must be on both sides
    (or, with ``split``, every split key). A stacked array is positional: entry ``i``
    belongs to the ``i``-th name, the names being the split keys, else the sorted stems of
    the folder on the other side, else ``000000``, ``000001``, ...

    Raises:
        DataError: missing or empty inputs, unmatched stems (listed), count mismatches.
    """
    gt_encoding = parse_encoding(gt_scale)
    pred = _open_side(pred_path, "prediction", (".npy",), ("disps", "pred", "data"), allow_pickle)
    gt = _open_side(gt_path, "ground-truth", (".png", ".npy"), ("data", "gt", "depth"), allow_pickle)
    keys = read_split(split) if split is not None else None

    if pred.files is not None and gt.files is not None:
        if keys is None:
            no_gt = [s for s in pred.files if s not in gt.files]
            no_pred = [s for s in gt.files if s not in pred.files]
            if no_gt or no_pred:
                parts = []
                if no_gt:
                    parts.append(
                        f"{len(no_gt)} predictions in {pred.path} have no ground truth: {_listing(no_gt)}"
                    )
                if no_pred:
                    parts.append(
                        f"{len(no_pred)} ground-truth files have no prediction: {_listing(no_pred)}"
                    )
                raise DataError(gt.path, "unmatched file stems; " + "; ".join(parts))
            names = list(pred.files)
        else:
            names = keys
    else:
        keyed = pred if pred.files is not None else gt if gt.files is not None else None
        if keys is not None:
            names, source = keys, f"entries in the split {split}"
        elif keyed is not None:
            names, source = list(keyed.files or {}), f"{keyed.what} files in {keyed.path}"
        else:
            if len(pred.stack) != len(gt.stack):
                raise DataError(
                    gt.path,
                    f"holds {len(gt.stack)} ground-truth maps but {pred.path} holds "
                    f"{len(pred.stack)} predictions",
                )
            names, source = [f"{i:06d}" for i in range(len(pred.stack))], ""
        for side in (pred, gt):
            if side.stack is not None and len(side.stack) != len(names):
                raise DataError(
                    side.path, f"holds {len(side.stack)} {side.what} maps but there are {len(names)} {source}"
                )
    for side in (pred, gt):
        if side.files is not None and keys is not None:
            missing = [k for k in keys if k not in side.files]
            if missing:
                raise DataError(
                    side.path, f"{len(missing)} split entries have no {side.what} file: {_listing(missing)}"
                )
            extra = len(side.files) - len(keys)
            if extra > 0:
                logger.warning(
                    "%s: %d %s files are not in the split and are ignored", side.path, extra, side.what
                )

    def load(i: int) -> tuple[np.ndarray, np.ndarray]:
        name = names[i]
        if pred.files is not None:
            p_path: Path | str = pred.files[name]
            p = _load_npy(pred.files[name])
        else:
            p_path, p = f"{pred.path}[{i}]", np.array(pred.stack[i])
        p = _check_float_map(p, p_path, "prediction")
        if gt.files is not None:
            g_path: Path | str = gt.files[name]
            if g_path.suffix.lower() == ".png":
                g = decode_depth(g_path, gt_encoding)  # the one depth-encoding registry (uint16 / gt_scale)
            else:
                g = _check_float_map(_load_npy(g_path), g_path, "ground truth")
        else:
            g_path, g = f"{gt.path}[{i}]", np.array(gt.stack[i])
            g = _check_float_map(g, g_path, "ground truth")
        return p, g

    def label(i: int) -> str:
        def where(side: _Side) -> str:
            return str(side.files[names[i]]) if side.files is not None else f"{side.path}[{i}]"

        return f"{where(gt)} (prediction {where(pred)})"

    logger.debug("paired %d samples: predictions %s, ground truth %s", len(names), pred.path, gt.path)
    return PairSource(names, load, gt.fmt, label)


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
) -> EvalResult:
    """Evaluate predictions stored in files against ground truth stored in files.

    ``pred_dir`` and ``gt_dir`` may be folders or stacked array files; see
    :func:`load_pairs` for the formats and the pairing rules, and :func:`evaluate_pair`
    for the remaining options. Errors name the offending file.

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
    pairs = load_pairs(pred_dir, gt_dir, gt_scale=gt_scale, split=split, allow_pickle=allow_pickle)
    result = evaluate_arrays(
        pairs, proto, pred_kind=pred_kind, median_scaling=median_scaling, scale=scale, align=align,
        progress=progress, total=len(pairs), spec=recorded, min_depth=min_depth, max_depth=max_depth,
        force=force, source=source,
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
