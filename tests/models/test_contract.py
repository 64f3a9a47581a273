"""The model contract (litedepth.models.contract) is checked when a network is registered."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from litedepth.errors import ConfigError
from litedepth.models import OutputSpec, create_model, list_models, model_info, register_model
from litedepth.models.contract import (
    DepthNetwork,
    FeatureEncoder,
    PoseNetwork,
    SegmentationNetwork,
    contract_for,
    declared_return,
)
from litedepth.models.monodepth2 import Monodepth2Net
from litedepth.models.outputs import DepthOutput
from litedepth.models.registry import _REGISTRY
from litedepth.models.segmentation_outputs import SegmentationOutput

DISPARITY = OutputSpec.sigmoid_disparity(0.1, 100.0, size_multiple=16)


class _Complete(nn.Module):
    """A depth network declaring the whole contract (the tests below take one piece away)."""

    output_kind = "disparity"
    size_multiple = 16
    official_files: tuple[str, ...] = ()

    def forward(self, image: Tensor) -> DepthOutput:
        return DepthOutput(pred=torch.sigmoid(image[:, :1]), kind="disparity")


class _NoSizeMultiple(nn.Module):
    output_kind = "disparity"
    official_files: tuple[str, ...] = ()

    def forward(self, image: Tensor) -> DepthOutput:  # pragma: no cover - never built
        return DepthOutput(pred=image[:, :1], kind="disparity")


class _Multiple32(_Complete):
    size_multiple = 32


class _SaysDepth(_Complete):
    output_kind = "depth"


class _ForwardUndeclared(_Complete):
    def forward(self, image):  # type: ignore[override]  # pragma: no cover - never built
        return DepthOutput(pred=image[:, :1], kind="disparity")


class _SegWithoutClasses(nn.Module):
    official_files: tuple[str, ...] = ()
    heads = ("seg",)

    def task_modules(self) -> dict[str, list[nn.Module]]:  # pragma: no cover - never built
        return {}

    def forward(self, image: Tensor, heads: tuple[str, ...] | None = None) -> SegmentationOutput:  # pragma: no cover
        return SegmentationOutput(logits=image)


class _ClassesNeverSet(nn.Module):
    """Declares ``num_classes`` by annotation, as the contract allows, but never sets it."""

    official_files: tuple[str, ...] = ()
    heads = ("seg",)
    num_classes: int

    def task_modules(self) -> dict[str, list[nn.Module]]:  # pragma: no cover - never run
        return {}

    def forward(self, image: Tensor, heads: tuple[str, ...] | None = None) -> SegmentationOutput:  # pragma: no cover
        return SegmentationOutput(logits=image)


def _no_size_multiple() -> _NoSizeMultiple:  # pragma: no cover - never built
    return _NoSizeMultiple()


def _multiple_32() -> _Multiple32:  # pragma: no cover - never built
    return _Multiple32()


def _says_depth() -> _SaysDepth:  # pragma: no cover - never built
    return _SaysDepth()


def _forward_undeclared() -> _ForwardUndeclared:  # pragma: no cover - never built
    return _ForwardUndeclared()


def _seg_without_classes() -> _SegWithoutClasses:  # pragma: no cover - never built
    return _SegWithoutClasses()


@pytest.mark.parametrize(("factory", "task", "spec", "message"), [
    (_no_size_multiple, "depth", DISPARITY, r"_NoSizeMultiple does not declare 'size_multiple'"),
    (_multiple_32, "depth", DISPARITY, r"_Multiple32.size_multiple 32 differs from its output spec's size_multiple 16"),
    (_says_depth, "depth", DISPARITY, r"_SaysDepth.output_kind 'depth' contradicts its output spec"),
    (_forward_undeclared, "depth", DISPARITY, r"_ForwardUndeclared.forward must declare that it returns DepthOutput"),
    (_seg_without_classes, "segmentation", OutputSpec.segmentation(3), r"_SegWithoutClasses does not declare 'num_classes'"),
    (lambda: _Complete(), "depth", DISPARITY, r"must name the network class it builds in its return annotation"),
])
def test_registration_refuses_a_class_off_the_contract(factory, task, spec, message):
    with pytest.raises(TypeError, match=message):
        register_model("test-off-contract", output=spec, task=task, default_size=(64, 64))(factory)
    assert "test-off-contract" not in _REGISTRY


def test_a_declared_attribute_the_network_never_sets_is_refused_when_built():
    """A class-level annotation declares an attribute; the built network must then have it."""

    def factory() -> _ClassesNeverSet:
        return _ClassesNeverSet()

    register_model("test-unset", output=OutputSpec.segmentation(3), task="segmentation", default_size=(64, 64))(factory)
    try:
        with pytest.raises(TypeError, match=r"the built _ClassesNeverSet lacks \['num_classes'\]"):
            create_model("test-unset")
    finally:
        _REGISTRY.pop("test-unset", None)


def test_every_registered_factory_names_a_class_of_its_contract():
    for name in list_models():
        info = model_info(name)
        cls = declared_return(info.factory)
        assert isinstance(cls, type) and issubclass(cls, nn.Module) and cls is not nn.Module, name
        assert isinstance(cls.official_files, tuple), name
        if info.task == "depth":
            assert cls.size_multiple == info.output_spec().size_multiple, name


def test_built_networks_follow_their_protocol():
    depth, pose = create_model("lite-mono-tiny"), create_model("posenet-resnet18")
    assert isinstance(depth, DepthNetwork) and contract_for("depth") is DepthNetwork
    assert isinstance(pose, PoseNetwork) and not isinstance(pose, SegmentationNetwork)
    assert depth.official_files == ("encoder.pth", "depth.pth") and depth.size_multiple == 16
    assert isinstance(depth.encoder, FeatureEncoder) and isinstance(pose.encoder, FeatureEncoder)


def test_monodepth2_refuses_an_encoder_without_feature_info():
    with pytest.raises(ConfigError, match=r"lacks \['feature_info', 'input_mean', 'input_std'\]"):
        Monodepth2Net(nn.Conv2d(3, 8, 3))
