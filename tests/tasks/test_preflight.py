"""``litedepth train`` checks its configuration before any work starts (tasks/preflight.py),
and a run too short to validate once trains and says so."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from litedepth.cli.main import main
from litedepth.errors import ConfigError
from litedepth.tasks.preflight import check_config, check_training_setup
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg(model=None, data=None, **top):
    return SimpleNamespace(model={"class_path": "x", "init_args": model or {}},
                           data={"class_path": "y", "init_args": data or {}},
                           **{"monitor": "val/loss", "monitor_mode": "min", "early_stop_patience": 5, **top})


@pytest.mark.parametrize("cfg, message", [
    (_cfg({"network": "lite-mono-tny"}), "model.init_args.network: unknown network 'lite-mono-tny'; did you mean "
                                         "'lite-mono-tiny'"),
    (_cfg({"pose_network": "posenet"}), "model.init_args.pose_network: unknown network 'posenet'"),
    (_cfg({"lr": -1e-3}), "model.init_args.lr: the learning rate must be > 0, got -0.001"),
    (_cfg({"pose_lr": 0.0}), "model.init_args.pose_lr: the learning rate must be > 0, got 0.0"),
    (_cfg({"min_lr": -1.0}), "model.init_args.min_lr must be >= 0, got -1.0"),
    (_cfg({"weight_decay": -0.1}), "model.init_args.weight_decay must be >= 0"),
    (_cfg(data={"size": [0, 48]}), "data.init_args.size: (height, width) in pixels, each >= 1, got [0, 48]"),
    (_cfg(data={"batch_size": 0}), "data.init_args.batch_size must be >= 1, got 0"),
    (_cfg(monitor=None), "--monitor: name the validation metric"),
    (_cfg(monitor_mode="largest"), "--monitor_mode must be min or max"),
    (_cfg(early_stop_patience=-1), "--early_stop_patience must be >= 0"),
])
def test_config_errors_name_the_key(cfg, message):
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    assert str(info.value).startswith(message)


def test_a_good_config_passes():
    check_config(_cfg({"network": "lite-mono-tiny", "lr": 1e-4, "min_lr": 0.0, "pose_lr": None},
                      {"size": [32, 48], "batch_size": 2}))


class _Pooled(nn.Module):
    """A conv, then BatchNorm after global pooling (one value per channel per image)."""

    model_name = "pooled-net"

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.BatchNorm2d(4))

    def forward(self, x):
        return self.head(self.bn(self.conv(x)))


def test_batch_of_one_with_pooled_batchnorm_is_refused_and_the_probe_changes_nothing():
    net = _Pooled().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    task, data = SimpleNamespace(net=net), SimpleNamespace(size=(8, 12), batch_size=1)
    with pytest.raises(ConfigError, match=r"data.init_args.batch_size: 1 image per batch cannot train pooled-net: "
                                          r"its BatchNorm layer head.1 then sees one value per channel"):
        check_training_setup(task, data)
    assert net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    check_training_setup(task, SimpleNamespace(size=(8, 12), batch_size=2))  # two images: fine
    net.head = nn.Identity()
    check_training_setup(task, data)  # spatial BatchNorm alone trains with one image


def test_sizes_the_network_cannot_run_at():
    from litedepth.models import create_model

    task = SimpleNamespace(net=create_model("monodepth2-resnet18"))
    with pytest.raises(ConfigError, match=r"data.init_args.size: monodepth2-resnet18 needs height and width that are "
                                          r"positive multiples of 32, got 32x48 \(HxW\)"):
        check_training_setup(task, SimpleNamespace(size=(32, 48), batch_size=2))
    with pytest.raises(ConfigError, match=r"monodepth2-resnet18 cannot run at 32x64 \(HxW\): input height and width "
                                          r"must be multiples of 32 and at least 64"):
        check_training_setup(task, SimpleNamespace(size=(32, 64), batch_size=2))
    lite = SimpleNamespace(net=create_model("lite-mono-tiny"))
    with pytest.raises(ConfigError, match="lite-mono-tiny needs height and width that are positive multiples of 16"):
        check_training_setup(lite, SimpleNamespace(size=(40, 48), batch_size=2))
    check_training_setup(lite, SimpleNamespace(size=(32, 48), batch_size=2))


def test_a_run_too_short_to_validate_trains_and_says_so(tiny_folder, tmp_path, capsys):
    """Seed 000's preset with --trainer.max_steps 1 (made small: the tiny network and size)."""
    run = tmp_path / "run"
    rc = main(["train", "--config", str(REPO_ROOT / "configs" / "seed000_deeplabv3_nyu.yaml"),
               "--model.init_args.network", "deeplabv3-mobilenet-v3-large", "--data.init_args.root", str(tiny_folder),
               "--data.init_args.size", "[32, 48]", "--data.init_args.num_workers", "0",
               "--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.enable_progress_bar", "false",
               "--trainer.num_sanity_val_steps", "0", "--trainer.max_steps", "1", "--run_dir", str(run)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "no validation ran" in " ".join(out.split())
    info = json.loads((run / "run_info.json").read_text())
    assert info["global_step"] == 1 and info["best_checkpoint"] in ("", None)
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_a_misspelt_monitor_stops_at_the_sanity_check(tiny_folder, tmp_path, capsys):
    from tests.helpers import write_config

    cfg = write_config(tmp_path / "cfg.yaml", tiny_folder, max_epochs=1, limit_train_batches=1)
    rc = main(["train", "--config", str(cfg), "--run_dir", str(tmp_path / "run"), "--monitor", "val/los"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("litedepth: error: --monitor 'val/los': validation does not log this metric; it logs "
                              "val/a1,")
    assert not (tmp_path / "run" / "checkpoints").exists()  # stopped before the first training step

