"""Scoring without torch: the NumPy and torch metric entry points agree, crop-first scoring
equals the full-frame protocol definition, and parallel evaluation equals sequential."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.errors import DataError
from litedepth.metrics import METRIC_NAMES, compute_depth_metrics, evaluate_arrays, evaluate_folders, get_protocol
from litedepth.metrics.depth import depth_metrics_np
from litedepth.metrics.scoring import GroundTruthStats, resolve_options, score_frame


def test_numpy_metrics_hand_values() -> None:
    # gt = [1, 2, 4], pred = [2, 2, 2] (the worked example of test_depth_metrics)
    m = depth_metrics_np(np.array([2.0, 2.0, 2.0]), np.array([1.0, 2.0, 4.0]))
    assert list(m) == list(METRIC_NAMES) and all(type(v) is float for v in m.values())
    assert m["abs_rel"] == pytest.approx(0.5, abs=1e-12)  # [1, 0, 0.5] / 3
    assert m["rmse"] == pytest.approx(1.2909944487358056, abs=1e-12)  # sqrt(5 / 3)
    assert m["silog"] == pytest.approx(56.59523, abs=1e-5)  # 100 sqrt(2 ln2^2 / 3)
    assert m["a1"] == pytest.approx(1 / 3) and m["a3"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="elements"):
        depth_metrics_np(np.ones(3), np.ones(4))


def test_numpy_and_torch_entry_points_agree() -> None:
    rng = np.random.default_rng(1)
    gt = rng.uniform(0.5, 80.0, 5000)
    pred = gt * rng.lognormal(0.0, 0.3, gt.size)
    m_np = depth_metrics_np(pred.astype(np.float32), gt)
    m_t = compute_depth_metrics(torch.from_numpy(pred.astype(np.float32)), torch.from_numpy(gt))
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float64 for v in m_t.values())
    for k in METRIC_NAMES:  # one set of formulas; only the summation order differs
        assert m_np[k] == pytest.approx(float(m_t[k]), rel=1e-12), k


def _full_frame_reference(pred: np.ndarray, gt: np.ndarray, protocol: str) -> tuple[dict[str, float], float]:
    """The protocol as written: full-frame valid mask, median scaling, clamp, metrics."""
    proto = get_protocol(protocol)
    mask = proto.valid_mask(gt)
    g, p = gt[mask].astype(np.float64), pred[mask].astype(np.float64)
    ratio = float(np.median(g) / np.median(p))
    return depth_metrics_np(proto.clamp(p * ratio), g), ratio


@pytest.mark.parametrize(("protocol", "shape"), [("kitti-eigen", (75, 250)), ("nyu", (96, 128)), ("none", (20, 30))])
def test_crop_first_equals_full_frame_definition(protocol: str, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(2)
    gt = rng.uniform(0.5, 120.0, shape).astype(np.float32)  # some above 80 m / 10 m: out of range
    gt[rng.random(shape) < 0.5] = 0.0
    pred = gt * rng.uniform(0.5, 2.0, shape).astype(np.float32) + 0.1
    proto = get_protocol(protocol)
    scored = score_frame(pred, gt, proto, resolve_options(median_scaling=True))
    metrics, ratio = _full_frame_reference(pred, gt, protocol)
    assert scored.ratio == ratio
    assert scored.metrics == metrics  # the same pixels in the same order: equal to the bit
    # the statistics still describe the whole frame
    stats = GroundTruthStats()
    stats.add_counts(scored.counts)
    valid = gt > 0
    in_range = valid & (gt > proto.min_depth) & (gt < (proto.max_depth or np.inf))
    assert (stats.pixels, stats.valid) == (gt.size, int(valid.sum()))
    assert stats.outside_range == int(valid.sum() - in_range.sum())
    assert (stats.outside_range > 0) == (protocol != "none")
    assert stats.hi == float(gt[proto.valid_mask(gt)].max())


def _frames(n: int, seed: int = 3) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        gt = rng.uniform(1.0, 90.0, (30, 100)).astype(np.float32)
        gt[rng.random(gt.shape) < 0.6] = 0.0
        items.append((f"f{i:02d}", rng.uniform(0.01, 0.3, (16, 48)).astype(np.float32), gt))
    return items


def test_parallel_equals_sequential_in_memory() -> None:
    items = _frames(9)
    one = evaluate_arrays(items, "kitti-eigen", pred_kind="disparity", workers=1)
    three = evaluate_arrays(iter(items), "kitti-eigen", pred_kind="disparity", workers=3)  # a generator too
    assert three.to_dict(per_image=True) == one.to_dict(per_image=True)
    assert [r.name for r in three.per_image] == [name for name, _, _ in items]


def test_parallel_equals_sequential_from_files_and_errors_in_order(tmp_path: Path) -> None:
    items = _frames(8)
    for name, pred, gt in items:
        (tmp_path / "pred").mkdir(exist_ok=True)
        (tmp_path / "gt").mkdir(exist_ok=True)
        np.save(tmp_path / "pred" / f"{name}.npy", pred)
        Image.fromarray(np.round(gt * 256.0).astype(np.uint16)).save(tmp_path / "gt" / f"{name}.png")
    kw = {"pred_kind": "disparity"}
    one = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "kitti-eigen", workers=1, **kw)
    four = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "kitti-eigen", workers=4, **kw)
    assert four.to_dict(per_image=True) == one.to_dict(per_image=True) and four.count == 8
    # two bad frames: the error names the first in order, whatever thread fails first
    for name in ("f02", "f05"):
        bad = items[int(name[1:])][1].copy()
        bad[0, 0] = np.nan
        np.save(tmp_path / "pred" / f"{name}.npy", bad)
    with pytest.raises(DataError, match=r"f02\.npy: prediction contains 1 NaN"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", "kitti-eigen", workers=4, **kw)


@pytest.mark.parametrize("recorded", [True, False])
def test_no_scaling_of_relative_disparity_is_refused_not_ignored(recorded: bool) -> None:
    """Relative disparity becomes depth only through scale-and-shift alignment: an explicit
    "no scaling" cannot apply, and was silently replaced by alignment."""
    from litedepth.errors import ConfigError
    from litedepth.models.spec import OutputSpec

    kw = {"recorded": OutputSpec.relative_disparity()} if recorded else {"pred_kind": "relative-disparity"}
    assert resolve_options(**kw)["align"] == "scale-shift"  # the default
    assert resolve_options(align="scale-shift", **kw)["align"] == "scale-shift"
    with pytest.raises(ConfigError, match=r"--no-median-scaling does not apply to them"):
        resolve_options(median_scaling=False, **kw)
