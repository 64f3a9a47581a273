"""evaluate_pair / evaluate_arrays: resize, masking, scaling, alignment, errors (hand values)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from litedepth.errors import ConfigError, DataError
from litedepth.metrics import evaluate_arrays, evaluate_pair, get_protocol

# 2x2 -> 4x4 bilinear, align_corners=False: source coordinate (i + 0.5) / 2 - 0.5 clamped at 0
# = [0, 0.25, 0.75, 1] on both axes; for [[1, 2], [3, 4]] the value is 1 + 2 * y + x.
SMALL = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
UPSAMPLED = np.array(
    [
        [1.0, 1.25, 1.75, 2.0],
        [1.5, 1.75, 2.25, 2.5],
        [2.5, 2.75, 3.25, 3.5],
        [3.0, 3.25, 3.75, 4.0],
    ]
)


def _gt(h: int = 6, w: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(1.0, 9.0, (h, w))


def test_median_scaling_recovers_scaled_prediction() -> None:
    gt = _gt()
    metrics, ratio = evaluate_pair(gt / 3, gt, "none")
    assert ratio == pytest.approx(3.0, rel=1e-12)
    assert metrics["abs_rel"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["a1"] == 1.0

    result = evaluate_arrays([("a", gt / 3, gt), ("b", _gt(seed=1) / 3, _gt(seed=1))], "none")
    assert result.count == 2
    assert result.ratio_median == pytest.approx(3.0) and result.ratio_std == pytest.approx(0.0, abs=1e-12)
    assert result.metrics["abs_rel"] == pytest.approx(0.0, abs=1e-12)


def test_median_ratio_statistics() -> None:
    gt = _gt()
    # ratios 2, 4, 3 -> median 3; std of [2/3, 4/3, 1] (population) = sqrt(2/27) = 0.2721655
    result = evaluate_arrays([("a", gt / 2, gt), ("b", gt / 4, gt), ("c", gt / 3, gt)], "none")
    assert [r.ratio for r in result.per_image] == pytest.approx([2.0, 4.0, 3.0])
    assert result.ratio_median == pytest.approx(3.0)
    assert result.ratio_std == pytest.approx(0.2721655, abs=1e-7)


def test_median_is_numpy_median_for_even_counts() -> None:
    # valid gt [1, 2, 3, 10]: median (2 + 3) / 2 = 2.5 (a lower median would give 2)
    gt = np.array([[1.0, 2.0, 3.0, 10.0]])
    _, ratio = evaluate_pair(np.ones((1, 4)), gt, "none")
    assert ratio == 2.5


def test_fixed_scale_and_clamp() -> None:
    gt = np.full((3, 3), 2.0)
    # 0.5 * 5.4 = 2.7: |2 - 2.7| / 2 = 0.35, 0.7^2 / 2 = 0.245, rmse 0.7
    metrics, ratio = evaluate_pair(np.full((3, 3), 0.5), gt, "none", scale=5.4)
    assert ratio is None
    assert metrics["abs_rel"] == pytest.approx(0.35)
    assert metrics["sq_rel"] == pytest.approx(0.245)
    assert metrics["rmse"] == pytest.approx(0.7)
    # KITTI range: 20 * 5.4 = 108 is clamped to 80; gt 40 -> abs_rel |40 - 80| / 40 = 1
    kitti_no_crop = dataclasses.replace(get_protocol("kitti-eigen"), crop=None)
    metrics, _ = evaluate_pair(np.full((2, 2), 20.0), np.full((2, 2), 40.0), kitti_no_crop, scale=5.4)
    assert metrics["abs_rel"] == pytest.approx(1.0)


def test_no_median_scaling_keeps_prediction() -> None:
    gt = np.full((2, 2), 4.0)
    metrics, ratio = evaluate_pair(np.full((2, 2), 3.0), gt, "none", median_scaling=False)
    assert ratio is None
    assert metrics["abs_rel"] == pytest.approx(0.25)  # |4 - 3| / 4


def test_scale_shift_alignment_recovers_affine_disparity() -> None:
    gt = np.array([[1.0, 2.0, 4.0, 5.0, 10.0]])
    # true disparity 1/gt = [1, 0.5, 0.25, 0.2, 0.1]; the relative model outputs
    # (1/gt - 0.1) / 2 = [0.45, 0.2, 0.075, 0.05, 0], so s = 2, t = 0.1 recover it exactly
    rel = np.array([[0.45, 0.2, 0.075, 0.05, 0.0]])
    metrics, ratio = evaluate_pair(rel, gt, "none", align="scale-shift")
    assert ratio is None
    assert metrics["abs_rel"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["rmse"] == pytest.approx(0.0, abs=1e-10)
    # median scaling of the same output as depth would not recover it
    wrong, _ = evaluate_pair(rel + 0.01, gt, "none")
    assert wrong["abs_rel"] > 0.1


def test_scale_shift_clips_to_protocol_range() -> None:
    # gt [1, 2, 4, 8], y = 1/gt = [1, 0.5, 0.25, 0.125] (mean 0.46875); pred disparity
    # x = [4, 3, 2, 1] (mean 2.5). xc = [1.5, 0.5, -0.5, -1.5], yc = [0.53125, 0.03125,
    # -0.21875, -0.34375]: s = 1.4375 / 5 = 0.2875, t = 0.46875 - 0.71875 = -0.25.
    # Aligned disparity [0.9, 0.6125, 0.325, 0.0375] -> depth [1.11111, 1.63265, 3.07692, 26.7];
    # with the NYU range the last one is clipped to 10 m (disparity 0.1).
    # abs_rel = (0.111111 + 0.367347 / 2 + 0.923077 / 4 + 2 / 8) / 4 = 0.775553 / 4 = 0.193888
    nyu_no_crop = dataclasses.replace(get_protocol("nyu"), crop=None)
    gt = np.array([[1.0, 2.0, 4.0, 8.0]])
    pred = np.array([[4.0, 3.0, 2.0, 1.0]])
    metrics, _ = evaluate_pair(pred, gt, nyu_no_crop, align="scale-shift")
    assert metrics["abs_rel"] == pytest.approx(0.193888, abs=1e-6)
    # rmse = sqrt((0.012346 + 0.134944 + 0.852071 + 4) / 4) = sqrt(4.999361 / 4) = 1.117962
    assert metrics["rmse"] == pytest.approx(1.117962, abs=1e-5)


def test_disparity_prediction() -> None:
    gt = np.full((2, 3), 2.0)
    # disparity 0.25 -> depth 4: abs_rel |2 - 4| / 2 = 1
    metrics, _ = evaluate_pair(np.full((2, 3), 0.25), gt, "none", pred_kind="disparity", median_scaling=False)
    assert metrics["abs_rel"] == pytest.approx(1.0)
    metrics, _ = evaluate_pair(np.full((2, 3), 0.5), gt, "none", pred_kind="disparity", median_scaling=False)
    assert metrics["abs_rel"] == pytest.approx(0.0)
    # a zero disparity is an infinite depth, clamped to the protocol's 80 m
    kitti_no_crop = dataclasses.replace(get_protocol("kitti-eigen"), crop=None)
    metrics, _ = evaluate_pair(
        np.zeros((1, 1)), np.full((1, 1), 40.0), kitti_no_crop, pred_kind="disparity", median_scaling=False
    )
    assert metrics["abs_rel"] == pytest.approx(1.0)  # |40 - 80| / 40


def test_bilinear_resize_of_smaller_depth_prediction() -> None:
    metrics, _ = evaluate_pair(SMALL, UPSAMPLED, "none", median_scaling=False)
    assert metrics["abs_rel"] == pytest.approx(0.0, abs=1e-12)
    # nearest-neighbour upsampling would differ (e.g. 1 instead of 1.25 at (0, 1))
    nearest = np.kron(SMALL, np.ones((2, 2)))
    assert evaluate_pair(nearest, UPSAMPLED, "none", median_scaling=False)[0]["abs_rel"] > 0.05


def test_disparity_is_resized_before_inversion() -> None:
    # resize disparity then invert: depth = 1 / UPSAMPLED. Inverting first would give
    # e.g. 0.75 * 1 + 0.25 * 0.5 = 0.875 at (0, 1) instead of 1 / 1.25 = 0.8.
    metrics, _ = evaluate_pair(SMALL, 1.0 / UPSAMPLED, "none", pred_kind="disparity", median_scaling=False)
    assert metrics["abs_rel"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(("src", "dst"), [((7, 9), (13, 20)), ((12, 16), (5, 6)), ((192, 640), (375, 1242))])
def test_resize_matches_torch_bilinear(src: tuple[int, int], dst: tuple[int, int]) -> None:
    # float64 so that torch's own interpolation has no float32 coordinate rounding
    pred = np.random.default_rng(3).uniform(1.0, 5.0, src)
    ref = F.interpolate(torch.from_numpy(pred)[None, None], size=dst, mode="bilinear", align_corners=False)[0, 0]
    metrics, _ = evaluate_pair(pred, ref.numpy(), "none", median_scaling=False)
    assert metrics["abs_rel"] < 1e-12
    # the align_corners=True sampling differs measurably
    other = F.interpolate(torch.from_numpy(pred)[None, None], size=dst, mode="bilinear", align_corners=True)[0, 0]
    assert evaluate_pair(pred, other.numpy(), "none", median_scaling=False)[0]["abs_rel"] > 1e-3


def test_protocol_mask_is_applied() -> None:
    # NYU on 480x640: wrong values outside the Eigen crop must not count
    gt = np.full((480, 640), 2.0)
    pred = np.full((480, 640), 100.0)
    pred[45:471, 41:601] = 2.0
    metrics, _ = evaluate_pair(pred, gt, "nyu", median_scaling=False)
    assert metrics["abs_rel"] == 0.0


def test_tensor_and_batched_shapes_accepted() -> None:
    gt = torch.full((1, 1, 3, 3), 2.0)
    metrics, _ = evaluate_pair(torch.full((1, 3, 3), 1.0), gt, "none", median_scaling=False)
    assert metrics["abs_rel"] == pytest.approx(0.5)


def test_nan_and_inf_errors_name_the_file() -> None:
    gt = _gt()
    pred = gt.copy()
    pred[1, 2] = np.nan
    with pytest.raises(DataError, match=r"frame_007\.npy: prediction contains 1 NaN and 0 Inf"):
        evaluate_pair(pred, gt, "none", name="frame_007.npy")
    bad_gt = gt.copy()
    bad_gt[0, 0] = np.inf
    with pytest.raises(DataError, match=r"gt/frame_008\.png: ground truth contains 0 NaN and 1 Inf"):
        evaluate_pair(gt, bad_gt, "none", name="gt/frame_008.png")
    with pytest.raises(DataError, match="frame_009"):
        evaluate_arrays([("frame_009", torch.tensor([[np.nan]]), np.ones((1, 1)))], "none")


def test_shape_and_empty_errors() -> None:
    with pytest.raises(DataError, match=r"x\.npy: prediction must be a 2-D"):
        evaluate_pair(np.ones((2, 3, 3)), np.ones((3, 3)), "none", name="x.npy")
    with pytest.raises(DataError, match="no valid ground-truth pixels"):
        evaluate_pair(np.ones((3, 3)), np.zeros((3, 3)), "none", name="y")
    with pytest.raises(DataError, match="no images"):
        evaluate_arrays([], "none")


def test_option_errors() -> None:
    gt = _gt()
    with pytest.raises(ConfigError, match="alternatives"):
        evaluate_pair(gt, gt, "none", scale=5.4, align="scale-shift")
    with pytest.raises(ConfigError, match="sigmoid-disparity' needs its disp_to_depth range"):
        evaluate_pair(gt, gt, "none", pred_kind="sigmoid-disparity")
    with pytest.raises(ConfigError, match="both min_depth and max_depth"):
        evaluate_pair(gt, gt, "none", pred_kind="sigmoid-disparity", min_depth=0.1)
    with pytest.raises(ConfigError, match="> 0"):
        evaluate_pair(gt, gt, "none", scale=0.0)
    with pytest.raises(ConfigError, match="unknown prediction kind"):
        evaluate_pair(gt, gt, "none", pred_kind="inverse")
    with pytest.raises(ConfigError, match="unknown align"):
        evaluate_pair(gt, gt, "none", align="affine")


def test_result_json_and_csv(tmp_path) -> None:
    import csv
    import json

    gt = np.full((2, 2), 4.0)
    result = evaluate_arrays([("a", np.full((2, 2), 2.0), gt), ("b", np.full((2, 2), 4.0), gt)], "none",
                             median_scaling=False)  # fmt: skip
    data = json.loads(result.to_json(per_image=True))
    assert data["count"] == 2 and data["protocol"] == "none"
    assert data["metrics"]["abs_rel"] == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert data["ratio_median"] is None and data["options"]["median_scaling"] is False
    assert [row["name"] for row in data["per_image"]] == ["a", "b"]
    result.write_csv(tmp_path / "rows.csv")
    rows = list(csv.DictReader((tmp_path / "rows.csv").open()))
    assert [r["name"] for r in rows] == ["a", "b"]
    assert float(rows[0]["abs_rel"]) == pytest.approx(0.5) and float(rows[1]["abs_rel"]) == 0.0
    assert rows[0]["ratio"] == ""


def test_697_kitti_sized_images_evaluate() -> None:
    """The KITTI Eigen test set size (697 x 375x1242, sparse LiDAR GT) in one call; its speed is
    measured by ``benchmarks/bench_eval.py`` (timing belongs in benchmarks, not unit tests)."""
    rng = np.random.default_rng(0)
    gts = []
    for _ in range(3):
        g = np.zeros((375, 1242), np.float32)
        m = rng.random(g.shape) < 0.06  # ~ KITTI LiDAR density
        g[m] = rng.uniform(2.0, 79.0, int(m.sum()))
        gts.append(g)
    preds = [rng.uniform(0.01, 0.3, (192, 640)).astype(np.float32) for _ in range(3)]
    items = [(f"{i:04d}", preds[i % 3], gts[i % 3]) for i in range(697)]
    # One torch thread: this guards vectorisation, not OpenMP behaviour on a busy CI machine.
    result = evaluate_arrays(items, "kitti-eigen", pred_kind="disparity")
    assert result.count == 697
    # each stacked image repeats: the averages equal those of the three distinct images
    three = evaluate_arrays(items[:3], "kitti-eigen", pred_kind="disparity")
    for k in ("abs_rel", "rmse", "a1"):
        assert result.metrics[k] == pytest.approx(
            (232 * sum(r.metrics[k] for r in three.per_image) + three.per_image[0].metrics[k]) / 697, rel=1e-9)
    stats = result.options["ground_truth_stats"]
    assert stats["valid_fraction"] == pytest.approx(0.06, abs=0.005) and 2.0 <= stats["min_m"] < stats["max_m"] <= 79.0
