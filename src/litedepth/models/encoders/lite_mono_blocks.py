"""Building blocks of the Lite-Mono encoder (Zhang et al., CVPR 2023).

* :class:`ConvBNGELU` - 3x3 conv + BatchNorm + GELU (the stem).
* :class:`CDCBlock` - consecutive dilated convolution: dilated depthwise 3x3, BatchNorm and a
  pointwise MLP (:class:`PointwiseMLP`) with layer scale.
* :class:`LGFIBlock` - local-global feature interaction: cross-covariance attention
  (:class:`CrossCovarianceAttention`, optionally with a :class:`FourierPositionalEncoding`)
  feeding a pointwise MLP.
* :class:`SpatialAttention` - CBAM spatial attention, seed 001's optional addition after a stage.

Every block maps ``(B, C, H, W) -> (B, C, H, W)`` unless its docstring says otherwise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import Tensor, nn

from litedepth.errors import ConfigError

__all__ = [
    "CDCBlock", "ConvBNGELU", "CrossCovarianceAttention", "FourierPositionalEncoding", "LGFIBlock",
    "PointwiseMLP", "SpatialAttention", "fourier_features",
]


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
