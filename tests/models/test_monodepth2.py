"""Monodepth2 depth network: sizes, shapes, gradients and the official checkpoint layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision

from litedepth.errors import CheckpointError, ConfigError, DataError, LitedepthError
from litedepth.models import create_model, model_info
from litedepth.models.monodepth2 import (
    DepthDecoder,
    Monodepth2Net,
    ResnetEncoder,
    load_official_state_dicts,
    load_official_weights,
    save_official_weights,
    to_official_state_dicts,
)

DATA = Path(__file__).parent / "data"
SIZES = [(64, 192), (96, 320)]


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def load_fixture(name: str) -> dict:
    return json.loads((DATA / name).read_text())["files"]


def official_from_fixture(files: dict, seed: int = 0) -> dict[str, dict]:
    """Random tensors with exactly the official key names and shapes (small, stable scale)."""
    g = torch.Generator().manual_seed(seed)
    out: dict[str, dict] = {}
    for fname, spec in files.items():
        sd: dict = {}
        for key, shape in spec["tensors"].items():
            if key.endswith("num_batches_tracked"):
                sd[key] = torch.tensor(7)
            elif key.endswith("running_var"):
                sd[key] = torch.rand(shape, generator=g) + 0.5
            else:
                sd[key] = torch.randn(shape, generator=g) * 0.02
        if "height" in spec["extras"]:
            sd.update(height=192, width=640, use_stereo=False)
        out[fname] = sd
    return out


def reference_features(enc_sd: dict, image: torch.Tensor, depth: int = 18) -> list[torch.Tensor]:
    """The official encoder's forward: torchvision ResNet (fc included) on (x - 0.45) / 0.225."""
    net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    net.load_state_dict({k[len("encoder."):]: v for k, v in enc_sd.items() if k.startswith("encoder.")})
    net.eval()
    x = (image - 0.45) / 0.225
    f0 = net.relu(net.bn1(net.conv1(x)))
    f1 = net.layer1(net.maxpool(f0))
    f2 = net.layer2(f1)
    f3 = net.layer3(f2)
    return [f0, f1, f2, f3, net.layer4(f3)]


def reference_disps(dec_sd: dict, feats: list[torch.Tensor]) -> list[torch.Tensor]:
    """The official decoder's forward, written against the official key names.

    ModuleList order: upconv(4,0), upconv(4,1), ..., upconv(0,1), dispconv 0..3; ELU blocks
    are ``decoder.N.conv.conv``, disparity convs ``decoder.N.conv``.
    """

    def conv(x, n, elu):
        pre = f"decoder.{n}.conv.conv" if elu else f"decoder.{n}.conv"
        y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), dec_sd[pre + ".weight"], dec_sd[pre + ".bias"])
        return F.elu(y) if elu else y

    x, out = feats[4], {}
    for n, i in enumerate(range(4, -1, -1)):
        x = F.interpolate(conv(x, 2 * n, True), scale_factor=2, mode="nearest")
        if i > 0:
            x = torch.cat([x, feats[i - 1]], 1)
        x = conv(x, 2 * n + 1, True)
        if i < 4:
            out[i] = torch.sigmoid(conv(x, 10 + i, False))
    return [out[s] for s in range(4)]


# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def r18() -> Monodepth2Net:
    torch.manual_seed(0)
    return create_model("monodepth2-resnet18").eval()


@pytest.fixture(scope="module")
def r50() -> Monodepth2Net:
    torch.manual_seed(0)
    return create_model("monodepth2-resnet50").eval()


def test_registry_entries():
    for name in ("monodepth2-resnet18", "monodepth2-resnet50"):
        info = model_info(name)
        assert info.task == "depth"
        assert info.default_size == (192, 640)
        assert info.tags == ("self-supervised",)
        assert info.family == "monodepth2"


def test_param_counts_r18(r18):
    # REFERENCE: encoder 11.177M, decoder 3.153M, total 14.33M (torchvision ResNet-18 minus fc).
    assert n_params(r18.encoder) == 11_176_512
    assert n_params(r18.decoder) == 3_152_724
    assert n_params(r18) == 14_329_236


def test_param_counts_r50(r50):
    # REFERENCE: total 32.52M.
    assert n_params(r50.encoder) == 23_508_032
    assert n_params(r50.decoder) == 9_014_100
    assert n_params(r50) == 32_522_132


@pytest.mark.parametrize(
    "depth, channels", [(18, [64, 64, 128, 256, 512]), (50, [64, 256, 512, 1024, 2048])]
)
def test_feature_info_matches_features(depth, channels):
    enc = ResnetEncoder(depth).eval()
    assert [f["num_chs"] for f in enc.feature_info] == channels
    assert [f["reduction"] for f in enc.feature_info] == [2, 4, 8, 16, 32]
    with torch.no_grad():
        feats = enc(torch.rand(1, 3, 64, 192))
    for f, info in zip(feats, enc.feature_info):
        assert f.shape == (1, info["num_chs"], 64 // info["reduction"], 192 // info["reduction"])


@pytest.mark.parametrize("name", ["monodepth2-resnet18", "monodepth2-resnet50"])
@pytest.mark.parametrize("hw", SIZES)
def test_forward_shapes_and_range(name, hw, r18, r50):
    net = r18 if name.endswith("18") else r50
    h, w = hw
    with torch.no_grad():
        out = net(torch.rand(2, 3, h, w))
    assert out.kind == "disparity"
    assert len(out.scales) == 4
    assert out.scales[0] is out.pred
    for s, d in enumerate(out.scales):
        assert d.shape == (2, 1, h // 2**s, w // 2**s)
        assert torch.isfinite(d).all()
        assert (d > 0).all() and (d < 1).all()


def test_backward_reaches_every_parameter():
    torch.manual_seed(0)
    net = create_model("monodepth2-resnet18").train()
    out = net(torch.rand(1, 3, 64, 128))
    sum(d.mean() for d in out.scales).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    # every disparity head contributes
    for s in range(4):
        assert net.decoder.heads[s].conv.weight.grad.abs().sum() > 0


def test_normalisation_happens_inside(r18):
    # (0.45 - 0.45) / 0.225 = 0: conv1 sees zeros, so the first feature is relu(bn(0)) = 0
    # with the default initialisation (BN bias 0); any other grey level gives a non-zero map.
    with torch.no_grad():
        f_mid = r18.encoder(torch.full((1, 3, 64, 64), 0.45))[0]
        f_other = r18.encoder(torch.full((1, 3, 64, 64), 0.8))[0]
    assert f_mid.abs().max() == 0
    assert f_other.abs().max() > 0


@pytest.mark.parametrize("shape", [(1, 3, 100, 192), (1, 3, 64, 200), (1, 3, 32, 64), (1, 1, 64, 192)])
def test_bad_input_shape_is_a_user_error(r18, shape):
    with pytest.raises(DataError) as exc:
        r18(torch.rand(*shape))
    assert isinstance(exc.value, LitedepthError)


def test_decoder_rejects_wrong_feature_contract():
    with pytest.raises(ConfigError, match="reductions"):
        DepthDecoder([{"num_chs": 8, "reduction": r} for r in (4, 8, 16, 32, 64)])
    with pytest.raises(ConfigError, match="5 encoder features"):
        DepthDecoder([{"num_chs": 8, "reduction": r} for r in (2, 4, 8)])
    with pytest.raises(ConfigError):
        ResnetEncoder(34)


def test_pretrained_path_loads_local_imagenet_file(tmp_path):
    tv = torchvision.models.resnet18(weights=None)
    for p in tv.parameters():
        torch.nn.init.normal_(p, std=0.01)
    sd = {k: v for k, v in tv.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "resnet18-local.pth"
    torch.save(sd, path)
    enc = ResnetEncoder(18, pretrained_path=path)
    for k, v in enc.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(v, sd[k]), k
    with pytest.raises(CheckpointError, match="not found"):
        ResnetEncoder(18, pretrained_path=tmp_path / "absent.pth")
    with pytest.raises(CheckpointError, match="shape mismatches"):
        ResnetEncoder(50, pretrained_path=path)


# -- official checkpoint layout --------------------------------------------------------
@pytest.mark.parametrize(
    "name, fixture",
    [
        ("monodepth2-resnet18", "monodepth2_resnet18_official_keys.json"),
        ("monodepth2-resnet50", "monodepth2_resnet50_official_keys.json"),
    ],
)
def test_conversion_covers_exactly_the_official_keys(name, fixture, r18, r50):
    net = r18 if name.endswith("18") else r50
    files = load_fixture(fixture)
    dicts = to_official_state_dicts(net, height=192, width=640)
    assert set(dicts) == set(files) == {"encoder.pth", "depth.pth"}
    for fname, spec in files.items():
        tensors = {k: v for k, v in dicts[fname].items() if isinstance(v, torch.Tensor)}
        extras = {k: v for k, v in dicts[fname].items() if not isinstance(v, torch.Tensor)}
        assert set(tensors) == set(spec["tensors"]), fname
        for key, shape in spec["tensors"].items():
            assert list(tensors[key].shape) == shape, key
        assert set(extras) == set(spec["extras"])
    assert dicts["encoder.pth"]["height"] == 192 and dicts["encoder.pth"]["width"] == 640
    assert dicts["encoder.pth"]["use_stereo"] is False


def test_official_weights_load_and_compute_the_official_function():
    files = load_fixture("monodepth2_resnet18_official_keys.json")
    official = official_from_fixture(files, seed=1)
    net = create_model("monodepth2-resnet18").eval()
    meta = load_official_state_dicts(net, official)
    assert meta == {"height": 192, "width": 640, "use_stereo": False}
    x = torch.rand(2, 3, 64, 192)
    with torch.no_grad():
        ours = net(x).scales
        feats = reference_features(official["encoder.pth"], x)
        theirs = reference_disps(official["depth.pth"], feats)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # a distinctive key lands where the official decoder uses it
    assert torch.equal(net.decoder.heads[3].conv.weight, official["depth.pth"]["decoder.13.conv.weight"])
    assert torch.equal(net.decoder.levels[4].fuse.conv.bias, official["depth.pth"]["decoder.1.conv.conv.bias"])


def test_files_without_batchnorm_counters_still_load():
    # Checkpoints written before PyTorch 0.4.1 have no num_batches_tracked entries.
    official = official_from_fixture(load_fixture("monodepth2_resnet18_official_keys.json"))
    official["encoder.pth"] = {k: v for k, v in official["encoder.pth"].items() if "num_batches" not in k}
    net = create_model("monodepth2-resnet18")
    load_official_state_dicts(net, official)
    assert torch.equal(net.encoder.conv1.weight, official["encoder.pth"]["encoder.conv1.weight"])


def test_save_then_load_round_trip_gives_identical_outputs(tmp_path, r18):
    paths = save_official_weights(r18, tmp_path, 192, 640)
    assert sorted(p.name for p in paths) == ["depth.pth", "encoder.pth"]
    assert not list(tmp_path.glob("*.tmp"))
    files = load_fixture("monodepth2_resnet18_official_keys.json")
    for fname, spec in files.items():
        written = torch.load(tmp_path / fname, map_location="cpu", weights_only=True)
        assert set(written) == set(spec["tensors"]) | set(spec["extras"])
    torch.manual_seed(123)
    fresh = create_model("monodepth2-resnet18").eval()
    meta = load_official_weights(fresh, tmp_path)
    assert meta["height"] == 192 and meta["width"] == 640
    x = torch.rand(1, 3, 64, 192)
    with torch.no_grad():
        for a, b in zip(r18(x).scales, fresh(x).scales):
            assert torch.equal(a, b)


def test_mismatches_name_the_file_and_keys(tmp_path):
    net = create_model("monodepth2-resnet18")
    official = official_from_fixture(load_fixture("monodepth2_resnet18_official_keys.json"))

    missing = {f: dict(sd) for f, sd in official.items()}
    del missing["depth.pth"]["decoder.7.conv.conv.weight"]
    with pytest.raises(CheckpointError, match=r"depth\.pth.*missing keys.*decoder\.7\.conv\.conv\.weight"):
        load_official_state_dicts(net, missing)

    extra = {f: dict(sd) for f, sd in official.items()}
    extra["encoder.pth"]["encoder.layer5.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"encoder\.pth.*unexpected keys.*layer5"):
        load_official_state_dicts(net, extra)

    # an R50 decoder does not fit the R18 network
    r50_files = official_from_fixture(load_fixture("monodepth2_resnet50_official_keys.json"))
    with pytest.raises(CheckpointError, match=r"shape mismatches"):
        load_official_state_dicts(net, r50_files)

    save_official_weights(net, tmp_path, 192, 640)
    (tmp_path / "depth.pth").unlink()
    with pytest.raises(CheckpointError, match=r"depth\.pth: file not found"):
        load_official_weights(net, tmp_path)
    (tmp_path / "depth.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"depth\.pth: cannot read"):
        load_official_weights(net, tmp_path)


def test_save_requires_resolution_for_depth(tmp_path, r18):
    with pytest.raises(ConfigError, match="height"):
        save_official_weights(r18, tmp_path)
    with pytest.raises(CheckpointError, match="no official"):
        save_official_weights(torch.nn.Conv2d(1, 1, 1), tmp_path, 192, 640)
