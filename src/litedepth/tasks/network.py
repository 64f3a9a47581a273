"""The network a task trains: a registered name (built here) or a ready ``nn.Module``, and what
the checkpoint records to rebuild it.

Checkpoints rebuild networks by name (``hyper_parameters["network"]`` and ``["network_options"]``,
and the ``litedepth`` block of :mod:`litedepth.tasks.card`). A module given to a task is
recorded by the name and options it was built with when it carries them, i.e. when it was built
by :func:`litedepth.models.create_model` (or loaded by :func:`litedepth.models.load_pretrained`,
which sets ``model_name`` / ``model_config``): its checkpoint rebuilds like any other. A module
built otherwise, even of a registered class, has no known options, so its checkpoint records
``network: null`` and the module's class; saving it logs a warning and reading it
(:func:`~litedepth.tasks.card.card_from_checkpoint`) says that it cannot be rebuilt by name
(load its ``state_dict`` into a network built the same way instead).

The tasks annotate ``network`` as ``str``: the command line (``litedepth train``, jsonargparse)
offers registered names only, while Python callers may pass a module.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from litedepth.errors import ConfigError
from litedepth.models import create_model
from litedepth.models.registry import output_spec_of

__all__ = ["Network", "build_network", "module_class_path"]

#: what a task's ``network`` option accepts
Network = str | nn.Module


def module_class_path(module: nn.Module) -> str:
    """``"package.module.Class"`` of a network."""
    return f"{type(module).__module__}.{type(module).__qualname__}"


def build_network(network: Any, options: dict[str, Any] | None, hparams: Any, key: str = "network") -> nn.Module:
    """The module a task trains, recording its name and options in ``hparams``.

    Args:
        network: a registered name (see ``litedepth.models.list_models()``) or an ``nn.Module``
            declaring its ``output_spec``.
        options: options for ``create_model(network, ...)``; only with a name.
        hparams: the task's hyper-parameters (saved without ``network`` when a module is
            given); ``hparams[key]`` becomes the registered name or ``None``,
            ``hparams[key + "_options"]`` (``network_options`` for ``key="network"``) its options.
        key: ``"network"`` or ``"pose_network"``.

    Raises:
        ConfigError: options given with a module, a module without an output spec, or a
            ``network`` that is neither a name nor a module.
    """
    options_key = "network_options" if key == "network" else key.replace("_network", "_options")
    if isinstance(network, str):
        hparams[key] = network
        return create_model(network, **(options or {}))
    if not isinstance(network, nn.Module):
        raise ConfigError(f"{key} must be a registered network name or an nn.Module, got {type(network).__name__}")
    if options:
        raise ConfigError(f"{options_key} apply to a registered name; {key} is already a built "
                          f"{type(network).__name__}")
    output_spec_of(network)  # a clear error for a module that does not say what it outputs
    name = getattr(network, "model_name", None)
    hparams[key] = name
    hparams[options_key] = dict(getattr(network, "model_config", None) or {}) if name else None
    if name is None:
        hparams[f"{key}_class"] = module_class_path(network)
    return network
