"""ONNX parity of the Lite-Mono option variants (seed 001 building blocks), which the registry
test does not reach because they are constructor options, not registered names.

Pose networks are not exported: :func:`export_onnx` is for depth networks (one
``(B, 1, H, W)`` prediction), and ``litedepth export`` refuses pose models with a message.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from litedepth.export import export_onnx, read_metadata
from litedepth.inference.onnx_backend import OnnxDepthModel
from litedepth.models import create_model

H, W = 64, 96
VARIANTS = {
    "spatial-attention": {"spatial_attention_stages": (1, 2)},
    "fixed-bins": {"bins": "fixed"},
    "adaptive-bins": {"bins": "adaptive"},
    "attention+adaptive-bins": {"spatial_attention_stages": (1, 2), "bins": "adaptive"},
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_lite_mono_variant_exports_with_parity(variant, tmp_path):
    torch.manual_seed(0)
    net = create_model("lite-mono-tiny", **VARIANTS[variant]).eval()
    result = export_onnx(net, tmp_path / f"{variant}.onnx", H, W, dynamic_hw=True)
    assert result.dynamic_hw, f"{variant}: graph became shape-specialised"
    assert [(c.batch, c.height, c.width) for c in result.parity] == [(1, H, W), (2, H, W), (1, H + 32, W + 64)]
    assert all(c.passed for c in result.parity)
    assert result.max_abs_diff <= 1e-4  # disparity in (0, 1): absolute tolerance
    x = torch.rand(2, 3, H + 16, W + 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        eager = net(x).pred.numpy()
    assert eager.std() > 1e-6
    got = OnnxDepthModel(result.path, device="cpu", threads=1)(x).pred.numpy()
    assert np.abs(got - eager).max() <= 1e-4
    assert read_metadata(result.path)["litedepth.output_kind"] == "disparity"
