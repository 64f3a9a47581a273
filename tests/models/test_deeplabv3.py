"""DeepLabV3 depth regressor: seed 000 head, local weight loading in torchvision formats."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import mobilenet_v3_large, resnet50
from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large

from litedepth.errors import CheckpointError
from litedepth.models import create_model


def test_head_is_one_channel_softplus():
    """The depth is Softplus of one 1x1 convolution of the 256 ASPP channels: with the head's
    weights zeroed, every pixel is Softplus(bias) = log(1 + e^bias) (a ReLU head would give 0
    for a negative bias, an exp head e^bias)."""
    net = create_model("deeplabv3-resnet50").eval()
    last = net.classifier[-1]
    assert last.weight.shape == (1, 256, 1, 1)
    with torch.no_grad():
        last.weight.zero_()
        for bias, depth in ((-3.0, 0.04858735157374206), (2.0, 2.1269280110429727)):
            last.bias.fill_(bias)
            pred = net(torch.rand(2, 3, 40, 56)).pred
            assert pred.shape == (2, 1, 40, 56)
            torch.testing.assert_close(pred, torch.full_like(pred, depth), rtol=1e-6, atol=0)


def test_init_depth_sets_initial_output():
    torch.manual_seed(0)
    net = create_model("deeplabv3-mobilenet-v3-large", init_depth=3.0).eval()
    with torch.no_grad():
        net.classifier[-1].weight.zero_()
        pred = net(torch.rand(1, 3, 64, 64)).pred
    assert torch.allclose(pred, torch.full_like(pred, 3.0), atol=1e-4)


def test_loads_full_torchvision_segmentation_checkpoint(tmp_path):
    torch.manual_seed(0)
    seg = deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, aux_loss=False)
    path = tmp_path / "deeplabv3_mobilenet_v3_large_coco.pth"
    torch.save(seg.state_dict(), path)
    net = create_model("deeplabv3-mobilenet-v3-large", weights=str(path))
    for key, value in net.state_dict().items():
        if key.startswith("classifier.4."):
            continue  # the depth head is new
        assert torch.equal(value, seg.state_dict()[key]), key


def test_loads_imagenet_backbones(tmp_path):
    torch.manual_seed(0)
    r50 = resnet50(weights=None)
    torch.save(r50.state_dict(), tmp_path / "resnet50.pth")
    net = create_model("deeplabv3-resnet50", weights=str(tmp_path / "resnet50.pth"))
    assert torch.equal(net.backbone.layer4[0].conv1.weight, r50.layer4[0].conv1.weight)
    mb = mobilenet_v3_large(weights=None)
    torch.save(mb.state_dict(), tmp_path / "mbv3.pth")
    net = create_model("deeplabv3-mobilenet-v3-large", weights=str(tmp_path / "mbv3.pth"))
    assert torch.equal(net.backbone["16"][0].weight, mb.features[16][0].weight)


def test_weights_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        create_model("deeplabv3-resnet50", weights=str(tmp_path / "missing.pth"))
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="garbage.pth"):
        create_model("deeplabv3-resnet50", weights=str(bad))
    torch.save({"something.else": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="other.pth"):
        create_model("deeplabv3-resnet50", weights=str(tmp_path / "other.pth"))


def test_dropout_and_bn_momentum_options():
    net = create_model("deeplabv3-mobilenet-v3-large", dropout=0.0, bn_momentum=0.2)
    drops = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    moms = {m.momentum for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert drops and all(p == 0.0 for p in drops)
    assert moms == {0.2}
    default = create_model("deeplabv3-mobilenet-v3-large")
    assert {m.momentum for m in default.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {0.01, 0.1}
    with pytest.raises(Exception, match="dropout"):
        create_model("deeplabv3-mobilenet-v3-large", dropout=1.5)
