"""Tests of the disparity bins head and its Lite-Mono option (seed 001, AdaBins idea)."""

from __future__ import annotations

import doctest
import logging
from pathlib import Path

import pytest
import torch

import litedepth.models.bins as bins_mod
from litedepth.errors import CheckpointError, ConfigError
from litedepth.models import create_model
from litedepth.models.bins import DisparityBinsHead, adaptive_bin_centres, uniform_bin_centres
from litedepth.models.lite_mono import load_official_weights, save_official_weights
from litedepth.profiling.flops import count_macs, count_params

#: Seed 001's FLOPs column (thop, G) for the bins rows and the baseline.
SEED_GFLOPS = {None: 5.032, "fixed": 5.694, "adaptive": 8.675}


def test_doctests() -> None:
    assert doctest.testmod(bins_mod).failed == 0


def test_centres_known_values() -> None:
    assert uniform_bin_centres(4).tolist() == pytest.approx([0.125, 0.375, 0.625, 0.875])
    assert uniform_bin_centres(2, 0.2, 0.6).tolist() == pytest.approx([0.3, 0.5])
    # widths relu(y) + 0.1 = [0.1, 0.3, 0.1, 0.5] -> normalised [1/10, 3/10, 1/10, 5/10]
    y = torch.tensor([[-2.0, 0.2, 0.0, 0.4]])
    c = adaptive_bin_centres(y)
    assert c.tolist()[0] == pytest.approx([0.05, 0.25, 0.45, 0.75])
    c = adaptive_bin_centres(y, 0.1, 0.6)  # same widths scaled by 0.5, shifted by 0.1
    assert c.tolist()[0] == pytest.approx([0.125, 0.225, 0.325, 0.475])


@pytest.mark.parametrize("mode", ["fixed", "adaptive"])
def test_head_shapes_range_and_expectation(mode: str) -> None:
    torch.manual_seed(0)
    head = DisparityBinsHead(6, n_bins=5, mode=mode)
    x = torch.randn(3, 6, 4, 7) * 5
    disp, centres = head(x)
    assert disp.shape == (3, 1, 4, 7) and centres.shape == (3, 5)
    assert (centres > 0).all() and (centres < 1).all()
    assert (centres[:, 1:] > centres[:, :-1]).all()
    assert (disp >= centres.amin(1).view(3, 1, 1, 1) - 1e-6).all()
    assert (disp <= centres.amax(1).view(3, 1, 1, 1) + 1e-6).all()
    probs = head.logits(x).softmax(1)
    assert torch.allclose(disp[:, 0], (probs * centres[:, :, None, None]).sum(1), atol=1e-6)
    if mode == "fixed":
        assert torch.equal(centres, uniform_bin_centres(5).expand(3, -1))
        assert "fixed_centres" not in head.state_dict()  # derived, not stored
    else:
        assert not torch.equal(centres[0], centres[1])  # per-image centres
    # a confident softmax picks one centre
    with torch.no_grad():
        head.logits.weight.zero_()
        head.logits.bias.copy_(torch.tensor([0.0, 0.0, 50.0, 0.0, 0.0]))
    disp, centres = head(x)
    assert torch.allclose(disp[:, 0], centres[:, 2, None, None].expand(3, 4, 7), atol=1e-6)


def test_head_gradients_and_errors() -> None:
    head = DisparityBinsHead(4, n_bins=8, mode="adaptive")
    disp, centres = head(torch.randn(2, 4, 3, 3))
    (disp.mean() + centres.pow(2).mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    with pytest.raises(ConfigError, match="mode"):
        DisparityBinsHead(4, mode="learned")
    with pytest.raises(ConfigError, match="n_bins"):
        DisparityBinsHead(4, n_bins=1)
    with pytest.raises(ConfigError, match="max_disp"):
        DisparityBinsHead(4, min_disp=1.0, max_disp=0.5)


@pytest.mark.parametrize("mode", ["fixed", "adaptive"])
def test_lite_mono_with_bins(mode: str) -> None:
    torch.manual_seed(0)
    net = create_model("lite-mono-tiny", bins=mode, n_bins=16).train()
    base = create_model("lite-mono-tiny")
    x = torch.rand(2, 3, 64, 96)
    out = net(x)
    assert out.kind == "disparity"
    assert [t.shape for t in out.scales] == [t.shape for t in base(x).scales]
    assert out.pred is out.scales[0]
    assert out.extras["bin_centres"].shape == (2, 16)
    assert ((out.pred > 0) & (out.pred < 1)).all()
    assert net.decoder.forward(net.encoder(x))[0].shape == out.pred.shape
    out.pred.mean().backward()
    assert net.decoder.bins_head.logits.weight.grad.abs().sum() > 0
    assert count_params(net.decoder.heads[0]) == 0  # the sigmoid head is gone
    with pytest.raises(ConfigError, match="bins"):
        create_model("lite-mono-tiny", bins="learned")


def test_profile_at_640x192_next_to_the_seed() -> None:
    counts, params = {}, {}
    with torch.device("meta"):
        x = torch.empty(1, 3, 192, 640)
        for mode in (None, "fixed", "adaptive"):
            net = create_model("lite-mono", bins=mode)
            counts[mode] = count_macs(net, x).macs
            params[mode] = count_params(net)
    # finest sigmoid head: 3x3 conv 24 -> 1 at 320x96; bins: 1x1 conv 24 -> 64 at 320x96
    head = 96 * 320 * 24 * 9
    logits = 96 * 320 * 24 * 64
    assert counts["fixed"] - counts[None] == logits - head == 40_550_400
    assert counts["adaptive"] - counts["fixed"] == 24 * 128 + 128 * 64  # the MLP
    assert params["fixed"] - params[None] == (24 * 64 + 64) - (24 * 9 + 1)
    assert params["adaptive"] - params["fixed"] == 24 * 128 + 128 + 128 * 64 + 64
    print()
    for mode, macs in counts.items():
        seed = SEED_GFLOPS[mode]
        print(f"lite-mono bins={mode!s:8} conv_linear {macs / 1e9:.3f} GMACs, seed {seed:.3f} G, "
              f"difference {macs / 1e9 - seed:+.3f} G; params {params[mode]:,}")


def test_official_weights_load_into_a_bins_network(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torch.manual_seed(0)
    src = create_model("lite-mono-tiny").eval()
    save_official_weights(src, tmp_path)
    dst = create_model("lite-mono-tiny", bins="adaptive", spatial_attention_stages=(2,)).eval()
    with caplog.at_level(logging.INFO, logger="litedepth.models.lite_mono"):
        load_official_weights(dst, tmp_path)
    assert "decoder.6.conv.weight" in caplog.text  # the skipped finest head
    assert "decoder.bins_head.logits.weight" in caplog.text
    x = torch.rand(1, 3, 64, 96)
    sd = dst.state_dict()
    assert all(torch.equal(sd[k], v) for k, v in src.state_dict().items() if k in sd)
    with torch.no_grad():
        a, b = src.encoder(x), dst.encoder(x)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(CheckpointError, match="published"):
        save_official_weights(create_model("lite-mono-tiny", bins="fixed"), tmp_path / "out")
