"""Supervised training learns: overfitting five real Kinect frames beats a constant depth."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from litedepth.data import DepthDataModule
from litedepth.metrics.evaluate import evaluate_arrays
from litedepth.tasks import SupervisedDepthTask
from tests.conftest import real_subdir


@pytest.mark.real_data
def test_overfit_real_kinect_frames_beats_constant_baseline(real_data, tmp_path):
    src = real_subdir(real_data, "nyu_kinect_seq5_slambook2")
    (tmp_path / "images").mkdir()
    (tmp_path / "depth").mkdir()
    for i in range(1, 6):
        (tmp_path / "images" / f"{i}.png").symlink_to(src / "color" / f"{i}.png")
        (tmp_path / "depth" / f"{i}.pgm").symlink_to(src / "depth" / f"{i}.pgm")
    L.seed_everything(0, verbose=False)
    dm = DepthDataModule(str(tmp_path), size=(96, 128), batch_size=5, num_workers=0, depth_scale="nyu",
                         train_split="all", val_split="all", hflip=False)
    dm.setup("fit")
    gt_all = torch.cat([dm.train_set[i]["depth"].flatten() for i in range(5)])
    median_depth = float(gt_all[gt_all > 0].median())
    task = SupervisedDepthTask("deeplabv3-mobilenet-v3-large",
                               network_options={"init_depth": median_depth, "dropout": 0.0, "bn_momentum": 0.1},
                               si_lambda=0.5, lr=5e-4, weight_decay=0.0)
    trainer = L.Trainer(max_steps=100, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu")
    trainer.fit(task, datamodule=dm)

    task.eval()
    items = []
    for i in range(5):
        item = dm.train_set[i]
        with torch.no_grad():
            pred = task(item["image"][None])[0, 0].numpy()
        items.append((item["name"], pred, item["depth"][0].numpy()))
    model = evaluate_arrays(items, "none", pred_kind="depth", median_scaling=False)
    base = evaluate_arrays([(n, np.full_like(g, median_depth), g) for n, _, g in items], "none",
                           pred_kind="depth", median_scaling=False)
    # The constant baseline (median depth) is ~0.45 abs_rel on these frames.
    assert model.metrics["abs_rel"] < 0.5 * base.metrics["abs_rel"], (model.metrics, base.metrics)
    assert model.metrics["a1"] > base.metrics["a1"]
