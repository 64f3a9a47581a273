"""Typed configuration of a task's components: depth range, optimiser, learning-rate schedule.

Each is a small frozen dataclass a task accepts beside its flat options (which keep working:
``configs/*.yaml`` and the hyper-parameters of existing checkpoints use the flat names). A
typed value replaces the flat options it groups, and the task records it under those flat names,
so a checkpoint reads the same whichever way the task was configured::

    SelfSupervisedDepthTask("lite-mono", optim=OptimizerConfig("adamw", lr=5e-4, weight_decay=1e-2),
                            schedule=SchedulerConfig("cosine-restarts", period=31))
    # the same as: SelfSupervisedDepthTask("lite-mono", optimizer="adamw", lr=5e-4, weight_decay=1e-2,
    #                                      scheduler="cosine-restarts", period=31)

In a YAML configuration: ``model.init_args.optim: {name: adamw, lr: 5.0e-4}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

from litedepth.errors import ConfigError

__all__ = ["DepthRange", "OptimizerConfig", "SchedulerConfig", "flatten_into", "typed_view"]


@dataclass(frozen=True)
class DepthRange:
    """``disp_to_depth`` range of sigmoid-disparity networks, metres (Monodepth2: 0.1 .. 100)."""

    min_depth: float = 0.1
    max_depth: float = 100.0

    def __post_init__(self) -> None:
        if not (0 < self.min_depth < self.max_depth and math.isfinite(self.max_depth)):
            raise ConfigError(f"depth range: need 0 < min_depth < max_depth, got {self.min_depth}, {self.max_depth}")


@dataclass(frozen=True)
class OptimizerConfig:
    """The optimiser (:func:`litedepth.tasks.optim.build_optimizer`): ``adam`` or ``adamw``, its
    peak learning rate, weight decay, and the fused kernel (``None``: wherever available)."""

    name: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    fused: bool | None = None

    def __post_init__(self) -> None:
        if not self.lr > 0 or self.weight_decay < 0:
            raise ConfigError(f"optimiser: need lr > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")


@dataclass(frozen=True)
class SchedulerConfig:
    """The per-epoch schedule (:func:`litedepth.tasks.optim.build_epoch_scheduler`): ``step``
    (x ``gamma`` every ``step_size`` epochs), ``cosine-restarts`` (``period``, ``restart_decay``,
    down to ``min_lr``) or ``none``."""

    name: Literal["step", "cosine-restarts", "none"] = "step"
    step_size: int = 15
    gamma: float = 0.1
    period: int = 31
    restart_decay: float = 0.9
    min_lr: float = 5e-6


#: the flat option each field stands for
FLAT_NAMES: dict[type, dict[str, str]] = {
    DepthRange: {"min_depth": "min_depth", "max_depth": "max_depth"},
    OptimizerConfig: {"name": "optimizer", "lr": "lr", "weight_decay": "weight_decay", "fused": "fused_optimizer"},
    SchedulerConfig: {"name": "scheduler", "step_size": "step_size", "gamma": "gamma", "period": "period",
                      "restart_decay": "restart_decay", "min_lr": "min_lr"},
}


def flatten_into(hparams: Any, *configs: Any) -> None:
    """Write each given typed config (``None``: not given) into the flat hyper-parameters it replaces.

    Raises:
        ConfigError: a value that is not one of the typed configs.
    """
    for config in configs:
        if config is None:
            continue
        if type(config) not in FLAT_NAMES:
            raise ConfigError(f"expected one of {', '.join(c.__name__ for c in FLAT_NAMES)}, got {config!r}")
        for f in fields(config):
            hparams[FLAT_NAMES[type(config)][f.name]] = getattr(config, f.name)


def typed_view(hparams: Any, cls: type) -> Any:
    """The typed config ``cls`` read from flat hyper-parameters (missing ones take the defaults)."""
    names = FLAT_NAMES[cls]
    return cls(**{f: hparams[flat] for f, flat in names.items() if flat in hparams})
