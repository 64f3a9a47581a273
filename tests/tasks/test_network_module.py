"""A task accepts a built nn.Module as well as a registered name; checkpoints still rebuild by name
when the module carries its registered name (built by create_model), and say plainly that they
cannot otherwise."""

from __future__ import annotations

import logging

import pytest
import torch

from litedepth.errors import CheckpointError, ConfigError
from litedepth.inference.loading import load_checkpoint_model
from litedepth.models import create_model
from litedepth.tasks import AffineDistillationTask, SelfSupervisedDepthTask
from litedepth.tasks.card import card_from_checkpoint
from litedepth.tasks.engine import read_checkpoint
from tests.helpers import save_task_checkpoint

OPTS = {"drop_path_rate": 0.0}


def _save(task, path):
    return read_checkpoint(save_task_checkpoint(task, path))


def test_a_module_built_by_name_is_recorded_by_name_and_rebuilds(tmp_path):
    torch.manual_seed(0)
    net = create_model("lite-mono-tiny", **OPTS)
    task = SelfSupervisedDepthTask(net, scheduler="none")
    assert task.net is net
    assert task.hparams.network == "lite-mono-tiny" and task.hparams.network_options == OPTS
    ckpt = _save(task, tmp_path / "m.ckpt")
    assert ckpt["hyper_parameters"]["network"] == "lite-mono-tiny"
    assert card_from_checkpoint(ckpt)["network"] == "lite-mono-tiny"
    loaded = load_checkpoint_model(tmp_path / "m.ckpt")
    for (k, a), b in zip(net.state_dict().items(), loaded.net.state_dict().values()):
        assert torch.equal(a, b), k
    # the same task built by name has the same hyper-parameters
    by_name = SelfSupervisedDepthTask("lite-mono-tiny", network_options=OPTS, scheduler="none")
    assert dict(by_name.hparams) == dict(task.hparams)


def test_a_module_not_built_by_name_saves_but_cannot_be_rebuilt_by_name(tmp_path, caplog):
    net = create_model("lite-mono-tiny", **OPTS)
    del net.model_name, net.model_config  # as if built from its class directly
    task = SelfSupervisedDepthTask(net, scheduler="none")
    assert task.hparams.network is None and task.hparams.network_class.endswith("LiteMono")
    with caplog.at_level(logging.WARNING):
        ckpt = _save(task, tmp_path / "m.ckpt")
    assert "cannot be rebuilt by name" in caplog.text
    assert ckpt["litedepth"]["network"] is None and ckpt["litedepth"]["network_class"].endswith("LiteMono")
    with pytest.raises(CheckpointError, match="cannot be rebuilt by name: it was trained with a .*LiteMono module"):
        load_checkpoint_model(tmp_path / "m.ckpt")


def test_bad_networks_are_refused():
    net = create_model("lite-mono-tiny")
    with pytest.raises(ConfigError, match="network_options apply to a registered name"):
        SelfSupervisedDepthTask(net, network_options={"drop_path_rate": 0.1})
    with pytest.raises(ConfigError, match="declares no output spec"):
        SelfSupervisedDepthTask(torch.nn.Conv2d(3, 1, 1))
    with pytest.raises(ConfigError, match="must be a registered network name or an nn.Module"):
        SelfSupervisedDepthTask(3)
    with pytest.raises(ConfigError, match="init_weights needs a registered network name"):
        AffineDistillationTask(net, init_weights="somewhere.pth")
