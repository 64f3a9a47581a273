"""Distillation checked against an oracle teacher: the true disparity of synthetic scenes, each
image's map distorted by its own random scale and shift (as a relative teacher's output is).

The student (Lite-Mono-tiny, random init) learns from those maps alone (no video, no depth)
with the affine-invariant loss, and is scored on a scene it never saw, against the *truth*,
after the same scale-and-shift alignment: it must land far below a constant prediction and
close most of the gap to the teacher. A failure means the loss is not invariant to the
teacher's per-image scale and shift, the maps are misaligned with their images, or the valid
mask (sky = 0) is wrong.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from litedepth.data.distill import DistillDataModule
from litedepth.io.images import read_depth
from litedepth.data.synthetic import SceneConfig, make_dataset
from litedepth.metrics.agreement import affine_agreement, constant_agreement
from litedepth.tasks import AffineDistillationTask
from litedepth.io.pseudo_labels import PseudoLabelCache

STEPS = 60
SIZE = (48, 64)


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle_photos")
    make_dataset(root, n_sequences=5, frames_per_sequence=12, cfg=SceneConfig(kind="corridor", height=SIZE[0],
                 width=SIZE[1]), sequence_seeds=[0, 1, 2, 3, 4])
    rng = np.random.default_rng(0)
    cache = PseudoLabelCache(root / "oracle_labels")
    cache.set_teacher({"id": "oracle: true disparity x random scale + random shift", "output_kind": "relative_disparity"})
    truth = {}
    for path in sorted((root / "images").iterdir()):
        depth = read_depth(root / "depth" / path.name, 1000.0)  # metres, 0 = sky
        disparity = np.where(depth > 0, 1.0 / np.maximum(depth, 1e-3), 0.0)
        scale, shift = rng.uniform(0.5, 20.0), rng.uniform(0.0, 2.0)
        cache.put(path.name, np.where(depth > 0, scale * disparity + shift, 0.0).astype(np.float32))
        truth[path.name] = disparity
    cache.flush()
    return root, cache, truth


@pytest.mark.slow
def test_student_learns_the_scene_shape_from_an_affine_distorted_oracle(oracle):
    root, cache, truth = oracle
    held_out = sorted(k for k in truth if k.startswith("seq0004"))  # a scene never trained on
    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    try:
        L.seed_everything(0, verbose=False)
        dm = DistillDataModule(str(root / "images"), str(cache.root), SIZE, batch_size=8, num_workers=0,
                               val_keys=held_out)
        task = AffineDistillationTask("lite-mono-tiny", lr=2e-3)
        trainer = L.Trainer(max_steps=STEPS, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, limit_val_batches=0, accelerator="cpu")
        trainer.fit(task, datamodule=dm)
        task.eval()
        student, teacher, constant = [], [], []
        with torch.no_grad():
            for i, key in enumerate(dm.val_keys):
                item = dm.val_set[i]
                pred = task(item["image"][None])[0, 0].numpy()
                student.append(affine_agreement(pred, truth[key], name=key))
                teacher.append(affine_agreement(cache.get(key), truth[key], name=key))
                constant.append(constant_agreement(truth[key], name=key))
    finally:
        torch.set_num_threads(before)
    s, t, c = (float(np.mean([m["abs_rel"] for m in rows])) for rows in (student, teacher, constant))
    s_a1, c_a1 = (float(np.mean([m["a1"] for m in rows])) for rows in (student, constant))
    print(f"{STEPS} steps, {len(dm.train_keys)} training images, held-out scene of {len(held_out)} images; "
          f"aligned abs_rel vs truth: student {s:.3f} (a1 {s_a1:.3f}), oracle teacher {t:.4f}, "
          f"constant {c:.3f} (a1 {c_a1:.3f})")
    assert t < 0.01  # the oracle is the truth up to scale and shift (float16 storage)
    assert s < 0.4 * c, (s, c)
    assert c - s > 0.6 * (c - t), (s, t, c)  # the student closes most of the constant -> teacher gap
    assert s_a1 > c_a1 + 0.2, (s_a1, c_a1)
