"""Seed 003's hybrid CNN-transformer depth network (``hybrid-resnet18-transformer``).

Encoder (:class:`HybridEncoder`): the ResNet-18 stem, ``layer1`` and ``layer2`` are kept as
"local blocks" (features at ``H/2, H/4, H/8``, 64/64/128 channels); ``layer3`` / ``layer4``
are replaced by two "global" stages producing ``H/16`` x 256 and ``H/32`` x 512. Each stage:

* patch merging - 2x2 stride-2 convolution to the stage width, then LayerNorm;
* ``depth`` (2) :class:`GlobalBlock` s, each
  ``x + SRA(LN(x))`` then ``x + IRFFN(LN(x))``, where

  - SRA is multi-head self-attention whose keys and values come from a copy of the tokens
    spatially reduced by ``sr_ratio`` (2) with a ``sr_ratio x sr_ratio`` stride-``sr_ratio``
    convolution followed by LayerNorm (PVT's spatial-reduction attention); by default the
    reduction convolution is depthwise (the "light" attention of the seed, as in CMT);
    ``dense_reduction=True`` uses PVT's full convolution instead;
  - IRFFN is an inverted-residual feed-forward network: 1x1 expand (``mlp_ratio``), 3x3
    depthwise, GELU, 1x1 project;

* a final LayerNorm.

The encoder publishes the same ``feature_info`` as ResNet-18, so Monodepth2's
:class:`~litedepth.models.decoders.depth.DepthDecoder` is reused unchanged and the network
returns the same :class:`DepthOutput` (sigmoid disparity at four scales).

Choices not fixed by the seed (its paper gives only the structure and the totals): head
width 64 (4 / 8 heads), ``mlp_ratio=3``, depthwise reduction, no positional embedding (the
depthwise 3x3 of the IRFFN supplies position), no drop path. Sizes (whole network /
encoder only; MACs of Conv and Linear modules at 640x192, as
:func:`litedepth.profiling.flops.count_macs` ``mode="conv_linear"``):

========================  ==========================  ======================
network                   parameters                  GMACs (whole / encoder)
========================  ==========================  ======================
monodepth2-resnet18       14,329,236 / 11,176,512     8.013 / 4.441
this network              11,123,860 /  7,971,136     7.206 / 3.634
========================  ==========================  ======================

Seed 003 reports 14.277M / 4.461 G for its ResNet-18 and 11.097M / 3.406 G for its hybrid
(whole-network parameters beside encoder-only MACs). The attention products add 0.066 G
(``mode="full"``); ``dense_reduction=True`` gives 13,739,156 parameters.

Example:
    >>> import torch
    >>> from litedepth.models import create_model
    >>> net = create_model("hybrid-resnet18-transformer").eval()
    >>> [s.shape[-2:] for s in net(torch.rand(1, 3, 64, 192)).scales]
    [torch.Size([64, 192]), torch.Size([32, 96]), torch.Size([16, 48]), torch.Size([8, 24])]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import resnet

from litedepth.errors import ConfigError
from litedepth.models.encoders.resnet import FiveLevelEncoder, load_imagenet_resnet_state, load_strict
from litedepth.models.monodepth2 import MONODEPTH2_OUTPUT, Monodepth2Net
from litedepth.models.registry import register_model

__all__ = [
    "GlobalBlock",
    "HybridEncoder",
    "InvertedResidualFFN",
    "SpatialReductionAttention",
    "hybrid_resnet18_transformer",
]

log = logging.getLogger(__name__)


def _tokens_to_map(x: Tensor, h: int, w: int) -> Tensor:
    """``(B, h*w, C)`` -> ``(B, C, h, w)``."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)


def _map_to_tokens(x: Tensor) -> Tensor:
    """``(B, C, h, w)`` -> ``(B, h*w, C)``."""
    return x.flatten(2).transpose(1, 2)


class SpatialReductionAttention(nn.Module):
    """Multi-head self-attention with spatially reduced keys and values.

    Args:
        dim: token width ``C``.
        num_heads: heads; ``dim`` must be divisible by it.
        sr_ratio: key/value grid reduction per side (2: ``h*w/4`` keys).
        dense_reduction: full ``C -> C`` reduction convolution (PVT) instead of depthwise.

    Shapes:
        ``x`` ``(B, h*w, C)`` with grid ``(h, w)`` -> ``(B, h*w, C)``. Odd grids are padded by
        edge replication before the reduction so every token has a reduced counterpart.
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int = 2, dense_reduction: bool = False) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"attention width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        if sr_ratio > 1:
            groups = 1 if dense_reduction else dim
            self.reduce = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio, groups=groups)
            self.reduce_norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        b, n, c = x.shape
        q = self.q(x)
        if self.sr_ratio > 1:
            grid = _tokens_to_map(x, h, w)
            pad_h, pad_w = (-h) % self.sr_ratio, (-w) % self.sr_ratio
            if pad_h or pad_w:
                grid = F.pad(grid, (0, pad_w, 0, pad_h), mode="replicate")
            kv_src = self.reduce_norm(_map_to_tokens(self.reduce(grid)))
        else:
            kv_src = x
        k, v = self.kv(kv_src).chunk(2, dim=-1)

        def heads(t: Tensor) -> Tensor:  # (B, N, C) -> (B, heads, N, C / heads)
            return t.reshape(b, t.shape[1], self.num_heads, c // self.num_heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class InvertedResidualFFN(nn.Module):
    """Inverted-residual feed-forward: 1x1 expand, 3x3 depthwise, GELU, 1x1 project.

    Shapes: ``(B, h*w, C)`` with grid ``(h, w)`` -> ``(B, h*w, C)``.
    """

    def __init__(self, dim: int, mlp_ratio: float = 3.0) -> None:
        super().__init__()
        hidden = int(round(dim * mlp_ratio))
        self.expand = nn.Conv2d(dim, hidden, kernel_size=1)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size=3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.project = nn.Conv2d(hidden, dim, kernel_size=1)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        y = self.project(self.act(self.dwconv(self.expand(_tokens_to_map(x, h, w)))))
        return _map_to_tokens(y)


class GlobalBlock(nn.Module):
    """Pre-norm transformer block: ``x + SRA(LN(x))``, then ``x + IRFFN(LN(x))``.

    Shapes: ``(B, h*w, C)`` with grid ``(h, w)`` -> ``(B, h*w, C)``.
    """

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float = 3.0, sr_ratio: int = 2, dense_reduction: bool = False
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SpatialReductionAttention(dim, num_heads, sr_ratio, dense_reduction)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = InvertedResidualFFN(dim, mlp_ratio)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        x = x + self.attn(self.norm1(x), h, w)
        return x + self.ffn(self.norm2(x), h, w)


class _GlobalStage(nn.Module):
    """Patch merging (2x2 stride-2 conv + LN), ``depth`` blocks, final LN: ``(B,Cin,H,W) -> (B,C,H/2,W/2)``."""

    def __init__(self, in_dim: int, dim: int, depth: int, num_heads: int, **block_kw: Any) -> None:
        super().__init__()
        self.merge = nn.Conv2d(in_dim, dim, kernel_size=2, stride=2)
        self.merge_norm = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList(GlobalBlock(dim, num_heads, **block_kw) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        x = self.merge(x)
        h, w = x.shape[-2:]
        t = self.merge_norm(_map_to_tokens(x))
        for blk in self.blocks:
            t = blk(t, h, w)
        return _tokens_to_map(self.norm(t), h, w)


class HybridEncoder(FiveLevelEncoder):
    """ResNet-18 local stages + transformer global stages (seed 003).

    Args:
        dims: widths of the two global stages (ResNet-18's ``layer3`` / ``layer4`` widths).
        depths: blocks per global stage.
        num_heads: attention heads per global stage.
        mlp_ratio: IRFFN expansion.
        sr_ratio: key/value spatial reduction per side.
        dense_reduction: PVT's full reduction convolution instead of depthwise.
        pretrained_path: optional local torchvision ImageNet ResNet-18 state dict; only the
            stem, ``layer1`` and ``layer2`` are loaded.

    Shapes:
        ``(B, 3, H, W)`` RGB in ``[0, 1]`` (normalised inside as ``(x - 0.45) / 0.225``) ->
        five features, channels ``[64, 64, 128, dims[0], dims[1]]`` at ``H/2 ... H/32``.
    """

    def __init__(
        self,
        dims: Sequence[int] = (256, 512),
        depths: Sequence[int] = (2, 2),
        num_heads: Sequence[int] = (4, 8),
        mlp_ratio: float = 3.0,
        sr_ratio: int = 2,
        dense_reduction: bool = False,
        pretrained_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        if not (len(dims) == len(depths) == len(num_heads) == 2):
            raise ConfigError("HybridEncoder takes exactly two global stages (dims, depths, num_heads)")
        trunk = resnet.resnet18(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool
        self.layer1, self.layer2 = trunk.layer1, trunk.layer2
        block_kw = {"mlp_ratio": mlp_ratio, "sr_ratio": sr_ratio, "dense_reduction": dense_reduction}
        self.stage3 = _GlobalStage(128, dims[0], depths[0], num_heads[0], **block_kw)
        self.stage4 = _GlobalStage(dims[0], dims[1], depths[1], num_heads[1], **block_kw)
        for stage in (self.stage3, self.stage4):
            stage.apply(_init_transformer)
        self._describe_features([64, 64, 128, dims[0], dims[1]], ["layer1", "layer2", "stage3", "stage4"])
        if pretrained_path is not None:
            keep = ("conv1.", "bn1.", "layer1.", "layer2.")
            sd = load_imagenet_resnet_state(pretrained_path, keep=keep)
            local = nn.ModuleDict(
                {"conv1": self.conv1, "bn1": self.bn1, "layer1": self.layer1, "layer2": self.layer2}
            )
            load_strict(local, sd, str(pretrained_path))
            log.info("loaded ImageNet ResNet-18 stem/layer1/layer2 from %s", pretrained_path)


def _init_transformer(m: nn.Module) -> None:
    """PVT-style initialisation: truncated normal (std 0.02) linears, fan-out normal convs."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
        nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


@register_model("hybrid-resnet18-transformer", output=MONODEPTH2_OUTPUT, task="depth", default_size=(192, 640), tags=("self-supervised",))
def hybrid_resnet18_transformer(
    pretrained_path: str | None = None,
    mlp_ratio: float = 3.0,
    dense_reduction: bool = False,
) -> Monodepth2Net:
    """Seed 003's hybrid encoder + Monodepth2 decoder (``pretrained_path``: local ImageNet ResNet-18)."""
    return Monodepth2Net(
        HybridEncoder(mlp_ratio=mlp_ratio, dense_reduction=dense_reduction, pretrained_path=pretrained_path)
    )
