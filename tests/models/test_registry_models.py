"""Tests generated from the registry: every depth network, without model-specific code."""

from __future__ import annotations

import pytest
import torch

from litedepth.errors import ConfigError
from litedepth.models import DepthOutput, create_model, list_models, model_info

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
    assert net.model_name == name
    for h, w in SIZES:
        net.train()
        out = net(torch.rand(2, 3, h, w))
        assert isinstance(out, DepthOutput)
        assert out.kind in ("depth", "disparity")
        assert out.pred.shape == (2, 1, h, w)
        assert torch.isfinite(out.pred).all()
        if out.kind == "depth":
            assert (out.pred > 0).all()
        for s, t in enumerate(out.scales):
            assert t.shape[0] == 2 and t.shape[1] == 1
            assert t.shape[-2] <= h
    out.pred.mean().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert sum(g is not None and bool(torch.any(g != 0)) for g in grads) > 0.5 * len(grads)


@pytest.mark.parametrize("name", DEPTH_MODELS)
def test_info_is_consistent(name):
    info = model_info(name)
    assert info.name == name and len(info.default_size) == 2
