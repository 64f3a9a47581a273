"""Tests of the KITTI raw self-supervised dataset (litedepth.data.kitti_raw) on fake raw trees
(hand-written or real calibration, small frames) and on a real KITTI stereo pair with LiDAR."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.data.augment import resize_intrinsics
from litedepth.data.kitti_raw import KittiRawDataset, parse_split_lines, read_raw_intrinsics, split_file
from litedepth.data.video import validate_sample
from litedepth.data.video_module import VideoDataModule
from litedepth.errors import ConfigError, DataError
from litedepth.geometry.warp import inverse_warp
from tests.conftest import real_subdir

DATE = "2011_01_01"
DRIVE = f"{DATE}/{DATE}_drive_0001_sync"
H, W = 40, 120
FX, FY, CX, CY = 100.0, 90.0, 60.2, 20.3


def _p_rect(tx: float) -> str:
    P = np.array([[FX, 0, CX, tx], [0, FY, CY, 0], [0, 0, 1, 0]])
    return " ".join(f"{v:.6e}" for v in P.reshape(-1))


def _fake_tree(root: Path, frames=range(5), sides=(2, 3), velodyne=True) -> Path:
    """A KITTI raw tree with hand-written calibration: velodyne x forward = camera z, depth 10 m
    straight ahead projects to pixel (col 59, row 19) of every frame."""
    (root / DATE).mkdir(parents=True, exist_ok=True)
    (root / DATE / "calib_cam_to_cam.txt").write_text(
        "calib_time: 01-Jan-2011 00:00:00\n"
        f"S_rect_02: {W}.0 {H}.0\nP_rect_02: {_p_rect(0.0)}\n"
        f"S_rect_03: {W}.0 {H}.0\nP_rect_03: {_p_rect(-0.54 * FX)}\n"
        "R_rect_00: 1 0 0 0 1 0 0 0 1\n"
    )
    (root / DATE / "calib_velo_to_cam.txt").write_text("R: 0 -1 0 0 0 -1 1 0 0\nT: 0 0 0\n")
    rng = np.random.default_rng(0)
    for cam in sides:
        data = root / DRIVE / f"image_0{cam}" / "data"
        data.mkdir(parents=True, exist_ok=True)
        for f in frames:
            Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(data / f"{f:010d}.png")
    if velodyne:
        vel = root / DRIVE / "velodyne_points" / "data"
        vel.mkdir(parents=True, exist_ok=True)
        pts = np.array([[10.0, 0.0, 0.0, 0.5], [-5.0, 0.0, 0.0, 0.5]], dtype="<f4")  # one behind: dropped
        for f in frames:
            pts.tofile(vel / f"{f:010d}.bin")
    return root


LINES = [f"{DRIVE} 0 l", f"{DRIVE} 2 l", f"{DRIVE} 0000000003 r", f"{DRIVE} 4 l"]


def test_index_names_and_intrinsics(tmp_path):
    root = _fake_tree(tmp_path)
    ds = KittiRawDataset(root, LINES, size=(20, 60), img_ext=".png")
    # frames 0 and 4 have no neighbour -1 / +1 in the drive: skipped
    assert [t.name for t in ds.targets] == [f"{DRIVE} 0000000002 l", f"{DRIVE} 0000000003 r"]
    s = ds[0]
    validate_sample(s, ds.frame_ids)
    assert s["frames"].shape == (3, 3, 20, 60) and "stereo_T" not in s and "depth_gt" not in s
    K_native = np.array([[FX, 0, CX], [0, FY, CY], [0, 0, 1]])
    torch.testing.assert_close(s["K"], resize_intrinsics(K_native, (H, W), (20, 60)))
    assert s["K"][0, 2] == pytest.approx((CX + 0.5) / 2 - 0.5)
    K, size = read_raw_intrinsics(root / DATE, 3)
    assert size == (H, W) and np.allclose(K, K_native)
    img = np.asarray(Image.open(root / DRIVE / "image_03" / "data" / "0000000002.png"), np.float32) / 255
    raw = KittiRawDataset(root, LINES, size=None, img_ext=".png")[1]  # right target frame 3: source -1 = frame 2
    torch.testing.assert_close(raw["frames_raw"][1], torch.from_numpy(img).permute(2, 0, 1))


def test_stereo_transform_sign(tmp_path):
    root = _fake_tree(tmp_path)
    ds = KittiRawDataset(root, LINES, frame_ids=(0, -1, 1, "s"), size=(20, 60), img_ext=".png")
    left, right = ds[0], ds[1]
    validate_sample(left, ds.frame_ids)
    assert left["stereo_T"][0, 3] == pytest.approx(-0.1) and right["stereo_T"][0, 3] == pytest.approx(0.1)
    torch.testing.assert_close(left["stereo_T"][:3, :3], torch.eye(3))
    # the stereo frame of a left target is the right image of the same frame
    other = np.asarray(Image.open(root / DRIVE / "image_03" / "data" / "0000000002.png"), np.float32) / 255
    full = KittiRawDataset(root, LINES, frame_ids=(0, "s"), size=None, img_ext=".png")[1]
    assert full["name"] == f"{DRIVE} 0000000002 l"  # no temporal ids: no line skipped
    torch.testing.assert_close(full["frames_raw"][1], torch.from_numpy(other).permute(2, 0, 1))
    flipped = KittiRawDataset(root, LINES, frame_ids=(0, "s"), size=(20, 60), img_ext=".png",
                              hflip_p=1.0, stereo_baseline=0.54)
    assert flipped[2]["name"].endswith(" r")  # (0, "s"): lines 0 l, 2 l, 3 r, 4 l all kept
    assert flipped[0]["stereo_T"][0, 3] == pytest.approx(0.54) and flipped[2]["stereo_T"][0, 3] == pytest.approx(-0.54)
    assert flipped[0]["K"][0, 2] == pytest.approx(60 - 1 - ds[0]["K"][0, 2])
    assert KittiRawDataset(root, LINES, use_stereo=True, img_ext=".png").frame_ids == (0, -1, 1, "s")


def test_velodyne_ground_truth(tmp_path):
    root = _fake_tree(tmp_path)
    s = KittiRawDataset(root, LINES, size=(20, 60), img_ext=".png", load_gt=True, gt_size=None)[0]
    depth = s["depth_gt"]
    assert depth.shape == (1, H, W)
    assert depth[0, 19, 59] == pytest.approx(10.0) and int((depth > 0).sum()) == 1
    flipped = KittiRawDataset(root, LINES, size=(20, 60), img_ext=".png", load_gt=True, gt_size=None, hflip_p=1.0)[0]
    assert flipped["depth_gt"][0, 19, W - 1 - 59] == pytest.approx(10.0)
    resized = KittiRawDataset(root, LINES, img_ext=".png", load_gt=True)[0]["depth_gt"]
    assert resized.shape == (1, 375, 1242) and float(resized.max()) == pytest.approx(10.0)
    no_scans = _fake_tree(tmp_path / "no_scans", velodyne=False)
    assert "depth_gt" not in KittiRawDataset(no_scans, LINES, img_ext=".png", load_gt=True)[0]
    (root / DRIVE / "velodyne_points" / "data" / "0000000003.bin").unlink()
    with pytest.raises(DataError, match="0000000003.bin"):
        KittiRawDataset(root, LINES, img_ext=".png", load_gt=True)


def test_split_files_and_errors(tmp_path):
    root = _fake_tree(tmp_path / "raw")
    splits = tmp_path / "splits" / "tiny"
    splits.mkdir(parents=True)
    (splits / "train_files.txt").write_text("\n".join(LINES) + "\n")
    ds = KittiRawDataset(root, split_file(splits, "train"), img_ext=".png")
    assert len(ds) == 2
    with pytest.raises(DataError, match="train_files.txt"):
        split_file(splits, "val")
    # default extension .jpg: the error names a missing file and says how to fix it
    with pytest.raises(DataError, match=r"0000000002\.jpg.*img_ext='\.png'"):
        KittiRawDataset(root, LINES)
    with pytest.raises(DataError, match="line 2"):
        parse_split_lines([LINES[0], f"{DRIVE} 2 x"])
    with pytest.raises(DataError, match="image folder not found"):
        KittiRawDataset(root, [f"{DATE}/other_drive_sync 2 l"], img_ext=".png")
    with pytest.raises(ConfigError):
        KittiRawDataset(root, LINES, img_ext=".bmp")
    left_only = _fake_tree(tmp_path / "left_only", sides=(2,))
    with pytest.raises(DataError, match="image_03/data: image folder not found"):
        KittiRawDataset(left_only, LINES[:2], frame_ids=(0, "s"), img_ext=".png")
    _fake_tree(tmp_path / "left_only", frames=(0, 1), sides=(3,))
    with pytest.raises(DataError, match=r"stereo partner.*image_03/data/0000000002\.png"):
        KittiRawDataset(left_only, LINES[:2], frame_ids=(0, "s"), img_ext=".png")
    every = KittiRawDataset(left_only, None, img_ext=".png")  # no split: every left frame
    assert [t.frame for t in every.targets] == [1, 2, 3]


def test_data_module_kitti(tmp_path):
    root = _fake_tree(tmp_path / "raw")
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "train_files.txt").write_text("\n".join(LINES))
    (splits / "val_files.txt").write_text(LINES[1])
    dm = VideoDataModule("kitti-raw", str(root), size=(20, 60), batch_size=2, num_workers=0, stereo=True,
                         split_dir=str(splits), img_ext=".png", gt_size=None)
    batch = next(iter(dm.train_dataloader()))
    assert batch["frames"].shape == (2, 4, 3, 20, 60) and batch["stereo_T"].shape == (2, 4, 4)
    val = next(iter(dm.val_dataloader()))
    assert val["depth_gt"].shape == (1, 1, H, W) and val["stereo_T"][0, 0, 3] == pytest.approx(-0.1)


# ------------------------------------------------------------------------------ real data


def _real_tree(real_data: Path, tmp_path: Path) -> Path:
    calib = real_subdir(real_data, "kitti_calib_2011_09_26")
    frame = real_subdir(real_data, "kitti_object_frames_with_lidar") / "balcilar_DenseDepthMap"
    if not frame.is_dir():
        pytest.skip(f"{frame} is absent")
    root = tmp_path / "kitti_raw"
    drive = root / "2011_09_26" / "2011_09_26_drive_0001_sync"
    for name in ("calib_cam_to_cam.txt", "calib_velo_to_cam.txt"):
        (root / "2011_09_26").mkdir(parents=True, exist_ok=True)
        shutil.copy(calib / name, root / "2011_09_26" / name)
    for cam in (2, 3):
        (drive / f"image_0{cam}" / "data").mkdir(parents=True)
        (drive / f"image_0{cam}" / "data" / "0000000001.png").symlink_to(frame / f"image_{cam}" / "0000000001.png")
    (drive / "velodyne_points" / "data").mkdir(parents=True)
    (drive / "velodyne_points" / "data" / "0000000001.bin").symlink_to(frame / "velodyne" / "0000000001.bin")
    return root


def _p_rect_real(calib_dir: Path, cam: int) -> np.ndarray:
    for line in (calib_dir / "calib_cam_to_cam.txt").read_text().splitlines():
        if line.startswith(f"P_rect_0{cam}:"):
            return np.array([float(v) for v in line.split()[1:]]).reshape(3, 4)
    raise AssertionError("P_rect missing")


@pytest.mark.real_data
def test_real_calibration_gives_scaled_P_rect(real_data, tmp_path):
    root = _real_tree(real_data, tmp_path)
    lines = ["2011_09_26/2011_09_26_drive_0001_sync 1 l", "2011_09_26/2011_09_26_drive_0001_sync 1 r"]
    ds = KittiRawDataset(root, lines, frame_ids=(0, "s"), size=(192, 640), img_ext=".png")
    for sample, cam, sign in ((ds[0], 2, -1), (ds[1], 3, 1)):
        validate_sample(sample, ds.frame_ids)
        P = _p_rect_real(root / "2011_09_26", cam)
        torch.testing.assert_close(sample["K"], resize_intrinsics(P[:, :3], (375, 1242), (192, 640)))
        assert sample["K"][0, 0] == pytest.approx(P[0, 0] * 640 / 1242, rel=1e-6)
        assert sample["K"][0, 2] == pytest.approx((P[0, 2] + 0.5) * 640 / 1242 - 0.5, rel=1e-6)
        assert sample["stereo_T"][0, 3] == pytest.approx(sign * 0.1)


@pytest.mark.real_data
@pytest.mark.parametrize("flip", [False, True])
def test_real_stereo_pair_warps_with_lidar_depth(real_data, tmp_path, flip):
    """The right image warped into the left with Velodyne depth, K and stereo_T (metric baseline)
    matches the left image; the opposite sign does not. Holds for flipped samples too."""
    root = _real_tree(real_data, tmp_path)
    P2, P3 = _p_rect_real(root / "2011_09_26", 2), _p_rect_real(root / "2011_09_26", 3)
    baseline = (P2[0, 3] - P3[0, 3]) / P2[0, 0]  # 0.53 m
    ds = KittiRawDataset(root, ["2011_09_26/2011_09_26_drive_0001_sync 1 l"], frame_ids=(0, "s"), size=None,
                         img_ext=".png", load_gt=True, gt_size=None, stereo_baseline=baseline,
                         hflip_p=1.0 if flip else 0.0)
    s = ds[0]
    depth = s["depth_gt"][None]
    assert depth.shape[-2:] == s["frames"].shape[-2:] == (375, 1242) and int((depth > 0).sum()) > 10_000
    target, source = s["frames_raw"][:1], s["frames_raw"][1:2]

    def error(T: torch.Tensor) -> float:
        warped, valid = inverse_warp(source, depth, T[None], s["K"][None])
        mask = valid & (depth > 0)
        return float((warped - target).abs().mean(1, keepdim=True)[mask].mean())

    T = s["stereo_T"]
    assert T[0, 3] == pytest.approx(baseline if flip else -baseline)
    wrong = T.clone()
    wrong[0, 3] = -wrong[0, 3]
    good = error(T)
    assert good < 0.06 and error(wrong) > 2 * good  # measured 0.040 vs 0.120
