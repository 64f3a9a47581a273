"""Monodepth2 depth network (Godard et al., "Digging Into Self-Supervised Monocular Depth
Estimation", ICCV 2019): a torchvision ResNet encoder and a five-stage U-Net decoder that
predicts sigmoid disparity at four scales.

* :class:`ResnetEncoder` - ResNet-18/50 trunk (no classifier), input RGB in ``[0, 1]``
  normalised inside as ``(x - 0.45) / 0.225``; publishes :attr:`ResnetEncoder.feature_info`.
* :class:`DepthDecoder` - reads the encoder channels from ``feature_info``; decoder widths
  ``[16, 32, 64, 128, 256]``; each stage: reflection-padded 3x3 conv + ELU, x2 nearest
  upsampling, concatenation with the encoder feature one level finer, conv + ELU; a
  reflection-padded 3x3 conv + sigmoid gives the disparity at scales 0-3.
* :class:`Monodepth2Net` - encoder + decoder returning :class:`DepthOutput`.

Registered names: ``monodepth2-resnet18`` (14,329,236 parameters) and ``monodepth2-resnet50``
(32,522,132). The encoder keeps no ImageNet classifier, so its count (11,176,512 for R18) is
torchvision's minus ``fc``.

Published checkpoints (the ``encoder.pth`` / ``depth.pth`` pairs of the official release)
load unchanged with :func:`load_official_weights` and are written in the same layout by
:func:`save_official_weights`; the same two functions handle the PoseNet pair
``pose_encoder.pth`` / ``pose.pth`` (see :mod:`litedepth.models.pose`). Encoder keys are
identical to the official ones (``encoder.conv1.weight`` ...); decoder keys are mapped
explicitly (``decoder.levels.4.reduce.conv.weight`` <-> ``decoder.0.conv.conv.weight`` ...).

Example:
    >>> import torch
    >>> from litedepth.models import create_model
    >>> net = create_model("monodepth2-resnet18").eval()
    >>> out = net(torch.rand(1, 3, 64, 192))
    >>> out.pred.shape, len(out.scales), out.kind
    (torch.Size([1, 1, 64, 192]), 4, 'disparity')
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import resnet

from litedepth.errors import CheckpointError, ConfigError, DataError
from litedepth.models.outputs import DepthOutput
from litedepth.models.registry import register_model
from litedepth.models.spec import NORMALISE_MONODEPTH2, OutputSpec
from litedepth.utils.torch_files import load_torch_file

__all__ = [
    "DepthDecoder",
    "Monodepth2Net",
    "ResnetEncoder",
    "load_imagenet_resnet_state",
    "load_official_weights",
    "read_official_state_dicts",
    "save_official_weights",
    "to_official_state_dicts",
    "load_official_state_dicts",
]

log = logging.getLogger(__name__)

# Monodepth2 normalises with a single scalar mean / std for all channels.
MONODEPTH2_MEAN = 0.45
MONODEPTH2_STD = 0.225
DECODER_CHANNELS = (16, 32, 64, 128, 256)
NUM_SCALES = 4
# The encoder must reduce by these factors for the decoder's x2 upsampling to meet the skips.
EXPECTED_REDUCTIONS = (2, 4, 8, 16, 32)
# BatchNorm's step counter: absent from files written before PyTorch 0.4.1 and from
# torchvision's ImageNet files, so never required when loading.
_OPTIONAL_SUFFIX = ".num_batches_tracked"


def _mismatch_message(missing: list[str], unexpected: list[str], wrong: list[str]) -> str:
    """One line listing (the first 8 of) missing keys, unexpected keys and shape mismatches."""
    parts = []
    if missing:
        parts.append(f"missing keys {missing[:8]}{' ...' if len(missing) > 8 else ''}")
    if unexpected:
        parts.append(f"unexpected keys {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
    if wrong:
        parts.append(f"shape mismatches {wrong[:8]}")
    return "; ".join(parts)

_RESNETS = {
    18: (resnet.BasicBlock, (2, 2, 2, 2)),
    50: (resnet.Bottleneck, (3, 4, 6, 3)),
}


# --------------------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------------------
def load_imagenet_resnet_state(
    path: str | Path, num_input_images: int = 1, keep: Sequence[str] | None = None
) -> dict[str, Tensor]:
    """Read a local torchvision ImageNet ResNet state dict for a Monodepth2 encoder.

    The classifier (``fc.*``) is dropped. For ``num_input_images > 1`` (PoseNet) the
    ``conv1.weight`` ``(64, 3, 7, 7)`` is repeated along the input channels and divided by
    ``num_input_images``, giving ``(64, 3 * n, 7, 7)`` whose response to ``n`` identical
    frames equals the original's to one.

    Args:
        path: local ``.pth`` file, e.g. torchvision's ``resnet18-f37072fd.pth``. Nothing is
            downloaded.
        num_input_images: frames stacked along channels at the input.
        keep: optional key prefixes to keep (e.g. ``("conv1.", "bn1.", "layer1.")``).

    Returns:
        ``{key: tensor}`` with torchvision key names (``conv1.weight``, ``layer1.0.bn1.bias`` ...).

    Raises:
        CheckpointError: the file is missing, unreadable or not a ResNet state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: ImageNet weights file not found (no download is attempted)")
    sd = load_torch_file(path, "weights file")
    if isinstance(sd, Mapping) and isinstance(sd.get("state_dict"), Mapping):
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping) or "conv1.weight" not in sd:
        raise CheckpointError(f"{path}: not a torchvision ResNet state dict (no 'conv1.weight')")
    out = {k: v for k, v in sd.items() if not k.startswith("fc.")}
    if keep is not None:
        out = {k: v for k, v in out.items() if k.startswith(tuple(keep))}
    if num_input_images > 1:
        w = out["conv1.weight"]
        out["conv1.weight"] = torch.cat([w] * num_input_images, dim=1) / num_input_images
    return out


def _load_strict(module: nn.Module, sd: Mapping[str, Tensor], source: str) -> None:
    """``load_state_dict`` raising :class:`CheckpointError` naming ``source`` and the keys.

    BatchNorm ``num_batches_tracked`` counters may be absent (torchvision's ImageNet files
    and checkpoints older than PyTorch 0.4.1 lack them); everything else must match.
    """
    own = module.state_dict()
    missing = sorted(k for k in set(own) - set(sd) if not k.endswith(_OPTIONAL_SUFFIX))
    unexpected = sorted(set(sd) - set(own))
    wrong = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    if missing or unexpected or wrong:
        shapes = [f"{k}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}" for k in wrong]
        raise CheckpointError(f"{source}: " + _mismatch_message(missing, unexpected, shapes))
    module.load_state_dict(dict(sd), strict=False)


class ResnetEncoder(nn.Module):
    """ResNet-18/50 feature extractor with Monodepth2's input normalisation.

    Args:
        depth: 18 or 50.
        num_input_images: frames stacked along channels (1 for depth, 2 for PoseNet);
            ``conv1`` then takes ``3 * num_input_images`` channels.
        pretrained_path: optional local torchvision ImageNet state dict (see
            :func:`load_imagenet_resnet_state`); weights are random (kaiming, as torchvision)
            when ``None``.

    Shapes:
        input ``(B, 3 * num_input_images, H, W)``, RGB in ``[0, 1]`` -> list of five
        features at ``H/2, H/4, H/8, H/16, H/32`` with channels ``[64, 64, 128, 256, 512]``
        (R18) or ``[64, 256, 512, 1024, 2048]`` (R50) - see :attr:`feature_info`.

    State-dict keys are torchvision's (``conv1.weight``, ``layer4.1.bn2.running_var`` ...)
    without ``fc.*``.
    """

    input_mean = (MONODEPTH2_MEAN,) * 3
    input_std = (MONODEPTH2_STD,) * 3

    def __init__(self, depth: int = 18, num_input_images: int = 1, pretrained_path: str | Path | None = None) -> None:
        super().__init__()
        if depth not in _RESNETS:
            raise ConfigError(f"ResnetEncoder depth must be one of {sorted(_RESNETS)}, got {depth}")
        if num_input_images < 1:
            raise ConfigError(f"num_input_images must be >= 1, got {num_input_images}")
        block, layers = _RESNETS[depth]
        trunk = resnet.ResNet(block, list(layers))
        if num_input_images != 1:
            # Same initialisation as torchvision's own conv1 (kaiming normal, fan_out).
            trunk.conv1 = nn.Conv2d(3 * num_input_images, 64, 7, stride=2, padding=3, bias=False)
            nn.init.kaiming_normal_(trunk.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.depth = depth
        self.num_input_images = num_input_images
        self.conv1, self.bn1, self.relu, self.maxpool = trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4
        widths = [64] + [64 * 2**i * block.expansion for i in range(4)]
        names = ["relu", "layer1", "layer2", "layer3", "layer4"]
        self.feature_info: list[dict[str, Any]] = [
            {"num_chs": c, "reduction": r, "module": n} for c, r, n in zip(widths, EXPECTED_REDUCTIONS, names)
        ]
        if pretrained_path is not None:
            sd = load_imagenet_resnet_state(pretrained_path, num_input_images)
            _load_strict(self, sd, str(pretrained_path))
            log.info("loaded ImageNet ResNet-%d weights from %s", depth, pretrained_path)

    def forward(self, image: Tensor) -> list[Tensor]:
        """Five feature maps, finest (``H/2``) first, for ``image`` in ``[0, 1]``."""
        x = (image - MONODEPTH2_MEAN) / MONODEPTH2_STD
        f0 = self.relu(self.bn1(self.conv1(x)))
        f1 = self.layer1(self.maxpool(f0))
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        f4 = self.layer4(f3)
        return [f0, f1, f2, f3, f4]

    def official_extra_tensors(self) -> dict[str, Tensor]:
        """Tensors the official wrapper stores but this encoder lacks.

        The official ``ResnetEncoder`` keeps torchvision's unused ImageNet classifier, so its
        ``encoder.pth`` / ``pose_encoder.pth`` hold ``fc.weight`` ``(1000, C)`` and
        ``fc.bias`` ``(1000,)``; the official scripts load them strictly. They never affect
        the output, so they are written as zeros and ignored on loading.
        """
        c = self.feature_info[-1]["num_chs"]
        return {"fc.weight": torch.zeros(1000, c), "fc.bias": torch.zeros(1000)}


# --------------------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# Whole network
# --------------------------------------------------------------------------------------
class Monodepth2Net(nn.Module):
    """Encoder + :class:`DepthDecoder` predicting multi-scale sigmoid disparity.

    Args:
        encoder: any module mapping RGB in ``[0, 1]`` to five features and publishing a
            Monodepth2-compatible ``feature_info`` (:class:`ResnetEncoder`,
            :class:`litedepth.models.hybrid.HybridEncoder`). It normalises its own input.

    Shapes:
        input ``(B, 3, H, W)`` RGB in ``[0, 1]``, ``H`` and ``W`` multiples of 32, at least 64 ->
        :class:`DepthOutput` with ``kind="disparity"``, ``pred`` ``(B, 1, H, W)`` in ``(0, 1)``
        and ``scales`` ``[s0, s1, s2, s3]``, ``s`` of shape ``(B, 1, H/2**s, W/2**s)``.
        Convert to depth with Monodepth2's ``1 / (1/100 + (1/0.1 - 1/100) * disp)``
        (``min_depth=0.1``, ``max_depth=100``).
    """

    output_kind = "disparity"
    official_files = ("encoder.pth", "depth.pth")
    size_multiple = 32

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = DepthDecoder(encoder.feature_info)
        self.input_mean = getattr(encoder, "input_mean", (MONODEPTH2_MEAN,) * 3)
        self.input_std = getattr(encoder, "input_std", (MONODEPTH2_STD,) * 3)

    def forward(self, image: Tensor) -> DepthOutput:
        """Multi-scale disparity for ``image`` ``(B, 3, H, W)`` in ``[0, 1]``."""
        if image.dim() != 4 or image.shape[1] != 3:
            raise DataError(None, f"expected an RGB batch (B, 3, H, W), got shape {tuple(image.shape)}")
        h, w = image.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple or min(h, w) < 2 * self.size_multiple:
            # x2 upsampling must meet each skip exactly, and the reflection padding of the
            # coarsest (H/32) level needs at least 2 pixels per side.
            raise DataError(
                None,
                f"input height and width must be multiples of {self.size_multiple} and at least "
                f"{2 * self.size_multiple}, got {h}x{w} (HxW); resize or pad the image first",
            )
        disps = self.decoder(self.encoder(image))
        return DepthOutput(pred=disps[0], kind="disparity", scales=disps)

    # -- official layout -------------------------------------------------------------
    def official_key_map(self) -> dict[str, tuple[str, str]]:
        """``{our state-dict key: (official file, official key)}``.

        Encoder keys keep their names (the official wrapper also stores the ResNet under
        ``encoder.``); decoder keys follow :meth:`DepthDecoder.official_key_map`.
        """
        mapping = {f"encoder.{k}": ("encoder.pth", f"encoder.{k}") for k in self.encoder.state_dict()}
        for ours, theirs in self.decoder.official_key_map().items():
            mapping[f"decoder.{ours}"] = ("depth.pth", theirs)
        return mapping

    def official_ignored_tensors(self) -> dict[str, dict[str, Tensor]]:
        """Placeholder tensors written for the official loader and ignored when reading."""
        extra_fn = getattr(self.encoder, "official_extra_tensors", None)
        extra = extra_fn() if extra_fn is not None else {}
        return {"encoder.pth": {f"encoder.{k}": v for k, v in extra.items()}}


# --------------------------------------------------------------------------------------
# Registered variants
# --------------------------------------------------------------------------------------
_TAGS = ("self-supervised",)
#: sigmoid disparity with Monodepth2's disp_to_depth(0.1, 100); depth up to scale (monocular)
MONODEPTH2_OUTPUT = OutputSpec.sigmoid_disparity(0.1, 100.0, size_multiple=32, normalisation=NORMALISE_MONODEPTH2)


@register_model("monodepth2-resnet18", output=MONODEPTH2_OUTPUT, task="depth", default_size=(192, 640), tags=_TAGS)
def monodepth2_resnet18(pretrained_path: str | None = None) -> Monodepth2Net:
    """Monodepth2 with a ResNet-18 encoder (``pretrained_path``: local torchvision ImageNet weights)."""
    return Monodepth2Net(ResnetEncoder(18, pretrained_path=pretrained_path))


@register_model("monodepth2-resnet50", output=MONODEPTH2_OUTPUT, task="depth", default_size=(192, 640), tags=_TAGS)
def monodepth2_resnet50(pretrained_path: str | None = None) -> Monodepth2Net:
    """Monodepth2 with a ResNet-50 encoder (``pretrained_path``: local torchvision ImageNet weights)."""
    return Monodepth2Net(ResnetEncoder(50, pretrained_path=pretrained_path))


# Published-layout conversion (depth and pose pairs) lives in litedepth.models.official.monodepth2;
# its names stay importable from here.
from litedepth.models.official.monodepth2 import (  # noqa: E402
    load_official_state_dicts,
    load_official_weights,
    read_official_state_dicts,
    save_official_weights,
    to_official_state_dicts,
)
