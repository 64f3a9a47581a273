"""Seed 002's multi-decoder UNet: one shared encoder, a semantic decoder and a depth decoder.

Architecture (seed 002, figure 2): an encoder (ImageNet ResNet-50 in the seed; any
segmentation-models-pytorch encoder name here, e.g. ``resnet18``, ``efficientnet-b0``, or a
timm model as ``tu-<timm name>``) publishes features at strides 1, 2, 4, ... 32
(``encoder.out_channels``); two UNet decoders of the same shape
(``segmentation_models_pytorch``'s ``UnetDecoder``) read them, each followed by its own 3x3
head: ``C`` class scores for segmentation, one channel for depth.

* ``multitask-unet-resnet50``: both decoders (task ``"multitask"``).
* ``unet-resnet50-seg``: the single-decoder baseline of seed 002's table 2 (task
  ``"segmentation"``), the same network without the depth decoder.

:meth:`MultiDecoderUNet.segmentation_only` returns the deployable network (encoder + semantic
decoder + head, modules shared, no depth decoder): seed 002 deploys only that part, at no
extra cost over a plain UNet. :meth:`MultiDecoderUNet.copy_decoder` copies one decoder's
weights into the other (seed 002's "weight copy" between training phases); the two heads have
different output channels and are not copied.

Weights are never downloaded: ``encoder_weights`` may name a local ImageNet checkpoint of the
encoder (torchvision ``resnet50-0676ba61.pth`` style keys, or timm keys for ``tu-`` encoders;
a classifier ``fc.*`` is dropped), ``weights`` a state dict of this whole network (a litedepth
``.ckpt`` works too).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from litedepth.errors import CheckpointError, ConfigError
from litedepth.models.deeplabv3 import IMAGENET_MEAN, IMAGENET_STD, ImageNetNormalise
from litedepth.models.outputs import DepthOutput
from litedepth.models.registry import register_model
from litedepth.models.spec import NORMALISE_IMAGENET, OutputSpec, weights_from_file
from litedepth.models.segmentation_outputs import SegmentationOutput

log = logging.getLogger(__name__)

DEFAULT_DECODER_CHANNELS = (256, 128, 64, 32, 16)

Head = Literal["seg", "depth"]


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """A state dict from a local ``.pth`` / ``.ckpt`` file (a Lightning checkpoint's
    ``state_dict`` with its ``net.`` prefix removed).

    Raises:
        CheckpointError: missing or unreadable file, or no tensors in it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    from litedepth.models.pretrained import read_weights_file

    sd = read_weights_file(path)
    if isinstance(sd, dict) and isinstance(sd.get("model"), dict):  # torchvision reference scripts
        sd = sd["model"]
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, Tensor) for v in sd.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return sd


def load_matching(module: nn.Module, sd: dict[str, Tensor], path: str | Path, what: str) -> None:
    """Load ``sd`` into ``module`` strictly by key and shape, with errors naming the file."""
    own = module.state_dict()
    bad = [k for k, v in sd.items() if k not in own or own[k].shape != v.shape]
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} key(s) missing or of another shape in the {what}: {bad[:5]}")
    missing = [k for k in own if k not in sd]
    if missing:
        raise CheckpointError(f"{path}: the {what} needs {len(missing)} more key(s): {missing[:5]}")
    module.load_state_dict(sd)
    if what == "network":
        module.weights_info = weights_from_file(path, [])


def load_encoder_file(encoder: nn.Module, path: str | Path) -> None:
    """Load an ImageNet checkpoint into an smp encoder (classifier keys are dropped).

    Accepts torchvision / smp key names (``conv1.weight``, ``layer1.0...``), timm key names
    for ``tu-`` encoders (stored under ``model.`` in the encoder) and a ``features.`` prefix.
    """
    sd = read_state_dict(path)
    own = encoder.state_dict()
    drop = ("fc.", "classifier.", "head.", "last_linear.")
    candidates = [
        {k: v for k, v in sd.items() if not k.startswith(drop)},
        {f"model.{k}": v for k, v in sd.items() if not k.startswith(drop)},
        {k.removeprefix("features."): v for k, v in sd.items() if not k.startswith(drop)},
    ]
    best = max(candidates, key=lambda c: sum(k in own and own[k].shape == v.shape for k, v in c.items()))
    target = {k: v for k, v in best.items() if k in own and own[k].shape == v.shape}
    if not target:
        raise CheckpointError(f"{path}: no key matches this encoder (first keys in file: {list(sd)[:3]})")
    missing = [k for k in own if k not in target and not k.endswith("num_batches_tracked")]
    if missing:
        raise CheckpointError(f"{path}: encoder weights incomplete, {len(missing)} key(s) missing: {missing[:5]}")
    encoder.load_state_dict(target, strict=False)
    log.info("loaded %d encoder tensors from %s", len(target), path)


def build_encoder(name: str, depth: int = 5) -> nn.Module:
    """An smp encoder by name, randomly initialised (nothing is downloaded)."""
    from segmentation_models_pytorch.encoders import get_encoder

    try:
        return get_encoder(name, in_channels=3, depth=depth, weights=None)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"unknown encoder {name!r}: {str(exc).splitlines()[0][:300]}") from None


class DeployedSegmenter(nn.Module):
    """Encoder + semantic decoder + head of a :class:`MultiDecoderUNet` (modules shared).

    Shapes:
        input ``(B, 3, H, W)`` RGB in ``[0, 1]`` -> ``(B, C, H, W)`` class scores (a plain
        tensor, so that the module exports to ONNX with one input and one output).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.normalise = ImageNetNormalise()
        self.encoder, self.decoder, self.head = encoder, decoder, head

    def forward(self, image: Tensor) -> Tensor:
        return self.head(self.decoder(self.encoder(self.normalise(image))))


class MultiDecoderUNet(nn.Module):
    """Shared encoder, UNet semantic decoder and (optionally) a UNet depth decoder.

    Args:
        encoder: smp encoder name (``"resnet50"``: seed 002; ``"resnet18"``,
            ``"mobilenet_v2"``, ``"tu-<timm model>"`` ...).
        num_classes: segmentation classes ``C`` (VOC: 21 = 20 objects + background).
        depth_decoder: build the depth decoder (``False``: single-decoder UNet).
        depth_output: ``"disparity"``: sigmoid output in ``(0, 1)``, the relative map of a
            teacher (disparity, bigger = nearer) min-max normalised per image;
            ``"depth"``: softplus output in metres (metric ground truth or teacher).
        decoder_channels: output channels of the decoder blocks, coarse to fine (one per
            encoder stage; smp's UNet default).
        encoder_depth: encoder stages (3 to 5).
        init_depth: ``depth_output="depth"`` only: the depth head's initial output in metres.
        encoder_weights: optional local ImageNet checkpoint of the encoder.
        weights: optional local state dict of this whole network.

    Shapes:
        input ``(B, 3, H, W)`` RGB in ``[0, 1]`` (any ``H, W``; ImageNet normalisation inside)
        -> :class:`SegmentationOutput` with ``logits`` ``(B, C, H, W)`` and ``depth.pred``
        ``(B, 1, H, W)``.

    Example:
        >>> net = MultiDecoderUNet("resnet18", num_classes=21)  # doctest: +SKIP
        >>> out = net(torch.rand(1, 3, 64, 64))  # doctest: +SKIP
        >>> out.logits.shape, out.depth.pred.shape  # doctest: +SKIP
        (torch.Size([1, 21, 64, 64]), torch.Size([1, 1, 64, 64]))
    """

    official_files: tuple[str, ...] = ()
    num_classes: int
    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    def __init__(
        self,
        encoder: str = "resnet50",
        num_classes: int = 21,
        depth_decoder: bool = True,
        depth_output: Literal["disparity", "depth"] = "disparity",
        decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
        encoder_depth: int = 5,
        init_depth: float | None = None,
        encoder_weights: str | None = None,
        weights: str | None = None,
    ) -> None:
        super().__init__()
        from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder

        if num_classes < 2:
            raise ConfigError(f"num_classes must be >= 2, got {num_classes}")
        if depth_output not in ("disparity", "depth"):
            raise ConfigError(f"depth_output must be 'disparity' or 'depth', got {depth_output!r}")
        if not 3 <= encoder_depth <= 5:
            raise ConfigError(f"encoder_depth must be 3, 4 or 5, got {encoder_depth}")
        decoder_channels = tuple(int(c) for c in decoder_channels)
        if len(decoder_channels) != encoder_depth:
            raise ConfigError(f"decoder_channels needs {encoder_depth} entries (one per encoder stage), got {decoder_channels}")
        self.encoder_name = encoder
        self.num_classes = int(num_classes)
        self.depth_output = depth_output
        self.encoder = build_encoder(encoder, encoder_depth)
        channels = self.encoder.out_channels

        def decoder() -> nn.Module:
            return UnetDecoder(channels, decoder_channels, n_blocks=encoder_depth)

        self.seg_decoder = decoder()
        self.seg_head = nn.Conv2d(decoder_channels[-1], num_classes, kernel_size=3, padding=1)
        self.depth_decoder = decoder() if depth_decoder else None
        self.depth_head = nn.Conv2d(decoder_channels[-1], 1, kernel_size=3, padding=1) if depth_decoder else None
        if init_depth is not None and self.depth_head is not None and depth_output == "depth":
            if init_depth <= 0:
                raise ConfigError(f"init_depth must be > 0 metres, got {init_depth}")
            with torch.no_grad():  # softplus(b) = init_depth at initialisation
                self.depth_head.bias.fill_(math.log(math.expm1(init_depth)))
        self.normalise = ImageNetNormalise()
        if encoder_weights is not None:
            load_encoder_file(self.encoder, encoder_weights)
        if weights is not None:
            load_matching(self, read_state_dict(weights), weights, "network")

    @property
    def output_kind(self) -> str:
        """``"multitask"`` with a depth decoder, else ``"segmentation"``."""
        return "multitask" if self.depth_decoder is not None else "segmentation"

    @property
    def heads(self) -> tuple[str, ...]:
        """The heads this network has: ``("seg",)`` or ``("seg", "depth")``."""
        return ("seg", "depth") if self.depth_decoder is not None else ("seg",)

    def task_modules(self) -> dict[str, list[nn.Module]]:
        """Modules by role, for freezing per training phase: ``encoder``, ``seg``, ``depth``."""
        groups: dict[str, list[nn.Module]] = {"encoder": [self.encoder], "seg": [self.seg_decoder, self.seg_head]}
        if self.depth_decoder is not None:
            groups["depth"] = [self.depth_decoder, self.depth_head]
        return groups

    def forward(self, image: Tensor, heads: Sequence[Head] | None = None) -> SegmentationOutput:
        """Run the encoder and the requested heads (default: all) on ``(B, 3, H, W)`` RGB in [0, 1]."""
        heads = self.heads if heads is None else tuple(heads)
        unknown = set(heads) - set(self.heads)
        if unknown:
            raise ConfigError(f"this network has heads {self.heads}, not {sorted(unknown)}")
        feats = self.encoder(self.normalise(image))
        logits = self.seg_head(self.seg_decoder(feats)) if "seg" in heads else None
        depth = None
        if "depth" in heads:
            raw = self.depth_head(self.depth_decoder(feats))  # type: ignore[misc]
            if self.depth_output == "disparity":
                depth = DepthOutput(pred=torch.sigmoid(raw), kind="disparity")
            else:
                depth = DepthOutput(pred=nn.functional.softplus(raw), kind="depth")
        return SegmentationOutput(logits=logits, depth=depth)

    def segmentation_only(self) -> DeployedSegmenter:
        """The deployable segmentation network: encoder + semantic decoder + head (shared
        modules, no copy; the depth decoder is not part of it). Returns logits ``(B, C, H, W)``."""
        return DeployedSegmenter(self.encoder, self.seg_decoder, self.seg_head)

    @torch.no_grad()
    def copy_decoder(self, source: Head) -> None:
        """Copy the ``source`` decoder's weights and buffers into the other decoder.

        The decoders have the same architecture; the heads (``C`` vs 1 output channels) are
        not copied.
        """
        if self.depth_decoder is None:
            raise ConfigError("this network has no depth decoder to copy from or to")
        if source not in ("seg", "depth"):
            raise ConfigError(f"copy source must be 'seg' or 'depth', got {source!r}")
        src, dst = (self.seg_decoder, self.depth_decoder) if source == "seg" else (self.depth_decoder, self.seg_decoder)
        dst.load_state_dict(src.state_dict())


_SIZE = (512, 512)
_UNET_MULTIPLE = 1  # any input size: the network pads to its stride internally


def _segmentation_output(num_classes: int = 21, **_: Any) -> OutputSpec:
    return OutputSpec.segmentation(num_classes, size_multiple=_UNET_MULTIPLE, normalisation=NORMALISE_IMAGENET)


def _multitask_output(num_classes: int = 21, depth_output: str = "disparity", **_: Any) -> OutputSpec:
    """The depth head's meaning (the segmentation head's classes in ``num_classes``): ``disparity``
    is a sigmoid map trained on min-max normalised teacher disparity, i.e. affine-invariant
    relative disparity (not Monodepth2's sigmoid range); ``depth`` is softplus depth in metres."""
    common = {"size_multiple": _UNET_MULTIPLE, "normalisation": NORMALISE_IMAGENET, "num_classes": int(num_classes),
              "note": "multi-task: depth head + segmentation logits"}
    if depth_output == "depth":
        return OutputSpec.metric_depth(**common)
    return OutputSpec.relative_disparity(**common)


@register_model("multitask-unet-resnet50", output=_multitask_output, task="multitask", family="multitask", default_size=_SIZE,
                tags=("seed002", "segmentation", "depth"))
def multitask_unet_resnet50(
    encoder: str = "resnet50",
    num_classes: int = 21,
    depth_output: Literal["disparity", "depth"] = "disparity",
    decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
    encoder_depth: int = 5,
    init_depth: float | None = None,
    encoder_weights: str | None = None,
    weights: str | None = None,
) -> MultiDecoderUNet:
    """Seed 002's multi-decoder UNet (shared ResNet-50 encoder by default; any smp encoder)."""
    return MultiDecoderUNet(encoder, num_classes, True, depth_output, decoder_channels, encoder_depth,
                            init_depth, encoder_weights, weights)


@register_model("unet-resnet50-seg", output=_segmentation_output, task="segmentation", family="multitask", default_size=_SIZE,
                tags=("seed002", "segmentation"))
def unet_resnet50_seg(
    encoder: str = "resnet50",
    num_classes: int = 21,
    decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
    encoder_depth: int = 5,
    encoder_weights: str | None = None,
    weights: str | None = None,
) -> MultiDecoderUNet:
    """Seed 002's single-decoder baseline: the same UNet without the depth decoder."""
    return MultiDecoderUNet(encoder, num_classes, False, "disparity", decoder_channels, encoder_depth,
                            None, encoder_weights, weights)
