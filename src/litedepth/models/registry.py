"""Model registry: every network is a registered name.

Adding a model touches one file (the family module, with ``@register_model`` on each
variant) and one import line in :mod:`litedepth.models`. Tests are generated from
:func:`list_models`, so a new model is tested without new test code.

The factory's return annotation names the network class, which must declare the model
contract of its task (:mod:`litedepth.models.contract`: ``official_files``; for depth networks
``output_kind``, ``size_multiple`` and ``forward -> DepthOutput`` ...); a class that does not is
refused when the module is imported, with a ``TypeError`` naming the class and the attribute.

Every registration states what the network's output means: ``output=`` an
:class:`~litedepth.models.spec.OutputSpec` (or a function of the factory's options returning
one, for families whose output depends on an option). A registration without it is refused
when the module is imported. :func:`create_model` attaches the spec to the module as
``output_spec``; checkpoints, ONNX files and prediction folders carry it from there.

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
from litedepth.models.contract import ATTACHED, check_network_class, contract_for, declared_return, missing_members
from litedepth.models.spec import RANDOM_WEIGHTS, OutputSpec, WeightsInfo

SpecSource = OutputSpec | Callable[..., OutputSpec]


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
        output: the :class:`OutputSpec`, or a function of the factory's keyword options
            returning it (see :meth:`output_spec`).
    """

    name: str
    factory: Callable[..., nn.Module]
    task: str = "depth"
    family: str = ""
    default_size: tuple[int, int] = (192, 640)
    tags: tuple[str, ...] = field(default_factory=tuple)
    output: SpecSource | None = None

    def output_spec(self, **options: Any) -> OutputSpec:
        """The output spec of this network built with ``options`` (the factory's defaults
        fill in the rest)."""
        if isinstance(self.output, OutputSpec):
            return self.output
        if self.output is None:  # pragma: no cover - refused at registration
            raise ConfigError(f"model {self.name!r} declares no output spec")
        import inspect

        bound = inspect.signature(self.factory).bind_partial(**options)
        bound.apply_defaults()
        spec = self.output(**bound.arguments)
        if not isinstance(spec, OutputSpec):
            raise TypeError(f"model {self.name!r}: output= must return an OutputSpec, got {type(spec).__name__}")
        return spec


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    output: SpecSource | None = None,
    task: str = "depth",
    family: str = "",
    default_size: tuple[int, int] = (192, 640),
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a factory function under ``name``.

    Args:
        output: what the network's output means (required): an :class:`OutputSpec`, or a
            function taking the factory's keyword options and returning one.
        task: ``"depth"``, ``"pose"``, ``"segmentation"`` or ``"multitask"``.
        family: family name (default: the module's file name).
        default_size: ``(height, width)`` of the published model; must be a multiple of the
            spec's ``size_multiple``.

    Raises:
        TypeError: no ``output`` spec, a name registered twice, or a network class that does not
            declare the contract of ``task`` (at import time, so that a network that does not say
            what its numbers mean never reaches a user).
    """

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise TypeError(f"model name {name!r} is registered twice")
        if output is None or not (isinstance(output, OutputSpec) or callable(output)):
            raise TypeError(
                f"model {name!r} ({fn.__module__}.{fn.__qualname__}) must declare what its output means: "
                "@register_model(..., output=OutputSpec...) (see litedepth.models.spec)"
            )
        fam = family or fn.__module__.rsplit(".", 1)[-1]
        info = ModelInfo(name, fn, task, fam, tuple(default_size), tuple(tags), output)
        if isinstance(output, OutputSpec):
            m = output.size_multiple
            if default_size[0] % m or default_size[1] % m:
                raise TypeError(f"model {name!r}: default size {default_size} is not a multiple of its "
                                f"size_multiple {m}")
        check_network_class(declared_return(fn), task, f"model {name!r} ({fn.__module__}.{fn.__qualname__})",
                            info.output_spec())
        _REGISTRY[name] = info
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

    The returned module carries ``model_name``, ``model_config``, ``output_spec``
    (:class:`OutputSpec`) and ``weights_info`` (:class:`WeightsInfo`) attributes so that
    checkpoints can record how to rebuild it and what its output means. A network built here is
    **untrained** for its output (``weights_info.trained`` is False) even when an encoder is
    initialised from a file (``pretrained_path`` / ``weights`` / ``encoder_weights``); loaders of
    trained weights (:func:`litedepth.models.load_pretrained`, checkpoints) replace it.
    """
    info = model_info(name)
    try:
        model = info.factory(**cfg)
        spec = info.output_spec(**cfg)
    except TypeError as exc:
        raise ConfigError(f"bad options for model {name!r}: {exc}") from exc
    missing = [m for m in missing_members(model, contract_for(info.task)) if m not in ATTACHED]
    if missing:
        raise TypeError(f"model {name!r}: the built {type(model).__qualname__} lacks {missing} "
                        f"({contract_for(info.task).__name__} in litedepth.models.contract)")
    model.model_name = name  # type: ignore[attr-defined]
    model.model_config = dict(cfg)  # type: ignore[attr-defined]
    model.output_spec = spec  # type: ignore[attr-defined]
    if not isinstance(getattr(model, "weights_info", None), WeightsInfo):  # a family loader may have set it
        init = next((str(cfg[k]) for k in ("weights", "pretrained_path", "encoder_weights") if cfg.get(k)), None)
        model.weights_info = (WeightsInfo(False, "initialised", init) if init  # type: ignore[attr-defined]
                              else RANDOM_WEIGHTS)
    return model


def output_spec_of(model: nn.Module) -> OutputSpec:
    """The :class:`OutputSpec` of a network built by :func:`create_model` (or any module with
    an ``output_spec`` attribute).

    Raises:
        ConfigError: the module does not declare one (no guessing from its class or output).
    """
    spec = getattr(model, "output_spec", None)
    if not isinstance(spec, OutputSpec):
        raise ConfigError(f"{type(model).__name__} declares no output spec; build it with "
                          "litedepth.models.create_model or set its output_spec attribute")
    return spec
