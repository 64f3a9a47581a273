"""OutputSpec: validation, serialisation, conversions; the registry requires a spec."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from litedepth.errors import ConfigError
from litedepth.geometry.depth import disp_to_depth
from litedepth.models import OutputSpec, create_model, list_models, model_info, output_spec_of, register_model, to_depth
from litedepth.models.registry import _REGISTRY
from litedepth.models.spec import align_scale_shift, to_inverse_depth


def test_registry_refuses_a_network_without_a_spec():
    with pytest.raises(TypeError, match="must declare what its output means"):
        @register_model("test-no-spec-net")
        def _net() -> nn.Module:  # pragma: no cover - never built
            return nn.Identity()
    assert "test-no-spec-net" not in _REGISTRY


def test_registry_refuses_default_size_off_the_multiple():
    with pytest.raises(TypeError, match="not a multiple"):
        register_model("test-bad-size", output=OutputSpec.metric_depth(size_multiple=32), default_size=(100, 200))(
            lambda: nn.Identity())
    assert "test-bad-size" not in _REGISTRY


def test_every_registered_network_declares_its_spec():
    for name in list_models():
        spec = model_info(name).output_spec()
        assert isinstance(spec, OutputSpec)
        assert spec.is_depth == (model_info(name).task in ("depth", "multitask"))


def test_spec_follows_options_and_reaches_the_module():
    disp = create_model("multitask-unet-resnet50", encoder="resnet18", num_classes=3)
    depth = create_model("multitask-unet-resnet50", encoder="resnet18", num_classes=3, depth_output="depth")
    assert disp.output_spec.kind == "relative-disparity" and disp.output_spec.num_classes == 3
    assert depth.output_spec == OutputSpec.metric_depth(size_multiple=1, normalisation=depth.output_spec.normalisation,
                                                         num_classes=3, note=depth.output_spec.note)
    assert output_spec_of(disp) is disp.output_spec
    with pytest.raises(ConfigError, match="declares no output spec"):
        output_spec_of(nn.Conv2d(3, 1, 1))


@pytest.mark.parametrize("bad", [
    {"kind": "disparity"},                                       # the ambiguous word is not a kind
    {"kind": "depth", "scale": "affine"},
    {"kind": "relative-disparity", "scale": "relative"},
    {"kind": "sigmoid-disparity", "min_depth": 10.0, "max_depth": 1.0},
    {"kind": "depth", "min_depth": 0.1, "max_depth": 100.0},
    {"kind": "segmentation", "scale": "none"},                   # no class count
    {"kind": "depth", "size_multiple": 0},
    {"kind": "depth", "depth_factor": -1.0},
])
def test_invalid_specs_are_refused(bad):
    with pytest.raises(ConfigError):
        OutputSpec.from_dict(bad)


def test_round_trip_and_unknown_fields():
    spec = OutputSpec.sigmoid_disparity(0.5, 50.0, metric=True, depth_factor=5.4, size_multiple=32)
    assert OutputSpec.from_json(spec.to_json()) == spec
    assert spec.to_dict()["units"] == "sigmoid disparity in [0, 1]; depth = disp_to_depth(0.5, 50) x 5.4 in metres"
    with pytest.raises(ConfigError, match="unknown output spec fields"):
        OutputSpec.from_dict({**spec.to_dict(), "colour": "red"})
    with pytest.raises(ConfigError, match="format 99"):
        OutputSpec.from_dict({**spec.to_dict(), "format": 99})


def test_to_depth_equals_disp_to_depth_and_inverse():
    s = torch.rand(2, 1, 4, 5)
    spec = OutputSpec.sigmoid_disparity(0.1, 100.0)
    scaled, depth = disp_to_depth(s, 0.1, 100.0)
    torch.testing.assert_close(to_depth(s, spec), depth)
    torch.testing.assert_close(to_inverse_depth(s, spec), scaled)
    assert spec.depth_units == "relative"
    stereo = OutputSpec.sigmoid_disparity(0.1, 100.0, metric=True, depth_factor=5.4)
    torch.testing.assert_close(to_depth(s, stereo), depth * 5.4)
    assert stereo.depth_units == "metres"
    inv = OutputSpec("inverse-depth", "relative")
    np.testing.assert_allclose(to_depth(np.array([0.5, 2.0]), inv), [2.0, 0.5])
    metric = OutputSpec.metric_depth()
    np.testing.assert_array_equal(to_depth(np.array([3.0]), metric), [3.0])


def test_relative_disparity_has_no_depth_without_alignment():
    spec = OutputSpec.relative_disparity()
    with pytest.raises(ConfigError, match="has no depth without aligning"):
        to_depth(np.ones((2, 2)), spec)
    with pytest.raises(ConfigError):
        _ = spec.depth_units
    # a known affine distortion of the true inverse depth is undone by the fit
    depth = np.linspace(1.0, 10.0, 20).reshape(4, 5)
    pred = 3.0 * (1.0 / depth) - 0.2
    s, t = align_scale_shift(pred, depth)
    np.testing.assert_allclose(1.0 / (s * pred + t), depth, rtol=1e-9)


def test_sigmoid_disparity_without_range_refuses_conversion():
    spec = OutputSpec("sigmoid-disparity", "relative")
    assert not spec.has_range and "range unknown" in spec.units
    with pytest.raises(ConfigError, match="--min-depth"):
        to_depth(np.ones(3), spec)
