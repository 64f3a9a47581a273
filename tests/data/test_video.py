"""Tests of the self-supervised sequence datasets (litedepth.data.video, video_folder,
video_module): the sample contract, intrinsics, poses, flips, splits and the video-folder format."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from litedepth.data import synthetic as S
from litedepth.data.augment import ColorJitter, ColorJitterParams, apply_color_jitter, mirror_pose, resize_intrinsics
from litedepth.data.video import (
    SyntheticSequenceDataset,
    parse_frame_ids,
    temporal_targets,
    validate_sample,
)
from litedepth.data.video_folder import VideoFolderDataset, read_video_intrinsics
from litedepth.data.video_module import VideoDataModule
from litedepth.errors import ConfigError, DataError
from litedepth.geometry.warp import inverse_warp
from tests.conftest import real_subdir

H, W = 64, 192
N_SEQ, N_FRAMES = 3, 6


@pytest.fixture(scope="module")
def syn_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    S.make_dataset(root, N_SEQ, N_FRAMES, S.SceneConfig(height=H, width=W), seed=1)
    return root


def _json_K(root: Path) -> np.ndarray:
    return np.asarray(json.loads((root / "intrinsics.json").read_text())["K"])


def _photometric(sample: dict, T: torch.Tensor, j: int) -> float:
    """Mean |warp(source j -> target) - target| over pixels with GT depth that land in view."""
    target, source = sample["frames_raw"][:1], sample["frames_raw"][j : j + 1]
    depth = sample["depth_gt"][None]
    warped, valid = inverse_warp(source, depth, T[None], sample["K"][None])
    mask = valid & (depth > 0)
    assert mask.float().mean() > 0.5
    return float((warped - target).abs().mean(1, keepdim=True)[mask].mean())


@dataclass(frozen=True)
class RecordingJitter(ColorJitter):
    drawn: list = field(default_factory=list, compare=False)

    def sample(self, generator=None):
        params = super().sample(generator)
        self.drawn.append(params)
        return params


# ------------------------------------------------------------------------------ helpers


def test_parse_frame_ids_and_temporal_targets():
    assert parse_frame_ids([0, "-1", 1, "s"]) == (0, -1, 1, "s")
    for bad in ([-1, 0, 1], [0, 1, 1], [0, "x"], [], "0,-1"):
        with pytest.raises(ConfigError):
            parse_frame_ids(bad)
    assert list(temporal_targets(6, (0, -1, 1))) == [1, 2, 3, 4]
    assert list(temporal_targets(9, (0, -1, 1), frame_step=3)) == [3, 4, 5]
    assert list(temporal_targets(10, (0, 1, 2), target_stride=3)) == [0, 3, 6]
    assert list(temporal_targets(6, (0, "s"))) == list(range(6))
    assert list(temporal_targets(2, (0, -1, 1))) == []


# ------------------------------------------------------------------------------ synthetic


def test_synthetic_sample_follows_contract(syn_root):
    ds = SyntheticSequenceDataset(syn_root, "all")
    assert len(ds) == N_SEQ * (N_FRAMES - 2)  # first and last frame of each sequence skipped
    assert ds.frame_ids == (0, -1, 1)
    names = [ds.targets[i].name for i in range(len(ds))]
    assert names[0] == "seq0000/000001" and names[-1] == f"seq{N_SEQ - 1:04d}/{N_FRAMES - 2:06d}"
    s = ds[0]
    validate_sample(s, ds.frame_ids)
    assert s["frames"].shape == (3, 3, H, W) and s["frames"].dtype == torch.float32
    assert torch.equal(s["frames"], s["frames_raw"])  # no augmentation by default
    assert s["frames"].data_ptr() != s["frames_raw"].data_ptr()
    assert s["depth_gt"].shape == (1, H, W) and s["pose_gt"].shape == (2, 4, 4)
    assert "stereo_T" not in s and s["name"] == "seq0000/000001"
    torch.testing.assert_close(s["K"], torch.tensor(_json_K(syn_root), dtype=torch.float32))
    rgb = np.asarray(Image.open(syn_root / "images" / "seq0000_000000.png"), np.float32) / 255
    torch.testing.assert_close(s["frames_raw"][1], torch.from_numpy(rgb).permute(2, 0, 1))
    poses = S.read_poses_txt(syn_root / "poses" / "seq0000.txt")
    expected = S.relative_transform(poses[1], poses[0])  # T_source_from_target for source -1
    torch.testing.assert_close(s["pose_gt"][0], torch.tensor(expected, dtype=torch.float32))
    assert "depth_gt" not in SyntheticSequenceDataset(syn_root, "all", load_gt=False)[0]


def test_synthetic_K_is_scaled_with_the_size(syn_root):
    K = _json_K(syn_root)
    s = SyntheticSequenceDataset(syn_root, "all", size=(32, 96))[2]
    validate_sample(s, (0, -1, 1))
    assert s["frames"].shape == (3, 3, 32, 96) and s["depth_gt"].shape == (1, H, W)
    assert s["K"][0, 0] == pytest.approx(K[0, 0] / 2) and s["K"][1, 1] == pytest.approx(K[1, 1] / 2)
    assert s["K"][0, 2] == pytest.approx((K[0, 2] + 0.5) / 2 - 0.5)
    assert s["K"][1, 2] == pytest.approx((K[1, 2] + 0.5) / 2 - 0.5)


@pytest.mark.parametrize("flip", [False, True])
def test_pose_gt_warps_sources_onto_target(syn_root, flip):
    """GT pose + GT depth + K reproduce the target from each source (low photometric error);
    the swapped convention (inverse pose) and, when flipped, the un-mirrored pose do not."""
    ds = SyntheticSequenceDataset(syn_root, "all", hflip_p=1.0 if flip else 0.0)
    for index in (0, len(ds) - 1):
        s = ds[index]
        for j in (1, 2):
            T = s["pose_gt"][j - 1]
            good = _photometric(s, T, j)
            assert good < 0.012
            assert _photometric(s, torch.linalg.inv(T), j) > 2.5 * good  # swapped convention
            if flip:
                assert _photometric(s, mirror_pose(T), j) > 1.3 * good  # pose not mirrored


def test_flipped_sample_mirrors_everything(syn_root):
    plain = SyntheticSequenceDataset(syn_root, "all")[3]
    flipped = SyntheticSequenceDataset(syn_root, "all", hflip_p=1.0)[3]
    validate_sample(flipped, (0, -1, 1))
    torch.testing.assert_close(flipped["frames_raw"], plain["frames_raw"].flip(-1))
    torch.testing.assert_close(flipped["depth_gt"], plain["depth_gt"].flip(-1))
    assert flipped["K"][0, 2] == pytest.approx(W - 1 - plain["K"][0, 2])
    torch.testing.assert_close(flipped["K"][1], plain["K"][1])
    torch.testing.assert_close(flipped["pose_gt"], mirror_pose(plain["pose_gt"]))
    assert flipped["name"] == plain["name"]


def test_colour_jitter_is_drawn_once_and_applied_to_frames_only(syn_root):
    jitter = RecordingJitter(p=1.0)
    torch.manual_seed(0)
    s = SyntheticSequenceDataset(syn_root, "all", color_jitter=jitter)[1]
    plain = SyntheticSequenceDataset(syn_root, "all")[1]
    assert len(jitter.drawn) == 1 and isinstance(jitter.drawn[0], ColorJitterParams)
    torch.testing.assert_close(s["frames_raw"], plain["frames_raw"])
    torch.testing.assert_close(s["frames"], apply_color_jitter(plain["frames_raw"], jitter.drawn[0]))
    assert not torch.allclose(s["frames"], s["frames_raw"], atol=1e-3)


def test_synthetic_split_by_whole_sequences(syn_root):
    seqs = {}
    for split in ("train", "val", "test"):
        ds = SyntheticSequenceDataset(syn_root, split)
        seqs[split] = {t.sequence for t in ds.targets}
    assert all(len(v) == 1 for v in seqs.values())
    assert set.union(*seqs.values()) == {f"seq{i:04d}" for i in range(N_SEQ)}
    assert seqs["train"] == {t.sequence for t in SyntheticSequenceDataset(syn_root, "train").targets}
    ds = SyntheticSequenceDataset(syn_root, sequences=["seq0002"])
    assert {t.sequence for t in ds.targets} == {"seq0002"}
    with pytest.raises(DataError, match="seq0009"):
        SyntheticSequenceDataset(syn_root, sequences=["seq0009"])
    with pytest.raises(ConfigError, match="stereo"):
        SyntheticSequenceDataset(syn_root, "all", frame_ids=(0, -1, "s"))
    with pytest.raises(DataError, match="intrinsics"):
        SyntheticSequenceDataset(syn_root / "images", "all")


def test_synthetic_frame_step(syn_root):
    ds = SyntheticSequenceDataset(syn_root, "all", frame_ids=(0, -1, 1), frame_step=2)
    assert [t.frame for t in ds.targets if t.sequence == "seq0000"] == [2, 3]
    s = ds[0]
    poses = S.read_poses_txt(syn_root / "poses" / "seq0000.txt")
    expected = torch.tensor(S.relative_transform(poses[2], poses[4]), dtype=torch.float32)  # target 2, source +1
    torch.testing.assert_close(s["pose_gt"][1], expected)
    plain = SyntheticSequenceDataset(syn_root, "all", frame_ids=(0,))
    assert len(plain) == N_SEQ * N_FRAMES and plain[0]["pose_gt"].shape == (0, 4, 4)


def test_batches_collate(syn_root):
    ds = SyntheticSequenceDataset(syn_root, "all", size=(32, 96), hflip_p=0.5, color_jitter=ColorJitter())
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert batch["frames"].shape == (4, 3, 3, 32, 96) and batch["K"].shape == (4, 3, 3)
    assert batch["pose_gt"].shape == (4, 2, 4, 4) and batch["depth_gt"].shape == (4, 1, H, W)
    assert batch["name"][:2] == ["seq0000/000001", "seq0000/000002"]


def test_validate_sample_catches_contract_errors(syn_root):
    s = SyntheticSequenceDataset(syn_root, "all")[0]
    with pytest.raises(ValueError, match="pose_gt"):
        validate_sample({**s, "pose_gt": s["pose_gt"][:1]}, (0, -1, 1))
    with pytest.raises(ValueError, match="stereo_T present"):
        validate_sample({**s, "stereo_T": torch.eye(4)}, (0, -1, 1))
    with pytest.raises(ValueError, match="3, H, W"):
        validate_sample(s, (0, -1, 1, "s"))
    with pytest.raises(ValueError, match="frames"):
        validate_sample({**s, "frames": s["frames"] * 2}, (0, -1, 1))


# ------------------------------------------------------------------------------ video folder


def _video_root(tmp_path: Path, syn_root: Path, sequences=("clip_a", "clip_b"), n: int = N_FRAMES) -> Path:
    root = tmp_path / "videos"
    for k, name in enumerate(sequences):
        (root / name).mkdir(parents=True)
        for i in range(n):
            shutil.copy(syn_root / "images" / f"seq{k:04d}_{i % N_FRAMES:06d}.png", root / name / f"frame_{i}.png")
    return root


def _write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_pixel_and_normalised_intrinsics_give_the_same_K(tmp_path):
    K = np.array([[150.0, 0, 95.25], [0, 148.0, 31.5], [0, 0, 1]])
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    _write_json(tmp_path / "p.json", {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "width": W, "height": H})
    _write_json(
        tmp_path / "n.json", {"fx": fx / W, "fy": fy / H, "cx": cx / W, "cy": cy / H, "normalised": True}
    )
    _write_json(  # calibrated at twice the frames' size
        tmp_path / "d.json",
        {"fx": 2 * fx, "fy": 2 * fy, "cx": 2 * cx + 0.5, "cy": 2 * cy + 0.5, "width": 2 * W, "height": 2 * H},
    )
    (tmp_path / "k9.txt").write_text("\n".join(" ".join(str(v) for v in row) for row in K))
    (tmp_path / "k4.txt").write_text(f"{fx} {fy} {cx} {cy}")
    (tmp_path / "k6.txt").write_text(f"{fx}, {fy}, {cx}, {cy}, {W}, {H}")
    for f in ("p.json", "n.json", "d.json", "k9.txt", "k4.txt", "k6.txt"):
        np.testing.assert_allclose(read_video_intrinsics(tmp_path / f, (H, W)), K, atol=1e-9, err_msg=f)
    cropped = _write_json(tmp_path / "c.json", {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "width": W, "height": 2 * H})
    with pytest.raises(DataError, match="aspect"):
        read_video_intrinsics(cropped, (H, W))
    for name, text, match in [("bad.json", '{"fx": 1}', "missing key"), ("bad.txt", "1 2 3", "expected 9, 4 or 6"),
                              ("neg.json", '{"fx": -1, "fy": 1, "cx": 1, "cy": 1}', "positive")]:
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=match) as err:
            read_video_intrinsics(tmp_path / name, (H, W))
        assert name in str(err.value)


def test_video_folder_samples(tmp_path, syn_root):
    root = _video_root(tmp_path, syn_root)
    _write_json(root / "intrinsics.json", {"fx": 0.5, "fy": 1.5, "cx": 0.5, "cy": 0.5, "normalised": True})
    own = {"fx": 100.0, "fy": 101.0, "cx": 90.0, "cy": 30.0, "width": W, "height": H}
    _write_json(root / "clip_b" / "intrinsics.json", own)
    ds = VideoFolderDataset(root, size=(32, 96))
    assert len(ds) == 2 * (N_FRAMES - 2)
    s = ds[0]
    validate_sample(s, ds.frame_ids)
    assert s["name"] == "clip_a/frame_1" and "depth_gt" not in s and "pose_gt" not in s
    K_root = np.array([[0.5 * W, 0, 0.5 * W], [0, 1.5 * H, 0.5 * H], [0, 0, 1]])  # normalised x (W, H)
    torch.testing.assert_close(s["K"], resize_intrinsics(K_root, (H, W), (32, 96)))
    s_b = ds[len(ds) - 1]
    assert s_b["name"] == f"clip_b/frame_{N_FRAMES - 2}"
    K_own = np.array([[100.0, 0, 90], [0, 101, 30], [0, 0, 1]])
    torch.testing.assert_close(s_b["K"], resize_intrinsics(K_own, (H, W), (32, 96)))


def test_video_folder_frame_step_and_natural_order(tmp_path, syn_root):
    root = _video_root(tmp_path, syn_root, sequences=("clip",), n=12)  # frame_0 ... frame_11
    _write_json(root / "intrinsics.json", {"fx": 100, "fy": 100, "cx": 95.5, "cy": 31.5})
    ds = VideoFolderDataset(root, frame_step=3)
    assert [t.name for t in ds.targets] == [f"clip/frame_{i}" for i in range(3, 9)]  # frame_10 after frame_9
    s = ds[0]  # target frame_3, sources frame_0 and frame_6
    for j, idx in ((0, 3), (1, 0), (2, 6)):
        rgb = np.asarray(Image.open(root / "clip" / f"frame_{idx}.png"), np.float32) / 255
        torch.testing.assert_close(s["frames_raw"][j], torch.from_numpy(rgb).permute(2, 0, 1))
    strided = VideoFolderDataset(root, frame_step=3, target_stride=3)
    assert [t.name for t in strided.targets] == ["clip/frame_3", "clip/frame_6"]


def test_static_filter_drops_duplicated_frame_and_caches(tmp_path, syn_root, monkeypatch):
    root = _video_root(tmp_path, syn_root, sequences=("clip",), n=N_FRAMES)
    shutil.copy(root / "clip" / "frame_2.png", root / "clip" / "frame_3.png")  # the camera "stopped"
    _write_json(root / "intrinsics.json", {"fx": 100, "fy": 100, "cx": 95.5, "cy": 31.5})
    assert len(VideoFolderDataset(root)) == N_FRAMES - 2  # filter off by default
    ds = VideoFolderDataset(root, static_threshold=0.005)
    assert sorted(ds.dropped_static) == ["clip/frame_2", "clip/frame_3"]
    assert [t.name for t in ds.targets] == ["clip/frame_1", "clip/frame_4"]
    assert (root / ".litedepth_cache" / "static_mad.json").is_file()

    import litedepth.data.video_folder as vf

    def fail(*args, **kwargs):
        raise AssertionError("static filter recomputed despite the cache")

    monkeypatch.setattr(vf, "_grey_small", fail)
    again = VideoFolderDataset(root, static_threshold=0.005)
    assert again.dropped_static == ds.dropped_static


def test_video_folder_errors_name_the_file(tmp_path, syn_root):
    root = _video_root(tmp_path, syn_root, sequences=("clip",), n=N_FRAMES)
    with pytest.raises(DataError, match="no intrinsics") as err:
        VideoFolderDataset(root)
    assert "clip" in str(err.value)
    _write_json(root / "intrinsics.json", {"fx": 100, "fy": 100, "cx": 95.5, "cy": 31.5})
    with pytest.raises(DataError, match="need at least 7") as err:
        VideoFolderDataset(root, frame_step=3)
    assert str(root / "clip") in str(err.value)
    (root / "clip" / "frame_9.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="frame_9.png"):
        VideoFolderDataset(root)
    Image.new("RGB", (W // 2, H // 2)).save(root / "clip" / "frame_9.png")
    with pytest.raises(DataError, match="frame_9.png.*share one size"):
        VideoFolderDataset(root)
    loose = tmp_path / "loose"
    loose.mkdir()
    shutil.copy(root / "clip" / "frame_0.png", loose / "a.png")
    with pytest.raises(DataError, match="sub-folder"):
        VideoFolderDataset(loose)
    with pytest.raises(DataError, match="not found"):
        VideoFolderDataset(tmp_path / "missing")
    with pytest.raises(DataError, match="split 'train' holds no sequence"):
        VideoFolderDataset(root, split="train")


@pytest.mark.real_data
def test_real_kitti_grey_frames_as_video_folder(real_data, tmp_path):
    src = real_subdir(real_data, "kitti_odometry_gray_slambook2")
    seq = tmp_path / "kitti" / "odometry"
    seq.mkdir(parents=True)
    for i in range(1, 6):
        (seq / f"{i:06d}.png").symlink_to(src / f"{i:06d}.png")
    _write_json(seq / "intrinsics.json", {"fx": 718.856, "fy": 718.856, "cx": 607.1928, "cy": 185.2157,
                                          "width": 1241, "height": 376})
    ds = VideoFolderDataset(tmp_path / "kitti", size=(96, 320), static_threshold=0.01)
    assert [t.name for t in ds.targets] == ["odometry/000002", "odometry/000003", "odometry/000004"]
    s = ds[0]
    validate_sample(s, ds.frame_ids)
    assert torch.equal(s["frames"][:, 0], s["frames"][:, 1]) and torch.equal(s["frames"][:, 0], s["frames"][:, 2])
    K = s["K"]
    assert K[0, 0] == pytest.approx(718.856 * 320 / 1241, rel=1e-5)
    assert K[1, 1] == pytest.approx(718.856 * 96 / 376, rel=1e-5)
    assert K[0, 2] == pytest.approx((607.1928 + 0.5) * 320 / 1241 - 0.5, rel=1e-5)
    assert K[1, 2] == pytest.approx((185.2157 + 0.5) * 96 / 376 - 0.5, rel=1e-5)
    assert 0.05 < float(s["frames"].mean()) < 0.95 and float((s["frames"][1] - s["frames"][0]).abs().mean()) > 0.01


# ------------------------------------------------------------------------------ data module


def test_data_module_train_and_val(syn_root):
    dm = VideoDataModule("synthetic", str(syn_root), size=(32, 96), batch_size=2, num_workers=0,
                         fractions=(0.34, 0.33, 0.33))
    dm.setup("fit")
    train = next(iter(dm.train_dataloader()))
    val = next(iter(dm.val_dataloader()))
    assert train["frames"].shape == (2, 3, 3, 32, 96)
    assert "depth_gt" not in train and val["depth_gt"].shape == (2, 1, H, W)
    assert torch.equal(val["frames"], val["frames_raw"])  # no augmentation in validation
    assert dm.train_set.hflip_p == 0.5 and dm.train_set.color_jitter is not None
    assert dm.val_set.hflip_p == 0.0 and dm.val_set.color_jitter is None
    assert {t.sequence for t in dm.train_set.targets}.isdisjoint({t.sequence for t in dm.val_set.targets})
    none = VideoDataModule("synthetic", str(syn_root), size=(32, 96), num_workers=0, train_split="all", val_split=None)
    assert none.val_dataloader() == []
    with pytest.raises(ConfigError, match="kitti-raw"):
        VideoDataModule("synthetic", str(syn_root), stereo=True)


def test_data_module_video_folder_single_clip(tmp_path, syn_root):
    root = _video_root(tmp_path, syn_root, sequences=("clip",), n=8)
    _write_json(root / "intrinsics.json", {"fx": 100, "fy": 100, "cx": 95.5, "cy": 31.5})
    dm = VideoDataModule("video-folder", str(root), size=(32, 96), batch_size=4, num_workers=0,
                         train_split="all", val_split=None, frame_step=2, static_threshold=0.001)
    batch = next(iter(dm.train_dataloader()))
    assert batch["frames"].shape == (4, 3, 3, 32, 96) and batch["name"][0].startswith("clip/frame_")
    assert len(dm.train_set) == 8 - 4 and dm.val_dataloader() == []


def test_data_module_parses_from_the_command_line(syn_root):
    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_class_arguments(VideoDataModule, "data")
    cfg = parser.parse_args(["--data.root", str(syn_root), "--data.size", "[96,320]",
                             "--data.frame_ids", "[0,-1,1,s]", "--data.dataset", "kitti-raw"])
    assert tuple(cfg.data.size) == (96, 320)
    assert list(cfg.data.frame_ids) == [0, -1, 1, "s"]
    dm = VideoDataModule(**cfg.data)
    assert dm.frame_ids == (0, -1, 1, "s") and dm.size == (96, 320)


# ------------------------------------------------------------------------------ augmentation on the device


def test_augment_on_device_gives_the_loader_batches(syn_root):
    """The same draws (once per sample) applied after collation give exactly the loader's
    frames, raw frames and intrinsics; everything else is unchanged."""
    from torch.utils.data import default_collate

    from litedepth.data.augment import augment_batch
    from litedepth.data.video import collate_native

    kw = dict(size=(32, 96), color_jitter=ColorJitter(p=0.7), hflip_p=0.5)
    cpu = SyntheticSequenceDataset(syn_root, "all", **kw)
    dev = SyntheticSequenceDataset(syn_root, "all", augment_on_device=True, **kw)
    idx = list(range(len(cpu)))
    torch.manual_seed(3)
    expected = default_collate([cpu[i] for i in idx])
    torch.manual_seed(3)
    raw_batch = collate_native([dev[i] for i in idx])
    assert raw_batch["frames_u8"].dtype == torch.uint8 and raw_batch["frames_u8"].shape[-2:] == (H, W)
    assert "frames" not in raw_batch and raw_batch["augment"].shape == (len(idx), 10)
    flips = raw_batch["augment"][:, 0]
    assert 0 < flips.sum() < len(idx) and 0 < raw_batch["augment"][:, 1].sum() < len(idx)  # both kinds drawn
    got = augment_batch(raw_batch, (32, 96))
    assert set(got) == set(expected)
    for key in ("frames", "frames_raw", "K", "depth_gt", "pose_gt"):
        torch.testing.assert_close(got[key], expected[key], atol=1e-6, rtol=0, msg=key)
    assert got["name"] == expected["name"]


def test_frames_of_different_sizes_are_padded_and_cropped_back():
    from litedepth.data.augment import ColorJitterParams, augment_batch, augment_sample, pack_augmentation
    from litedepth.data.augment import unpack_augmentation
    from litedepth.data.video import collate_native

    g = torch.Generator().manual_seed(0)
    sizes = [(40, 120), (37, 118)]
    params = [(True, ColorJitterParams(1.1, 0.9, 1.2, 0.05, (3, 1, 0, 2))), (False, None)]
    samples, expected = [], []
    for (h, w), (flip, jit) in zip(sizes, params):
        frames = torch.randint(0, 256, (3, 3, h, w), generator=g, dtype=torch.uint8)
        K = torch.tensor([[50.0, 0, w / 2], [0, 50, h / 2], [0, 0, 1]])
        samples.append({"frames_u8": frames, "native_hw": torch.tensor([h, w]), "K_native": K,
                        "augment": pack_augmentation(flip, jit), "name": f"{h}"})
        expected.append(augment_sample(frames, K, (16, 48), flip, jit))
        assert unpack_augmentation(pack_augmentation(flip, jit)) == (flip, jit)
    batch = collate_native(samples)
    assert batch["frames_u8"].shape == (2, 3, 3, 40, 120) and batch["frames_u8"][1, ..., 37:, :].eq(0).all()
    out = augment_batch(batch, (16, 48))
    for i, (raw, frames, K) in enumerate(expected):
        torch.testing.assert_close(out["frames_raw"][i], raw, atol=0, rtol=0)
        torch.testing.assert_close(out["frames"][i], frames, atol=0, rtol=0)
        torch.testing.assert_close(out["K"][i], K, atol=0, rtol=0)


def test_data_module_augments_on_the_device_hook(syn_root):
    kw = dict(size=(32, 96), batch_size=2, num_workers=0, train_split="all", val_split=None)
    dm = VideoDataModule("synthetic", str(syn_root), augment_on_device=True, **kw)
    ref = VideoDataModule("synthetic", str(syn_root), **kw)
    torch.manual_seed(5)
    batch = next(iter(dm.train_dataloader()))
    assert "frames_u8" in batch
    out = dm.on_after_batch_transfer(batch, 0)
    torch.manual_seed(5)
    expected = next(iter(ref.train_dataloader()))
    for key in ("frames", "frames_raw", "K"):
        torch.testing.assert_close(out[key], expected[key], atol=1e-6, rtol=0)
    assert ref.on_after_batch_transfer(expected, 0) is expected  # the default path is left alone
    with pytest.raises(ConfigError, match="fixed training size"):
        VideoDataModule("synthetic", str(syn_root), size=None, augment_on_device=True)


def test_sequence_options_are_one_typed_object_shared_by_synthetic_and_video_folder_datasets(syn_root):
    from litedepth.data.video_split import SequenceOptions, SplitSequenceDataset

    opts = SequenceOptions(sequences=["seq0001"], frame_step=2)
    by_object = SyntheticSequenceDataset(syn_root, "all", options=opts)
    by_name = SyntheticSequenceDataset(syn_root, "all", sequences=["seq0001"], frame_step=2)
    assert [t.name for t in by_object.targets] == [t.name for t in by_name.targets]
    assert {t.sequence for t in by_object.targets} == {"seq0001"} and by_object.frame_step == 2
    assert by_object.targets[0].frame == 2  # the first target with a neighbour 2 frames back
    # a keyword overrides the object's value
    assert SyntheticSequenceDataset(syn_root, "all", options=opts, frame_step=1).frame_step == 1
    assert issubclass(VideoFolderDataset, SplitSequenceDataset) and issubclass(SyntheticSequenceDataset, SplitSequenceDataset)
    with pytest.raises(ConfigError, match="unknown sequence dataset option"):
        SyntheticSequenceDataset(syn_root, "all", frame_stepp=2)
