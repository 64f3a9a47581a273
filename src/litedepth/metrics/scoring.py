"""Scoring one image under a protocol: the options, the per-image steps, ground-truth statistics.

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

:func:`resolve_options` turns the recorded meaning and the user's options into the one
scaling step; :class:`GroundTruthStats` collects what the report says about the ground truth.
The entry points are in :mod:`litedepth.metrics.evaluate`.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.io.output_spec import OutputSpec, to_depth, to_inverse_depth
from litedepth.metrics.depth import depth_metrics_np
from litedepth.metrics.protocols import EvalProtocol
from litedepth.utils.arrays import is_tensor

logger = logging.getLogger("litedepth.metrics.evaluate")  # one logger for the evaluation report

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
        ``{"spec", "pred_kind", "median_scaling", "scale", "align", "meaning_from", "forced"}``
        (``forced``: the contradictions with ``recorded`` that ``force`` let through, as words).

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
        if median_scaling:
            raise ConfigError("a fixed scale and median scaling are alternatives; give only one "
                              "(--scale or --median-scaling)")
        if not (math.isfinite(scale) and scale > 0):
            raise ConfigError(f"scale must be a finite number > 0, got {scale}")
        scale = float(scale)
    if (min_depth is None) != (max_depth is None):
        raise ConfigError("give both min_depth and max_depth (--min-depth, --max-depth) or neither")

    forced: list[str] = []

    def contradiction(what: str) -> None:
        if not force:
            raise ConfigError(f"{source}: recorded as {recorded.describe()}; {what} contradicts it "  # type: ignore[union-attr]
                              "(pass --force / force=True to evaluate anyway)")
        forced.append(f"{what} contradicts the record ({recorded.describe()})")  # type: ignore[union-attr]
        if warn:
            logger.warning("%s: recorded as %s; %s contradicts it (forced)", source, recorded.describe(), what)  # type: ignore[union-attr]

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
        elif median_scaling is False:
            raise ConfigError(f"{source} are {spec.kind} values (no scale, no shift): they become depth only through "
                              "scale-and-shift alignment, so --no-median-scaling does not apply to them; drop it "
                              "(alignment is their default) or give --align scale-shift")
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
        "forced": forced,
    }


# --------------------------------------------------------------------------- one image


def _as_map(x: Any, what: str, name: Name) -> np.ndarray:
    """A finite 2-D float NumPy array from a tensor or array; leading size-1 dims dropped."""
    return _as_finite_map(x, what, name)[0]


def _as_finite_map(x: Any, what: str, name: Name) -> tuple[np.ndarray, float]:
    """:func:`_as_map` and the map's largest value.

    Tensors are moved to the CPU (torch is not imported for arrays): every per-pixel step and
    the metrics run in NumPy. Finiteness is checked on the whole map with two reductions
    (``min``/``max`` propagate NaN and reach Inf), no full-size temporary.
    """
    if is_tensor(x):
        import torch

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
    hi = float(arr.max())
    if not (math.isfinite(arr.min()) and math.isfinite(hi)):
        n_nan = int(np.count_nonzero(np.isnan(arr)))
        n_inf = int(np.count_nonzero(np.isinf(arr)))
        raise DataError(
            name, f"{what} contains {n_nan} NaN and {n_inf} Inf values; mark invalid pixels with 0"
        )
    return arr, hi


@functools.lru_cache(maxsize=32)
def _resize_axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every output index along one axis: the two source indices and their weights
    ``(i0, i1, 1 - w, w)`` of a bilinear resize ``n_in -> n_out`` (``align_corners=False``)."""
    pos = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = pos.astype(np.int64)  # floor, pos >= 0
    i1 = np.minimum(i0 + 1, n_in - 1)
    w = pos - i0
    tables = (i0, i1, 1.0 - w, w)
    for t in tables:
        t.flags.writeable = False  # cached: shared by every call and thread
    return tables


def _bilinear_at(
    src: np.ndarray, rows: np.ndarray, cols: np.ndarray, out_h: int, out_w: int
) -> np.ndarray:
    """Values at pixels ``(rows, cols)`` of ``src`` resized bilinearly to ``(out_h, out_w)``.

    Same sampling as ``F.interpolate(..., mode="bilinear", align_corners=False)``
    (source coordinate ``(i + 0.5) * in / out - 0.5``, clamped at 0; no antialiasing),
    evaluated only where needed instead of on the whole resized map (float64).
    """
    in_h, in_w = src.shape
    y0, y1, vy, wy = _resize_axis(in_h, out_h)
    x0, x1, vx, wx = _resize_axis(in_w, out_w)
    top_row, bottom_row = y0[rows] * in_w, y1[rows] * in_w
    left, right = x0[cols], x1[cols]
    fx, gx = wx[cols], vx[cols]
    flat = src.reshape(-1)

    def at(idx: np.ndarray) -> np.ndarray:
        return flat.take(idx).astype(np.float64, copy=False)

    top = at(top_row + left) * gx + at(top_row + right) * fx
    bottom = at(bottom_row + left) * gx + at(bottom_row + right) * fx
    return top * vy[rows] + bottom * wy[rows]


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


class FrameCounts(NamedTuple):
    """What one ground-truth map adds to :class:`GroundTruthStats`.

    ``pixels``, ``valid`` (> 0) and ``outside_range`` (valid but outside the protocol's
    ``(min_depth, max_depth)``) count the whole frame; ``lo``, ``hi`` and ``median`` (metres)
    describe its evaluated pixels (``median`` only when the protocol checks plausibility).
    """

    pixels: int
    valid: int
    outside_range: int
    lo: float
    hi: float
    median: float | None


def frame_counts(g: np.ndarray, gt_v: np.ndarray, protocol: EvalProtocol,
                 median: float | None = None, hi: float | None = None) -> FrameCounts:
    """:class:`FrameCounts` of one ground-truth map ``g`` ``(H, W)`` metres (0 = invalid) and its
    evaluated pixels ``gt_v`` (after the protocol's crop and range).

    Counting passes only over the whole frame (no boolean temporaries combined): NaN compares
    False, so it counts as invalid. ``median``: ``median(gt_v)`` and ``hi``: ``max(g)``, if
    already computed (below ``max_depth``, no pixel needs counting above it).
    """
    valid = int(np.count_nonzero(g > 0))
    in_range = valid if protocol.min_depth <= 0 else int(np.count_nonzero(g > protocol.min_depth))
    if protocol.max_depth is not None and (hi is None or hi >= protocol.max_depth):
        in_range -= int(np.count_nonzero(g >= protocol.max_depth))  # max_depth > min_depth >= 0
    if not gt_v.size:
        return FrameCounts(g.size, valid, valid - in_range, math.inf, -math.inf, None)
    if protocol.plausible_median is not None and median is None:
        median = float(np.median(gt_v))
    return FrameCounts(g.size, valid, valid - in_range, float(gt_v.min()), float(gt_v.max()),
                       median if protocol.plausible_median is not None else None)


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
        self.add_counts(frame_counts(g, gt_v, protocol))

    def add_counts(self, c: FrameCounts) -> None:
        """Add the counts of one frame (:func:`frame_counts`)."""
        self.pixels += c.pixels
        self.valid += c.valid
        self.outside_range += c.outside_range
        self.lo = min(self.lo, c.lo)
        self.hi = max(self.hi, c.hi)
        if c.median is not None:
            self.medians.append(c.median)

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


class ScoredFrame(NamedTuple):
    """One scored image: ``{metric: float}``, its median-scaling ratio (``None`` unless median
    scaling was applied) and its ground-truth counts (``None`` unless asked for)."""

    metrics: dict[str, float]
    ratio: float | None
    counts: FrameCounts | None


def score_frame(
    pred: Any, gt: Any, protocol: EvalProtocol, opts: dict[str, Any], name: Name = None, *,
    with_counts: bool = True,
) -> ScoredFrame:
    """Score one prediction against one ground-truth map (the steps of the module docstring).

    The protocol's crop is taken first: the valid mask, the pixel indices and the samples of
    the resized prediction are computed inside it only; the whole frame is only checked for
    NaN/Inf (two reductions) and counted for :class:`GroundTruthStats` (``with_counts``).

    Args:
        pred: prediction ``(H', W')`` (array or tensor) of the kind ``opts["spec"]`` states.
        gt: ground-truth depth ``(H, W)`` in metres, 0 = invalid.
        protocol: the protocol.
        opts: :func:`resolve_options`' result.
        name: the sample or file named in errors.

    Raises:
        DataError: NaN/Inf, a map that is not 2-D, no valid pixel, a failed scale step.
    """
    p = _as_map(pred, "prediction", name)
    g, g_max = _as_finite_map(gt, "ground truth", name)
    height, width = g.shape
    r0, r1, c0, c1 = protocol.crop_bounds(height, width, name)
    # g is finite: no isfinite pass; the upper bound is applied to the (few) selected values
    rows, cols = np.divmod(np.flatnonzero(g[r0:r1, c0:c1] > protocol.min_depth), max(c1 - c0, 1))
    rows += r0
    cols += c0
    flat = rows * width + cols  # row-major order, as a full-frame mask would give
    gt_v = g.reshape(-1).take(flat)
    if protocol.max_depth is not None and g_max >= protocol.max_depth:
        keep = gt_v < protocol.max_depth
        rows, cols, flat, gt_v = rows[keep], cols[keep], flat[keep], gt_v[keep]
    if rows.size == 0:
        raise DataError(
            name, f"no valid ground-truth pixels under protocol {protocol.name!r} ({protocol.description})"
        )
    gt_v = gt_v.astype(np.float64)
    if p.shape == g.shape:
        p_v = p.reshape(-1).take(flat).astype(np.float64)
    else:
        # Resize before any conversion: a disparity is resized as disparity (Monodepth2).
        p_v = _bilinear_at(p, rows, cols, height, width)

    spec: OutputSpec = opts["spec"]
    ratio: float | None = None
    gt_median: float | None = None
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
                gt_median = float(np.median(gt_v))
                ratio = gt_median / pred_median
                if not (math.isfinite(ratio) and ratio > 0):
                    raise DataError(
                        name, f"median scaling failed: the median predicted depth is {pred_median}"
                    )
                depth = depth * ratio
    depth = protocol.clamp(depth)
    counts = frame_counts(g, gt_v, protocol, gt_median, g_max) if with_counts else None
    return ScoredFrame(depth_metrics_np(depth, gt_v), ratio, counts)


def _scaling_words(opts: dict[str, Any]) -> str:
    if opts["align"]:
        return "per-image least-squares scale and shift in inverse-depth space"
    if opts["scale"] is not None:
        if not opts["spec"].is_metric and opts["meaning_from"] == "recorded":
            return (f"fixed scale x {opts['scale']:g} applied to predictions recorded as relative "
                    "(the scale is taken as a calibration to metres, overriding the record)")
        return f"fixed scale x {opts['scale']:g}"
    if opts["median_scaling"]:
        return "per-image median scaling"
    if not opts["spec"].is_metric:
        return "none, forced on predictions recorded as relative (compared with metres as they are)"
    return "none (metric)"
