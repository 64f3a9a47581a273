"""Cached teacher maps reach the batch (resized and flipped with the frames) and the
distillation / Chamfer terms of seed 001 enter the self-supervised loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from litedepth.data.synthetic import SceneConfig, make_dataset
from litedepth.data.video import SyntheticSequenceDataset
from litedepth.errors import DataError
from litedepth.tasks import SelfSupervisedDepthTask
from litedepth.io.pseudo_labels import PseudoLabelCache


@pytest.fixture(scope="module")
def video_with_oracle_teacher(tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher_video")
    make_dataset(root / "data", n_sequences=1, frames_per_sequence=6, cfg=SceneConfig(height=64, width=192), seed=5)
    ds = SyntheticSequenceDataset(root / "data", split="all")
    cache = PseudoLabelCache(root / "cache")
    for i in range(len(ds)):
        s = ds[i]
        depth = s["depth_gt"][0].numpy()
        cache.put(s["name"], np.where(depth > 0, 1.0 / np.maximum(depth, 1e-6), 0.0))  # oracle disparity
    cache.flush()
    return root


def test_teacher_map_follows_resize_and_flip(video_with_oracle_teacher):
    root = video_with_oracle_teacher
    plain = SyntheticSequenceDataset(root / "data", split="all")
    plain.use_pseudo_labels(root / "cache")
    s = plain[0]
    depth = s["depth_gt"][0]
    expected = torch.where(depth > 0, 1.0 / depth.clamp_min(1e-6), torch.zeros_like(depth))
    assert s["teacher"].shape == (1, 64, 192)
    torch.testing.assert_close(s["teacher"][0], expected, rtol=2e-3, atol=1e-4)  # float16 cache
    assert bool(((s["teacher"][0] == 0) == (depth == 0)).all())  # sky stays exactly zero
    flipped = SyntheticSequenceDataset(root / "data", split="all", hflip_p=1.0)
    flipped.use_pseudo_labels(root / "cache")
    assert torch.equal(flipped[0]["teacher"], s["teacher"].flip(-1))
    small = SyntheticSequenceDataset(root / "data", split="all", size=(32, 96))
    small.use_pseudo_labels(root / "cache")
    assert small[0]["teacher"].shape == (1, 32, 96)
    with pytest.raises(DataError, match="pseudo-label"):
        plain.use_pseudo_labels(root / "missing")


def test_distillation_and_chamfer_enter_the_loss(video_with_oracle_teacher):
    root = video_with_oracle_teacher
    ds = SyntheticSequenceDataset(root / "data", split="all")
    ds.use_pseudo_labels(root / "cache")
    batch = default_collate([ds[0], ds[1]])
    torch.manual_seed(0)
    opts = {"height": 192, "width": 640, "bins": "adaptive"}
    task = SelfSupervisedDepthTask("lite-mono-tiny", network_options=opts, distillation_weight=0.5,
                                   chamfer_weight=0.1, chamfer_points=256)
    losses = task.compute_losses(batch)
    assert float(losses["distillation"]) > 0 and float(losses["chamfer"]) > 0
    total = losses["photometric"] + losses["smoothness"] + losses["distillation"] + losses["chamfer"]
    torch.testing.assert_close(losses["loss"], total)
    losses["loss"].backward()
    head = task.net.decoder.bins_head
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in head.parameters())
    torch.manual_seed(0)
    plain = SelfSupervisedDepthTask("lite-mono-tiny", network_options=opts)
    assert "distillation" not in plain.compute_losses(batch)
