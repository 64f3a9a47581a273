"""Video depth: EMA smoothing (flicker reduction, scene-cut reset), depth videos at the
input frame rate, per-frame .npy, and ``litedepth predict`` on a video."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from litedepth.errors import ConfigError
from litedepth.inference.video import TemporalSmoother, frame_difference, predict_video, temporal_flicker
from litedepth.io.video import ImageSequenceSource, VideoWriter, open_source
from tests.helpers import probe_video

H, W = 40, 64


pytestmark = pytest.mark.usefixtures("one_thread")


def _scene_image(kind: int, shift: int = 0) -> np.ndarray:
    """Smooth synthetic frames: 0 = warm room with a box (shifted by ``shift`` px), 1 = a blue corridor."""
    v, u = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.zeros((H, W, 3), np.float32)
    if kind == 0:
        img[..., 0] = 150 + 80 * u / W
        img[..., 1] = 100 + 60 * v / H
        img[..., 2] = 60
        img[10:30, 20 + shift:36 + shift] = (230, 230, 200)
    else:
        img[..., 0] = 30
        img[..., 1] = 60 + 40 * np.abs(u / W - 0.5)
        img[..., 2] = 200 - 100 * v / H
    return img.clip(0, 255).astype(np.uint8)


def _truth(kind: int) -> np.ndarray:
    """Static depth (metres) of each synthetic scene: a slanted floor, then a far corridor."""
    v = np.mgrid[0:H, 0:W][0].astype(np.float32)
    return (2.0 + 2.0 * (1 - v / H)) if kind == 0 else np.full((H, W), 6.0, np.float32)


class NoisyPredictor:
    """A stand-in depth network: the scene's true depth plus independent noise per frame."""

    kind = "depth"

    def __init__(self, sigma: float = 0.2, seed: int = 0) -> None:
        self.sigma = sigma
        self.rng = np.random.default_rng(seed)

    def infer_batch(self, images):
        out = []
        for rgb in images:
            kind = 0 if rgb[..., 0].mean() > 100 else 1
            out.append((_truth(kind) + self.rng.normal(0, self.sigma, (H, W))).astype(np.float32))
        return out


def _sequence(tmp_path, kinds_and_shifts, name="clip") -> ImageSequenceSource:
    from PIL import Image

    folder = tmp_path / name
    folder.mkdir()
    for i, (kind, shift) in enumerate(kinds_and_shifts):
        Image.fromarray(_scene_image(kind, shift)).save(folder / f"{i:03d}.png")
    return open_source(folder, fps=12.5)


def test_ema_reduces_flicker_on_a_noisy_static_scene():
    rng = np.random.default_rng(0)
    truth, sigma, alpha = _truth(0), 0.2, 0.5
    raw = [truth + rng.normal(0, sigma, truth.shape) for _ in range(60)]
    smoother = TemporalSmoother(alpha=alpha, cut_threshold=None)
    smoothed = [smoother.update(p) for p in raw]
    settle = 5  # the average starts from the first frame; compare after it has settled
    before, after = temporal_flicker(raw[settle:]), temporal_flicker(smoothed[settle:])
    # theory: std of the change falls by alpha / sqrt(2 - alpha) = 0.408
    assert after / before == pytest.approx(alpha / np.sqrt(2 - alpha), rel=0.08)
    assert after < 0.45 * before
    # and the smoothed maps are nearer the truth than single frames
    err_raw = np.mean([np.abs(p - truth).mean() for p in raw[settle:]])
    err_smooth = np.mean([np.abs(p - truth).mean() for p in smoothed[settle:]])
    assert err_smooth < 0.65 * err_raw


def test_scene_cut_restarts_the_average():
    frames = [(0, i) for i in range(8)] + [(1, 0)] * 6  # camera pans 1 px per frame, then a cut
    preds = [_truth(k) + 0.0 for k, _ in frames]
    with_cut = TemporalSmoother(alpha=0.2)
    out = [with_cut.update(p, _scene_image(k, s)) for p, (k, s) in zip(preds, frames)]
    assert with_cut.cuts == [8]  # the pan is no cut; the new scene is
    np.testing.assert_array_equal(out[8], preds[8])  # restarted: exactly the new frame's depth
    blind = TemporalSmoother(alpha=0.2, cut_threshold=None)
    mixed = [blind.update(p, _scene_image(k, s)) for p, (k, s) in zip(preds, frames)][8]
    # without the reset the first frame after the cut is 80 % the old scene
    assert np.abs(mixed - preds[8]).mean() > 2.0


def test_frame_difference_values():
    a, b = _scene_image(0), _scene_image(1)
    assert frame_difference(a, a) == 0.0
    assert frame_difference(a, _scene_image(0, shift=3)) < 0.05
    assert frame_difference(a, b) > 0.2
    with pytest.raises(ConfigError, match="alpha"):
        TemporalSmoother(alpha=0.0)
    with pytest.raises(ConfigError, match="scene-cut"):
        TemporalSmoother(cut_threshold=2.0)


@pytest.mark.real_data
def test_cut_detector_on_real_frames(real_data):
    from litedepth.io.images import read_rgb
    from tests.conftest import real_subdir

    kitti = real_subdir(real_data, "kitti_odometry_gray_slambook2")
    nyu = real_subdir(real_data, "nyu_kinect_seq5_slambook2")
    frames = [read_rgb(kitti / f"{i:06d}.png") for i in range(1, 6)]
    moving = [frame_difference(a, b) for a, b in zip(frames, frames[1:])]
    cut = frame_difference(frames[-1], read_rgb(nyu / "color" / "1.png"))
    assert max(moving) < 0.2 < cut, (moving, cut)


def test_video_pipeline_smooths_writes_npy_and_resets_at_the_cut(tmp_path):
    frames = [(0, 0)] * 12 + [(1, 0)] * 8
    source = _sequence(tmp_path, frames)
    result = predict_video(NoisyPredictor(), source, tmp_path / "out" / "clip_depth.mp4", layout="depth",
                           smoothing=0.5, npy_dir=tmp_path / "out" / "npy", batch_size=4, progress=False)
    assert (result.frames, result.fps, result.scene_cuts) == (20, 12.5, [12])
    maps = np.stack([np.load(tmp_path / "out" / "npy" / f"frame_{i:06d}.npy") for i in range(20)])
    assert maps.shape == (20, H, W) and maps.dtype == np.float32
    raw_source = _sequence(tmp_path, frames, "again")
    raw = predict_video(NoisyPredictor(), raw_source, tmp_path / "raw" / "clip.mp4", layout="depth",
                        npy_dir=tmp_path / "raw" / "npy", progress=False)
    assert raw.smoothing is None
    raws = np.stack([np.load(tmp_path / "raw" / "npy" / f"frame_{i:06d}.npy") for i in range(20)])
    shot = slice(4, 12)  # within the first shot, after settling
    ratio = temporal_flicker(maps[shot]) / temporal_flicker(raws[shot])
    assert ratio < 0.5, ratio
    # the first frame after the cut is the new scene's own prediction (same noise draws)
    np.testing.assert_array_equal(maps[12], raws[12])
    with open_source(tmp_path / "out" / "clip_depth.mp4") as video:
        assert video.fps == pytest.approx(12.5, abs=0.01)
        decoded = [f.rgb for f in video]
    assert len(decoded) == 20 and decoded[0].shape == (H, W, 3)
    # H.264 (what browsers play), declared as such in the container
    codec, tag, rate, frames = probe_video(tmp_path / "out" / "clip_depth.mp4")
    assert (codec, tag, result.codec, result.to_dict()["codec"]) == ("h264", "avc1", "h264", "h264")
    assert rate == pytest.approx(12.5) and len(frames) == 20
    assert np.abs(frames[5].astype(int) - decoded[5]).mean() < 2  # FFmpeg and OpenCV decode the same picture


class _CameraStoppedByCtrlC:
    """A camera-like source (no length) whose reading is interrupted by Ctrl+C after ``n`` frames."""

    name, fps, frame_count = "camera 0", 10.0, None

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        from litedepth.io.video import Frame

        for i in range(self.n):
            yield Frame(i, _scene_image(0, shift=i), i / self.fps)
        raise KeyboardInterrupt


def test_ctrl_c_keeps_the_video_so_far(tmp_path):
    out = tmp_path / "cam_depth.mp4"
    result = predict_video(NoisyPredictor(), _CameraStoppedByCtrlC(5), out, layout="depth", progress=False)
    assert result.interrupted and result.frames == 5 and result.video == out
    codec, _, rate, frames = probe_video(out)
    assert codec == "h264" and rate == pytest.approx(10.0) and len(frames) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["cam_depth.mp4"]  # no temporary file left


def test_predict_cli_on_a_video_file(tmp_path):
    from litedepth.cli.main import main

    clip = tmp_path / "walk.mp4"
    with VideoWriter(clip, fps=15) as w:
        for i in range(6):
            w.write(_scene_image(0, shift=i))
    torch.manual_seed(0)
    rc = main(["predict", str(clip), "--model", "lite-mono-tiny", "--size", "32", "48", "--device", "cpu",
               "--output", str(tmp_path / "out"), "--smoothing", "0.5", "--npy-frames"])
    assert rc == 0
    out = tmp_path / "out"
    with open_source(out / "walk_depth.mp4") as video:
        assert video.fps == pytest.approx(15.0, abs=0.01)  # the input's frame rate
        frames = [f.rgb for f in video]
    assert len(frames) == 6 and frames[0].shape == (H, 2 * W, 3)  # input | depth
    npys = sorted((out / "walk_npy").glob("*.npy"))
    assert len(npys) == 6 and np.load(npys[0]).shape == (H, W)
    meta = json.loads((out / "predictions.json").read_text())
    assert meta["kind"] == "sigmoid-disparity" and meta["video"]["fps"] == 15.0 and meta["video"]["frames"] == 6
    assert meta["output_spec"]["min_depth"] == 0.1 and meta["model"]["weights"]["trained"] is False
    assert meta["video"]["smoothing"] == 0.5 and meta["video"]["layout"] == "side-by-side"


def test_predict_cli_video_option_errors(tmp_path, capsys):
    from litedepth.cli.main import main

    clip = tmp_path / "c.avi"
    with VideoWriter(clip, fps=10) as w:
        w.write(_scene_image(0))
    args = ["predict", str(clip), "--model", "lite-mono-tiny", "--output", str(tmp_path / "o")]
    assert main([*args, "--pointcloud"]) == 2
    assert "--pointcloud" in capsys.readouterr().err
    assert main([*args, "--smoothing", "1.5"]) == 2
    assert "alpha" in capsys.readouterr().err
    assert main(["predict", str(clip), str(clip), "--model", "lite-mono-tiny", "--output", str(tmp_path / "o")]) == 2
    assert "one video" in capsys.readouterr().err
