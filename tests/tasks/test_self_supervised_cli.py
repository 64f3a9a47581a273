"""Self-supervised training through the CLI (DDP with 2 CPU processes) and on real KITTI frames."""

from __future__ import annotations

import json

import lightning as L
import numpy as np
import pytest
from torch.utils.data import DataLoader

from litedepth.data.synthetic import SceneConfig, make_dataset
from litedepth.tasks.engine import read_checkpoint, read_csv_rows
from tests.conftest import real_subdir
from tests.helpers import cosine_restart_lr, run_cli

CONFIG = "configs/synthetic_selfsup_cpu.yaml"


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_video")
    make_dataset(root, n_sequences=3, frames_per_sequence=6, cfg=SceneConfig(height=64, width=192), seed=3)
    return root


def _args(root, run, *extra):
    from tests.conftest import REPO_ROOT

    return ("train", "--config", str(REPO_ROOT / CONFIG), "--data.init_args.root", str(root),
            "--data.init_args.batch_size", "2", "--data.init_args.num_workers", "0",
            "--data.init_args.fractions", "[0.67,0.33,0.0]",
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
            "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu", "--run_dir", str(run), *extra)


@pytest.mark.slow
def test_selfsup_preset_ddp_two_processes(tiny_video, tmp_path):
    res = run_cli(*_args(tiny_video, tmp_path / "run", "--trainer.devices", "2", "--trainer.strategy", "ddp"))
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert info["world_size"] == 2 and info["global_step"] >= 1
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_selfsup_lite_mono_tiny_fast_run(tiny_video, tmp_path):
    res = run_cli(*_args(tiny_video, tmp_path / "run", "--model.init_args.network", "lite-mono-tiny",
                         "--model.init_args.network_options", "{height: 192, width: 640}",
                         "--model.init_args.optimizer", "adamw", "--model.init_args.scheduler", "cosine-restarts"))
    assert res.returncode == 0, res.stderr[-3000:]
    run = tmp_path / "run"
    epochs, steps = read_csv_rows(run / "metrics.csv"), read_csv_rows(run / "steps.csv")
    assert [(r["epoch"], r["batches"]) for r in epochs] == [("0", "2")]
    assert [s["step"] for s in steps] == ["1", "2"]
    # the epoch's loss is the mean of its batches' losses
    assert float(epochs[0]["train_loss"]) == pytest.approx(np.mean([float(s["train_loss"]) for s in steps]), rel=1e-9)
    assert np.isfinite(float(epochs[0]["val_loss"]))
    # the options reached the optimiser: AdamW, and after one epoch Lite-Mono's cosine schedule
    # (lr 2e-4 from the preset, min_lr 5e-6 / pose_min_lr 1e-5 by default, period 31)
    depth_lr, pose_lr = cosine_restart_lr(2e-4, 5e-6, epoch=1), cosine_restart_lr(2e-4, 1e-5, epoch=1)
    assert float(epochs[0]["lr"]) == pytest.approx(depth_lr, rel=1e-9)
    ckpt = read_checkpoint(run / "checkpoints" / "last.ckpt")
    groups = ckpt["optimizer_states"][0]["param_groups"]
    assert [g["name"] for g in groups] == ["depth", "pose"] and all(g["decoupled_weight_decay"] for g in groups)
    assert [g["lr"] for g in groups] == pytest.approx([depth_lr, pose_lr], rel=1e-9)
    assert ckpt["global_step"] == 2
    assert (ckpt["litedepth"]["network"], ckpt["litedepth"]["network_options"]) == ("lite-mono-tiny",
                                                                                  {"height": 192, "width": 640})


@pytest.mark.real_data
def test_photometric_loss_falls_on_real_kitti_frames(real_data, tmp_path):
    """Real consecutive KITTI odometry frames (grey, repeated to 3 channels): the loss falls."""
    from litedepth.data.video_folder import VideoFolderDataset
    from litedepth.tasks import SelfSupervisedDepthTask

    src = real_subdir(real_data, "kitti_odometry_gray_slambook2")
    clip = tmp_path / "clip"
    clip.mkdir()
    for i in range(1, 6):
        (clip / f"{i:06d}.png").symlink_to(src / f"{i:06d}.png")
    (clip / "intrinsics.json").write_text(json.dumps(
        {"fx": 718.856, "fy": 718.856, "cx": 607.1928, "cy": 185.2157, "width": 1241, "height": 376}))
    ds = VideoFolderDataset(tmp_path, split="all", size=(64, 224))
    assert len(ds) == 3
    L.seed_everything(0, verbose=False)
    task = SelfSupervisedDepthTask("monodepth2-resnet18", lr=1e-4, scheduler="none")
    losses = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    trainer = L.Trainer(max_steps=30, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", callbacks=[Record()])
    trainer.fit(task, DataLoader(ds, batch_size=3))
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5]), losses
