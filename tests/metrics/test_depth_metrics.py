"""Known-value tests of the metric formulas and the per-image accumulator.

Every expected number below is worked out by hand in the comments, not by calling the
code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from litedepth.metrics import METRIC_NAMES, DepthMetricAccumulator, compute_depth_metrics

LN2 = 0.6931471805599453
LOG10_2 = 0.3010299956639812


def _floats(m: dict) -> dict[str, float]:
    return {k: float(v) for k, v in m.items()}


def test_all_metrics_known_values() -> None:
    # gt = [1, 2, 4], pred = [2, 2, 2]
    m = _floats(compute_depth_metrics(torch.tensor([2.0, 2.0, 2.0]), torch.tensor([1.0, 2.0, 4.0])))
    assert set(m) == set(METRIC_NAMES)
    # |gt - pred| / gt = [1, 0, 0.5] -> 1.5 / 3
    assert m["abs_rel"] == pytest.approx(0.5, abs=1e-12)
    # (gt - pred)^2 / gt = [1, 0, 1] -> 2 / 3
    assert m["sq_rel"] == pytest.approx(0.6666666666666666, abs=1e-12)
    # (gt - pred)^2 = [1, 0, 4] -> sqrt(5 / 3)
    assert m["rmse"] == pytest.approx(1.2909944487358056, abs=1e-12)
    # (ln gt - ln pred)^2 = [ln2^2, 0, ln2^2] -> sqrt(2/3) * ln2 = 0.8164966 * 0.6931472 = 0.5659523
    assert m["rmse_log"] == pytest.approx(0.5659523, abs=1e-7)
    # |log10 gt - log10 pred| = [log10 2, 0, log10 2] -> 2 * 0.30103 / 3
    assert m["log10"] == pytest.approx(2 * LOG10_2 / 3, abs=1e-12)
    # e = [ln2, 0, -ln2], mean(e) = 0 -> 100 * sqrt(2 ln2^2 / 3)
    assert m["silog"] == pytest.approx(56.59523, abs=1e-5)
    # max(gt/pred, pred/gt) = [2, 1, 2]: only the middle pixel is below 1.25^3 = 1.953125
    assert m["a1"] == pytest.approx(1 / 3) and m["a2"] == pytest.approx(1 / 3) and m["a3"] == pytest.approx(1 / 3)


def test_threshold_accuracies_distinguish_the_three_thresholds() -> None:
    # ratios max(g/p, p/g) = [1.1, 1.3, 1.6, 2.0]; thresholds 1.25, 1.5625, 1.953125
    gt = torch.tensor([1.1, 1.0, 1.6, 1.0])
    pred = torch.tensor([1.0, 1.3, 1.0, 2.0])
    m = _floats(compute_depth_metrics(pred, gt))
    assert m["a1"] == 0.25  # 1.1
    assert m["a2"] == 0.5  # 1.1, 1.3
    assert m["a3"] == 0.75  # 1.1, 1.3, 1.6


def test_silog_removes_the_mean_log_error() -> None:
    # gt = [1, 1], pred = [e, e^3]: e = [1, 3]; mean(e^2) = 5, mean(e)^2 = 4 -> 100 * sqrt(1)
    pred = torch.tensor([math.e, math.e**3], dtype=torch.float64)
    m = _floats(compute_depth_metrics(pred, torch.ones(2, dtype=torch.float64)))
    assert m["silog"] == pytest.approx(100.0, abs=1e-9)
    assert m["rmse_log"] == pytest.approx(2.2360679775, abs=1e-9)  # sqrt(5)
    assert m["log10"] == pytest.approx(0.8685889638, abs=1e-9)  # 2 / ln 10
    # a constant factor: silog 0, rmse_log = |ln 3|
    m = _floats(compute_depth_metrics(torch.full((5,), 3.0), torch.ones(5)))
    assert m["silog"] == pytest.approx(0.0, abs=1e-6)
    assert m["rmse_log"] == pytest.approx(1.0986122887, abs=1e-9)


def test_perfect_prediction() -> None:
    gt = torch.tensor([0.5, 3.0, 70.0])
    m = _floats(compute_depth_metrics(gt.clone(), gt))
    for k in ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog"):
        assert m[k] == 0.0, k
    assert m["a1"] == m["a2"] == m["a3"] == 1.0


def test_numpy_input_and_float64_output() -> None:
    m = compute_depth_metrics(np.array([2.0, 2.0], dtype=np.float32), np.array([1.0, 4.0]))
    assert all(isinstance(v, torch.Tensor) and v.ndim == 0 and v.dtype == torch.float64 for v in m.values())
    # |1-2|/1 = 1, |4-2|/4 = 0.5 -> 0.75
    assert float(m["abs_rel"]) == pytest.approx(0.75)


def test_size_errors() -> None:
    with pytest.raises(ValueError, match="elements"):
        compute_depth_metrics(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="at least one"):
        compute_depth_metrics(torch.ones(0), torch.ones(0))


def test_accumulator_averages_per_image_not_per_pixel() -> None:
    acc = DepthMetricAccumulator()
    # image 1: 2 pixels, gt 1, pred 2 -> abs_rel 1
    acc.update(torch.tensor([2.0, 2.0]), torch.tensor([1.0, 1.0]))
    # image 2: 6 pixels, perfect -> abs_rel 0
    acc.update(torch.full((6,), 2.0), torch.full((6,), 2.0))
    assert acc.count == 2
    per_image = acc.compute()
    assert per_image["abs_rel"] == pytest.approx(0.5)  # (1 + 0) / 2
    # pixel pooling would give (1 + 1 + 0 * 6) / 8 = 0.25: the two conventions differ
    pooled = compute_depth_metrics(
        torch.cat([torch.tensor([2.0, 2.0]), torch.full((6,), 2.0)]),
        torch.cat([torch.tensor([1.0, 1.0]), torch.full((6,), 2.0)]),
    )
    assert float(pooled["abs_rel"]) == pytest.approx(0.25)
    # a1: image 1 has ratio 2 (0), image 2 ratio 1 (1) -> 0.5; pooled would be 6/8
    assert per_image["a1"] == pytest.approx(0.5)


def test_accumulator_add_reset_and_errors() -> None:
    acc = DepthMetricAccumulator()
    with pytest.raises(ValueError, match="before any update"):
        acc.compute()
    acc.add({k: 1.0 for k in METRIC_NAMES})
    acc.add({k: torch.tensor(3.0) for k in METRIC_NAMES})
    assert acc.compute()["rmse"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="lacks"):
        acc.add({"abs_rel": 1.0})
    acc.reset()
    assert acc.count == 0
