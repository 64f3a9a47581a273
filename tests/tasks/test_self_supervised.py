"""Self-supervised depth + pose: the proof that warping, pose conventions and losses are right.

A Monodepth2 network and PoseNet are trained from scratch by view synthesis alone on a
synthetic corridor video; on later frames never trained on, the median-scaled depth must
clearly beat both the untrained network and a constant depth, and the estimated camera
motion must point the way the true camera moved.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from litedepth.data.synthetic import SceneConfig, make_dataset
from litedepth.data.video import SyntheticSequenceDataset
from litedepth.metrics.evaluate import evaluate_arrays
from litedepth.tasks import SelfSupervisedDepthTask


@pytest.fixture(scope="module")
def corridor_video(tmp_path_factory):
    root = tmp_path_factory.mktemp("corridor_video")
    # Two fixed corridor scenes (the scenes of make_sequence(SceneConfig(seed=0 / 1))). From
    # scratch and in a few hundred steps, convergence depends on the scene: on some darker,
    # low-contrast scenes the pose network has not found the motion yet after a few hundred steps.
    make_dataset(root, n_sequences=2, frames_per_sequence=60, cfg=SceneConfig(kind="corridor", height=64, width=192),
                 sequence_seeds=[0, 1])
    return root


def _evaluate(task: SelfSupervisedDepthTask, ds: SyntheticSequenceDataset) -> tuple[float, float, float]:
    """(median-scaled abs_rel of the network, of a constant depth, mean pose direction cosine)."""
    task.eval()
    items, cos = [], []
    with torch.no_grad():
        for i in range(len(ds)):
            s = ds[i]
            depth = task.predict_depth(s["frames_raw"][None, 0])[0, 0].numpy()
            gt = s["depth_gt"][0].numpy().copy()
            gt[gt > 80] = 0
            items.append((s["name"], depth, gt))
            poses = task.poses(s["frames_raw"][None])
            for j, fid in enumerate((-1, 1)):
                cos.append(float(F.cosine_similarity(poses[fid][0, :3, 3], s["pose_gt"][j, :3, 3], dim=0)))
    model = evaluate_arrays(items, "none", pred_kind="depth", median_scaling=True).metrics["abs_rel"]
    const = evaluate_arrays([(n, np.ones_like(g), g) for n, _, g in items], "none", pred_kind="depth",
                            median_scaling=True).metrics["abs_rel"]
    task.train()
    return model, const, float(np.mean(cos))


@pytest.mark.slow
def test_self_supervised_training_learns_depth_and_pose(corridor_video):
    L.seed_everything(0, verbose=False)
    train = SyntheticSequenceDataset(corridor_video, split="all", frame_range=(0.0, 0.8))
    test = SyntheticSequenceDataset(corridor_video, split="all", frame_range=(0.8, 1.0), target_stride=2)
    assert not {t.name for t in train.targets} & {t.name for t in test.targets}
    task = SelfSupervisedDepthTask("monodepth2-resnet18", lr=1e-4, scheduler="none")
    untrained, constant, untrained_cos = _evaluate(task, test)
    # 160 steps: measured abs_rel / constant 0.97 at 40 steps, 0.64 at 120, 0.58 at 160, 0.55 at 200
    trainer = L.Trainer(max_steps=160, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu")
    trainer.fit(task, DataLoader(train, batch_size=4, shuffle=True, num_workers=0, drop_last=True))
    trained, _, cos = _evaluate(task, test)
    print(f"abs_rel trained {trained:.3f} untrained {untrained:.3f} constant {constant:.3f}; "
          f"pose direction cos {cos:.3f} (untrained {untrained_cos:.3f})")
    assert trained < 0.75 * constant, (trained, constant)
    assert trained < 0.75 * untrained, (trained, untrained)
    # the camera moves mostly forward: estimated translations point the same way as the truth
    assert cos > 0.9, cos
