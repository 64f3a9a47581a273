"""Tests generated from the registry for segmentation and multi-task networks, and the
loading of local torchvision / ImageNet weight files (seed 004)."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import mobilenet_v3_large, resnet18
from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large

from litedepth.errors import CheckpointError, ConfigError
from litedepth.models import create_model, list_models, model_info
from litedepth.models.segmentation_outputs import SegmentationOutput

SEG_MODELS = list_models(task="segmentation") + list_models(task="multitask")


def test_registry_lists_the_seed_networks():
    for name in ("deeplabv3-resnet50-seg", "deeplabv3-resnet101-seg", "deeplabv3-mobilenet-v3-large-seg",
                 "deeplabv3plus-resnet50", "unet-resnet50-seg"):
        assert model_info(name).task == "segmentation"
    assert model_info("multitask-unet-resnet50").task == "multitask"


@pytest.mark.parametrize("name", SEG_MODELS)
def test_forward_shapes_and_backward(name):
    torch.manual_seed(0)
    net = create_model(name).train()
    assert net.num_classes == 21
    out = net(torch.rand(2, 3, 40, 56))  # not a multiple of 16 or 32
    assert isinstance(out, SegmentationOutput)
    assert out.logits.shape == (2, 21, 40, 56) and torch.isfinite(out.logits).all()
    if model_info(name).task == "multitask":
        assert out.depth.pred.shape == (2, 1, 40, 56)
        loss = out.logits.mean() + out.depth.pred.mean()
    else:
        assert out.depth is None
        loss = out.logits.mean()
    loss.backward()
    grads = [p.grad for p in net.parameters()]
    assert sum(g is not None and bool(torch.any(g != 0)) for g in grads) > 0.5 * len(grads)
    groups = net.task_modules()
    assert set(groups) >= {"encoder", "seg"}
    grouped = {id(p) for mods in groups.values() for m in mods for p in m.parameters()}
    assert grouped == {id(p) for p in net.parameters()}, "every parameter belongs to one role"


def test_torchvision_checkpoint_loads_and_matches(tmp_path):
    torch.manual_seed(0)
    tv = deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21, aux_loss=True).eval()
    path = tmp_path / "deeplabv3_mobilenet_v3_large_coco.pth"
    torch.save(tv.state_dict(), path)  # the published file's layout: backbone, classifier, aux_classifier
    net = create_model("deeplabv3-mobilenet-v3-large-seg", weights=str(path)).eval()
    x = torch.rand(1, 3, 64, 80)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(net(x).logits, tv((x - mean) / std)["out"], atol=1e-5)
    # fine-tuning to other classes: everything but the class convolution is loaded
    net5 = create_model("deeplabv3-mobilenet-v3-large-seg", num_classes=5, weights=str(path))
    assert torch.equal(net5.classifier[0].convs[0][0].weight, tv.classifier[0].convs[0][0].weight)
    # an ImageNet backbone file (features.* keys)
    bb = tmp_path / "mobilenet_v3_large.pth"
    torch.save(mobilenet_v3_large().state_dict(), bb)
    netb = create_model("deeplabv3-mobilenet-v3-large-seg", weights=str(bb))
    assert torch.equal(netb.backbone["0"][0].weight, torch.load(bb)["features.0.0.weight"])


def test_deeplabv3plus_encoder_weights_and_errors(tmp_path):
    path = tmp_path / "resnet18.pth"
    ref = resnet18().state_dict()  # torchvision ImageNet layout, with fc.*
    torch.save(ref, path)
    net = create_model("deeplabv3plus-resnet50", encoder="resnet18", num_classes=3, encoder_weights=str(path))
    assert torch.equal(net.model.encoder.layer4[1].conv2.weight, ref["layer4.1.conv2.weight"])
    with pytest.raises(CheckpointError, match="not found"):
        create_model("deeplabv3plus-resnet50", encoder="resnet18", encoder_weights=str(tmp_path / "none.pth"))
    bad = tmp_path / "bad.pth"
    torch.save({"something.else": torch.zeros(3)}, bad)
    with pytest.raises(CheckpointError, match="bad.pth"):
        create_model("deeplabv3-resnet50-seg", weights=str(bad))
    with pytest.raises(ConfigError, match="encoder"):
        create_model("deeplabv3plus-resnet50", encoder="no-such-encoder")
