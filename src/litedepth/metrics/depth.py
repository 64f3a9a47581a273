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

Example:
    >>> import torch
    >>> m = compute_depth_metrics(torch.tensor([2.0, 2.0]), torch.tensor([1.0, 4.0]))
    >>> round(float(m["abs_rel"]), 4)
    0.75
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

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


def _as_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    return torch.from_numpy(np.asarray(x))


def compute_depth_metrics(pred: Any, gt: Any) -> dict[str, torch.Tensor]:
    """Per-image depth metrics on vectors of valid pixels.

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
    p = _as_tensor(pred).reshape(-1)
    g = _as_tensor(gt).reshape(-1).to(p.device)
    if p.numel() != g.numel():
        raise ValueError(f"pred has {p.numel()} elements but gt has {g.numel()}")
    if p.numel() == 0:
        raise ValueError("compute_depth_metrics needs at least one valid pixel")
    # float64 keeps silog's mean(e^2) - mean(e)^2 free of cancellation error.
    p = p.to(torch.float64)
    g = g.to(torch.float64)

    diff = g - p
    sq = diff * diff
    log_g = torch.log(g)
    log_p = torch.log(p)
    e = log_p - log_g  # log-ratio; the thresholds use max(g/p, p/g) = exp(|e|)
    abs_e = e.abs()
    thresh = torch.maximum(g / p, p / g)

    mean_e = e.mean()
    silog_var = torch.clamp((e * e).mean() - mean_e * mean_e, min=0.0)
    return {
        "abs_rel": (diff.abs() / g).mean(),
        "sq_rel": (sq / g).mean(),
        "rmse": torch.sqrt(sq.mean()),
        "rmse_log": torch.sqrt((e * e).mean()),
        "log10": abs_e.mean() / _LN10,
        "silog": 100.0 * torch.sqrt(silog_var),
        "a1": (thresh < 1.25).to(torch.float64).mean(),
        "a2": (thresh < 1.25**2).to(torch.float64).mean(),
        "a3": (thresh < 1.25**3).to(torch.float64).mean(),
    }


class DepthMetricAccumulator:
    """Mean of per-image metrics over a set of images (per-image averaging).

    Each :meth:`update` adds one image; :meth:`compute` returns the mean over images of
    each metric, so an image with 100 valid pixels weighs as much as one with 20,000 —
    the convention of the published KITTI and NYU protocols.

    Example:
        >>> import torch
        >>> acc = DepthMetricAccumulator()
        >>> _ = acc.update(torch.tensor([2.0, 2.0]), torch.tensor([1.0, 1.0]))  # abs_rel 1
        >>> _ = acc.update(torch.tensor([2.0]), torch.tensor([2.0]))            # abs_rel 0
        >>> acc.count, acc.compute()["abs_rel"]
        (2, 0.5)
    """

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0

    @property
    def count(self) -> int:
        """Number of images added so far."""
        return self._count

    def reset(self) -> None:
        """Forget every image added so far."""
        self._sums = {}
        self._count = 0

    def update(self, pred: Any, gt: Any) -> dict[str, torch.Tensor]:
        """Add one image given its valid-pixel vectors (metres, shape ``(N,)``).

        Returns:
            That image's metrics, as :func:`compute_depth_metrics` returns them.
        """
        metrics = compute_depth_metrics(pred, gt)
        self.add(metrics)
        return metrics

    def add(self, metrics: dict[str, Any]) -> None:
        """Add one image's already computed metrics (``{name: float or 0-d tensor}``)."""
        missing = [k for k in METRIC_NAMES if k not in metrics]
        if missing:
            raise ValueError(f"metrics dict lacks {missing}")
        for k in METRIC_NAMES:
            v = torch.as_tensor(metrics[k], dtype=torch.float64).detach().cpu()
            self._sums[k] = self._sums[k] + v if k in self._sums else v.clone()
        self._count += 1

    def compute(self) -> dict[str, float]:
        """Mean over images of each metric, as Python floats.

        Raises:
            ValueError: if no image was added.
        """
        if self._count == 0:
            raise ValueError("DepthMetricAccumulator.compute() called before any update()")
        return {k: float(self._sums[k]) / self._count for k in METRIC_NAMES}
