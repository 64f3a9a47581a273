"""The model contract: what a registered network declares, checked when it is registered.

A registered name builds its network with a factory whose return annotation names the class
(``def lite_mono_tiny(...) -> LiteMono``). :func:`~litedepth.models.registry.register_model`
checks that class against the contract of its task and refuses it with a ``TypeError`` naming
the class and the missing attribute, so readers use the attributes directly instead of guessing
with ``getattr`` and a default.

What a class declares, as a class attribute, or as a class-level annotation for an attribute
its ``__init__`` sets (``num_classes: int``):

=====================  =====================================================================
task                   declared
=====================  =====================================================================
every task             ``official_files``: names of the published folder layout its family
                       loads (``load_pretrained(name, folder)``); ``()`` when there is none
``depth``              ``output_kind`` (``"depth"`` or ``"disparity"``, the ``kind`` of the
                       :class:`DepthOutput` it returns; ``"depth"`` exactly when the output
                       spec's kind is ``"depth"``), ``size_multiple`` (every input side a
                       multiple of it; equal to the output spec's), ``forward(image) ->
                       DepthOutput``
``pose``               ``forward(frames) -> PoseOutput``
``segmentation``,      ``num_classes``, ``heads`` (``("seg",)`` or ``("seg", "depth")``),
``multitask``          ``task_modules()`` (modules by role, for freezing per training phase),
                       ``forward(image, heads=None) -> SegmentationOutput``
=====================  =====================================================================

:func:`~litedepth.models.registry.create_model` attaches what every built network then carries:
``model_name``, ``model_config``, ``output_spec`` and ``weights_info`` (:data:`ATTACHED`). The
protocols below describe the built network, so ``isinstance(net, DepthNetwork)`` holds for
every depth network :func:`create_model` returns.

Encoders shared between networks follow :class:`FeatureEncoder` (``feature_info``: channels
and reduction of each feature, timm style).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn

from litedepth.io.output_spec import OutputSpec, WeightsInfo
from litedepth.models.outputs import DepthOutput, PoseOutput
from litedepth.models.segmentation_outputs import SegmentationOutput

__all__ = [
    "ATTACHED", "DepthNetwork", "FeatureEncoder", "PoseNetwork", "RegisteredNetwork", "SegmentationNetwork",
    "check_network_class", "contract_for", "declared_return", "missing_members",
]

#: Attributes :func:`~litedepth.models.registry.create_model` sets on every network it builds.
ATTACHED = ("model_name", "model_config", "output_spec", "weights_info")


@runtime_checkable
class RegisteredNetwork(Protocol):
    """What every registered network provides once built by ``create_model``."""

    official_files: tuple[str, ...]
    model_name: str
    model_config: dict[str, Any]
    output_spec: OutputSpec
    weights_info: WeightsInfo


@runtime_checkable
class DepthNetwork(RegisteredNetwork, Protocol):
    """A registered depth network: RGB ``(B, 3, H, W)`` in ``[0, 1]`` -> :class:`DepthOutput`."""

    output_kind: str
    size_multiple: int

    def forward(self, image: Tensor) -> DepthOutput: ...


@runtime_checkable
class PoseNetwork(RegisteredNetwork, Protocol):
    """A registered pose network: frames stacked along channels -> :class:`PoseOutput`."""

    def forward(self, frames: Tensor) -> PoseOutput: ...


@runtime_checkable
class SegmentationNetwork(RegisteredNetwork, Protocol):
    """A registered segmentation or multi-task network: RGB -> :class:`SegmentationOutput`."""

    num_classes: int
    heads: tuple[str, ...]

    def task_modules(self) -> dict[str, list[nn.Module]]: ...

    def forward(self, image: Tensor, heads: Sequence[str] | None = None) -> SegmentationOutput: ...


@runtime_checkable
class FeatureEncoder(Protocol):
    """An encoder a shared decoder can read: RGB in ``[0, 1]`` -> features, finest first.

    ``feature_info`` lists ``{"num_chs", "reduction", "module"}`` per feature; ``input_mean``
    and ``input_std`` are the per-channel statistics it normalises with inside ``forward``.
    """

    feature_info: list[dict[str, Any]]
    input_mean: tuple[float, ...]
    input_std: tuple[float, ...]

    def forward(self, image: Tensor) -> list[Tensor]: ...


_CONTRACTS: dict[str, type] = {
    "depth": DepthNetwork,
    "pose": PoseNetwork,
    "segmentation": SegmentationNetwork,
    "multitask": SegmentationNetwork,
}


def contract_for(task: str) -> type:
    """The protocol a registered network of ``task`` follows (``TypeError`` for an unknown task)."""
    try:
        return _CONTRACTS[task]
    except KeyError:
        raise TypeError(f"unknown model task {task!r}; known: {sorted(_CONTRACTS)}") from None


def _members(protocol: type) -> tuple[list[str], list[str]]:
    """``(attributes, methods)`` a protocol of this module declares, with those of its bases."""
    attrs: list[str] = []
    methods: list[str] = []
    for klass in reversed(protocol.__mro__):
        if klass.__module__ != __name__:
            continue
        attrs += [a for a in klass.__dict__.get("__annotations__", {}) if a not in attrs]
        methods += [n for n, v in klass.__dict__.items() if callable(v) and not n.startswith("_") and n not in methods]
    return attrs, methods


def _declares(cls: type, name: str) -> bool:
    """Whether ``cls`` has ``name`` as a class attribute or a class-level annotation."""
    return hasattr(cls, name) or any(name in vars(k).get("__annotations__", {}) for k in cls.__mro__)


def declared_return(fn: Callable[..., Any]) -> Any:
    """The evaluated return annotation of ``fn`` (``None`` when it has none; the string itself
    when it names nothing at the module level of ``fn``)."""
    ann = getattr(fn, "__annotations__", {}).get("return")
    if isinstance(ann, str):  # postponed annotations: evaluate where the function was written
        try:
            ann = eval(ann, getattr(fn, "__globals__", {}))  # noqa: S307 - source code, not data
        except NameError:
            return ann
    return ann


def missing_members(net: nn.Module, protocol: type) -> list[str]:
    """The attributes and methods of ``protocol`` that the built network ``net`` lacks."""
    attrs, methods = _members(protocol)
    return [m for m in attrs + methods if not hasattr(net, m)]


def check_network_class(cls: Any, task: str, where: str, spec: OutputSpec) -> None:
    """Refuse a network class that does not declare the contract of ``task``.

    Args:
        cls: the class the factory returns (its return annotation).
        task: the registered task (``"depth"``, ``"pose"``, ``"segmentation"``, ``"multitask"``).
        where: the registration, for messages (e.g. ``"model 'lite-mono' (litedepth.models...)"``).
        spec: the output spec with the factory's default options.

    Raises:
        TypeError: naming the class and what it lacks or contradicts.
    """
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)) or cls is nn.Module:
        raise TypeError(f"{where}: the factory must name the network class it builds in its return annotation "
                        f"(e.g. '-> LiteMono', got {cls!r}), so that the registry can check the model contract "
                        "(litedepth.models.contract)")
    protocol = contract_for(task)
    attrs, methods = _members(protocol)
    name = cls.__qualname__
    for attr in attrs:
        if attr not in ATTACHED and not _declares(cls, attr):
            raise TypeError(f"{where}: {name} does not declare {attr!r}, which every {task} network declares "
                            f"({protocol.__name__} in litedepth.models.contract)")
    for method in methods:
        if not callable(getattr(cls, method, None)):
            raise TypeError(f"{where}: {name} has no method {method}(), which every {task} network has "
                            f"({protocol.__name__} in litedepth.models.contract)")
    expected = typing.get_type_hints(protocol.forward)["return"]
    returned = declared_return(cls.forward)
    if not (isinstance(returned, type) and issubclass(returned, expected)):
        raise TypeError(f"{where}: {name}.forward must declare that it returns {expected.__name__} "
                        f"(-> {expected.__name__}), got {returned!r}")
    if task == "depth":
        if cls.output_kind not in ("depth", "disparity"):
            raise TypeError(f"{where}: {name}.output_kind must be 'depth' or 'disparity', got {cls.output_kind!r}")
        if (cls.output_kind == "depth") != (spec.kind == "depth"):
            raise TypeError(f"{where}: {name}.output_kind {cls.output_kind!r} contradicts its output spec "
                            f"({spec.kind})")
        if cls.size_multiple != spec.size_multiple:
            raise TypeError(f"{where}: {name}.size_multiple {cls.size_multiple} differs from its output spec's "
                            f"size_multiple {spec.size_multiple}")
