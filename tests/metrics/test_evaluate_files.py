"""evaluate_folders / load_pairs: file formats, pairing rules and error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from litedepth.errors import DataError
from litedepth.metrics import evaluate_folders, load_pairs, read_split, split_key
from litedepth.metrics.prediction_files import write_manifest
from litedepth.models.spec import OutputSpec
from litedepth.utils.arrays import save_map_archive
from tests.conftest import real_subdir


def _png16(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values.astype(np.uint16)).save(path)


def _npy(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)


def _object_array(maps: list[np.ndarray]) -> np.ndarray:
    arr = np.empty(len(maps), dtype=object)
    for i, m in enumerate(maps):
        arr[i] = m
    return arr


@pytest.fixture()
def png_pair(tmp_path: Path) -> tuple[Path, Path]:
    """a: gt 512/256 = 2 m (with holes), pred 1 m; b: gt 1024/256 = 4 m, pred 4 m."""
    gt_a = np.full((4, 5), 512)
    gt_a[0, :] = 0  # holes
    _png16(tmp_path / "gt" / "a.png", gt_a)
    _png16(tmp_path / "gt" / "b.png", np.full((4, 5), 1024))
    _npy(tmp_path / "pred" / "a.npy", np.full((4, 5), 1.0, np.float32))
    _npy(tmp_path / "pred" / "b.npy", np.full((2, 3), 4.0, np.float32))  # smaller: resized
    return tmp_path / "pred", tmp_path / "gt"


def test_folder_round_trip_png_gt(png_pair: tuple[Path, Path]) -> None:
    pred, gt = png_pair
    result = evaluate_folders(pred, gt, "none", median_scaling=False)
    # a: |2 - 1| / 2 = 0.5; b: 0 -> mean 0.25; rmse: a 1, b 0 -> 0.5
    assert result.count == 2
    assert [r.name for r in result.per_image] == ["a", "b"]
    assert result.per_image[0].metrics["abs_rel"] == pytest.approx(0.5)
    assert result.metrics["abs_rel"] == pytest.approx(0.25)
    assert result.metrics["rmse"] == pytest.approx(0.5)
    assert result.options["predictions"] == str(pred) and result.options["gt_encoding"]["scale"] == 256.0
    # gt_scale 512: gt a = 1 m, b = 2 m -> a 0, b |2 - 4| / 2 = 1 -> mean 0.5
    half = evaluate_folders(pred, gt, "none", gt_scale=512.0, median_scaling=False)
    assert half.metrics["abs_rel"] == pytest.approx(0.5)


def test_folder_round_trip_npy_gt(tmp_path: Path) -> None:
    _npy(tmp_path / "gt" / "x.npy", np.array([[2.0, 0.0], [4.0, 8.0]], np.float32))
    _npy(tmp_path / "pred" / "x.npy", np.array([[1.0, 5.0], [2.0, 4.0]], np.float32))
    result = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "none")
    # valid gt [2, 4, 8], pred [1, 2, 4]: ratio median 4 / median 2 = 2 -> exact
    assert result.ratio_median == pytest.approx(2.0)
    assert result.metrics["abs_rel"] == pytest.approx(0.0, abs=1e-12)


def test_gt_depths_npz_with_stacked_disparities(tmp_path: Path) -> None:
    # Monodepth2 layout: gt_depths.npz (object array of differently sized maps) and an
    # (N, H, W) disparity array in the same order
    gt_maps = _object_array([np.full((3, 4), 2.0), np.full((5, 6), 4.0)])
    np.savez_compressed(tmp_path / "gt_depths.npz", data=gt_maps)
    np.save(tmp_path / "disps.npy", np.full((2, 2, 3), 0.5, np.float32))  # depth 2 m everywhere
    pred, gt = tmp_path / "disps.npy", tmp_path / "gt_depths.npz"
    # a pickled archive is read only on explicit opt-in
    with pytest.raises(DataError, match="pickled Python objects.*--allow-pickle"):
        evaluate_folders(pred, gt, "none", pred_kind="disparity", median_scaling=False)
    result = evaluate_folders(pred, gt, "none", pred_kind="disparity", median_scaling=False, allow_pickle=True)
    # image 0: 0; image 1: |4 - 2| / 4 = 0.5 -> mean 0.25
    assert [r.name for r in result.per_image] == ["000000", "000001"]
    assert result.metrics["abs_rel"] == pytest.approx(0.25)
    # median scaling: ratios 2 / 2 = 1 and 4 / 2 = 2
    scaled = evaluate_folders(pred, gt, "none", pred_kind="disparity", allow_pickle=True)
    assert [r.ratio for r in scaled.per_image] == pytest.approx([1.0, 2.0])


def test_pickle_free_map_archive_scores_like_the_monodepth2_layout(tmp_path: Path) -> None:
    # litedepth kitti-gt's gt_depths.npz: one float array per frame, read without unpickling
    maps = [np.full((3, 4), 2.0, np.float32), np.full((5, 6), 4.0, np.float32)]
    save_map_archive(tmp_path / "gt_depths.npz", maps, ["a", "b"])
    np.save(tmp_path / "disps.npy", np.full((2, 2, 3), 0.5, np.float32))
    result = evaluate_folders(tmp_path / "disps.npy", tmp_path / "gt_depths.npz", "none",
                              pred_kind="disparity", median_scaling=False)
    assert result.metrics["abs_rel"] == pytest.approx(0.25)


def test_gt_npz_with_prediction_folder_sorted_and_split_order(tmp_path: Path) -> None:
    np.savez(tmp_path / "gt_depths.npz", data=np.stack([np.full((2, 2), 1.0), np.full((2, 2), 3.0)]))
    _npy(tmp_path / "pred" / "b.npy", np.full((2, 2), 1.0))
    _npy(tmp_path / "pred" / "a.npy", np.full((2, 2), 3.0))
    # sorted stems a, b -> gt entries 0 (1 m) and 1 (3 m): a |1-3|/1 = 2, b |3-1|/3 = 2/3
    r = evaluate_folders(tmp_path / "pred", tmp_path / "gt_depths.npz", "none", median_scaling=False)
    assert [x.name for x in r.per_image] == ["a", "b"]
    assert [x.metrics["abs_rel"] for x in r.per_image] == pytest.approx([2.0, 2 / 3])
    # split order b, a -> b gets 1 m, a gets 3 m: both exact
    (tmp_path / "split.txt").write_text("b\na\n")
    r = evaluate_folders(tmp_path / "pred", tmp_path / "gt_depths.npz", "none", median_scaling=False,
                         split=tmp_path / "split.txt")  # fmt: skip
    assert [x.name for x in r.per_image] == ["b", "a"]
    assert r.metrics["abs_rel"] == pytest.approx(0.0)


def test_split_keys() -> None:
    assert split_key("2011_09_26/2011_09_26_drive_0002_sync 0000000069 l") == "2011_09_26_drive_0002_sync_0000000069_l"
    assert split_key("2011_09_26/2011_09_26_drive_0002_sync 69 l") == "2011_09_26_drive_0002_sync_0000000069_l"
    assert split_key("000123") == "000123"


def test_prediction_npz_and_count_mismatch(tmp_path: Path) -> None:
    np.savez(tmp_path / "pred.npz", disps=np.ones((3, 2, 2), np.float32))
    np.savez(tmp_path / "gt.npz", data=np.ones((2, 2, 2)))
    with pytest.raises(DataError, match=r"gt\.npz: holds 2 ground-truth maps but .*pred\.npz holds 3 predictions"):
        load_pairs(tmp_path / "pred.npz", tmp_path / "gt.npz")
    # against a folder of 2 ground-truth files
    _npy(tmp_path / "gt" / "a.npy", np.ones((2, 2)))
    _npy(tmp_path / "gt" / "b.npy", np.ones((2, 2)))
    with pytest.raises(DataError, match=r"pred\.npz: holds 3 prediction maps but there are 2 ground-truth files"):
        load_pairs(tmp_path / "pred.npz", tmp_path / "gt")


def test_unmatched_stems_are_listed(tmp_path: Path) -> None:
    for stem in ["a", "b", "x1", "x2", "x3", "x4", "x5", "x6"]:
        _npy(tmp_path / "pred" / f"{stem}.npy", np.ones((2, 2), np.float32))
    for stem in ["a", "b", "only_gt"]:
        _npy(tmp_path / "gt" / f"{stem}.npy", np.ones((2, 2), np.float32))
    with pytest.raises(DataError) as info:
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", "none")
    msg = str(info.value)
    assert "6 predictions" in msg and "x1, x2, x3, x4, x5, ... (1 more)" in msg
    assert "1 ground-truth files have no prediction: only_gt" in msg


def test_empty_and_missing_inputs(tmp_path: Path) -> None:
    (tmp_path / "pred").mkdir()
    _npy(tmp_path / "gt" / "a.npy", np.ones((2, 2), np.float32))
    with pytest.raises(DataError, match=r"pred: folder has no prediction files"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", "none")
    with pytest.raises(DataError, match=r"nowhere: ground-truth path does not exist"):
        evaluate_folders(tmp_path / "gt", tmp_path / "nowhere", "none")


def test_bad_files_are_named(tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    _npy(gt / "a.npy", np.ones((2, 2), np.float32))
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "a.npy").write_bytes(b"not a numpy file")
    with pytest.raises(DataError, match=r"pred/a\.npy: cannot read"):
        evaluate_folders(pred, gt, "none")
    _npy(pred / "a.npy", np.ones((2, 2), np.int32))
    with pytest.raises(DataError, match=r"pred/a\.npy: prediction has dtype int32"):
        evaluate_folders(pred, gt, "none")
    _npy(pred / "a.npy", np.ones((2, 2, 2), np.float32))
    with pytest.raises(DataError, match=r"pred/a\.npy: prediction must be a 2-D"):
        evaluate_folders(pred, gt, "none")
    nan = np.ones((2, 2), np.float32)
    nan[0, 1] = np.nan
    _npy(pred / "a.npy", nan)
    with pytest.raises(DataError, match=r"pred/a\.npy: prediction contains 1 NaN"):
        evaluate_folders(pred, gt, "none")


def test_eight_bit_png_gt_is_rejected(tmp_path: Path) -> None:
    Image.fromarray(np.full((2, 2), 7, np.uint8)).save(tmp_path / "a.png")
    _npy(tmp_path / "pred" / "a.npy", np.ones((2, 2), np.float32))
    gt = tmp_path / "gt"
    gt.mkdir()
    (tmp_path / "a.png").rename(gt / "a.png")
    with pytest.raises(DataError, match=r"gt/a\.png: expected a single-channel 16-bit depth PNG.*mode L"):
        evaluate_folders(tmp_path / "pred", gt, "none")


def test_progress_bar_runs(png_pair: tuple[Path, Path]) -> None:
    pred, gt = png_pair
    assert evaluate_folders(pred, gt, "none", progress=True, median_scaling=False).count == 2


@pytest.mark.real_data
def test_real_kitti_split_files(real_data: Path) -> None:
    splits = real_subdir(real_data, "kitti_splits")
    eigen = read_split(splits / "eigen_test_files.txt")
    assert len(eigen) == 697 and len(set(eigen)) == 697
    assert eigen[0] == "2011_09_26_drive_0002_sync_0000000069_l"
    # the benchmark file writes frames unpadded ("69") and still names the same frame
    assert read_split(splits / "eigen_benchmark_test_files.txt")[0] == eigen[0]


@pytest.mark.real_data
def test_real_nyu_kinect_depth(real_data: Path, tmp_path: Path) -> None:
    """Real 480x640 Kinect depth (uint16 mm, holes = 0) under the NYU protocol."""
    folder = real_subdir(real_data, "nyu_kinect_seq5_slambook2")
    depth_mm = np.asarray(Image.open(folder / "depth" / "1.pgm")).astype(np.int64)
    assert depth_mm.shape == (480, 640)
    _png16(tmp_path / "gt" / "1.png", depth_mm)
    metres = depth_mm / 1000.0
    pred = np.where(metres > 0, metres / 3.0, 1.0).astype(np.float32)  # holes: any value
    _npy(tmp_path / "pred" / "1.npy", pred)
    result = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "nyu", gt_scale=1000.0)
    assert result.ratio_median == pytest.approx(3.0, rel=1e-5)
    assert result.metrics["abs_rel"] < 1e-5 and result.metrics["a1"] == 1.0
    # without scaling, +10 % on the pixels at 4-9 m (so 1.1x stays below the 10 m clamp):
    # abs_rel = 0.1 * (their share of the valid pixels), the valid pixels being the Eigen
    # crop with 1 mm < gt < 10 m
    far = (metres > 4.0) & (metres < 9.0)
    pred = np.where(far, metres * 1.1, metres).astype(np.float32)
    _npy(tmp_path / "pred" / "1.npy", pred)
    valid = np.zeros_like(far)
    valid[45:471, 41:601] = True
    valid &= (depth_mm > 1) & (depth_mm < 10000)
    share = (far & valid).sum() / valid.sum()
    assert 0.05 < share < 0.95
    result = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "nyu", gt_scale=1000.0, median_scaling=False)
    assert result.metrics["abs_rel"] == pytest.approx(0.1 * share, abs=1e-6)


def test_per_image_errors_name_both_files(tmp_path: Path) -> None:
    # NYU protocol on a 375x1242 map: the crop cannot be scaled to another aspect ratio
    _png16(tmp_path / "gt" / "k.png", np.full((375, 1242), 2560))
    _npy(tmp_path / "pred" / "k.npy", np.ones((375, 1242), np.float32))
    with pytest.raises(DataError, match=r"gt/k\.png \(prediction .*pred/k\.npy\): ground truth is 375x1242"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", "nyu")


def test_wrong_gt_scale_is_flagged_not_silently_scored(tmp_path: Path) -> None:
    """Finding 2 of issue 11: NYU millimetre PNGs read with the KITTI divisor (256) put most
    pixels past the 10 m cap, where they were dropped without a word and the score improved.
    The report now warns; a correctly scaled TUM frame (/ 5000) under the NYU protocol does not."""
    rng = np.random.default_rng(0)
    metres = rng.uniform(1.0, 6.0, (48, 64))
    _png16(tmp_path / "gt" / "a.png", np.round(metres * 1000))
    _npy(tmp_path / "pred" / "a.npy", metres.astype(np.float32))
    wrong = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "none", gt_scale=256.0)
    assert not wrong.warnings  # protocol "none" has no range or typical depth
    wrong = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "nyu", gt_scale=256.0, median_scaling=True)
    assert any("outside the nyu range" in w for w in wrong.warnings)
    assert wrong.options["ground_truth_stats"]["outside_protocol_range_fraction"] > 0.5
    right = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "nyu", gt_scale=1000.0, median_scaling=False)
    assert right.warnings == [] and right.metrics["abs_rel"] < 1e-3
    _png16(tmp_path / "tum" / "a.png", np.round(metres * 5000))
    tum = evaluate_folders(tmp_path / "pred", tmp_path / "tum", "nyu", gt_scale=5000.0, median_scaling=False)
    assert tum.warnings == [] and tum.metrics["abs_rel"] < 1e-3
    # metric predictions whose median ratio is far from 1: units or encoding are wrong
    _npy(tmp_path / "pred_mm" / "a.npy", (metres * 1000).astype(np.float32))
    write_manifest(tmp_path / "pred_mm", OutputSpec.metric_depth())
    mm = evaluate_folders(tmp_path / "pred_mm", tmp_path / "gt", "none", gt_scale=1000.0, median_scaling=True)
    assert any("median ratio" in w for w in mm.warnings)


def test_split_selects_and_orders_folder_pairs(tmp_path: Path) -> None:
    for stem, gt_value, pred_value in [("a", 2.0, 1.0), ("b", 4.0, 4.0), ("c", 1.0, 1.0)]:
        _npy(tmp_path / "gt" / f"{stem}.npy", np.full((2, 2), gt_value, np.float32))
        _npy(tmp_path / "pred" / f"{stem}.npy", np.full((2, 2), pred_value, np.float32))
    (tmp_path / "split.txt").write_text("b\na\n")
    r = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "none", split=tmp_path / "split.txt",
                         median_scaling=False)  # fmt: skip
    # c is not in the split; b exact, a |2 - 1| / 2 = 0.5 -> mean 0.25
    assert [x.name for x in r.per_image] == ["b", "a"]
    assert r.metrics["abs_rel"] == pytest.approx(0.25)
    (tmp_path / "split.txt").write_text("b\nmissing\n")
    with pytest.raises(DataError, match=r"1 split entries have no prediction file: missing"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", "none", split=tmp_path / "split.txt")
    (tmp_path / "split.txt").write_text("b\nb\n")
    with pytest.raises(DataError, match=r"split\.txt: split file lists 1 entries twice: b"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", "none", split=tmp_path / "split.txt")


def test_pgm_ground_truth_is_read_with_its_encoding(tmp_path: Path) -> None:
    """NYU's raw Kinect frames are 16-bit PGM files (millimetres): --ground-truth folders of them
    were refused ("no ground-truth files (.png or .npy)") although --gt-scale names PGM."""
    from litedepth.io.depth_encodings import write_pgm

    metres = np.random.default_rng(1).uniform(1.0, 6.0, (48, 64))
    write_pgm(tmp_path / "gt" / "a.pgm", np.round(metres * 1000).astype(np.uint16))
    _npy(tmp_path / "pred" / "a.npy", metres.astype(np.float32))
    right = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "nyu", gt_scale=1000.0, median_scaling=False)
    assert right.count == 1 and right.metrics["abs_rel"] < 1e-3
    wrong = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "nyu", gt_scale=5000.0, median_scaling=False)
    assert wrong.metrics["abs_rel"] > 3.0  # read as TUM: a fifth of the depth
