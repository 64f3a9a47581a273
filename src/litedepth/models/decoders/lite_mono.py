"""The Lite-Mono depth decoder: bilinear upsampling, skip fusion and sigmoid disparity at 1,
1/2 and 1/4 of the input resolution (optionally a disparity-bins head at the finest scale)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litedepth.errors import ConfigError
from litedepth.models.bins import BinsMode, DisparityBinsHead

__all__ = ["LiteMonoDecoder"]


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
