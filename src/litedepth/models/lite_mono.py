"""Lite-Mono: a lightweight CNN + transformer network for self-supervised monocular depth.

Zhang, Zhang, Zhao, Gu and Yang, "Lite-Mono: A Lightweight CNN and Transformer Architecture
for Self-Supervised Monocular Depth Estimation", CVPR 2023 (arXiv:2211.13202).

The encoder has a convolutional stem at 1/2 resolution and three stages at 1/4, 1/8 and
1/16. Every stage starts with a stride-2 convolution over the concatenation of the previous
stage's input, its output and the input image average-pooled to that scale; then come
*consecutive dilated convolution* (CDC) blocks and one *local-global feature interaction*
(LGFI) block with cross-covariance attention (XCA). The decoder upsamples bilinearly, fuses
skip features and predicts sigmoid disparity at 1, 1/2 and 1/4 of the input resolution.

Variants (registered names), parameters counted as ``sum(p.numel() for p in
model.parameters())`` over encoder + decoder — the way ``REFERENCE.md`` and the published
repository's modules count them:

================  ===========  ===========  =========  ======================  ============
name              total        encoder      decoder    unused CDC LayerNorms   thop-printed
================  ===========  ===========  =========  ======================  ============
lite-mono-tiny    2,147,659    1,955,192    192,467    2,112                   2,143,123
lite-mono-small   2,476,859    2,250,232    226,627    2,304                   2,471,843
lite-mono         3,074,747    2,848,120    226,627    3,072                   3,068,579
lite-mono-8m      8,775,851    8,139,960    635,891    5,184                   8,765,555
================  ===========  ===========  =========  ======================  ============

Where the numbers differ:

* The published CDC block owns a LayerNorm that its forward never uses (2 x C parameters per
  CDC block). It is kept here so that parameter counts and checkpoint layout match; it is
  frozen (``requires_grad=False``) so that it gets no gradient and needs no
  ``find_unused_parameters`` under DDP. Without it the totals would be 2,145,547 /
  2,474,555 / 3,071,675 / 8,770,667.
* "3.069M" — what users print for Lite-Mono with ``thop.profile`` on encoder and decoder —
  is thop's parameter count, which only sees parameters owned by the leaf layers it has
  hooks for (Conv2d, BatchNorm2d, Linear). It misses the published code's custom LayerNorm
  class (used and unused), the layer-scale vectors and the XCA temperatures; see
  :func:`thop_style_param_count`.

Multiply-accumulates at 640x192 (batch 1), see :mod:`litedepth.profiling`: Conv + Linear
modules only (``"conv_linear"``) 2.823G / 4.720G / 5.005G / 11.176G; the published thop
figures 2.842G / 4.746G / 5.032G / 11.212G add BatchNorm (4 per element) and average pooling
(1 per output), about 0.5 %; ``"full"`` (attention matmuls included) 2.829G / 4.730G /
5.015G / 11.197G.

Published checkpoints (``encoder.pth`` + ``depth.pth``) load unchanged with
:func:`load_official_weights`; :func:`save_official_weights` writes that layout.

Options of seed 001 (keyword arguments of every registered factory; defaults give the
published network):

* ``spatial_attention_stages``: CBAM spatial attention (:class:`SpatialAttention`) after the
  LGFI output of the listed encoder stages, e.g. ``(1, 2)``. Each adds ``2 * 7 * 7 = 98``
  parameters and ``98`` MACs per output pixel of its stage (``lite-mono`` at 640x192 with
  ``(1, 2)``: +196 parameters, +235,200 conv_linear MACs).
* ``bins`` (``None``, ``"fixed"`` or ``"adaptive"``) and ``n_bins``: the finest-scale sigmoid
  head is replaced by a :class:`~litedepth.models.bins.DisparityBinsHead` on the finest
  decoder feature (H/2); its disparity is upsampled x2 bilinearly like the sigmoid head's, and
  the per-image centres ``(B, K)`` are returned in ``DepthOutput.extras["bin_centres"]``.

Published files load into a network with these options: the new parameters stay at their
initialisation (logged), and with ``bins`` the file's finest-scale head is skipped (logged).
Such a network cannot be saved in the published layout (:class:`CheckpointError`).

Example:
    >>> import torch
    >>> from litedepth.models import create_model
    >>> net = create_model("lite-mono-tiny").eval()
    >>> out = net(torch.rand(1, 3, 64, 192))
    >>> [tuple(d.shape) for d in out.scales]
    [(1, 1, 64, 192), (1, 1, 32, 96), (1, 1, 16, 48)]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import Tensor, nn

from litedepth.errors import ConfigError
from litedepth.models.bins import BinsMode, DisparityBinsHead
from litedepth.models.outputs import DepthOutput
from litedepth.models.registry import register_model
from litedepth.models.spec import NORMALISE_MONODEPTH2, OutputSpec

logger = logging.getLogger(__name__)

__all__ = [
    "LiteMono",
    "SpatialAttention",
    "LiteMonoDecoder",
    "LiteMonoEncoder",
    "convert_official_state_dict",
    "load_official_weights",
    "save_official_weights",
    "thop_style_param_count",
    "to_official_state_dicts",
]

#: Input normalisation of Monodepth2 / Lite-Mono: ``(x - 0.45) / 0.225`` for RGB in [0, 1].
INPUT_MEAN = 0.45
INPUT_STD = 0.225

#: Training resolutions ``(height, width)`` of the published models; they select the CDC
#: dilation rates.
SMALL_SIZE = (192, 640)
LARGE_SIZE = (320, 1024)


# --------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiteMonoVariant:
    """Architecture hyper-parameters of one Lite-Mono size.

    Attributes:
        dims: channels of the three stages (outputs at H/4, H/8, H/16).
        depths: blocks per stage (the last block of each stage is an LGFI block).
        dilations: CDC dilation rates per stage (``depth - 1`` each) for each training size
            ``(height, width)``.
    """

    dims: tuple[int, int, int]
    depths: tuple[int, int, int]
    dilations: Mapping[tuple[int, int], tuple[tuple[int, ...], ...]]

    def dilations_for(self, height: int, width: int) -> tuple[tuple[int, ...], ...]:
        """Dilation rates for training size ``height x width`` (``ConfigError`` if unknown)."""
        try:
            return self.dilations[(height, width)]
        except KeyError:
            sizes = ", ".join(f"height={h}, width={w}" for h, w in self.dilations)
            raise ConfigError(
                f"Lite-Mono height/width select the published dilation rates and must be one "
                f"of: {sizes} (got height={height}, width={width}). The network itself runs "
                f"on any input whose sides are multiples of 16."
            ) from None


_SHALLOW_640 = ((1, 2, 3), (1, 2, 3), (1, 2, 3, 2, 4, 6))
_SHALLOW_1024 = ((1, 2, 5), (1, 2, 5), (1, 2, 5, 2, 4, 10))
_DEEP_640 = ((1, 2, 3), (1, 2, 3), (1, 2, 3, 1, 2, 3, 2, 4, 6))
_DEEP_1024 = ((1, 2, 5), (1, 2, 5), (1, 2, 5, 1, 2, 5, 2, 4, 10))

VARIANTS: dict[str, LiteMonoVariant] = {
    "lite-mono-tiny": LiteMonoVariant(
        (32, 64, 128), (4, 4, 7), {SMALL_SIZE: _SHALLOW_640, LARGE_SIZE: _SHALLOW_1024}
    ),
    "lite-mono-small": LiteMonoVariant(
        (48, 80, 128), (4, 4, 7), {SMALL_SIZE: _SHALLOW_640, LARGE_SIZE: _SHALLOW_1024}
    ),
    "lite-mono": LiteMonoVariant(
        (48, 80, 128), (4, 4, 10), {SMALL_SIZE: _DEEP_640, LARGE_SIZE: _DEEP_1024}
    ),
    # The 8M model keeps its 640x192 rates at 1024x320.
    "lite-mono-8m": LiteMonoVariant(
        (64, 128, 224), (4, 4, 10), {SMALL_SIZE: _DEEP_640, LARGE_SIZE: _DEEP_640}
    ),
}


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


class ConvBNGELU(nn.Module):
    """3x3 convolution (no bias) -> BatchNorm -> GELU.

    Shapes: ``(B, C_in, H, W) -> (B, C_out, H / stride, W / stride)``.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_chs)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.bn(self.conv(x)))


class PointwiseMLP(nn.Module):
    """Inverted bottleneck on channels-last tokens: Linear(C, rC) -> GELU -> Linear(rC, C).

    Shapes: ``(..., C) -> (..., C)``.
    """

    def __init__(self, dim: int, expansion: int = 6) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, expansion * dim)
        self.fc2 = nn.Linear(expansion * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def fourier_features(
    height: int,
    width: int,
    num_feats: int = 32,
    temperature: float = 10000.0,
    device: torch.device | None = None,
) -> Tensor:
    """2-D sine/cosine positional features (DETR style) on a ``height x width`` grid.

    Row and column indices ``1..n`` are scaled to ``(0, 2*pi]``, divided by
    ``temperature ** (2 * (k // 2) / num_feats)`` and passed through ``sin`` (even ``k``) and
    ``cos`` (odd ``k``). The row features come first, then the column features.

    Returns:
        ``(2 * num_feats, height, width)`` float32 tensor with values in ``[-1, 1]``.
    """
    eps = 1e-6
    k = torch.arange(num_feats, dtype=torch.float32, device=device)
    freqs = temperature ** (2 * torch.div(k, 2, rounding_mode="floor") / num_feats)
    is_even = (k % 2 == 0)

    def encode(n: int) -> Tensor:  # (n, num_feats)
        pos = torch.arange(1, n + 1, dtype=torch.float32, device=device) / (n + eps)
        angles = pos[:, None] * (2 * math.pi) / freqs
        return torch.where(is_even, angles.sin(), angles.cos())

    rows = encode(height)[:, None, :].expand(height, width, num_feats)
    cols = encode(width)[None, :, :].expand(height, width, num_feats)
    return torch.cat([rows, cols], dim=-1).permute(2, 0, 1)


class FourierPositionalEncoding(nn.Module):
    """Fourier positional features projected to ``dim`` channels by a 1x1 convolution.

    ``forward(height, width)`` returns ``(1, dim, height, width)``; it depends only on the
    grid size, so it is computed once per forward and broadcast over the batch.
    """

    def __init__(self, dim: int, num_feats: int = 32, temperature: float = 10000.0) -> None:
        super().__init__()
        self.num_feats = num_feats
        self.temperature = temperature
        self.proj = nn.Conv2d(2 * num_feats, dim, kernel_size=1)

    def forward(self, height: int, width: int) -> Tensor:
        feats = fourier_features(height, width, self.num_feats, self.temperature,
                                 self.proj.weight.device)
        return self.proj(feats.to(self.proj.weight.dtype)[None])


class CrossCovarianceAttention(nn.Module):
    """Cross-covariance attention (XCiT, El-Nouby et al. 2021) over channels.

    Per head, queries and keys ``(d, N)`` are L2-normalised along the ``N`` tokens and the
    ``d x d`` channel attention ``softmax(temperature * q k^T)`` mixes the value channels, so
    the cost is linear in the number of tokens.

    Shapes: ``(B, N, C) -> (B, N, C)`` with ``C`` divisible by ``num_heads``.
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"XCA: dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        # (B, N, 3C) -> (3, B, heads, d, N)
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 4, 1).unbind(0)
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)  # (B, h, d, d)
        out = (attn @ v).permute(0, 3, 1, 2).reshape(b, n, c)
        return self.proj(out)


class CDCBlock(nn.Module):
    """Consecutive-dilated-convolution block (one dilation rate).

    ``x + drop_path(gamma * MLP(BN(DWConv3x3_dilated(x))))``; ``(B, C, H, W) -> (B, C, H, W)``.

    ``norm`` is not used by ``forward``: the published block owns this LayerNorm without using
    it, and it is kept (frozen) so that parameter counts and checkpoints match.
    """

    def __init__(
        self,
        dim: int,
        dilation: int,
        drop_path: float = 0.0,
        layer_scale_init: float = 1e-6,
        expansion: int = 6,
    ) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=dilation, dilation=dilation, groups=dim,
                                bias=False)
        self.bn = nn.BatchNorm2d(dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6).requires_grad_(False)  # unused, see above
        self.mlp = PointwiseMLP(dim, expansion)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale_init))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if torch.onnx.is_in_onnx_export():
            return self.forward_pointwise_conv(x)
        y = self.bn(self.dwconv(x)).permute(0, 2, 3, 1)  # channels last
        y = (self.gamma * self.mlp(y)).permute(0, 3, 1, 2)
        return x + self.drop_path(y)

    def forward_pointwise_conv(self, x: Tensor) -> Tensor:
        """The same block with the MLP as 1x1 convolutions on ``(B, C, H, W)`` and ``gamma``
        folded into the second one (equal up to float rounding).

        Used for ONNX export: the graph then has no layout transposes around the MLP, and
        onnxruntime runs the two products as convolutions (fused bias, its blocked layout;
        int8 ``QLinearConv`` once quantised): onnxruntime lite-mono 640x192 ~1.15x faster.
        """
        fc1, fc2 = self.mlp.fc1, self.mlp.fc2
        y = self.bn(self.dwconv(x))
        y = F.gelu(F.conv2d(y, fc1.weight[:, :, None, None], fc1.bias))
        y = F.conv2d(y, (fc2.weight * self.gamma[:, None])[:, :, None, None], fc2.bias * self.gamma)
        return x + self.drop_path(y)


class LGFIBlock(nn.Module):
    """Local-global feature interaction block: XCA then an inverted-bottleneck MLP.

    With tokens ``t = flatten(x) (+ positional encoding)``::

        t = t + attn_gamma * XCA(LN(t))
        out = x + drop_path(gamma * MLP(LN(t)))

    (the attention branch feeds the MLP; only the MLP output joins the residual stream).
    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        drop_path: float = 0.0,
        layer_scale_init: float = 1e-6,
        expansion: int = 6,
        use_pos_enc: bool = False,
    ) -> None:
        super().__init__()
        self.pos_enc = FourierPositionalEncoding(dim) if use_pos_enc else None
        self.attn_norm = nn.LayerNorm(dim, eps=1e-6)
        self.attn = CrossCovarianceAttention(dim, num_heads)
        self.attn_gamma = nn.Parameter(torch.full((dim,), layer_scale_init))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = PointwiseMLP(dim, expansion)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale_init))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        if self.pos_enc is not None:
            t = t + self.pos_enc(h, w).flatten(2).transpose(1, 2)
        t = t + self.attn_gamma * self.attn(self.attn_norm(t))
        y = self.gamma * self.mlp(self.norm(t))
        y = y.transpose(1, 2).reshape(b, c, h, w)
        return x + self.drop_path(y)


class SpatialAttention(nn.Module):
    """CBAM spatial attention (Woo et al., "CBAM", ECCV 2018), spatial part only.

    ``x * sigmoid(conv7x7([mean_c(x), max_c(x)]))``: the channel-mean and channel-max maps
    are stacked (2 channels), convolved by a 7x7 convolution with padding 3 and no bias
    (2 -> 1 channels, 98 parameters; CBAM's reference code follows this conv with a
    BatchNorm, which seed 001's description does not mention and which is left out here),
    squashed by a sigmoid and multiplied onto every channel.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ConfigError(f"spatial attention kernel size must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


# --------------------------------------------------------------------------------------
# Encoder and decoder
# --------------------------------------------------------------------------------------


class LiteMonoEncoder(nn.Module):
    """Lite-Mono encoder: RGB in ``[0, 1]`` ``(B, 3, H, W)`` -> 3 feature maps.

    Normalises the input with ``(x - 0.45) / 0.225`` itself. Outputs
    ``[(B, dims[0], H/4, W/4), (B, dims[1], H/8, W/8), (B, dims[2], H/16, W/16)]``;
    :attr:`feature_info` lists their channels and reductions (timm style).

    Args:
        dims: stage channels.
        depths: blocks per stage; the last block of each stage is LGFI, the others CDC.
        dilations: CDC dilation rates per stage, ``depths[i] - 1`` each.
        num_heads: XCA heads in every stage.
        pos_enc_stages: stages whose LGFI block adds a Fourier positional encoding.
        drop_path_rate: stochastic-depth rate, linear from 0 over all blocks to this value.
        layer_scale_init: initial value of the layer-scale vectors.
        expansion: MLP expansion ratio.
        spatial_attention_stages: stages whose output (the LGFI block's) passes through a
            :class:`SpatialAttention`, e.g. ``(1, 2)`` for the high-level stages; the
            attended feature is what the next stage and the decoder see. The modules live
            in ``spatial_attention[str(i)]``.
    """

    def __init__(
        self,
        dims: Sequence[int] = (48, 80, 128),
        depths: Sequence[int] = (4, 4, 10),
        dilations: Sequence[Sequence[int]] = _DEEP_640,
        num_heads: int = 8,
        pos_enc_stages: Sequence[int] = (0,),
        drop_path_rate: float = 0.2,
        layer_scale_init: float = 1e-6,
        expansion: int = 6,
        spatial_attention_stages: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if not len(dims) == len(depths) == len(dilations):
            raise ConfigError("dims, depths and dilations need one entry per stage")
        for i, (depth, rates) in enumerate(zip(depths, dilations)):
            if len(rates) != depth - 1:
                raise ConfigError(f"stage {i}: {depth} blocks need {depth - 1} dilation rates, "
                                  f"got {list(rates)}")
        attn_stages = tuple(sorted({int(i) for i in spatial_attention_stages}))
        if len(attn_stages) != len(tuple(spatial_attention_stages)) or any(
                not 0 <= i < len(dims) for i in attn_stages):
            raise ConfigError(f"spatial_attention_stages must be distinct stage indices in "
                              f"0..{len(dims) - 1}, got {list(spatial_attention_stages)}")
        self.dims = tuple(dims)
        self.depths = tuple(depths)
        self.dilations = tuple(tuple(r) for r in dilations)
        self.spatial_attention_stages = attn_stages

        c0 = dims[0]
        self.stem = nn.Sequential(ConvBNGELU(3, c0, stride=2), ConvBNGELU(c0, c0),
                                  ConvBNGELU(c0, c0))
        # downsample[0]: stem output + pooled image (H/2) -> H/4; downsample[i > 0]: previous
        # stage input + output + pooled image -> next stage.
        in_chs = [c0 + 3] + [2 * c + 3 for c in dims[:-1]]
        self.downsample = nn.ModuleList(
            nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
            for cin, cout in zip(in_chs, dims)
        )
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)

        num_blocks = sum(depths)
        rates = [drop_path_rate * k / max(num_blocks - 1, 1) for k in range(num_blocks)]
        self.stages = nn.ModuleList()
        for i, (dim, depth) in enumerate(zip(dims, depths)):
            stage_rates, rates = rates[:depth], rates[depth:]
            blocks: list[nn.Module] = [
                CDCBlock(dim, d, dp, layer_scale_init, expansion)
                for d, dp in zip(self.dilations[i], stage_rates)
            ]
            blocks.append(LGFIBlock(dim, num_heads, stage_rates[-1], layer_scale_init, expansion,
                                    use_pos_enc=i in pos_enc_stages))
            self.stages.append(nn.Sequential(*blocks))
        self.spatial_attention = nn.ModuleDict(
            {str(i): SpatialAttention() for i in attn_stages}
        )

        self.feature_info = [
            {"num_chs": dim, "reduction": 4 * 2**i, "module": f"stages.{i}"}
            for i, dim in enumerate(dims)
        ]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal (fan_out) conv / linear weights; unit norm weights, zero norm biases.

        Conv / linear biases keep PyTorch's default initialisation, as in the published code.
        """
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = (x - INPUT_MEAN) / INPUT_STD
        pooled = []
        p = x
        for _ in self.stages:  # the image at H/2, H/4, H/8
            p = self.pool(p)
            pooled.append(p)

        features: list[Tensor] = []
        stage_in = self.downsample[0](torch.cat([self.stem(x), pooled[0]], dim=1))
        for i, stage in enumerate(self.stages):
            if i > 0:
                stage_in = self.downsample[i](torch.cat([stage_in, features[-1], pooled[i]],
                                                        dim=1))
            out = stage(stage_in)
            if str(i) in self.spatial_attention:
                out = self.spatial_attention[str(i)](out)
            features.append(out)
        return features


class _DecoderLevel(nn.Module):
    """The two convolutions of one decoder level (``reduce`` before, ``fuse`` after upsampling)."""

    def __init__(self, reduce: nn.Conv2d, fuse: nn.Conv2d) -> None:
        super().__init__()
        self.reduce = reduce
        self.fuse = fuse


class LiteMonoDecoder(nn.Module):
    """Lite-Mono depth decoder: encoder features -> sigmoid disparities, finest first.

    Per level ``i`` (coarsest first): ``reduce`` conv + ELU, x2 bilinear upsampling, concat
    the encoder feature ``i - 1`` (if ``i > 0``), ``fuse`` conv + ELU; the disparity head is a
    3x3 conv, x2 bilinear upsampling and a sigmoid. All convs are 3x3 with reflection padding.
    Level ``i`` has half the channels of encoder feature ``i``.

    Args:
        feature_info: the encoder's ``feature_info`` (list of dicts with ``num_chs``).
        bins: ``None`` (sigmoid heads everywhere), ``"fixed"`` or ``"adaptive"``: the finest
            head becomes a :class:`DisparityBinsHead` (``bins_head``) on the finest decoder
            feature; ``heads[0]`` is then an empty placeholder.
        n_bins: number of bins ``K``.

    Shapes: features at ``H/4, H/8, H/16`` -> ``[(B, 1, H, W), (B, 1, H/2, W/2),
    (B, 1, H/4, W/4)]`` with values in ``(0, 1)``; :meth:`forward_with_extras` also returns
    ``{"bin_centres": (B, K)}`` when ``bins`` is set.
    """

    def __init__(
        self,
        feature_info: Sequence[Mapping[str, int | str]],
        bins: BinsMode | None = None,
        n_bins: int = 64,
    ) -> None:
        super().__init__()
        if bins not in (None, "fixed", "adaptive"):
            raise ConfigError(f"bins must be None, 'fixed' or 'adaptive', not {bins!r}")
        enc_chs = [int(f["num_chs"]) for f in feature_info]
        dec_chs = [c // 2 for c in enc_chs]
        self.num_levels = len(enc_chs)

        def conv3x3(cin: int, cout: int) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")

        self.levels = nn.ModuleList()
        for i in range(self.num_levels):
            cin = enc_chs[-1] if i == self.num_levels - 1 else dec_chs[i + 1]
            skip = enc_chs[i - 1] if i > 0 else 0
            self.levels.append(_DecoderLevel(conv3x3(cin, dec_chs[i]),
                                             conv3x3(dec_chs[i] + skip, dec_chs[i])))
        self.heads = nn.ModuleList(conv3x3(c, 1) for c in dec_chs)
        self.bins = bins
        self.bins_head: DisparityBinsHead | None = None
        if bins is not None:
            self.heads[0] = nn.Identity()  # keeps the indices (and keys) of the other heads
            self.bins_head = DisparityBinsHead(dec_chs[0], n_bins, mode=bins)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal (std 0.02) weights and zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        return self.forward_with_extras(features)[0]

    def forward_with_extras(
        self, features: Sequence[Tensor]
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """Disparities (finest first) and extra outputs (``bin_centres`` with ``bins``)."""
        extras: dict[str, Tensor] = {}
        disps: list[Tensor] = [features[0]] * self.num_levels  # placeholders
        x = features[-1]
        for i in reversed(range(self.num_levels)):
            level = self.levels[i]
            x = F.interpolate(F.elu(level.reduce(x)), scale_factor=2.0, mode="bilinear")
            if i > 0:
                x = torch.cat([x, features[i - 1]], dim=1)
            x = F.elu(level.fuse(x))
            if i == 0 and self.bins_head is not None:
                # a convex combination of centres in [0, 1]; bilinear upsampling keeps it there
                disp, extras["bin_centres"] = self.bins_head(x)
                disps[i] = F.interpolate(disp, scale_factor=2.0, mode="bilinear")
                continue
            disp = F.interpolate(self.heads[i](x), scale_factor=2.0, mode="bilinear")
            disps[i] = torch.sigmoid(disp)
        return disps, extras


class LiteMono(nn.Module):
    """Lite-Mono depth network (encoder + decoder).

    Args:
        variant: one of :data:`VARIANTS` (``"lite-mono-tiny"``, ``"lite-mono-small"``,
            ``"lite-mono"``, ``"lite-mono-8m"``).
        height, width: training resolution; selects the published CDC dilation rates
            (192x640 or 320x1024). Inputs of any size with sides divisible by 16 run.
        drop_path_rate: stochastic-depth rate of the last block (linear from 0).
        spatial_attention_stages: encoder stages followed by CBAM spatial attention
            (:class:`SpatialAttention`), e.g. ``(1, 2)``; empty = the published network.
        bins: ``None`` (published sigmoid head), ``"fixed"`` or ``"adaptive"`` disparity
            bins at the finest scale (:class:`~litedepth.models.bins.DisparityBinsHead`).
        n_bins: number of bins (seed 001: 64).

    ``forward`` takes RGB ``(B, 3, H, W)`` in ``[0, 1]`` with ``H, W`` multiples of 16 and
    returns :class:`DepthOutput` with ``kind="disparity"``: sigmoid disparities in ``(0, 1)``
    at ``H``, ``H/2`` and ``H/4`` (``scales``, finest first; ``pred = scales[0]``); see
    :func:`litedepth.geometry.disp_to_depth` to turn them into depth. With ``bins`` the
    finest disparity is the bins head's and ``extras["bin_centres"]`` holds ``(B, n_bins)``
    centres in ``(0, 1)``.
    """

    output_kind = "disparity"
    size_multiple = 16

    def __init__(
        self,
        variant: str = "lite-mono",
        height: int = SMALL_SIZE[0],
        width: int = SMALL_SIZE[1],
        drop_path_rate: float = 0.2,
        spatial_attention_stages: Sequence[int] = (),
        bins: BinsMode | None = None,
        n_bins: int = 64,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"unknown Lite-Mono variant {variant!r}; known: {sorted(VARIANTS)}")
        spec = VARIANTS[variant]
        self.variant = variant
        self.height = height
        self.width = width
        self.encoder = LiteMonoEncoder(
            spec.dims, spec.depths, spec.dilations_for(height, width),
            drop_path_rate=drop_path_rate, spatial_attention_stages=spatial_attention_stages,
        )
        self.decoder = LiteMonoDecoder(self.encoder.feature_info, bins=bins, n_bins=n_bins)

    def forward(self, x: Tensor) -> DepthOutput:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"Lite-Mono expects RGB (B, 3, H, W), got {tuple(x.shape)}")
        if x.shape[-2] % 16 or x.shape[-1] % 16:
            raise ValueError(f"Lite-Mono needs height and width divisible by 16, got "
                             f"{x.shape[-2]}x{x.shape[-1]}")
        disps, extras = self.decoder.forward_with_extras(self.encoder(x))
        return DepthOutput(pred=disps[0], kind="disparity", scales=disps, extras=extras)

    def extra_state_keys(self) -> list[str]:
        """State-dict keys of the seed-001 options, which the published layout does not hold."""
        return [k for k in self.state_dict()
                if k.startswith(("encoder.spatial_attention.", "decoder.bins_head."))]


_TAGS = ("self-supervised",)
#: sigmoid disparity with disp_to_depth(0.1, 100) (Lite-Mono keeps Monodepth2's head and range);
#: four stride-2 stages: sides divisible by 16
LITE_MONO_OUTPUT = OutputSpec.sigmoid_disparity(0.1, 100.0, size_multiple=16, normalisation=NORMALISE_MONODEPTH2)


@register_model("lite-mono-tiny", output=LITE_MONO_OUTPUT, task="depth", default_size=SMALL_SIZE, tags=_TAGS)
def lite_mono_tiny(
    height: int = 192, width: int = 640, drop_path_rate: float = 0.2,
    spatial_attention_stages: Sequence[int] = (), bins: BinsMode | None = None,
    n_bins: int = 64,
) -> LiteMono:
    """Lite-Mono-tiny: dims 32/64/128, depths 4/4/7; 2,147,659 parameters."""
    return LiteMono("lite-mono-tiny", height, width, drop_path_rate, spatial_attention_stages,
                    bins, n_bins)


@register_model("lite-mono-small", output=LITE_MONO_OUTPUT, task="depth", default_size=SMALL_SIZE, tags=_TAGS)
def lite_mono_small(
    height: int = 192, width: int = 640, drop_path_rate: float = 0.2,
    spatial_attention_stages: Sequence[int] = (), bins: BinsMode | None = None,
    n_bins: int = 64,
) -> LiteMono:
    """Lite-Mono-small: dims 48/80/128, depths 4/4/7; 2,476,859 parameters."""
    return LiteMono("lite-mono-small", height, width, drop_path_rate, spatial_attention_stages,
                    bins, n_bins)


@register_model("lite-mono", output=LITE_MONO_OUTPUT, task="depth", default_size=SMALL_SIZE, tags=_TAGS)
def lite_mono(
    height: int = 192, width: int = 640, drop_path_rate: float = 0.2,
    spatial_attention_stages: Sequence[int] = (), bins: BinsMode | None = None,
    n_bins: int = 64,
) -> LiteMono:
    """Lite-Mono: dims 48/80/128, depths 4/4/10; 3,074,747 parameters."""
    return LiteMono("lite-mono", height, width, drop_path_rate, spatial_attention_stages,
                    bins, n_bins)


@register_model("lite-mono-8m", output=LITE_MONO_OUTPUT, task="depth", default_size=SMALL_SIZE, tags=_TAGS)
def lite_mono_8m(
    height: int = 192, width: int = 640, drop_path_rate: float = 0.2,
    spatial_attention_stages: Sequence[int] = (), bins: BinsMode | None = None,
    n_bins: int = 64,
) -> LiteMono:
    """Lite-Mono-8M: dims 64/128/224, depths 4/4/10; 8,775,851 parameters."""
    return LiteMono("lite-mono-8m", height, width, drop_path_rate, spatial_attention_stages,
                    bins, n_bins)


def thop_style_param_count(model: nn.Module) -> int:
    """Parameters as ``thop.profile`` reports them for the published Lite-Mono modules.

    thop counts only parameters owned by Conv2d, BatchNorm2d and Linear layers: the
    published custom LayerNorm, the layer-scale vectors and the XCA temperatures are missed.
    This is the "3.069M" users print for ``lite-mono`` (3,068,579); use
    :func:`litedepth.profiling.count_params` for the true total.
    """
    counted = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
    return sum(p.numel() for m in model.modules() if isinstance(m, counted)
               for p in m.parameters(recurse=False))


# Published-layout conversion lives in litedepth.models.official.lite_mono; its public names
# stay importable from here.
from litedepth.models.official.lite_mono import (  # noqa: E402
    convert_official_state_dict,
    load_official_weights,
    save_official_weights,
    to_official_state_dicts,
)
