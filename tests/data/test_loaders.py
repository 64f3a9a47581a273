"""Training loaders drop the last partial batch; a training set smaller than one batch is refused.

Found by a user: ``litedepth train`` with 7 training images, batch size 2 and a BatchNorm
network (deeplabv3-mobilenet) crashed at the end of the first epoch with "Expected more than
1 value per channel when training": the last batch held one sample.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from litedepth.data import DepthDataModule
from litedepth.data.loaders import make_loader
from litedepth.errors import DataError
from tests.helpers import write_tiny_depth_folder


def _module(root, batch_size: int, **kw) -> DepthDataModule:
    dm = DepthDataModule(str(root), size=(32, 48), batch_size=batch_size, num_workers=0, depth_encoding="nyu",
                         train_split="all", val_split="all", **kw)
    dm.setup("fit")
    return dm


def test_training_batches_are_full_and_validation_keeps_every_sample(tmp_path):
    root = write_tiny_depth_folder(tmp_path / "d", count=7)
    dm = _module(root, batch_size=2)
    train_sizes = [len(b["name"]) for b in dm.train_dataloader()]
    assert train_sizes == [2, 2, 2]  # 7 = 3 x 2 + 1: the last sample waits for the next epoch
    val_sizes = [len(b["name"]) for b in dm.val_dataloader()]
    assert val_sizes == [2, 2, 2, 1] and sum(val_sizes) == 7


def test_an_epoch_of_a_batchnorm_network_on_7_samples_in_batches_of_2_runs(tmp_path):
    # A pooled BatchNorm (deeplabv3's ASPP pooling branch) sees one value per channel when a
    # batch holds one sample: exactly the user's crash.
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.BatchNorm2d(4)).train()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        net(torch.rand(1, 3, 32, 48))
    dm = _module(write_tiny_depth_folder(tmp_path / "d", count=7), batch_size=2)
    for batch in dm.train_dataloader():
        net(batch["image"]).sum().backward()


def test_a_training_set_smaller_than_one_batch_is_refused_in_one_line(tmp_path):
    root = write_tiny_depth_folder(tmp_path / "small", count=3)
    dm = _module(root, batch_size=4)
    with pytest.raises(DataError) as info:
        dm.train_dataloader()
    message = str(info.value)
    assert "\n" not in message and str(root) in message
    assert "3 sample(s)" in message and "--data.init_args.batch_size 4" in message
    # validation and test loaders are never refused: they keep every sample
    assert sum(len(b["name"]) for b in dm.val_dataloader()) == 3


def test_make_loader_training_and_evaluation_modes():
    data = list(range(5))
    assert [len(b) for b in make_loader(data, 2, 0, train=True)] == [2, 2]
    assert [b.tolist() for b in make_loader(data, 2, 0, train=False)] == [[0, 1], [2, 3], [4]]
    assert [len(b) for b in make_loader(data, 2, 0, train=True, drop_last=False)] == [2, 2, 1]
    with pytest.raises(DataError, match="2 sample"):
        make_loader(data[:2], 3, 0, train=True, source="somewhere")
