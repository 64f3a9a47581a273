"""Typed component configuration (depth range, optimiser, schedule) beside the flat options:
the same task, the same flat hyper-parameters in the checkpoint, clear errors."""

from __future__ import annotations

import pytest

from litedepth.errors import ConfigError
from litedepth.tasks import SelfSupervisedDepthTask
from litedepth.tasks.config import DepthRange, OptimizerConfig, SchedulerConfig, typed_view


def test_typed_configs_equal_the_flat_options():
    typed = SelfSupervisedDepthTask("lite-mono-tiny", depth_range=DepthRange(0.5, 50.0),
                                    optim=OptimizerConfig("adamw", lr=5e-4, weight_decay=1e-2),
                                    schedule=SchedulerConfig("cosine-restarts", period=7, min_lr=1e-6))
    flat = SelfSupervisedDepthTask("lite-mono-tiny", min_depth=0.5, max_depth=50.0, optimizer="adamw", lr=5e-4,
                                   weight_decay=1e-2, scheduler="cosine-restarts", period=7, min_lr=1e-6)
    assert dict(typed.hparams) == dict(flat.hparams)  # checkpoints record the flat names only
    assert typed.output_spec == flat.output_spec  # the depth range reached the output's meaning
    assert typed_view(flat.hparams, OptimizerConfig) == OptimizerConfig("adamw", 5e-4, 1e-2)
    a, b = typed.configure_optimizers(), flat.configure_optimizers()
    assert type(a["optimizer"]) is type(b["optimizer"]) and a["optimizer"].defaults["lr"] == 5e-4
    assert [f(40) for f in a["lr_scheduler"]["scheduler"].lr_lambdas] == \
        [f(40) for f in b["lr_scheduler"]["scheduler"].lr_lambdas]


def test_typed_config_errors():
    with pytest.raises(ConfigError, match="min_depth < max_depth"):
        DepthRange(10.0, 1.0)
    with pytest.raises(ConfigError, match="lr > 0"):
        OptimizerConfig(lr=0.0)
    with pytest.raises(ConfigError, match="expected one of DepthRange"):
        SelfSupervisedDepthTask("lite-mono-tiny", optim={"lr": 1e-3})


def test_typed_configs_from_the_command_line_beside_a_preset(tmp_path):
    from pathlib import Path

    from litedepth.cli.train import build_parser

    preset = Path(__file__).resolve().parents[2] / "configs" / "lite_mono_tiny_640x192.yaml"
    parser = build_parser()
    cfg = parser.parse_args(["--config", str(preset), "--data.init_args.root", str(tmp_path),
                             "--model.init_args.optim", '{"name": "adamw", "lr": 0.0005, "weight_decay": 0.01}',
                             "--model.init_args.depth_range", '{"min_depth": 0.2, "max_depth": 80}'])
    hp = parser.instantiate(cfg).model.hparams
    assert (hp.network, hp.optimizer, hp.lr, hp.weight_decay, hp.min_depth, hp.max_depth) == \
        ("lite-mono-tiny", "adamw", 0.0005, 0.01, 0.2, 80.0)


def _task(kind: str, **kw):
    from litedepth.tasks import SupervisedDepthTask
    from litedepth.tasks.distill import AffineDistillationTask
    from litedepth.tasks.multitask import MultiTaskSegDepthTask

    if kind == "supervised":
        return SupervisedDepthTask("lite-mono-tiny", **kw)
    if kind == "distillation":
        return AffineDistillationTask("lite-mono-tiny", scheduler="none", **kw)
    return MultiTaskSegDepthTask("multitask-unet-resnet50", network_options={
        "encoder": "resnet18", "num_classes": 3, "decoder_channels": [8, 8, 8, 8, 8]}, **kw)


@pytest.mark.parametrize("kind", ["supervised", "distillation", "multitask"])
def test_every_task_takes_a_typed_optimiser(kind):
    """The same OptimizerConfig the self-supervised task takes: flat names in the checkpoint, the
    optimiser it describes (its type, lr and weight decay, fused as asked)."""
    typed = _task(kind, optim=OptimizerConfig("adamw", lr=3e-4, weight_decay=2e-2, fused=False))
    flat = _task(kind, optimizer="adamw", lr=3e-4, weight_decay=2e-2)
    assert {k: v for k, v in typed.hparams.items() if k != "fused_optimizer"} == dict(flat.hparams)
    assert typed.hparams["fused_optimizer"] is False
    got = typed.configure_optimizers()
    opt = got["optimizer"] if isinstance(got, dict) else got
    assert type(opt).__name__ == "AdamW" and opt.defaults["lr"] == 3e-4 and opt.defaults["weight_decay"] == 2e-2
    assert not opt.defaults.get("fused")
