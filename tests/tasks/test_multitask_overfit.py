"""Overfit check: the multi-task network learns known segmentation and depth.

Six synthetic room frames (48x64) with exact class labels (CLASS_NAMES) and metric depth,
joint phase (0.85 focal + 0.15 MSE), 70 full-batch Adam steps on one CPU thread. Scored in
eval mode on the training frames against the untrained network and a constant-depth baseline
(the training median, the best constant for abs_rel up to a few per cent).
"""

from __future__ import annotations

import time

import lightning as L
import pytest
import numpy as np
import torch
from torch.utils.data import DataLoader

from litedepth.data.segmentation import SegmentationDataModule
from litedepth.data.synthetic import CLASS_NAMES, SceneConfig, make_dataset
from litedepth.metrics.depth import compute_depth_metrics
from litedepth.metrics.segmentation import SegmentationMetrics
from litedepth.tasks.multitask import MultiTaskSegDepthTask, Phase


def scores(task, batch):
    task.eval()
    with torch.no_grad():
        out = task.net(batch["image"])
    m = SegmentationMetrics(len(CLASS_NAMES))
    m.update(out.logits, batch["mask"])
    gt, valid = batch["depth"], batch["depth_valid"]
    abs_rel = np.mean([float(compute_depth_metrics(out.depth.pred[i][valid[i]], gt[i][valid[i]])["abs_rel"])
                       for i in range(gt.shape[0])])
    return float(m.compute()["miou"]), abs_rel


@pytest.mark.usefixtures("one_thread")
def test_overfits_synthetic_segmentation_and_depth(tmp_path):
    make_dataset(tmp_path, n_sequences=3, frames_per_sequence=2, cfg=SceneConfig(kind="room", height=48, width=64), seed=3)
    dm = SegmentationDataModule(str(tmp_path), layout="folder", masks_dir="labels", depth_dir="depth", depth_scale="mm",
                                num_classes=len(CLASS_NAMES), class_names=list(CLASS_NAMES), size=(48, 64),
                                train_split="all", val_split="all", num_workers=0)
    ds = dm.dataset("all")
    batch = next(iter(DataLoader(ds, batch_size=len(ds))))
    assert len(np.unique(batch["mask"].numpy())) >= 4
    gt, valid = batch["depth"], batch["depth_valid"]
    median = float(gt[valid].median())
    baseline = np.mean([float(compute_depth_metrics(torch.full_like(gt[i][valid[i]], median), gt[i][valid[i]])["abs_rel"])
                        for i in range(len(ds))])
    torch.manual_seed(0)
    options = {"encoder": "resnet18", "num_classes": len(CLASS_NAMES), "decoder_channels": [32, 32, 16, 16, 16],
               "depth_output": "depth", "init_depth": median}
    task = MultiTaskSegDepthTask("multitask-unet-resnet50", options, phases=[Phase("both", 1)], lr=3e-3)
    miou0, abs_rel0 = scores(task, batch)
    task.train()
    t0 = time.perf_counter()
    L.Trainer(max_steps=70, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0).fit(
        task, train_dataloaders=DataLoader([batch], collate_fn=lambda b: b[0]))
    seconds = time.perf_counter() - t0
    miou, abs_rel = scores(task, batch)
    print(f"\noverfit ({seconds:.1f} s): mIoU {miou0:.3f} -> {miou:.3f}; abs_rel {abs_rel0:.3f} -> {abs_rel:.3f} "
          f"(constant median depth {baseline:.3f})")
    assert miou0 < 0.5
    assert miou > 0.8
    assert abs_rel < 0.3 * baseline
