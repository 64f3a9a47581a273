"""Monodepth2 PoseNet: sizes, outputs, the x0.01 scale, ImageNet conv1 and the official layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision

from litedepth.errors import CheckpointError, DataError
from litedepth.models import create_model, model_info
from litedepth.models.monodepth2 import load_official_state_dicts, load_official_weights, save_official_weights
from litedepth.models.monodepth2 import to_official_state_dicts
from litedepth.models.pose import PoseNet, PoseOutput

DATA = Path(__file__).parent / "data"
FIXTURE = "posenet_resnet18_official_keys.json"


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def official_from_fixture(seed: int = 0) -> dict[str, dict]:
    files = json.loads((DATA / FIXTURE).read_text())["files"]
    g = torch.Generator().manual_seed(seed)
    out = {}
    for fname, spec in files.items():
        sd = {}
        for key, shape in spec["tensors"].items():
            if key.endswith("num_batches_tracked"):
                sd[key] = torch.tensor(3)
            elif key.endswith("running_var"):
                sd[key] = torch.rand(shape, generator=g) + 0.5
            else:
                sd[key] = torch.randn(shape, generator=g) * 0.02
        out[fname] = sd
    return out


@pytest.fixture(scope="module")
def net() -> PoseNet:
    torch.manual_seed(0)
    return create_model("posenet-resnet18").eval()


def test_registry_entry():
    info = model_info("posenet-resnet18")
    assert info.task == "pose" and info.tags == ("self-supervised",) and info.family == "pose"


def test_param_counts(net):
    assert net.encoder.conv1.weight.shape == (64, 6, 7, 7)
    assert n_params(net.encoder) == 11_185_920
    assert n_params(net.decoder) == 1_314_572
    assert n_params(net) == 12_500_492
    # REFERENCE's 13.013M also counts the official encoder's unused 1000-way classifier.
    fc = 1000 * 512 + 1000
    assert n_params(net) + fc == 13_013_492


@pytest.mark.parametrize("hw", [(64, 192), (96, 320)])
def test_output_shapes(net, hw):
    with torch.no_grad():
        out = net(torch.rand(3, 6, *hw))
    assert isinstance(out, PoseOutput)
    axisangle, translation = out  # unpacks like the official (axisangle, translation) pair
    assert axisangle.shape == (3, 2, 1, 3) and translation.shape == (3, 2, 1, 3)
    assert out.matrix(0).shape == (3, 4, 4)
    torch.testing.assert_close(out.matrix(0) @ out.matrix(0, invert=True), torch.eye(4).expand(3, 4, 4))


def test_frames_as_a_list_equal_stacked_frames(net):
    a, b = torch.rand(2, 3, 64, 128), torch.rand(2, 3, 64, 128)
    with torch.no_grad():
        stacked = net(torch.cat([a, b], 1))
        listed = net([a, b])
        swapped = net([b, a])
    assert torch.equal(stacked.axisangle, listed.axisangle)
    assert not torch.equal(stacked.translation, swapped.translation)  # order matters


def test_single_prediction_head():
    p = PoseNet(num_frames_to_predict=1).eval()
    with torch.no_grad():
        out = p(torch.rand(1, 6, 64, 64))
    assert out.axisangle.shape == (1, 1, 1, 3)
    assert p.decoder.out.weight.shape == (6, 256, 1, 1)


def test_output_is_the_raw_head_mean_times_0_01(net):
    raw = {}
    handle = net.decoder.out.register_forward_hook(lambda m, i, o: raw.update(out=o))
    try:
        with torch.no_grad():
            out = net(torch.rand(2, 6, 64, 192))
    finally:
        handle.remove()
    params = raw["out"].mean(dim=(2, 3)).view(2, 2, 1, 6) * 0.01
    torch.testing.assert_close(out.axisangle, params[..., :3])
    torch.testing.assert_close(out.translation, params[..., 3:])
    # an untrained network predicts near-identity motion
    assert out.translation.abs().max() < 0.05
    assert out.axisangle.abs().max() < 0.05
    assert raw["out"].mean(dim=(2, 3)).abs().max() > 10 * out.translation.abs().max()


def test_backward():
    p = PoseNet().train()
    out = p(torch.rand(1, 6, 64, 96))
    (out.axisangle.sum() + out.translation.sum()).backward()
    for name, prm in p.named_parameters():
        assert prm.grad is not None and torch.isfinite(prm.grad).all(), name


def test_wrong_input_is_a_user_error(net):
    with pytest.raises(DataError, match="2 RGB frames"):
        net(torch.rand(1, 3, 64, 64))


def test_imagenet_conv1_is_repeated_and_halved(tmp_path):
    tv = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-local.pth"
    torch.save(tv.state_dict(), path)
    p = PoseNet(pretrained_path=path).eval()
    w = tv.conv1.weight.detach()
    torch.testing.assert_close(p.encoder.conv1.weight, torch.cat([w, w], 1) / 2)
    assert torch.equal(p.encoder.layer4[1].conv2.weight, tv.layer4[1].conv2.weight)
    # two identical frames give the same first-layer response as one frame through the original
    x = torch.rand(1, 3, 32, 32)
    x_norm = (x - 0.45) / 0.225
    with torch.no_grad():
        torch.testing.assert_close(
            p.encoder.conv1(torch.cat([x_norm, x_norm], 1)), tv.conv1(x_norm), rtol=1e-5, atol=1e-5
        )


# -- official checkpoint layout --------------------------------------------------------
def test_conversion_covers_exactly_the_official_keys(net):
    files = json.loads((DATA / FIXTURE).read_text())["files"]
    dicts = to_official_state_dicts(net)
    assert set(dicts) == set(files) == {"pose_encoder.pth", "pose.pth"}
    for fname, spec in files.items():
        assert set(dicts[fname]) == set(spec["tensors"]), fname
        for key, shape in spec["tensors"].items():
            assert list(dicts[fname][key].shape) == shape, key


def test_official_weights_compute_the_official_function():
    official = official_from_fixture(seed=4)
    p = PoseNet().eval()
    assert load_official_state_dicts(p, official) == {}
    frames = torch.rand(2, 6, 64, 192)
    with torch.no_grad():
        tv = torchvision.models.resnet18(weights=None)
        tv.conv1 = torch.nn.Conv2d(6, 64, 7, 2, 3, bias=False)
        tv.load_state_dict({k[len("encoder."):]: v for k, v in official["pose_encoder.pth"].items()})
        tv.eval()
        x = (frames - 0.45) / 0.225
        x = tv.layer4(tv.layer3(tv.layer2(tv.layer1(tv.maxpool(tv.relu(tv.bn1(tv.conv1(x))))))))
        sd = official["pose.pth"]
        x = F.relu(F.conv2d(x, sd["net.0.weight"], sd["net.0.bias"]))
        x = F.relu(F.conv2d(x, sd["net.1.weight"], sd["net.1.bias"], padding=1))
        x = F.relu(F.conv2d(x, sd["net.2.weight"], sd["net.2.bias"], padding=1))
        x = 0.01 * F.conv2d(x, sd["net.3.weight"], sd["net.3.bias"]).mean(3).mean(2).view(-1, 2, 1, 6)
        out = p(frames)
    torch.testing.assert_close(out.axisangle, x[..., :3], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(out.translation, x[..., 3:], rtol=1e-5, atol=1e-7)


def test_save_then_load_round_trip(tmp_path, net):
    paths = save_official_weights(net, tmp_path)
    assert sorted(x.name for x in paths) == ["pose.pth", "pose_encoder.pth"]
    torch.manual_seed(99)
    fresh = PoseNet().eval()
    load_official_weights(fresh, tmp_path)
    frames = torch.rand(1, 6, 64, 192)
    with torch.no_grad():
        a, b = net(frames), fresh(frames)
    assert torch.equal(a.axisangle, b.axisangle) and torch.equal(a.translation, b.translation)
    # the released files predate zip serialisation (PyTorch 0.4.1): the legacy format loads too
    sd = torch.load(tmp_path / "pose.pth", weights_only=True)
    torch.save(sd, tmp_path / "pose.pth", _use_new_zipfile_serialization=False)
    legacy = PoseNet().eval()
    load_official_weights(legacy, tmp_path)
    assert torch.equal(legacy.decoder.out.weight, net.decoder.out.weight)


def test_mismatched_head_names_file_and_key(tmp_path):
    official = official_from_fixture()
    p = PoseNet(num_frames_to_predict=1)
    with pytest.raises(CheckpointError, match=r"pose\.pth.*shape mismatches.*net\.3\.weight"):
        load_official_state_dicts(p, official)
    with pytest.raises(CheckpointError, match=r"pose_encoder\.pth: file missing"):
        load_official_state_dicts(p, {"pose.pth": official["pose.pth"]})
