"""``litedepth evaluate-pose``: KITTI odometry ATE from a relative-pose file or a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.cli.main import main
from litedepth.data.synthetic import SceneConfig, make_sequence
from litedepth.metrics.pose import evaluate_ate, relative_from_absolute, write_kitti_poses
from tests.helpers import save_task_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

N_FRAMES = 7
SIZE = (64, 128)  # the tiny checkpoint's "training size"


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> dict:
    """A synthetic corridor video: frames/000000.png..., poses/00.txt (KITTI format), true relative poses."""
    root = tmp_path_factory.mktemp("odometry")
    seq = make_sequence(SceneConfig(kind="corridor", height=48, width=160, seed=3), N_FRAMES)
    frames = root / "frames"
    frames.mkdir()
    for i, rgb in enumerate(seq.rgb):
        Image.fromarray(rgb).save(frames / f"{i:06d}.png")
    gt = root / "poses" / "00.txt"
    write_kitti_poses(gt, seq.poses_c2w)
    # the generator's T_source_from_target for (target i, source i+1) is the evaluation's rel[i]
    rel = np.stack([seq.T_b_from_a(i, i + 1) for i in range(N_FRAMES - 1)])
    np.testing.assert_allclose(rel, relative_from_absolute(seq.poses_c2w), atol=1e-9)
    return {"root": root, "frames": frames, "gt": gt, "rel": rel, "poses": seq.poses_c2w}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, object]:
    """A freshly initialised self-supervised checkpoint (depth + pose), saved by Lightning."""
    from litedepth.tasks import SelfSupervisedDepthTask

    torch.manual_seed(0)
    task = SelfSupervisedDepthTask("lite-mono-tiny", frame_ids=(0, -1, 1), scheduler="none")
    ckpt = save_task_checkpoint(task, tmp_path_factory.mktemp("ckpt") / "last.ckpt")
    data = torch.load(ckpt, map_location="cpu", weights_only=True)  # as a VideoDataModule run records it
    data["datamodule_hyper_parameters"] = {"size": list(SIZE)}
    torch.save(data, ckpt)
    return ckpt, task.eval()


def test_pred_file_exact_poses_score_zero_and_write_json(sequence, tmp_path, capsys):
    pred = tmp_path / "poses.npy"
    rel = sequence["rel"].copy()
    rel[:, :3, 3] *= 0.2  # a monocular network's scale does not matter
    np.save(pred, rel.astype(np.float32))
    out = tmp_path / "out" / "ate.json"
    assert main(["evaluate-pose", "--pred", str(pred), "--gt", str(sequence["gt"]), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ATE" in text and "snippets" in text and f"{N_FRAMES - 1}" in text
    got = json.loads(out.read_text())
    assert got["n_snippets"] == N_FRAMES - 1 and got["track_length"] == 5
    assert got["ate_mean"] < 1e-5 and len(got["per_snippet"]) == N_FRAMES - 1
    assert got["pred"] == str(pred) and got["units"] == "metres"
    # the opposite direction is accepted with --invert-pred, and is wrong without it
    inv = tmp_path / "inv.npy"
    np.save(inv, np.linalg.inv(sequence["rel"]))
    assert main(["evaluate-pose", "--pred", str(inv), "--invert-pred", "--gt", str(sequence["gt"]),
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["ate_mean"] < 1e-5
    assert main(["evaluate-pose", "--pred", str(inv), "--gt", str(sequence["gt"]), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["ate_mean"] > 1e-3


def test_pred_file_noisy_poses_match_the_library(sequence, tmp_path, capsys):
    pred = tmp_path / "poses.npy"
    noisy = sequence["rel"].copy()
    noisy[:, :3, 3] += np.random.default_rng(0).normal(0, 0.05, (N_FRAMES - 1, 3))
    np.save(pred, noisy)
    out = tmp_path / "ate.json"
    assert main(["evaluate-pose", "--pred", str(pred), "--gt", str(sequence["gt"]), "--json", str(out)]) == 0
    expected = evaluate_ate(sequence["poses"], noisy)
    assert expected.mean > 1e-3
    assert json.loads(out.read_text())["ate_mean"] == pytest.approx(expected.mean)
    assert f"{expected.mean:.4f} ± {expected.std:.4f}" in capsys.readouterr().out


def test_checkpoint_on_frames_matches_the_training_convention(sequence, checkpoint, tmp_path):
    ckpt, task = checkpoint
    out, saved = tmp_path / "ate.json", tmp_path / "pred.npy"
    assert main(["evaluate-pose", "--checkpoint", str(ckpt), "--frames", str(sequence["frames"]),
                 "--gt", str(sequence["gt"]), "--batch-size", "4", "--device", "cpu",
                 "--json", str(out), "--save-pred", str(saved), "--no-progress"]) == 0
    got = json.loads(out.read_text())
    assert np.isfinite(got["ate_mean"]) and got["ate_mean"] > 0 and got["n_snippets"] == N_FRAMES - 1
    assert got["input_size"] == list(SIZE)
    rel = np.load(saved)
    assert rel.shape == (N_FRAMES - 1, 4, 4)
    # the same poses as SelfSupervisedDepthTask.poses gives frame +1 (T_source_from_target), batches
    # of 4 pairs included: frames in frame_ids order (0, -1, 1), resized as in training
    from litedepth.data.augment import resize_frames

    rgb = torch.from_numpy(np.stack([np.asarray(Image.open(p)) for p in sorted(sequence["frames"].iterdir())]))
    frames = resize_frames(rgb.permute(0, 3, 1, 2).float() / 255.0, SIZE)
    with torch.no_grad():
        ref = [task.poses(frames[[i, max(i - 1, 0), i + 1]][None])[1][0].numpy() for i in range(N_FRAMES - 1)]
    np.testing.assert_allclose(rel, np.stack(ref), atol=1e-5)
    assert got["ate_mean"] == pytest.approx(evaluate_ate(sequence["poses"], rel).mean, rel=1e-4)


@pytest.mark.parametrize("make_args, message", [
    (lambda s, t: ["--gt", str(s["gt"])], "either --pred"),
    (lambda s, t: ["--gt", str(s["gt"]), "--pred", str(t / "short.npy")], "short.npy: 3 predicted relative poses"),
    (lambda s, t: ["--gt", str(s["gt"]), "--pred", str(t / "absent.npy")], "absent.npy: cannot read"),
    (lambda s, t: ["--gt", str(t / "none.txt"), "--pred", str(t / "short.npy")], "none.txt: cannot read poses"),
    (lambda s, t: ["--gt", str(s["gt"]), "--checkpoint", str(t / "x.ckpt")], "needs --frames"),
    (lambda s, t: ["--gt", str(s["gt"]), "--checkpoint", str(t / "nopose.ckpt"), "--frames", str(s["frames"])],
     "no pose network"),
    (lambda s, t: ["--gt", str(s["gt"]), "--checkpoint", str(t / "nopose.ckpt"), "--frames", str(t / "few")],
     "2 frames, but"),
])
def test_user_errors_exit_2_with_one_line(sequence, tmp_path, capsys, make_args, message):
    np.save(tmp_path / "short.npy", sequence["rel"][:3])
    torch.save({"hyper_parameters": {"network": "lite-mono-tiny"}, "state_dict": {}}, tmp_path / "nopose.ckpt")
    (tmp_path / "few").mkdir()
    for name in ("000000.png", "000001.png"):
        (tmp_path / "few" / name).write_bytes((sequence["frames"] / name).read_bytes())
    assert main(["evaluate-pose", *make_args(sequence, tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("litedepth: error:") and len(err.splitlines()) == 1
    assert message in err, err
