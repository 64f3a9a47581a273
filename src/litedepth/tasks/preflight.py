"""Checks of a training configuration before any work starts (``litedepth train``).

Each problem is one :class:`~litedepth.errors.ConfigError` line naming the config key (as
``--key`` on the command line takes it) and what it accepts, instead of a traceback minutes
into the run:

* :func:`check_config` (before the model and data are built): registered network names (with
  the nearest names), learning rates ``> 0`` (``min_lr`` ``>= 0``), weight decay ``>= 0``,
  input size sides ``>= 1``, batch size ``>= 1``, the monitored metric and early stopping;
* :func:`check_training_setup` (once built): the input size is a multiple of what the network
  needs (:func:`litedepth.models.input_size.check_input_size`), the network runs at it (one
  forward pass without gradients), and a batch of one image can train its BatchNorm layers.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from litedepth.errors import ConfigError
from litedepth.models import list_models
from litedepth.models.input_size import check_input_size

log = logging.getLogger(__name__)

__all__ = ["check_config", "check_monitor", "check_training_setup"]


def _init_args(section: Any) -> dict[str, Any]:
    """``init_args`` of a ``class_path`` + ``init_args`` config section, as a dict."""
    if section is None:
        return {}
    as_dict = section.as_dict() if hasattr(section, "as_dict") else dict(section)
    args = as_dict.get("init_args") or {}
    return dict(args) if isinstance(args, Mapping) else {}


def check_monitor(monitor: str | None, mode: str = "min", patience: int | None = None) -> None:
    """``--monitor`` names a metric, ``--monitor_mode`` is min / max, patience ``>= 0``."""
    if not monitor:
        raise ConfigError("--monitor: name the validation metric that selects best.ckpt and drives early "
                          f"stopping (e.g. val/loss), got {monitor!r}")
    if mode not in ("min", "max"):
        raise ConfigError(f"--monitor_mode must be min or max, got {mode!r}")
    if patience is not None and patience < 0:
        raise ConfigError(f"--early_stop_patience must be >= 0 (or null: off), got {patience}")


def _check_network_name(key: str, name: Any) -> None:
    known = list_models()
    if name in known:
        return
    near = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    raise ConfigError(f"{key}: unknown network {name!r}{hint} (registered: {', '.join(known)})")


def check_config(cfg: Any) -> None:
    """Check the parsed ``litedepth train`` configuration before anything is built.

    Args:
        cfg: the jsonargparse namespace (``model``, ``data``, ``monitor``, ...).

    Raises:
        ConfigError: the first problem found, naming its key.
    """
    model = _init_args(getattr(cfg, "model", None))
    for key, value in model.items():
        if (key == "network" or key.endswith("_network")) and value is not None:
            _check_network_name(f"model.init_args.{key}", value)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if key == "lr" or (key.endswith("_lr") and "min" not in key):
            if not value > 0:
                raise ConfigError(f"model.init_args.{key}: the learning rate must be > 0, got {value}")
        elif key.endswith("min_lr") or key == "weight_decay":
            if value < 0:
                raise ConfigError(f"model.init_args.{key} must be >= 0, got {value}")
    data = _init_args(getattr(cfg, "data", None))
    size = data.get("size")
    if size is not None:
        if len(size) != 2 or any(int(v) < 1 for v in size):
            raise ConfigError(f"data.init_args.size: (height, width) in pixels, each >= 1, got {list(size)}")
    batch = data.get("batch_size")
    if batch is not None and int(batch) < 1:
        raise ConfigError(f"data.init_args.batch_size must be >= 1, got {batch}")
    check_monitor(getattr(cfg, "monitor", "val/loss"), getattr(cfg, "monitor_mode", "min"),
                  getattr(cfg, "early_stop_patience", None))


def _probe(net: nn.Module, size: tuple[int, int], watch_batchnorm: bool) -> list[str]:
    """Run ``net`` once (eval mode, no gradients) on one black image of ``size``.

    Returns the BatchNorm layers that would see one value per channel for a batch of one
    image in training (e.g. after global pooling) when ``watch_batchnorm``; the network's own
    exception propagates (an input size it cannot run at).
    """
    alone: list[str] = []

    def hook(name: str):
        def check(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0]
            if x.dim() >= 2 and x.numel() // max(1, x.shape[1]) <= 1:
                alone.append(name)
        return check

    handles = [m.register_forward_pre_hook(hook(name)) for name, m in net.named_modules()
               if watch_batchnorm and isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, 3, *size))
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    return alone


def check_training_setup(model: Any, datamodule: Any) -> None:
    """Check the built task and data module against each other before training.

    The network runs once on a black image at the training size (eval mode, no gradients:
    its weights and BatchNorm statistics do not change), so a size it cannot run at fails
    here with the network's own reason instead of at the first training step.

    Args:
        model: the task (a LightningModule with the network as ``.net``).
        datamodule: the data module (``size`` ``(H, W)`` or ``None`` = native size; ``batch_size``).

    Raises:
        ConfigError: an input size the network does not accept, or a batch size of 1 for a
            network with BatchNorm layers that then see one value per channel (torch would stop
            at the first step with "Expected more than 1 value per channel when training").
    """
    net = getattr(model, "net", None)
    size = getattr(datamodule, "size", None)
    if not isinstance(net, nn.Module) or size is None:
        return
    size = check_input_size(net, size, "data.init_args.size")
    name = getattr(net, "model_name", type(net).__name__)
    batch_of_one = int(getattr(datamodule, "batch_size", 2) or 2) == 1
    try:
        alone = _probe(net, size, watch_batchnorm=batch_of_one)
    except Exception as exc:  # noqa: BLE001 - the network's own reason, on one line
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"data.init_args.size: {name} cannot run at {size[0]}x{size[1]} (HxW): {reason}") from None
    if alone:
        raise ConfigError(f"data.init_args.batch_size: 1 image per batch cannot train {name}: its BatchNorm "
                          f"layer {alone[0]} then sees one value per channel; use a batch size >= 2")
