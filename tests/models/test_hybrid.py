"""Seed 003's hybrid ResNet-18 / transformer depth network."""

from __future__ import annotations

import pytest
import torch
import torchvision

from litedepth.models import create_model, model_info
from litedepth.models.hybrid import GlobalBlock, HybridEncoder, SpatialReductionAttention
from litedepth.models.monodepth2 import ResnetEncoder


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return create_model("hybrid-resnet18-transformer").eval()


def test_registry_entry():
    info = model_info("hybrid-resnet18-transformer")
    assert info.task == "depth" and info.tags == ("self-supervised",) and info.family == "hybrid"


def test_param_counts(net):
    # seed 003 reports 11.097M for the whole network (vs 14.277M for its ResNet-18 baseline)
    assert n_params(net) == 11_123_860
    assert n_params(net.encoder) == 7_971_136
    assert n_params(net.decoder) == 3_152_724  # the unchanged Monodepth2 decoder
    local = sum(n_params(m) for m in (net.encoder.conv1, net.encoder.bn1, net.encoder.layer1, net.encoder.layer2))
    assert local == 683_072  # ResNet-18 stem + layer1 + layer2, kept as is
    assert n_params(create_model("hybrid-resnet18-transformer", dense_reduction=True)) == 13_739_156


def test_feature_contract_equals_resnet18(net):
    assert [(f["num_chs"], f["reduction"]) for f in net.encoder.feature_info] == [
        (f["num_chs"], f["reduction"]) for f in ResnetEncoder(18).feature_info
    ]
    with torch.no_grad():
        feats = net.encoder(torch.rand(1, 3, 64, 192))
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 32, 96), (64, 16, 48), (128, 8, 24), (256, 4, 12), (512, 2, 6)]


@pytest.mark.parametrize("hw", [(64, 192), (96, 320)])  # 96x320: odd 3x10 grid at H/32
def test_forward_shapes_and_range(net, hw):
    h, w = hw
    with torch.no_grad():
        out = net(torch.rand(2, 3, h, w))
    assert out.kind == "disparity" and len(out.scales) == 4 and out.scales[0] is out.pred
    for s, d in enumerate(out.scales):
        assert d.shape == (2, 1, h // 2**s, w // 2**s)
        assert torch.isfinite(d).all() and (d > 0).all() and (d < 1).all()


def test_backward_reaches_every_parameter():
    torch.manual_seed(0)
    model = create_model("hybrid-resnet18-transformer").train()
    out = model(torch.rand(1, 3, 64, 128))
    sum(d.mean() for d in out.scales).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("hw, n_kv", [((4, 12), 12), ((3, 10), 10)])
def test_keys_and_values_are_spatially_reduced(hw, n_kv):
    attn = SpatialReductionAttention(32, num_heads=4, sr_ratio=2).eval()
    seen = {}
    handle = attn.kv.register_forward_hook(lambda m, i, o: seen.update(kv_in=i[0].shape))
    h, w = hw
    with torch.no_grad():
        out = attn(torch.randn(2, h * w, 32), h, w)
    handle.remove()
    assert out.shape == (2, h * w, 32)
    assert seen["kv_in"] == (2, n_kv, 32)  # ceil(h/2) * ceil(w/2) keys for h*w queries
    assert attn.reduce.groups == 32  # depthwise by default
    assert SpatialReductionAttention(32, 4, dense_reduction=True).reduce.groups == 1


def test_global_block_mixes_information_across_the_whole_grid():
    torch.manual_seed(0)
    blk = GlobalBlock(32, num_heads=4).eval()
    for lin in (blk.attn.q, blk.attn.kv, blk.attn.proj):  # sharper than the 0.02 init
        torch.nn.init.normal_(lin.weight, std=0.3)
    h, w = 6, 8
    x = torch.randn(1, h * w, 32)
    x2 = x.clone()
    x2[0, 0] += torch.randn(32)  # perturb the top-left token only (not uniformly: LN would cancel it)

    def change() -> torch.Tensor:
        with torch.no_grad():
            return (blk(x2, h, w) - blk(x, h, w)).abs().sum(-1)[0].view(h, w)

    delta = change()
    # the far corner is outside the IRFFN's 3x3 neighbourhood: only attention reaches it
    assert delta[-1, -1] > 1e-3
    assert delta[0, 0] == delta.max()  # the residual keeps the perturbed token dominant
    torch.nn.init.zeros_(blk.attn.proj.weight)  # control: without attention it stays local
    assert change()[-1, -1] == 0


def test_pretrained_path_loads_only_the_local_stages(tmp_path):
    tv = torchvision.models.resnet18(weights=None)
    for p in tv.parameters():
        torch.nn.init.normal_(p, std=0.01)
    path = tmp_path / "resnet18-local.pth"
    torch.save(tv.state_dict(), path)
    torch.manual_seed(0)
    enc = HybridEncoder(pretrained_path=path)
    assert torch.equal(enc.conv1.weight, tv.conv1.weight)
    assert torch.equal(enc.layer2[1].conv2.weight, tv.layer2[1].conv2.weight)
    torch.manual_seed(0)
    plain = HybridEncoder()
    assert torch.equal(enc.stage4.blocks[1].ffn.project.weight, plain.stage4.blocks[1].ffn.project.weight)


def test_conv_linear_macs_beside_monodepth2_resnet18(net):
    # Conv/Linear MACs scale exactly with the pixel count here: 64x192 is 1/10 of 640x192.
    flops = pytest.importorskip("litedepth.profiling.flops")
    x = torch.rand(1, 3, 64, 192)
    r18 = create_model("monodepth2-resnet18")
    assert flops.count_macs(r18, x).macs * 10 == 8_013_496_320
    assert flops.count_macs(r18.encoder, x).macs * 10 == 4_441_374_720
    assert flops.count_macs(net, x).macs * 10 == 7_205_928_960
    assert flops.count_macs(net.encoder, x).macs * 10 == 3_633_807_360
