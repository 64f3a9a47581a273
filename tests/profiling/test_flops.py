"""Parameter and MAC counting on modules small enough to count by hand."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from litedepth.profiling import MODE_DESCRIPTIONS, MacCount, count_macs, count_params


class ConvLinearMatmul(nn.Module):
    """conv (2->4, 3x3, pad 1) on 3x3 -> 9 tokens of 4 -> linear (4->5) -> z^T z (5x9 @ 9x5)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.conv(x).flatten(2).transpose(1, 2)  # (B, 9, 4)
        z = self.fc(tokens)  # (B, 9, 5)
        return z.transpose(1, 2) @ z  # (B, 5, 5)


# Hand counts for one (1, 2, 3, 3) input:
CONV_MACS = (4 * 3 * 3) * 2 * (3 * 3)  # output elements x in_ch/groups x kh x kw = 648
LINEAR_MACS = (9 * 5) * 4  # output elements x in_features = 180
MATMUL_MACS = (5 * 5) * 9  # output elements x inner dimension = 225


def test_conv_linear_mode_counts_modules_only() -> None:
    result = count_macs(ConvLinearMatmul(), torch.rand(1, 2, 3, 3), mode="conv_linear")
    assert result.macs == CONV_MACS + LINEAR_MACS == 828
    assert result.breakdown == {"Conv2d": 648, "Linear": 180}
    assert result.mode == "conv_linear"
    assert result.description == MODE_DESCRIPTIONS["conv_linear"]


def test_full_mode_adds_functional_matmul() -> None:
    result = count_macs(ConvLinearMatmul(), torch.rand(1, 2, 3, 3), mode="full")
    assert result.macs == CONV_MACS + LINEAR_MACS + MATMUL_MACS == 1053
    assert result.breakdown["aten.convolution"] == CONV_MACS
    assert result.breakdown["aten.bmm"] == MATMUL_MACS
    assert result.mode == "full"
    assert "FlopCounterMode" in result.description


def test_macs_scale_with_batch() -> None:
    one = count_macs(ConvLinearMatmul(), torch.rand(1, 2, 3, 3)).macs
    three = count_macs(ConvLinearMatmul(), torch.rand(3, 2, 3, 3)).macs
    assert three == 3 * one


@pytest.mark.parametrize("bias", [False, True])
def test_grouped_strided_conv_ignores_bias(bias: bool) -> None:
    conv = nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2, bias=bias)
    x = torch.rand(1, 4, 5, 5)  # output (1, 8, 3, 3)
    expected = (8 * 3 * 3) * (4 // 2) * 9  # 1296
    assert count_macs(conv, x).macs == expected
    assert count_macs(conv, x, mode="full").macs == expected


def test_transposed_conv_counts_input_elements() -> None:
    deconv = nn.ConvTranspose2d(2, 3, 2, stride=2)
    x = torch.rand(1, 2, 2, 2)  # output (1, 3, 4, 4)
    expected = (2 * 2 * 2) * 3 * 4  # input elements x out_ch/groups x kh x kw = 96
    assert count_macs(deconv, x).macs == expected
    assert count_macs(deconv, x, mode="full").macs == expected


def test_module_called_twice_counts_twice() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x: Tensor) -> Tensor:
            return self.fc(x) + self.fc(x)

    assert count_macs(Twice(), torch.rand(4, 3)).macs == 2 * (4 * 2) * 3


def test_multiple_inputs_and_training_flag_restored() -> None:
    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)
            self.drop = nn.Dropout(0.5)

        def forward(self, a: Tensor, b: Tensor) -> Tensor:
            return self.drop(self.fc(a)) + self.fc(b)

    net = Pair().train()
    assert count_macs(net, (torch.rand(1, 3), torch.rand(1, 3))).macs == 12
    assert net.training
    assert all(not m._forward_hooks for m in net.modules())  # hooks removed


def test_bad_mode_raises() -> None:
    with pytest.raises(ValueError, match="conv_linear"):
        count_macs(nn.Linear(2, 2), torch.rand(1, 2), mode="thop")  # type: ignore[arg-type]


def test_count_params_exact_and_trainable_only() -> None:
    net = ConvLinearMatmul()
    assert count_params(net) == (2 * 4 * 9 + 4) + (4 * 5 + 5) == 101
    net.fc.requires_grad_(False)
    assert count_params(net, trainable_only=True) == 76
    shared = nn.Sequential(net.fc, net.fc)  # a shared module is counted once
    assert count_params(shared) == 25


def test_mac_count_formatting() -> None:
    assert str(MacCount(5_032_000_000, "conv_linear", "")) == "5.032 GMACs (conv_linear)"
    assert str(MacCount(828, "full", "")) == "828 MACs (full)"
    assert MacCount(2_500_000, "full", "").gmacs == pytest.approx(0.0025)


class Attention(nn.Module):
    """Functional attention, as ``hybrid-resnet18-transformer`` computes it."""

    def forward(self, q: Tensor) -> Tensor:
        return torch.nn.functional.scaled_dot_product_attention(q, q, q)


def test_full_mode_counts_scaled_dot_product_attention() -> None:
    q = torch.rand(1, 2, 16, 8)  # (B, heads, L, E)
    per_head = (16 * 16) * 8 + (16 * 8) * 16  # q @ k^T: 16x16 outputs x 8; attn @ v: 16x8 outputs x 16
    assert count_macs(Attention(), q, mode="full").macs == 2 * per_head == 8192


def test_full_mode_includes_the_hybrid_network_attention(monkeypatch: pytest.MonkeyPatch) -> None:
    """hybrid-resnet18-transformer's 'full' MACs exceed the same count with attention removed by
    exactly the attention matmuls, computed from the shapes each attention call sees."""
    from litedepth.models import create_model

    net = create_model("hybrid-resnet18-transformer")
    x = torch.rand(1, 3, 64, 96)
    original = torch.nn.functional.scaled_dot_product_attention
    expected = []

    def recording(q: Tensor, k: Tensor, v: Tensor, *args, **kwargs) -> Tensor:
        b, heads, n, e = q.shape
        expected.append(2 * b * heads * n * k.shape[2] * e)  # q @ k^T and attn @ v
        return original(q, k, v, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", recording)
    with_attention = count_macs(net, x, mode="full").macs
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda q, k, v, *a, **kw: torch.zeros_like(q))
    without_attention = count_macs(net, x, mode="full").macs
    assert expected and sum(expected) > 0
    assert with_attention - without_attention == sum(expected)
    assert with_attention > count_macs(net, x).macs  # conv_linear leaves attention out
