"""DeepLabV3 depth regressors (seed 000) built on torchvision's segmentation models.

The classifier's last convolution (256 -> num_classes) is replaced by ``Conv2d(256, 1, 1)``
followed by ``Softplus`` so the output is a strictly positive depth in metres; the map is
bilinearly resized to the input resolution. Inputs are RGB in ``[0, 1]``; ImageNet
normalisation happens inside ``forward``.

Weights are never downloaded. ``weights`` may name a local file holding either

* a full torchvision DeepLabV3 checkpoint (keys ``backbone.*``, ``classifier.*``, e.g.
  ``deeplabv3_resnet50_coco-cd0a2569.pth``): everything but the final class convolution and
  the auxiliary classifier is loaded;
* an ImageNet backbone checkpoint (torchvision ``resnet50-0676ba61.pth`` style keys
  ``conv1.weight``, ``layer1.*`` or MobileNetV3 ``features.*``): loaded into the backbone;
* a litedepth checkpoint of this very network (keys as in ``state_dict()``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import segmentation as tvseg

from litedepth.errors import CheckpointError
from litedepth.models.outputs import DepthOutput
from litedepth.models.registry import register_model
from litedepth.models.spec import NORMALISE_IMAGENET, OutputSpec, weights_from_file
from litedepth.utils.torch_files import load_torch_file

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetNormalise(nn.Module):
    """``(image - mean) / std`` with the ImageNet statistics torchvision / timm encoders expect.

    Shapes: ``(B, 3, H, W)`` RGB in ``[0, 1]`` -> normalised ``(B, 3, H, W)``. The statistics are
    non-persistent buffers: they follow the module's device and dtype but are not in its state dict.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: Tensor) -> Tensor:
        return (image - self.mean) / self.std


class DeepLabV3Depth(nn.Module):
    """DeepLabV3 with a one-channel Softplus depth head.

    Args:
        builder: torchvision constructor, e.g. ``torchvision.models.segmentation.deeplabv3_resnet50``.
        weights: optional local weights file (see module docstring).
        init_depth: if given, the head's bias starts so that the initial output is about
            this depth in metres (e.g. the dataset's median depth); default: torchvision init.
        dropout: probability of the ASPP projection dropout (torchvision: 0.5). Dropout
            before BatchNorm shifts the variance between train and eval mode; lower it
            for tiny datasets and overfitting checks.
        bn_momentum: override the BatchNorm momentum of every layer (torchvision's
            MobileNetV3 uses 0.01, so its running statistics need hundreds of steps to
            follow the weights; 0.1 suits short runs).

    Shapes:
        input ``(B, 3, H, W)`` RGB in ``[0, 1]`` -> :class:`DepthOutput` with
        ``pred`` ``(B, 1, H, W)`` depth in metres (``kind="depth"``), strictly positive.

    Example:
        >>> net = DeepLabV3Depth(tvseg.deeplabv3_mobilenet_v3_large)  # doctest: +SKIP
        >>> net(torch.rand(1, 3, 64, 128)).pred.shape  # doctest: +SKIP
        torch.Size([1, 1, 64, 128])
    """

    output_kind = "depth"
    size_multiple = 1  # the logits are resized to the input, any size runs
    official_files: tuple[str, ...] = ()
    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    def __init__(
        self,
        builder: Callable[..., nn.Module],
        weights: str | Path | None = None,
        init_depth: float | None = None,
        dropout: float | None = None,
        bn_momentum: float | None = None,
    ) -> None:
        super().__init__()
        net = builder(weights=None, weights_backbone=None, aux_loss=False)
        net.classifier[-1] = nn.Conv2d(256, 1, kernel_size=1)
        if dropout is not None:
            if not 0.0 <= dropout < 1.0:
                raise ValueError(f"dropout must be in [0, 1), got {dropout}")
            for m in net.classifier.modules():
                if isinstance(m, nn.Dropout):
                    m.p = dropout
        if bn_momentum is not None:
            for m in net.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.momentum = bn_momentum
        if init_depth is not None:
            if init_depth <= 0:
                raise ValueError(f"init_depth must be > 0 metres, got {init_depth}")
            # Softplus(b) = init_depth at initialisation: starts training near the data's scale.
            with torch.no_grad():
                net.classifier[-1].bias.fill_(math.log(math.expm1(init_depth)))
        self.backbone = net.backbone
        self.classifier = net.classifier
        self.activation = nn.Softplus()
        self.normalise = ImageNetNormalise()
        if weights is not None:
            self.load_weights_file(weights)

    def forward(self, image: Tensor) -> DepthOutput:
        """Predict depth in metres for an RGB batch ``(B, 3, H, W)`` in ``[0, 1]``."""
        h, w = image.shape[-2:]
        feats = self.backbone(self.normalise(image))["out"]
        logits = self.classifier(feats)
        logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        return DepthOutput(pred=self.activation(logits), kind="depth")

    def load_weights_file(self, path: str | Path) -> None:
        """Load a local weights file into this network (see the module docstring)."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: weights file not found")
        sd = load_torch_file(path, "weights file")
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
        if not isinstance(sd, dict) or not sd:
            raise CheckpointError(f"{path}: not a state dict")
        own = self.state_dict()
        if len(sd) == len(own) and all(k in own and own[k].shape == v.shape for k, v in sd.items()):
            target = sd
        elif any(k.startswith("backbone.") for k in sd):
            target = {
                k: v
                for k, v in sd.items()
                if k.startswith(("backbone.", "classifier."))
                and not k.startswith("classifier.4.")
            }
        else:
            prefix_stripped = {(k[len("features."):] if k.startswith("features.") else k): v for k, v in sd.items()}
            target = {f"backbone.{k}": v for k, v in prefix_stripped.items() if f"backbone.{k}" in own}
        if not target:
            raise CheckpointError(
                f"{path}: no key matches this network (first keys in file: {list(sd)[:3]})"
            )
        bad = [k for k, v in target.items() if k not in own or own[k].shape != v.shape]
        if bad:
            raise CheckpointError(f"{path}: keys missing or of another shape in this network: {bad[:5]}")
        missing = self.load_state_dict(target, strict=False).missing_keys
        self.weights_info = weights_from_file(path, missing)  # the depth head untrained unless loaded
        log.info("loaded %d tensors from %s (%d left at initialisation)", len(target), path, len(missing))


def _factory(builder: Callable[..., nn.Module]) -> Callable[..., DeepLabV3Depth]:
    def make(
        weights: str | None = None,
        init_depth: float | None = None,
        dropout: float | None = None,
        bn_momentum: float | None = None,
    ) -> DeepLabV3Depth:
        return DeepLabV3Depth(builder, weights=weights, init_depth=init_depth, dropout=dropout, bn_momentum=bn_momentum)

    make.__doc__ = f"DeepLabV3 depth regressor on ``{builder.__name__}`` (weights: optional local file)."
    return make


_SIZE = (256, 512)  # seed 000 trains at 512x256 (w x h)
_TAGS = ("supervised",)
#: softplus depth trained on metric ground truth; a task trained with a fully scale-invariant
#: loss (SILog λ = 1) records a relative spec in its checkpoints instead
DEPTH_OUTPUT = OutputSpec.metric_depth(size_multiple=1, normalisation=NORMALISE_IMAGENET)  # output resized to any input
register_model("deeplabv3-resnet50", output=DEPTH_OUTPUT, family="deeplabv3", default_size=_SIZE, tags=_TAGS)(
    _factory(tvseg.deeplabv3_resnet50)
)
register_model("deeplabv3-resnet101", output=DEPTH_OUTPUT, family="deeplabv3", default_size=_SIZE, tags=_TAGS)(
    _factory(tvseg.deeplabv3_resnet101)
)
register_model("deeplabv3-mobilenet-v3-large", output=DEPTH_OUTPUT, family="deeplabv3", default_size=_SIZE, tags=_TAGS)(
    _factory(tvseg.deeplabv3_mobilenet_v3_large)
)
