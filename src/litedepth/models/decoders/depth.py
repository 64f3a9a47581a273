"""Monodepth2's multi-scale disparity decoder, shared by Monodepth2 and the hybrid network.

:class:`DepthDecoder` reads the encoder channels from its ``feature_info`` (five features at
``H/2 ... H/32``); decoder widths ``[16, 32, 64, 128, 256]``; each level: reflection-padded 3x3
conv + ELU, x2 nearest upsampling, concatenation with the encoder feature one level finer,
conv + ELU; a reflection-padded 3x3 conv + sigmoid gives the disparity at scales 0-3.
:meth:`DepthDecoder.official_key_map` names the official ``depth.pth`` keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litedepth.errors import ConfigError
from litedepth.models.encoders.resnet import EXPECTED_REDUCTIONS

__all__ = ["ConvELU", "DECODER_CHANNELS", "DepthDecoder", "NUM_SCALES", "ReflConv3x3"]

DECODER_CHANNELS = (16, 32, 64, 128, 256)
NUM_SCALES = 4


class ReflConv3x3(nn.Module):
    """3x3 convolution after one pixel of reflection padding: ``(B, Cin, H, W) -> (B, Cout, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))


class ConvELU(ReflConv3x3):
    """:class:`ReflConv3x3` followed by ELU (Monodepth2's decoder block)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(super().forward(x))


class _UpLevel(nn.Module):
    """One decoder level: ``reduce`` (conv+ELU), x2 nearest upsample, concat skip, ``fuse``."""

    def __init__(self, in_channels: int, out_channels: int, skip_channels: int) -> None:
        super().__init__()
        self.reduce = ConvELU(in_channels, out_channels)
        self.fuse = ConvELU(out_channels + skip_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor | None) -> Tensor:
        x = F.interpolate(self.reduce(x), scale_factor=2.0, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.fuse(x)


def _channels_from_feature_info(feature_info: Sequence[Mapping[str, Any]]) -> list[int]:
    if len(feature_info) != 5:
        raise ConfigError(f"DepthDecoder needs 5 encoder features, feature_info has {len(feature_info)}")
    reductions = tuple(int(f["reduction"]) for f in feature_info)
    if reductions != EXPECTED_REDUCTIONS:
        raise ConfigError(f"DepthDecoder needs encoder reductions {EXPECTED_REDUCTIONS}, got {reductions}")
    return [int(f["num_chs"]) for f in feature_info]


class DepthDecoder(nn.Module):
    """Monodepth2's multi-scale disparity decoder.

    Args:
        feature_info: the encoder's feature contract, five entries with ``num_chs`` and
            ``reduction`` (must be ``2, 4, 8, 16, 32``).
        channels: decoder widths per level, finest first (Monodepth2: ``16, 32, 64, 128, 256``).

    Shapes:
        five features ``(B, C_i, H / 2**(i+1), W / 2**(i+1))`` -> list of four disparities,
        finest first, ``(B, 1, H / 2**s, W / 2**s)`` for ``s = 0..3``, sigmoid values in ``(0, 1)``.

    Level ``i`` (4 = coarsest) maps its input to ``channels[i]``, upsamples x2 to
    ``H / 2**i`` and fuses the encoder feature ``i - 1`` (none for ``i = 0``). Scale ``s``'s
    disparity is read from level ``s``.
    """

    def __init__(self, feature_info: Sequence[Mapping[str, Any]], channels: Sequence[int] = DECODER_CHANNELS) -> None:
        super().__init__()
        enc = _channels_from_feature_info(feature_info)
        if len(channels) != 5:
            raise ConfigError(f"DepthDecoder needs 5 decoder widths, got {list(channels)}")
        self.encoder_channels = enc
        self.channels = [int(c) for c in channels]
        levels = []
        for i in range(5):
            c_in = enc[4] if i == 4 else self.channels[i + 1]
            c_skip = enc[i - 1] if i > 0 else 0
            levels.append(_UpLevel(c_in, self.channels[i], c_skip))
        self.levels = nn.ModuleList(levels)
        self.heads = nn.ModuleList(ReflConv3x3(self.channels[s], 1) for s in range(NUM_SCALES))

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        """Disparities ``[s0, s1, s2, s3]`` (finest first) from five encoder features."""
        x = features[4]
        disps: list[Tensor] = [x] * NUM_SCALES  # placeholders, all overwritten below
        for i in range(4, -1, -1):
            x = self.levels[i](x, features[i - 1] if i > 0 else None)
            if i < NUM_SCALES:
                disps[i] = torch.sigmoid(self.heads[i](x))
        return disps

    def official_key_map(self) -> dict[str, str]:
        """``{our key: official depth.pth key}``.

        The official decoder stores its 14 convolutions in one ``nn.ModuleList`` in the
        order ``(level 4: reduce, fuse), (level 3: ...), ..., (level 0: ...), head 0 .. head 3``;
        blocks with ELU nest the conv one level deeper (``decoder.N.conv.conv.*``) than the
        plain disparity convs (``decoder.N.conv.*``).
        """
        mapping: dict[str, str] = {}
        for i in range(5):
            for j, part in enumerate(("reduce", "fuse")):
                n = 2 * (4 - i) + j
                for p in ("weight", "bias"):
                    mapping[f"levels.{i}.{part}.conv.{p}"] = f"decoder.{n}.conv.conv.{p}"
        for s in range(NUM_SCALES):
            for p in ("weight", "bias"):
                mapping[f"heads.{s}.conv.{p}"] = f"decoder.{10 + s}.conv.{p}"
        return mapping
