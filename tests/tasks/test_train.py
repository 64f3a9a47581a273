"""`litedepth train` end to end: checkpoints, CSV log, panels, resume after SIGKILL, DDP, errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import run_cli, write_config


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _val_loss(ckpt_path: Path) -> float:
    """The validation loss of a supervised checkpoint recomputed in this process: its network on
    its datamodule's validation split, batch losses weighted by batch size (as Lightning
    averages ``val/loss``)."""
    from litedepth.data import DepthDataModule
    from litedepth.tasks import SupervisedDepthTask
    from litedepth.tasks.engine import read_checkpoint

    ckpt = read_checkpoint(ckpt_path)
    task = SupervisedDepthTask(**ckpt["hyper_parameters"])
    task.load_state_dict(ckpt["state_dict"])
    task.eval()
    dm = DepthDataModule(**ckpt["datamodule_hyper_parameters"])
    dm.setup("validate")
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in dm.val_dataloader():
            loss = task._loss(task(batch["image"]), batch["depth"])
            total += float(loss) * batch["image"].shape[0]
            count += batch["image"].shape[0]
    return total / count


def test_train_writes_checkpoints_logs_and_panels(tiny_folder, tmp_path):
    cfg = write_config(tmp_path / "cfg.yaml", tiny_folder)
    run = tmp_path / "run"
    res = run_cli("train", "--config", str(cfg), "--run_dir", str(run), "--trainer.max_epochs", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "GPU available" in res.stdout + res.stderr  # Lightning's lines come through our handler
    for noise in ("litlogger", "LeafSpec"):  # an advert and a deprecation inside Lightning: not the user's
        assert noise not in res.stdout + res.stderr
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "checkpoints" / "best.ckpt").is_file()
    rows = _rows(run / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    # the configured learning rate (ReduceLROnPlateau's patience of 3 epochs is not reached)
    assert [float(r["lr"]) for r in rows] == [1e-3, 1e-3]
    # an epoch's loss is the mean of its batches' losses (steps.csv)
    steps = _rows(run / "steps.csv")
    for r in rows:
        batch_losses = [float(s["train_loss"]) for s in steps if s["epoch"] == r["epoch"]]
        assert len(batch_losses) == int(r["batches"]) == int(r["batches_per_epoch"]) > 0
        assert float(r["train_loss"]) == pytest.approx(sum(batch_losses) / len(batch_losses), rel=1e-9)
    # the last validation loss is the network of last.ckpt scored on the validation split
    assert float(rows[1]["val_loss"]) == pytest.approx(_val_loss(run / "checkpoints" / "last.ckpt"), rel=1e-5)
    assert sorted(p.name for p in (run / "panels").glob("*.png")) == ["epoch_000.png", "epoch_001.png"]
    assert any((run / "tensorboard").rglob("events.out.tfevents*"))
    assert "SupervisedDepthTask" in (run / "config.yaml").read_text()
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 1


def test_resume_after_sigkill(tiny_folder, tmp_path):
    cfg = write_config(tmp_path / "cfg.yaml", tiny_folder)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "litedepth", "train", "--config", str(cfg), "--run_dir", str(run),
           "--trainer.max_epochs", "1000", "--early_stop_patience", "null"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    csv_path = run / "metrics.csv"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            # checkpoint callbacks run after the CSV logger, so 3 rows mean last.ckpt holds epoch >= 1
            if csv_path.exists() and len(_rows(csv_path)) >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"training exited early with {proc.returncode}")
            time.sleep(0.1)
        else:
            pytest.fail("training did not complete two epochs in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    last = run / "checkpoints" / "last.ckpt"
    killed_epoch = torch.load(last, weights_only=False)["epoch"]  # the file is complete and readable
    assert killed_epoch >= 1
    target = killed_epoch + 3
    res = run_cli("train", "--config", str(cfg), "--run_dir", str(run), "--resume",
                  "--trainer.max_epochs", str(target))
    assert res.returncode == 0, res.stderr[-3000:]
    ckpt = torch.load(last, weights_only=False)
    assert ckpt["epoch"] == target - 1
    epochs = [int(r["epoch"]) for r in _rows(csv_path)]
    assert epochs == list(range(target))
    assert not list((run / "checkpoints").glob(".*.tmp"))


def test_resume_from_checkpoint_of_another_model_is_a_clear_error(tiny_folder, tmp_path):
    cfg = write_config(tmp_path / "cfg.yaml", tiny_folder)
    run = tmp_path / "run"
    assert run_cli("train", "--config", str(cfg), "--run_dir", str(run), "--trainer.max_epochs", "1").returncode == 0
    other = write_config(tmp_path / "other.yaml", tiny_folder, network="deeplabv3-resnet50")
    res = run_cli("train", "--config", str(other), "--run_dir", str(run), "--resume")
    assert res.returncode == 2
    assert "last.ckpt" in res.stderr and "deeplabv3-mobilenet-v3-large" in res.stderr
    assert "Traceback" not in res.stderr


def test_bad_data_folder_is_a_clear_error(tmp_path):
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "depth").mkdir()
    cfg = write_config(tmp_path / "cfg.yaml", tmp_path / "data")
    res = run_cli("train", "--config", str(cfg), "--run_dir", str(tmp_path / "run"))
    assert res.returncode == 2
    assert "no image files" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_ddp_two_cpu_processes(tiny_folder, tmp_path):
    cfg = write_config(tmp_path / "cfg.yaml", tiny_folder, strategy="ddp", devices=2)
    run = tmp_path / "run"
    res = run_cli("train", "--config", str(cfg), "--run_dir", str(run), "--trainer.max_epochs", "1")
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads((run / "run_info.json").read_text())
    assert info["world_size"] == 2
    assert (run / "checkpoints" / "last.ckpt").is_file()
