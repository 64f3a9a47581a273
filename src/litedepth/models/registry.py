"""Model registry: every network is a registered name.

Adding a model touches one file (the family module, with ``@register_model`` on each
variant) and one import line in :mod:`litedepth.models`. Tests are generated from
:func:`list_models`, so a new model is tested without new test code.

Example:
    >>> from litedepth.models import create_model, list_models
    >>> "deeplabv3-resnet50" in list_models()
    True
    >>> net = create_model("deeplabv3-mobilenet-v3-large")  # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from litedepth.errors import ConfigError


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one registered name.

    Attributes:
        name: registered name, e.g. ``"lite-mono"``.
        factory: callable building the ``nn.Module`` from keyword options.
        task: ``"depth"``, ``"pose"``, ``"segmentation"`` or ``"multitask"``.
        family: file-level family name, e.g. ``"deeplabv3"``.
        default_size: ``(height, width)`` the published model is trained at.
        tags: free-form tags (``"supervised"``, ``"self-supervised"`` ...).
    """

    name: str
    factory: Callable[..., nn.Module]
    task: str = "depth"
    family: str = ""
    default_size: tuple[int, int] = (192, 640)
    tags: tuple[str, ...] = field(default_factory=tuple)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    task: str = "depth",
    family: str = "",
    default_size: tuple[int, int] = (192, 640),
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a factory function under ``name``."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is registered twice")
        fam = family or fn.__module__.rsplit(".", 1)[-1]
        _REGISTRY[name] = ModelInfo(name, fn, task, fam, default_size, tuple(tags))
        return fn

    return deco


def list_models(pattern: str | None = None, task: str | None = None) -> list[str]:
    """Registered names, sorted; optionally filtered by glob ``pattern`` and ``task``."""
    names = sorted(
        n for n, info in _REGISTRY.items() if task is None or info.task == task
    )
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered name (``ConfigError`` if unknown)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(list_models())
        raise ConfigError(f"unknown model {name!r}; registered models: {known}") from None


def create_model(name: str, **cfg: Any) -> nn.Module:
    """Build the registered model ``name`` with keyword options ``cfg``.

    The returned module carries ``model_name`` and ``model_config`` attributes so that
    checkpoints can record how to rebuild it.
    """
    info = model_info(name)
    try:
        model = info.factory(**cfg)
    except TypeError as exc:
        raise ConfigError(f"bad options for model {name!r}: {exc}") from exc
    model.model_name = name  # type: ignore[attr-defined]
    model.model_config = dict(cfg)  # type: ignore[attr-defined]
    return model
