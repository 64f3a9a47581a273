"""The Lite-Mono encoder: a convolutional stem at 1/2 resolution and three stages at 1/4, 1/8
and 1/16 of CDC blocks ending in one LGFI block (blocks in :mod:`.lite_mono_blocks`).

Every stage starts with a stride-2 convolution over the concatenation of the previous stage's
input, its output and the input image average-pooled to that scale. The published sizes
(channels, depths, dilation rates) are the variants of :data:`litedepth.models.lite_mono.VARIANTS`;
their CDC dilation rates are the constants below.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from litedepth.errors import ConfigError
from litedepth.models.encoders.lite_mono_blocks import CDCBlock, ConvBNGELU, LGFIBlock, SpatialAttention

__all__ = ["DEEP_640", "DEEP_1024", "INPUT_MEAN", "INPUT_STD", "LiteMonoEncoder", "SHALLOW_640", "SHALLOW_1024"]

#: Input normalisation of Monodepth2 / Lite-Mono: ``(x - 0.45) / 0.225`` for RGB in [0, 1].
INPUT_MEAN = 0.45
INPUT_STD = 0.225

#: Published CDC dilation rates per stage (``depth - 1`` each): "shallow" for depths
#: ``(4, 4, 7)``, "deep" for ``(4, 4, 10)``, at the 640x192 and 1024x320 training sizes.
SHALLOW_640 = ((1, 2, 3), (1, 2, 3), (1, 2, 3, 2, 4, 6))
SHALLOW_1024 = ((1, 2, 5), (1, 2, 5), (1, 2, 5, 2, 4, 10))
DEEP_640 = ((1, 2, 3), (1, 2, 3), (1, 2, 3, 1, 2, 3, 2, 4, 6))
DEEP_1024 = ((1, 2, 5), (1, 2, 5), (1, 2, 5, 1, 2, 5, 2, 4, 10))


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

    input_mean = (INPUT_MEAN,) * 3
    input_std = (INPUT_STD,) * 3

    def __init__(
        self,
        dims: Sequence[int] = (48, 80, 128),
        depths: Sequence[int] = (4, 4, 10),
        dilations: Sequence[Sequence[int]] = DEEP_640,
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
