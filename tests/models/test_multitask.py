"""Seed 002's multi-decoder UNet: heads, weight copy, the deployable segmentation part and
its ONNX export, local weight files."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torchvision.models import resnet18

from litedepth.errors import CheckpointError, ConfigError
from litedepth.inference.segmentation import export_segmentation_onnx
from litedepth.models import create_model

TINY = {"encoder": "resnet18", "num_classes": 5, "decoder_channels": [32, 16, 16, 8, 8]}


def tiny(**kw):
    torch.manual_seed(0)
    return create_model("multitask-unet-resnet50", **{**TINY, **kw})


def test_heads_and_depth_output_kinds():
    net = tiny().eval()
    x = torch.rand(2, 3, 48, 64)
    out = net(x)
    assert out.logits.shape == (2, 5, 48, 64) and out.depth.pred.shape == (2, 1, 48, 64)
    assert out.depth.kind == "disparity" and bool(((out.depth.pred > 0) & (out.depth.pred < 1)).all())
    only_depth = net(x, heads=("depth",))
    assert only_depth.logits is None and torch.allclose(only_depth.depth.pred, out.depth.pred)
    assert net(x, heads=("seg",)).depth is None
    metric = tiny(depth_output="depth", init_depth=3.0).eval()
    d = metric(x).depth
    assert d.kind == "depth" and bool((d.pred > 0).all())
    seg_only = create_model("unet-resnet50-seg", **{k: v for k, v in TINY.items()})
    assert seg_only.heads == ("seg",) and seg_only.depth_decoder is None
    with pytest.raises(ConfigError, match="heads"):
        seg_only(x, heads=("depth",))


def test_copy_decoder_copies_the_decoder_not_the_head():
    net = tiny()
    assert not torch.equal(net.seg_decoder.blocks[0].conv1[0].weight, net.depth_decoder.blocks[0].conv1[0].weight)
    head_before = net.seg_head.weight.clone()
    net.copy_decoder("depth")
    for (k, a), (_, b) in zip(net.depth_decoder.state_dict().items(), net.seg_decoder.state_dict().items()):
        assert torch.equal(a, b), k
    assert torch.equal(net.seg_head.weight, head_before)
    # the copy is a copy: training one decoder leaves the other alone
    with torch.no_grad():
        net.seg_decoder.blocks[0].conv1[0].weight.add_(1.0)
    assert not torch.equal(net.seg_decoder.blocks[0].conv1[0].weight, net.depth_decoder.blocks[0].conv1[0].weight)


def test_segmentation_only_has_no_depth_decoder_and_same_logits():
    net = tiny().eval()
    deploy = net.segmentation_only().eval()
    baseline = create_model("unet-resnet50-seg", **TINY)
    n_deploy = sum(p.numel() for p in deploy.parameters())
    assert n_deploy == sum(p.numel() for p in baseline.parameters())
    assert n_deploy < sum(p.numel() for p in net.parameters())
    depth_ids = {id(p) for m in (net.depth_decoder, net.depth_head) for p in m.parameters()}
    assert not depth_ids & {id(p) for p in deploy.parameters()}
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(deploy(x), net(x).logits)


def test_segmentation_only_exports_to_onnx_and_runs_in_onnxruntime(tmp_path):
    net = tiny().eval()
    path = tmp_path / "seg.onnx"
    diff = export_segmentation_onnx(net.segmentation_only(), path, 64, 96)
    assert path.is_file() and diff < 1e-4
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits"]
    x = torch.rand(3, 3, 64, 96)
    got = session.run(["logits"], {"image": x.numpy()})[0]
    with torch.no_grad():
        ref = net(x).logits.numpy()
    assert got.shape == (3, 5, 64, 96)
    np.testing.assert_allclose(got, ref, atol=1e-4 * max(1.0, float(np.abs(ref).max())))


def test_local_weight_files(tmp_path):
    ref = resnet18().state_dict()
    enc = tmp_path / "resnet18-imagenet.pth"
    torch.save(ref, enc)
    net = tiny(encoder_weights=str(enc))
    assert torch.equal(net.encoder.layer3[0].conv1.weight, ref["layer3.0.conv1.weight"])
    whole = tmp_path / "net.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, whole)
    again = create_model("multitask-unet-resnet50", **TINY, weights=str(whole))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    with pytest.raises(CheckpointError, match="shape"):
        create_model("multitask-unet-resnet50", **{**TINY, "num_classes": 7}, weights=str(whole))


def test_option_errors():
    with pytest.raises(ConfigError, match="unknown encoder"):
        create_model("multitask-unet-resnet50", encoder="no-such-encoder")
    with pytest.raises(ConfigError, match="decoder_channels"):
        create_model("multitask-unet-resnet50", encoder="resnet18", decoder_channels=[16, 8])
    with pytest.raises(ConfigError, match="depth_output"):
        create_model("multitask-unet-resnet50", encoder="resnet18", depth_output="metres")
