"""Lite-Mono: exact sizes, shapes, gradients and the published checkpoint layout."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import Tensor

from litedepth.errors import CheckpointError, ConfigError
from litedepth.models import create_model, list_models, model_info
from litedepth.models.lite_mono import (
    VARIANTS,
    CrossCovarianceAttention,
    LiteMono,
    convert_official_state_dict,
    fourier_features,
    load_official_weights,
    save_official_weights,
    thop_style_param_count,
    to_official_state_dicts,
)
from litedepth.profiling import count_macs, count_params

NAMES = ["lite-mono-tiny", "lite-mono-small", "lite-mono", "lite-mono-8m"]
FIXTURE = json.loads(
    (Path(__file__).parent / "data" / "lite_mono_official_keys.json").read_text()
)

# Exact integers (encoder + decoder, every nn.Parameter), REFERENCE.md 2.148M / 2.477M /
# 3.075M / 8.776M; split into encoder, decoder, unused (frozen) CDC LayerNorm parameters and
# the thop-style count users print (3.069M for lite-mono).
SIZES = {
    "lite-mono-tiny": (2_147_659, 1_955_192, 192_467, 2_112, 2_143_123, "2.148"),
    "lite-mono-small": (2_476_859, 2_250_232, 226_627, 2_304, 2_471_843, "2.477"),
    "lite-mono": (3_074_747, 2_848_120, 226_627, 3_072, 3_068_579, "3.075"),
    "lite-mono-8m": (8_775_851, 8_139_960, 635_891, 5_184, 8_765_555, "8.776"),
}
# Conv + Linear MACs at 640x192, batch 1 (exact), and REFERENCE.md's thop figures, which also
# count BatchNorm and average pooling (about 0.5 % more).
MACS_640 = {
    "lite-mono-tiny": (2_823_475_200, 2_829_373_440, 2.842e9),
    "lite-mono-small": (4_720_496_640, 4_729_958_400, 4.746e9),
    "lite-mono": (5_005_271_040, 5_014_732_800, 5.032e9),
    "lite-mono-8m": (11_175_720_960, 11_197_470_720, 11.212e9),
}


def _shapes(sd: dict[str, Tensor]) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in sd.items()}


def synthetic_official_weights(shapes: dict[str, list[int]], seed: int) -> dict[str, Tensor]:
    """Deterministic, well-scaled weights for a published-layout state dict.

    Keys in sorted order draw from one CPU generator: tensors with >= 2 dims
    ``randn / sqrt(fan_in)``; 1-D ``*weight`` ``1 + 0.1 randn``; ``running_var``
    ``0.5 + rand``; other 1-D tensors (biases, means, layer scales) ``0.1 randn``.
    """
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, Tensor] = {}
    for key in sorted(shapes):
        shape = shapes[key]
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0)
        elif len(shape) >= 2:
            out[key] = torch.randn(shape, generator=gen) / math.sqrt(math.prod(shape[1:]))
        elif key.endswith("running_var"):
            out[key] = 0.5 + torch.rand(shape, generator=gen)
        elif key.endswith("weight"):
            out[key] = 1 + 0.1 * torch.randn(shape, generator=gen)
        else:
            out[key] = 0.1 * torch.randn(shape, generator=gen)
    return out


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("name", NAMES)
def test_parameter_counts_exact(name: str) -> None:
    total, enc, dec, unused, thop, printed = SIZES[name]
    net = create_model(name)
    assert count_params(net) == total == VARIANTS[name].parameters
    assert f"{total / 1e6:.3f}" == printed
    assert count_params(net.encoder) == enc
    assert count_params(net.decoder) == dec
    assert count_params(net) - count_params(net, trainable_only=True) == unused
    assert thop_style_param_count(net) == thop
    frozen = {n for n, p in net.named_parameters() if not p.requires_grad}
    assert frozen and all(".norm." in n for n in frozen)  # only the unused CDC LayerNorms


@pytest.mark.parametrize("name", NAMES)
def test_macs_at_640x192(name: str) -> None:
    conv_linear, full, published = MACS_640[name]
    with torch.device("meta"):  # shapes only: the counts need no arithmetic
        net = create_model(name)
        x = torch.empty(1, 3, 192, 640)
    result = count_macs(net, x, mode="conv_linear")
    assert result.macs == conv_linear
    assert abs(result.macs - published) / published < 0.01
    assert result.macs < published  # thop adds BatchNorm and pooling on top
    assert count_macs(net, x, mode="full").macs == full


def test_meta_device_counts_equal_real_forward() -> None:
    x = torch.rand(1, 3, 64, 192)
    real = create_model("lite-mono-tiny")
    with torch.device("meta"):
        meta = create_model("lite-mono-tiny")
    for mode in ("conv_linear", "full"):
        assert count_macs(meta, x.to("meta"), mode).macs == count_macs(real, x, mode).macs


# ----------------------------------------------------------------------------- forward


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("batch", "height", "width"), [(2, 64, 192), (1, 96, 320)])
def test_forward_shapes_and_range(name: str, batch: int, height: int, width: int) -> None:
    net = create_model(name).eval()
    with torch.no_grad():
        out = net(torch.rand(batch, 3, height, width))
    assert out.kind == "disparity"
    assert out.pred is out.scales[0]
    assert [tuple(d.shape) for d in out.scales] == [
        (batch, 1, height >> s, width >> s) for s in range(3)
    ]
    for disp in out.scales:
        assert torch.isfinite(disp).all()
        assert (disp > 0).all() and (disp < 1).all()


def test_feature_info_matches_features() -> None:
    net = create_model("lite-mono")
    feats = net.encoder(torch.rand(1, 3, 64, 192))
    assert [f["num_chs"] for f in net.encoder.feature_info] == [48, 80, 128]
    for info, feat in zip(net.encoder.feature_info, feats):
        assert feat.shape[1] == info["num_chs"]
        assert feat.shape[-2:] == (64 // info["reduction"], 192 // info["reduction"])
    assert [lvl.fuse.out_channels for lvl in net.decoder.levels] == [24, 40, 64]


@pytest.mark.parametrize("name", NAMES)
def test_backward_reaches_every_trainable_parameter(name: str) -> None:
    net = create_model(name, drop_path_rate=0.0).train()
    out = net(torch.rand(2, 3, 32, 96))
    sum(d.mean() for d in out.scales).backward()
    for pname, p in net.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, pname
            assert torch.isfinite(p.grad).all(), pname
            assert p.grad.abs().sum() > 0, pname
        else:
            assert p.grad is None, pname


def test_drop_path_schedule_and_layer_scale_init() -> None:
    net = create_model("lite-mono")
    blocks = [b for stage in net.encoder.stages for b in stage]
    assert len(blocks) == 18
    assert isinstance(blocks[0].drop_path, torch.nn.Identity)
    assert blocks[-1].drop_path.drop_prob == pytest.approx(0.2)
    assert blocks[9].drop_path.drop_prob == pytest.approx(0.2 * 9 / 17)
    assert torch.all(blocks[3].attn_gamma == 1e-6) and torch.all(blocks[0].gamma == 1e-6)
    assert blocks[3].pos_enc is not None and blocks[7].pos_enc is None
    # kaiming normal (fan_out) in the encoder, truncated normal std 0.02 in the decoder
    fc1 = blocks[-1].mlp.fc1.weight  # (768, 128): std sqrt(2 / 768)
    assert fc1.std().item() == pytest.approx(math.sqrt(2 / 768), rel=0.03)
    fuse = net.decoder.levels[2].fuse
    assert fuse.weight.std().item() == pytest.approx(0.02, rel=0.03)
    assert torch.all(fuse.bias == 0)


def test_dilation_sets_follow_training_size() -> None:
    def stage3_rates(net: LiteMono) -> list[int]:
        return [b.dwconv.dilation[0] for b in net.encoder.stages[2][:-1]]

    assert stage3_rates(create_model("lite-mono")) == [1, 2, 3, 1, 2, 3, 2, 4, 6]
    assert stage3_rates(create_model("lite-mono", height=320, width=1024)) == [
        1, 2, 5, 1, 2, 5, 2, 4, 10]
    assert stage3_rates(create_model("lite-mono-tiny", height=320, width=1024)) == [
        1, 2, 5, 2, 4, 10]
    assert stage3_rates(create_model("lite-mono-8m", height=320, width=1024)) == [
        1, 2, 3, 1, 2, 3, 2, 4, 6]
    with pytest.raises(ConfigError, match="dilation"):
        create_model("lite-mono", height=256, width=832)


def test_bad_inputs_and_options() -> None:
    net = create_model("lite-mono-tiny")
    with pytest.raises(ValueError, match="divisible by 16"):
        net(torch.rand(1, 3, 60, 192))
    with pytest.raises(ValueError, match="RGB"):
        net(torch.rand(1, 1, 64, 192))
    with pytest.raises(ConfigError):
        create_model("lite-mono", spatial_attention_stages=(3,))  # stages are 0, 1, 2
    with pytest.raises(ConfigError):
        create_model("lite-mono", depth=3)


def test_registry_entries() -> None:
    assert set(NAMES) <= set(list_models(task="depth"))
    for name in NAMES:
        info = model_info(name)
        assert info.default_size == (192, 640)
        assert "self-supervised" in info.tags
        assert info.family == "lite_mono"
        # one factory per variant, built from the variants table: its docstring states the size
        assert info.factory.__name__ == name.replace("-", "_")
        assert f"{SIZES[name][0]:,} parameters" in info.factory.__doc__


# ----------------------------------------------------------------------------- blocks


def test_fourier_features_known_values() -> None:
    h, w = 4, 6
    feats = fourier_features(h, w, num_feats=32)
    assert feats.shape == (64, h, w)
    rows = torch.arange(1, h + 1) / (h + 1e-6) * 2 * math.pi
    cols = torch.arange(1, w + 1) / (w + 1e-6) * 2 * math.pi
    torch.testing.assert_close(feats[0, :, 0], rows.sin())
    torch.testing.assert_close(feats[1, :, 3], rows.cos())
    torch.testing.assert_close(feats[2, :, 5], (rows / 10000 ** (2 / 32)).sin())
    torch.testing.assert_close(feats[32, 2, :], cols.sin())
    torch.testing.assert_close(feats[33, 0, :], cols.cos())
    assert torch.all(feats[0] == feats[0, :, :1])  # row features constant along columns


def test_xca_is_token_permutation_equivariant() -> None:
    attn = CrossCovarianceAttention(16, num_heads=4).eval()
    x = torch.randn(2, 10, 16)
    perm = torch.randperm(10)
    torch.testing.assert_close(attn(x)[:, perm], attn(x[:, perm]), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("name", NAMES)
def test_official_layout_keys_and_shapes(name: str) -> None:
    official = FIXTURE["variants"][name]
    net = create_model(name)
    enc, dec = to_official_state_dicts(net)
    assert _shapes(enc) == official["encoder"]
    assert _shapes(dec) == official["decoder"]

    ours = convert_official_state_dict(
        {**synthetic_official_weights(official["encoder"], 0), "height": 192, "width": 640,
         "use_stereo": False},
        synthetic_official_weights(official["decoder"], 1),
    )
    assert _shapes(ours) == _shapes(net.state_dict())
    net.load_state_dict(ours)  # strict


@pytest.mark.parametrize("name", ["lite-mono-tiny", "lite-mono"])
def test_matches_published_outputs(name: str) -> None:
    """Outputs of the published modules for the same synthetic weights and input."""
    official = FIXTURE["variants"][name]
    ref = FIXTURE["reference_outputs"][name]
    net = create_model(name).eval()
    net.load_state_dict(convert_official_state_dict(
        synthetic_official_weights(official["encoder"], ref["encoder_seed"]),
        synthetic_official_weights(official["decoder"], ref["decoder_seed"]),
    ))
    x = torch.rand(ref["input_shape"], generator=torch.Generator().manual_seed(ref["input_seed"]))
    with torch.no_grad():
        out = net(x)
    for s, expected in enumerate(ref["scales"]):
        disp = out.scales[s].flatten().double()
        assert disp.mean().item() == pytest.approx(expected["mean"], abs=1e-5)
        assert disp.std().item() == pytest.approx(expected["std"], abs=1e-5)
        picked = disp[:: expected["stride"]].tolist()
        assert picked == pytest.approx(expected["values"], abs=1e-4)


def test_save_load_round_trip(tmp_path: Path) -> None:
    src = create_model("lite-mono").eval()
    with torch.no_grad():  # make running statistics non-trivial
        for m in src.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    enc_path, dec_path = save_official_weights(src, tmp_path, 192, 640)

    enc_file = torch.load(enc_path, weights_only=True)
    assert (enc_file["height"], enc_file["width"], enc_file["use_stereo"]) == (192, 640, False)
    official = FIXTURE["variants"]["lite-mono"]
    assert set(enc_file) == set(official["encoder"]) | set(FIXTURE["metadata_keys"])
    assert set(torch.load(dec_path, weights_only=True)) == set(official["decoder"])

    torch.manual_seed(1)
    dst = load_official_weights(create_model("lite-mono"), tmp_path).eval()
    x = torch.rand(1, 3, 64, 192)
    with torch.no_grad():
        a, b = src(x), dst(x)
    for da, db in zip(a.scales, b.scales):
        assert torch.equal(da, db)


def test_load_errors_name_file_and_keys(tmp_path: Path) -> None:
    tiny = create_model("lite-mono-tiny")
    save_official_weights(tiny, tmp_path / "tiny")
    with pytest.raises(CheckpointError,
                       match=r"encoder\.pth: does not fit lite-mono .*wrong shape \['downsample_l"):
        load_official_weights(create_model("lite-mono"), tmp_path / "tiny")
    with pytest.raises(CheckpointError, match="not found"):
        load_official_weights(tiny, tmp_path / "nowhere")

    small = create_model("lite-mono-small")
    save_official_weights(small, tmp_path / "small")
    with pytest.raises(CheckpointError,
                       match=r"encoder\.pth: .*missing \['stages\.2\.6\.bn1\.bias.*unexpected"):
        load_official_weights(create_model("lite-mono"), tmp_path / "small")

    dec = torch.load(tmp_path / "tiny" / "depth.pth", weights_only=True)
    dec["decoder.9.conv.weight"] = torch.zeros(1)
    torch.save(dec, tmp_path / "tiny" / "depth.pth")
    with pytest.raises(CheckpointError, match=r"depth\.pth.*decoder\.9\.conv\.weight"):
        load_official_weights(tiny, tmp_path / "tiny")


def test_training_size_must_match_dilations(tmp_path: Path) -> None:
    big = create_model("lite-mono-tiny", height=320, width=1024)
    save_official_weights(big, tmp_path / "big")
    with pytest.raises(CheckpointError, match="height=320, width=1024"):
        load_official_weights(create_model("lite-mono-tiny"), tmp_path / "big")
    load_official_weights(create_model("lite-mono-tiny", height=320, width=1024), tmp_path / "big")
    # 8m uses the same rates at both sizes: a 1024x320 file loads into a 640x192 model.
    save_official_weights(create_model("lite-mono-8m"), tmp_path / "8m", 320, 1024)
    load_official_weights(create_model("lite-mono-8m"), tmp_path / "8m")
    with pytest.raises(ConfigError):
        save_official_weights(create_model("lite-mono"), tmp_path / "x", 320, 1024)


def test_cdc_block_pointwise_conv_form_equals_the_block():
    """The form traced for ONNX export (1x1 convolutions, gamma folded) is the same block."""
    from litedepth.models.lite_mono import CDCBlock

    torch.manual_seed(0)
    block = CDCBlock(16, dilation=2, layer_scale_init=0.5).eval()
    with torch.no_grad():
        block.bn.running_mean.uniform_(-0.2, 0.2)
        block.bn.running_var.uniform_(0.5, 1.5)
        x = torch.randn(2, 16, 12, 20)
        torch.testing.assert_close(block.forward_pointwise_conv(x), block(x), atol=1e-5, rtol=1e-5)
