"""Self-supervised training through the CLI (DDP with 2 CPU processes) and on real KITTI frames."""

from __future__ import annotations

import json

import lightning as L
import numpy as np
import pytest
from torch.utils.data import DataLoader

from litedepth.data.synthetic import SceneConfig, make_dataset
from tests.conftest import real_subdir
from tests.helpers import run_cli

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
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 2 and float(rows[1].split(",")[1]) > 0


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
