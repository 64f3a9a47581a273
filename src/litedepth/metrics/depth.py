"""Depth error metrics: the one implementation used by evaluation, validation and tests.

All metrics are computed on 1-D vectors of *valid* pixels (the protocol mask already
applied), both in metres and both strictly positive. With ``g`` the ground truth,
``p`` the prediction and ``n`` the number of valid pixels:

=========  =====================================================================
name       formula
=========  =====================================================================
abs_rel    mean(|g - p| / g)
sq_rel     mean((g - p)^2 / g)
rmse       sqrt(mean((g - p)^2))                                    [metres]
rmse_log   sqrt(mean((ln g - ln p)^2))
log10      mean(|log10 g - log10 p|)
silog      100 * sqrt(mean(e^2) - mean(e)^2),  e = ln p - ln g
a1         mean(max(g / p, p / g) < 1.25)
a2         mean(max(g / p, p / g) < 1.25^2)
a3         mean(max(g / p, p / g) < 1.25^3)
=========  =====================================================================

Published protocols (Eigen et al. 2014, Monodepth2, Lite-Mono, AdaBins) compute these per
image and then average over images; :class:`DepthMetricAccumulator` does exactly that
(it does *not* pool pixels across images).

One implementation, two entry points: the formulas are written once (:func:`_formulas`)
against the few array operations NumPy and torch share (``log``, ``sqrt``, ``maximum``, a
clamp at 0 and the share of True values), so that

* :func:`depth_metrics_np` scores NumPy arrays and returns floats — what ``litedepth evaluate``
  uses; it never imports torch, so scoring saved predictions does not load it;
* :func:`compute_depth_metrics` scores tensors on their device without a host
  synchronisation and returns 0-d tensors — what the training tasks' validation uses.

Both compute in float64 (``silog``'s ``mean(e^2) - mean(e)^2`` cancels otherwise); their
results agree to float64 rounding (the reductions sum in a different order).

Example:
    >>> m = depth_metrics_np([2.0, 2.0], [1.0, 4.0])
    >>> round(m["abs_rel"], 4)
    0.75
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from litedepth.utils.arrays import is_tensor

#: Metric names in report order (Monodepth2 order, then the supervised extras).
METRIC_NAMES: tuple[str, ...] = (
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",
    "log10",
    "silog",
    "a1",
    "a2",
    "a3",
)

#: Metrics where larger is better (the accuracy thresholds); all others are errors.
HIGHER_IS_BETTER: frozenset[str] = frozenset({"a1", "a2", "a3"})

_LN10 = math.log(10.0)


class _Ops(NamedTuple):
    """The array operations the formulas need, for one array library."""

    log: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    maximum: Callable[[Any, Any], Any]
    clamp0: Callable[[Any], Any]  # max(x, 0) of a scalar
    fraction: Callable[[Any], Any]  # share of True values of a boolean vector, float64


_NUMPY = _Ops(np.log, np.sqrt, np.maximum, lambda x: np.maximum(x, 0.0),
              lambda m: np.count_nonzero(m) / m.size)


def _formulas(p: Any, g: Any, ops: _Ops) -> dict[str, Any]:
    """The metrics of float64 vectors ``p`` (prediction) and ``g`` (ground truth), metres, > 0.

    The one place the formulas of the module docstring are written; ``ops`` supplies the
    library's functions, arithmetic operators and ``.mean()`` are common to NumPy and torch.
    """
    diff = g - p
    sq = diff * diff
    e = ops.log(p) - ops.log(g)  # log-ratio; the thresholds use max(g/p, p/g) = exp(|e|)
    mean_e2 = (e * e).mean()
    mean_e = e.mean()
    thresh = ops.maximum(g / p, p / g)
    return {
        "abs_rel": (abs(diff) / g).mean(),
        "sq_rel": (sq / g).mean(),
        "rmse": ops.sqrt(sq.mean()),
        "rmse_log": ops.sqrt(mean_e2),
        "log10": abs(e).mean() / _LN10,
        "silog": 100.0 * ops.sqrt(ops.clamp0(mean_e2 - mean_e * mean_e)),
        "a1": ops.fraction(thresh < 1.25),
        "a2": ops.fraction(thresh < 1.25**2),
        "a3": ops.fraction(thresh < 1.25**3),
    }


def _check_sizes(n_pred: int, n_gt: int) -> None:
    if n_pred != n_gt:
        raise ValueError(f"pred has {n_pred} elements but gt has {n_gt}")
    if n_pred == 0:
        raise ValueError("compute_depth_metrics needs at least one valid pixel")


def depth_metrics_np(pred: Any, gt: Any) -> dict[str, float]:
    """Per-image depth metrics of NumPy vectors of valid pixels (no torch involved).

    Args:
        pred: predicted depth in metres, shape ``(N,)`` (anything ``np.asarray`` takes; any
            shape is flattened), all values > 0.
        gt: ground-truth depth in metres, same number of elements as ``pred``, all > 0.

    Returns:
        ``{name: float}`` for every name in :data:`METRIC_NAMES`, computed in float64.
        Formulas are in the module docstring; ``rmse`` is in metres, the others are
        unitless (``silog`` is scaled by 100, ``a1``-``a3`` are fractions in [0, 1]).

    Raises:
        ValueError: if the sizes differ or the vectors are empty (a programming error:
            callers check for empty masks and raise a :class:`~litedepth.errors.DataError`).
    """
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    g = np.asarray(gt, dtype=np.float64).reshape(-1)
    _check_sizes(p.size, g.size)
    return {k: float(v) for k, v in _formulas(p, g, _NUMPY).items()}


def _torch_ops() -> _Ops:
    import torch

    return _Ops(torch.log, torch.sqrt, torch.maximum, lambda x: torch.clamp(x, min=0.0),
                lambda m: m.to(torch.float64).mean())


def compute_depth_metrics(pred: Any, gt: Any) -> dict[str, Any]:
    """Per-image depth metrics on vectors of valid pixels, as torch tensors.

    The same formulas as :func:`depth_metrics_np` (see the module docstring), evaluated by
    torch on ``pred``'s device: for validation inside training, where the vectors are tensors.

    Args:
        pred: predicted depth in metres, shape ``(N,)`` (a tensor or a NumPy array; any
            shape is flattened), all values > 0.
        gt: ground-truth depth in metres, same number of elements as ``pred``, all > 0.

    Returns:
        ``{name: 0-d float64 tensor}`` for every name in :data:`METRIC_NAMES`, on the
        device of ``pred`` (no host synchronisation; call ``float()`` to read one).
        Formulas are in the module docstring; ``rmse`` is in metres, the others are
        unitless (``silog`` is scaled by 100, ``a1``-``a3`` are fractions in [0, 1]).

    Raises:
        ValueError: if the sizes differ or the vectors are empty (a programming error:
            callers check for empty masks and raise a :class:`~litedepth.errors.DataError`).
    """
    import torch

    p = (pred if is_tensor(pred) else torch.from_numpy(np.asarray(pred))).reshape(-1)
    g = (gt if is_tensor(gt) else torch.from_numpy(np.asarray(gt))).reshape(-1).to(p.device)
    _check_sizes(p.numel(), g.numel())
    # float64 keeps silog's mean(e^2) - mean(e)^2 free of cancellation error.
    return _formulas(p.to(torch.float64), g.to(torch.float64), _torch_ops())


class DepthMetricAccumulator:
    """Mean of per-image metrics over a set of images (per-image averaging).

    Each :meth:`update` adds one image; :meth:`compute` returns the mean over images of
    each metric, so an image with 100 valid pixels weighs as much as one with 20,000 —
    the convention of the published KITTI and NYU protocols.

    Example:
        >>> acc = DepthMetricAccumulator()
        >>> _ = acc.update([2.0, 2.0], [1.0, 1.0])  # abs_rel 1
        >>> _ = acc.update([2.0], [2.0])            # abs_rel 0
        >>> acc.count, acc.compute()["abs_rel"]
        (2, 0.5)
    """

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._count = 0

    @property
    def count(self) -> int:
        """Number of images added so far."""
        return self._count

    def reset(self) -> None:
        """Forget every image added so far."""
        self._sums = {}
        self._count = 0

    def update(self, pred: Any, gt: Any) -> dict[str, Any]:
        """Add one image given its valid-pixel vectors (metres, shape ``(N,)``).

        Returns:
            That image's metrics: as :func:`compute_depth_metrics` returns them (0-d tensors)
            when either vector is a tensor, else as :func:`depth_metrics_np` (floats).
        """
        tensors = is_tensor(pred) or is_tensor(gt)
        metrics = compute_depth_metrics(pred, gt) if tensors else depth_metrics_np(pred, gt)
        self.add(metrics)
        return metrics

    def add(self, metrics: dict[str, Any]) -> None:
        """Add one image's already computed metrics (``{name: float or 0-d tensor}``; a tensor
        is read with ``float()``, which waits for its device)."""
        missing = [k for k in METRIC_NAMES if k not in metrics]
        if missing:
            raise ValueError(f"metrics dict lacks {missing}")
        for k in METRIC_NAMES:
            self._sums[k] = self._sums.get(k, 0.0) + float(metrics[k])  # float64 sums
        self._count += 1

    def compute(self) -> dict[str, float]:
        """Mean over images of each metric, as Python floats.

        Raises:
            ValueError: if no image was added.
        """
        if self._count == 0:
            raise ValueError("DepthMetricAccumulator.compute() called before any update()")
        return {k: self._sums[k] / self._count for k in METRIC_NAMES}
