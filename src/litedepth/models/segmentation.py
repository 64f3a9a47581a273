"""Semantic segmentation networks of seed 004: torchvision DeepLabV3 and a DeepLabV3+.

* ``deeplabv3-resnet50-seg``, ``deeplabv3-resnet101-seg``, ``deeplabv3-mobilenet-v3-large-seg``:
  torchvision's ``deeplabv3_*`` (atrous ResNet / MobileNetV3 backbone, ASPP with image-level
  pooling), ``num_classes = 21`` (VOC labels) by default, logits bilinearly resized to the
  input. Seed 004 quotes torchvision's published COCO-with-VOC-labels weights: mIoU 66.4 /
  67.4 / 60.3, global pixel accuracy 92.4 / 92.4 / 91.2.
* ``deeplabv3plus-resnet50``, ``deeplabv3plus-resnet101``: DeepLabV3+ (ASPP at output stride
  16, plus a decoder that fuses the stride-4 low-level encoder features for sharper
  boundaries), from ``segmentation_models_pytorch``; any smp encoder via ``encoder=``.

Inputs are RGB in ``[0, 1]``; ImageNet normalisation happens inside ``forward``. Every network
returns :class:`~litedepth.models.segmentation_outputs.SegmentationOutput` (``logits``
``(B, C, H, W)``, ``depth=None``).

Weights are never downloaded. ``weights`` may name a local file holding

* a torchvision segmentation checkpoint (``deeplabv3_resnet50_coco-cd0a2569.pth`` ...; keys
  ``backbone.*``, ``classifier.*``, ``aux_classifier.*``): the auxiliary classifier is
  dropped; the last class convolution is loaded when its class count matches, else left at
  initialisation (fine-tuning to other classes);
* an ImageNet backbone checkpoint (``resnet50-0676ba61.pth`` style ``conv1.*``/``layer1.*``
  keys, or MobileNetV3 ``features.*``): loaded into the backbone;
* a state dict of this very network (a litedepth ``.ckpt`` works too).

DeepLabV3+ takes ``encoder_weights`` (an ImageNet encoder checkpoint) and ``weights`` (a
state dict of the whole network).
"""

from __future__ import annotations

import logging
from typing import Any
from collections.abc import Callable
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import segmentation as tvseg

from litedepth.errors import CheckpointError, ConfigError
from litedepth.models.deeplabv3 import IMAGENET_MEAN, IMAGENET_STD, ImageNetNormalise
from litedepth.models.multitask import (
    load_encoder_file,
    load_matching,
    read_state_dict,
)
from litedepth.models.registry import register_model
from litedepth.models.spec import NORMALISE_IMAGENET, OutputSpec, weights_from_file
from litedepth.models.segmentation_outputs import SegmentationOutput

log = logging.getLogger(__name__)


class _ImageNetSegmenter(nn.Module):
    """What the single-head segmentation networks share: their contract declarations (one
    ``seg`` head, no published folder layout), ImageNet normalisation inside ``forward`` and a
    checked ``num_classes`` (``C >= 2``)."""

    output_kind = "segmentation"
    heads = ("seg",)
    official_files: tuple[str, ...] = ()
    num_classes: int
    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = int(num_classes)
        self.normalise = ImageNetNormalise()


class TorchvisionDeepLabV3Seg(_ImageNetSegmenter):
    """torchvision DeepLabV3 as a segmentation network.

    Args:
        builder: ``torchvision.models.segmentation.deeplabv3_*``.
        num_classes: ``C`` (VOC: 21).
        weights: optional local weights file (module docstring).

    Shapes:
        input ``(B, 3, H, W)`` RGB in ``[0, 1]`` -> ``logits`` ``(B, C, H, W)``.
    """

    def __init__(self, builder: Callable[..., nn.Module], num_classes: int = 21, weights: str | None = None) -> None:
        super().__init__(num_classes)
        net = builder(weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False)
        self.backbone = net.backbone
        self.classifier = net.classifier
        if weights is not None:
            self.load_weights_file(weights)

    def task_modules(self) -> dict[str, list[nn.Module]]:
        """Modules by role: ``encoder`` (backbone), ``seg`` (ASPP head)."""
        return {"encoder": [self.backbone], "seg": [self.classifier]}

    def forward(self, image: Tensor, heads: tuple[str, ...] | None = None) -> SegmentationOutput:
        """Class scores ``(B, C, H, W)`` for RGB ``(B, 3, H, W)`` in ``[0, 1]``."""
        h, w = image.shape[-2:]
        logits = self.classifier(self.backbone(self.normalise(image))["out"])
        return SegmentationOutput(logits=F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False))

    def load_weights_file(self, path: str | Path) -> None:
        """Load a local weights file (see the module docstring)."""
        sd = read_state_dict(path)
        own = self.state_dict()
        if set(sd) == set(own):
            load_matching(self, sd, path, "network")
            return
        if any(k.startswith("backbone.") for k in sd):
            target = {k: v for k, v in sd.items() if k.startswith(("backbone.", "classifier."))}
            skipped = [k for k, v in target.items() if k in own and own[k].shape != v.shape]
            if skipped:
                log.info("%s: %s has another number of classes; left at initialisation", path, skipped)
            target = {k: v for k, v in target.items() if k not in skipped}
        else:
            stripped = {k.removeprefix("features."): v for k, v in sd.items()}
            target = {f"backbone.{k}": v for k, v in stripped.items() if f"backbone.{k}" in own}
        if not target:
            raise CheckpointError(f"{path}: no key matches this network (first keys in file: {list(sd)[:3]})")
        bad = [k for k, v in target.items() if k not in own or own[k].shape != v.shape]
        if bad:
            raise CheckpointError(f"{path}: keys missing or of another shape in this network: {bad[:5]}")
        missing = self.load_state_dict(target, strict=False).missing_keys
        self.weights_info = weights_from_file(path, missing)
        log.info("loaded %d tensors from %s (%d left at initialisation)", len(target), path, len(missing))


class DeepLabV3PlusSeg(_ImageNetSegmenter):
    """DeepLabV3+ (smp): encoder at output stride 16, ASPP, low-level feature decoder.

    Args:
        encoder: smp encoder name (``resnet50``, ``resnet101``, ``tu-<timm model>`` ...).
        num_classes: ``C``.
        encoder_weights: optional local ImageNet checkpoint of the encoder.
        weights: optional local state dict of this whole network.

    Shapes:
        input ``(B, 3, H, W)`` RGB in ``[0, 1]``, any ``H, W`` (padded inside to a multiple of
        16 and cropped back) -> ``logits`` ``(B, C, H, W)``.
    """

    stride = 16

    def __init__(self, encoder: str = "resnet50", num_classes: int = 21, encoder_weights: str | None = None,
                 weights: str | None = None) -> None:
        super().__init__(num_classes)
        import segmentation_models_pytorch as smp

        try:
            self.model = smp.DeepLabV3Plus(encoder_name=encoder, encoder_weights=None, classes=num_classes,
                                           encoder_output_stride=self.stride)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"DeepLabV3+ encoder {encoder!r}: {str(exc).splitlines()[0][:300]}") from None
        if encoder_weights is not None:
            load_encoder_file(self.model.encoder, encoder_weights)
        if weights is not None:
            load_matching(self, read_state_dict(weights), weights, "network")

    def task_modules(self) -> dict[str, list[nn.Module]]:
        """Modules by role: ``encoder``, ``seg`` (ASPP + decoder + head)."""
        return {"encoder": [self.model.encoder], "seg": [self.model.decoder, self.model.segmentation_head]}

    def forward(self, image: Tensor, heads: tuple[str, ...] | None = None) -> SegmentationOutput:
        """Class scores ``(B, C, H, W)`` for RGB ``(B, 3, H, W)`` in ``[0, 1]``."""
        h, w = image.shape[-2:]
        s = self.stride
        ph, pw = (-h) % s, (-w) % s
        x = self.normalise(image)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        m = self.model
        feats = m.encoder(x)
        logits = m.segmentation_head(m.decoder(feats))
        return SegmentationOutput(logits=logits[..., :h, :w])


_SIZE = (512, 512)
_TAGS = ("seed004", "segmentation")


def _segmentation_output(num_classes: int = 21, **_: Any) -> OutputSpec:
    return OutputSpec.segmentation(num_classes, size_multiple=1, normalisation=NORMALISE_IMAGENET)


_plus_output = _segmentation_output  # DeepLabV3+ pads inside: any size, like torchvision's


def _tv_factory(builder: Callable[..., nn.Module]) -> Callable[..., TorchvisionDeepLabV3Seg]:
    def make(num_classes: int = 21, weights: str | None = None) -> TorchvisionDeepLabV3Seg:
        return TorchvisionDeepLabV3Seg(builder, num_classes=num_classes, weights=weights)

    make.__doc__ = f"torchvision ``{builder.__name__}`` segmentation network (weights: optional local file)."
    return make


for _name, _builder in (
    ("deeplabv3-resnet50-seg", tvseg.deeplabv3_resnet50),
    ("deeplabv3-resnet101-seg", tvseg.deeplabv3_resnet101),
    ("deeplabv3-mobilenet-v3-large-seg", tvseg.deeplabv3_mobilenet_v3_large),
):
    register_model(_name, output=_segmentation_output, task="segmentation", family="segmentation", default_size=_SIZE, tags=_TAGS)(
        _tv_factory(_builder)
    )


def _plus_factory(default_encoder: str) -> Callable[..., DeepLabV3PlusSeg]:
    def make(encoder: str = default_encoder, num_classes: int = 21, encoder_weights: str | None = None,
             weights: str | None = None) -> DeepLabV3PlusSeg:
        return DeepLabV3PlusSeg(encoder, num_classes, encoder_weights, weights)

    make.__doc__ = f"DeepLabV3+ on ``{default_encoder}`` (smp; any smp encoder via ``encoder=``)."
    return make


register_model("deeplabv3plus-resnet50", output=_plus_output, task="segmentation", family="segmentation", default_size=_SIZE, tags=_TAGS)(
    _plus_factory("resnet50")
)
register_model("deeplabv3plus-resnet101", output=_plus_output, task="segmentation", family="segmentation", default_size=_SIZE, tags=_TAGS)(
    _plus_factory("resnet101")
)
