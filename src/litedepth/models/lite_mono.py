"""Lite-Mono: a lightweight CNN + transformer network for self-supervised monocular depth.

Zhang, Zhang, Zhao, Gu and Yang, "Lite-Mono: A Lightweight CNN and Transformer Architecture
for Self-Supervised Monocular Depth Estimation", CVPR 2023 (arXiv:2211.13202).

The encoder has a convolutional stem at 1/2 resolution and three stages at 1/4, 1/8 and
1/16. Every stage starts with a stride-2 convolution over the concatenation of the previous
stage's input, its output and the input image average-pooled to that scale; then come
*consecutive dilated convolution* (CDC) blocks and one *local-global feature interaction*
(LGFI) block with cross-covariance attention (XCA). The decoder upsamples bilinearly, fuses
skip features and predicts sigmoid disparity at 1, 1/2 and 1/4 of the input resolution.

The encoder lives in :mod:`litedepth.models.encoders.lite_mono` (its blocks in
:mod:`litedepth.models.encoders.lite_mono_blocks`), the decoder in
:mod:`litedepth.models.decoders.lite_mono`; this module holds the variants, the network and its
registry lines, and every name stays importable from here.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from litedepth.errors import ConfigError
from litedepth.models.bins import BinsMode
from litedepth.models.decoders.lite_mono import LiteMonoDecoder
from litedepth.models.encoders.lite_mono import (
    DEEP_640,
    DEEP_1024,
    INPUT_MEAN,
    INPUT_STD,
    SHALLOW_640,
    SHALLOW_1024,
    LiteMonoEncoder,
)
from litedepth.models.encoders.lite_mono_blocks import (
    CDCBlock,
    ConvBNGELU,
    CrossCovarianceAttention,
    FourierPositionalEncoding,
    LGFIBlock,
    PointwiseMLP,
    SpatialAttention,
    fourier_features,
)
from litedepth.models.outputs import DepthOutput
from litedepth.models.registry import register_model
from litedepth.models.spec import NORMALISE_MONODEPTH2, OutputSpec

logger = logging.getLogger(__name__)

__all__ = [
    "LITE_MONO_OUTPUT",
    "LiteMono",
    "LiteMonoVariant",
    "VARIANTS",
    "convert_official_state_dict",
    "load_official_weights",
    "save_official_weights",
    "thop_style_param_count",
    "to_official_state_dicts",
    # re-exported from litedepth.models.encoders.* / litedepth.models.decoders.lite_mono
    "CDCBlock",
    "ConvBNGELU",
    "CrossCovarianceAttention",
    "FourierPositionalEncoding",
    "INPUT_MEAN",
    "INPUT_STD",
    "LGFIBlock",
    "LiteMonoDecoder",
    "LiteMonoEncoder",
    "PointwiseMLP",
    "SpatialAttention",
    "fourier_features",
]

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
        parameters: parameters of the whole network (encoder + decoder, default options),
            stated in its registered factory's docstring (checked by the tests).
    """

    dims: tuple[int, int, int]
    depths: tuple[int, int, int]
    dilations: Mapping[tuple[int, int], tuple[tuple[int, ...], ...]]
    parameters: int

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

    def describe(self, name: str) -> str:
        """One line, e.g. ``"lite-mono-tiny: dims 32/64/128, depths 4/4/7; 2,147,659 parameters."``"""
        dims, depths = "/".join(map(str, self.dims)), "/".join(map(str, self.depths))
        return f"{name}: dims {dims}, depths {depths}; {self.parameters:,} parameters."


_SHALLOW = {SMALL_SIZE: SHALLOW_640, LARGE_SIZE: SHALLOW_1024}
_DEEP = {SMALL_SIZE: DEEP_640, LARGE_SIZE: DEEP_1024}

#: The published sizes: registered name -> variant (one registry line each, below).
VARIANTS: dict[str, LiteMonoVariant] = {
    "lite-mono-tiny": LiteMonoVariant((32, 64, 128), (4, 4, 7), _SHALLOW, 2_147_659),
    "lite-mono-small": LiteMonoVariant((48, 80, 128), (4, 4, 7), _SHALLOW, 2_476_859),
    "lite-mono": LiteMonoVariant((48, 80, 128), (4, 4, 10), _DEEP, 3_074_747),
    # The 8M model keeps its 640x192 rates at 1024x320.
    "lite-mono-8m": LiteMonoVariant((64, 128, 224), (4, 4, 10), {SMALL_SIZE: DEEP_640, LARGE_SIZE: DEEP_640},
                                    8_775_851),
}


# --------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------


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
    official_files = ("encoder.pth", "depth.pth")

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
        if x.shape[-2] % self.size_multiple or x.shape[-1] % self.size_multiple:
            raise ValueError(f"Lite-Mono needs height and width divisible by {self.size_multiple}, got "
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


def _register_variant(name: str) -> Callable[..., LiteMono]:
    """Register the factory of variant ``name`` of :data:`VARIANTS`; every variant takes the
    same options (those of :class:`LiteMono` after ``variant``)."""

    def factory(
        height: int = SMALL_SIZE[0], width: int = SMALL_SIZE[1], drop_path_rate: float = 0.2,
        spatial_attention_stages: Sequence[int] = (), bins: BinsMode | None = None,
        n_bins: int = 64,
    ) -> LiteMono:
        return LiteMono(name, height, width, drop_path_rate, spatial_attention_stages, bins, n_bins)

    factory.__name__ = factory.__qualname__ = name.replace("-", "_")
    factory.__doc__ = VARIANTS[name].describe(name)
    return register_model(name, output=LITE_MONO_OUTPUT, task="depth", default_size=SMALL_SIZE, tags=_TAGS)(factory)


lite_mono_tiny = _register_variant("lite-mono-tiny")
lite_mono_small = _register_variant("lite-mono-small")
lite_mono = _register_variant("lite-mono")
lite_mono_8m = _register_variant("lite-mono-8m")


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