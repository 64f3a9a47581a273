"""Tests generated from the registry: every depth network, without model-specific code."""

from __future__ import annotations

import pytest
import torch

from litedepth.errors import ConfigError
from litedepth.models import DepthOutput, OutputSpec, create_model, list_models, model_info

DEPTH_MODELS = list_models(task="depth")
SIZES = [(64, 96), (96, 128)]


def test_registry_lists_the_seed_networks():
    for name in ("deeplabv3-resnet50", "deeplabv3-resnet101", "deeplabv3-mobilenet-v3-large"):
        assert name in DEPTH_MODELS
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("no-such-net")


@pytest.mark.parametrize("name", DEPTH_MODELS)
def test_forward_shapes_and_backward(name):
    torch.manual_seed(0)
    net = create_model(name)
    for h, w in SIZES:
        net.train()
        out = net(torch.rand(2, 3, h, w))
        assert isinstance(out, DepthOutput)
        assert out.kind in ("depth", "disparity")
        assert out.pred.shape == (2, 1, h, w)
        assert torch.isfinite(out.pred).all()
        # the declared spec agrees with what the network returns
        spec = net.output_spec
        assert isinstance(spec, OutputSpec) and spec.is_depth
        assert (out.kind == "depth") == (spec.kind == "depth")
        if spec.kind == "depth":
            assert (out.pred > 0).all()
        if spec.kind in ("sigmoid-disparity", "relative-disparity"):
            assert ((out.pred >= 0) & (out.pred <= 1)).all()
        for s, t in enumerate(out.scales):
            assert t.shape[0] == 2 and t.shape[1] == 1
            assert t.shape[-2] <= h
    out.pred.mean().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert sum(g is not None and bool(torch.any(g != 0)) for g in grads) > 0.5 * len(grads)


@pytest.mark.parametrize("name", list_models())
def test_default_size_is_a_multiple_of_the_size_multiple(name):
    """Checked at registration only for a fixed spec; here also for specs that are functions of
    the options (segmentation, multi-task), with the factory's default options."""
    info = model_info(name)
    m = info.output_spec().size_multiple
    assert m >= 1 and info.default_size[0] % m == 0 and info.default_size[1] % m == 0


@pytest.mark.parametrize("name", list_models())
def test_declared_size_multiple_is_what_the_network_needs(name):
    """A size that is a multiple of the spec's ``size_multiple`` runs; where the multiple is > 1,
    a size off the multiple is refused (the spec is not an arbitrary number)."""
    info = model_info(name)
    m = info.output_spec().size_multiple
    net = create_model(name).eval()
    channels = 6 if info.task == "pose" else 3
    h, w = (2 * m, 3 * m) if m > 1 else (37, 61)
    with torch.no_grad():
        net(torch.rand(1, channels, h, w))
        if m > 1:
            with pytest.raises(Exception):
                net(torch.rand(1, channels, 2 * m + m // 2, 3 * m))
