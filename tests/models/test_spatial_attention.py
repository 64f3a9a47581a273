"""Tests of the CBAM spatial-attention option of the Lite-Mono family (seed 001)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from litedepth.errors import CheckpointError, ConfigError
from litedepth.models import create_model
from litedepth.models.lite_mono import (
    SpatialAttention,
    load_official_weights,
    save_official_weights,
)
from litedepth.profiling.flops import count_macs, count_params

#: 7x7 conv, 2 -> 1 channels, no bias: 2 * 49 weights per stage.
PARAMS_PER_STAGE = 2 * 7 * 7


def test_spatial_attention_known_values() -> None:
    att = SpatialAttention()
    assert count_params(att) == PARAMS_PER_STAGE == 98
    assert att.conv.bias is None and att.conv.padding == (3, 3)
    x = torch.rand(2, 5, 6, 7)
    with torch.no_grad():
        att.conv.weight.zero_()
    assert torch.allclose(att(x), 0.5 * x)  # sigmoid(0) = 1/2 everywhere
    with torch.no_grad():  # centre taps only: gate = sigmoid(mean_c + 2 * max_c)
        att.conv.weight[0, 0, 3, 3] = 1.0
        att.conv.weight[0, 1, 3, 3] = 2.0
    gate = torch.sigmoid(x.mean(1, keepdim=True) + 2 * x.amax(1, keepdim=True))
    assert torch.allclose(att(x), x * gate, atol=1e-6)
    with pytest.raises(ConfigError, match="odd"):
        SpatialAttention(6)


@pytest.mark.parametrize("name", ["lite-mono-tiny", "lite-mono", "lite-mono-8m"])
def test_parameter_difference_is_98_per_stage(name: str) -> None:
    with torch.device("meta"):
        base = create_model(name)
        one = create_model(name, spatial_attention_stages=(2,))
        two = create_model(name, spatial_attention_stages=(1, 2))
    assert count_params(one) - count_params(base) == PARAMS_PER_STAGE
    assert count_params(two) - count_params(base) == 2 * PARAMS_PER_STAGE
    assert sorted(two.encoder.spatial_attention) == ["1", "2"]


def test_macs_at_640x192_next_to_the_seed() -> None:
    with torch.device("meta"):
        base = create_model("lite-mono")
        att = create_model("lite-mono", spatial_attention_stages=(1, 2))
        x = torch.empty(1, 3, 192, 640)
    m_base = count_macs(base, x).macs
    m_att = count_macs(att, x).macs
    # 98 MACs per output pixel of stage 1 (80x24) and stage 2 (40x12)
    assert m_att - m_base == PARAMS_PER_STAGE * (80 * 24 + 40 * 12) == 235_200
    print(f"\nlite-mono conv_linear MACs 640x192: base {m_base / 1e9:.4f} G "
          f"(seed 5.032 G), + spatial attention (1, 2) {m_att / 1e9:.4f} G (seed 5.033 G); "
          f"difference {m_att - m_base} MACs = {(m_att - m_base) / 1e9:.6f} G "
          f"(seed 0.001 G)")
    assert (m_att - m_base) / m_base < 1e-4


def test_shapes_unchanged_and_gradient_reaches_attention() -> None:
    torch.manual_seed(0)
    net = create_model("lite-mono-tiny", spatial_attention_stages=(1, 2)).train()
    base = create_model("lite-mono-tiny")
    x = torch.rand(2, 3, 64, 96)
    out = net(x)
    assert [t.shape for t in out.scales] == [t.shape for t in base(x).scales]
    assert [f.shape for f in net.encoder(x)] == [f.shape for f in base.encoder(x)]
    out.pred.mean().backward()
    for i in ("1", "2"):
        grad = net.encoder.spatial_attention[i].conv.weight.grad
        assert grad is not None and grad.abs().sum() > 0


def test_bad_stage_indices() -> None:
    for stages in ((3,), (-1,), (1, 1)):
        with pytest.raises(ConfigError, match="spatial_attention_stages"):
            create_model("lite-mono-tiny", spatial_attention_stages=stages)


def test_official_weights_load_and_leave_attention_at_init(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torch.manual_seed(0)
    src = create_model("lite-mono-tiny").eval()
    save_official_weights(src, tmp_path)
    torch.manual_seed(1)
    dst = create_model("lite-mono-tiny", spatial_attention_stages=(1, 2)).eval()
    init = {k: v.clone() for k, v in dst.state_dict().items() if "spatial_attention" in k}
    with caplog.at_level(logging.INFO, logger="litedepth.models.lite_mono"):
        load_official_weights(dst, tmp_path)
    assert "keep their initialisation" in caplog.text
    assert "encoder.spatial_attention.1.conv.weight" in caplog.text
    sd = dst.state_dict()
    assert all(torch.equal(sd[k], v) for k, v in init.items())
    for k, v in src.state_dict().items():
        assert torch.equal(sd[k], v), k
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(dst.encoder(x)[0], src.encoder(x)[0])  # stage 0 has no attention
    with pytest.raises(CheckpointError, match="published"):
        save_official_weights(dst, tmp_path / "out")
