"""Monodepth2 depth network (Godard et al., "Digging Into Self-Supervised Monocular Depth
Estimation", ICCV 2019): a torchvision ResNet encoder and a five-stage U-Net decoder that
predicts sigmoid disparity at four scales.

* :class:`~litedepth.models.encoders.resnet.ResnetEncoder` - ResNet-18/50 trunk (no
  classifier), input RGB in ``[0, 1]`` normalised inside as ``(x - 0.45) / 0.225``; publishes
  ``feature_info``. Shared with :mod:`~litedepth.models.pose` and :mod:`~litedepth.models.hybrid`.
* :class:`~litedepth.models.decoders.depth.DepthDecoder` - reads the encoder channels from
  ``feature_info``; sigmoid disparity at scales 0-3.
* :class:`Monodepth2Net` - encoder + decoder returning :class:`DepthOutput`.

Both parts live in :mod:`litedepth.models.encoders` / :mod:`litedepth.models.decoders` and stay
importable from here.

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

from torch import Tensor, nn

from litedepth.errors import ConfigError, DataError
from litedepth.models.contract import FeatureEncoder, missing_members
# the shared encoder and decoder lived here; they stay importable from this module
from litedepth.models.decoders.depth import DECODER_CHANNELS, NUM_SCALES, ConvELU, DepthDecoder, ReflConv3x3
from litedepth.models.encoders.resnet import (
    EXPECTED_REDUCTIONS,
    MONODEPTH2_MEAN,
    MONODEPTH2_STD,
    ResnetEncoder,
    load_imagenet_resnet_state,
)
from litedepth.models.outputs import DepthOutput
from litedepth.models.registry import register_model
from litedepth.models.spec import NORMALISE_MONODEPTH2, OutputSpec

__all__ = [
    "MONODEPTH2_OUTPUT",
    "Monodepth2Net",
    "load_official_state_dicts",
    "load_official_weights",
    "read_official_state_dicts",
    "save_official_weights",
    "to_official_state_dicts",
    # re-exported from litedepth.models.encoders.resnet / litedepth.models.decoders.depth
    "DECODER_CHANNELS",
    "EXPECTED_REDUCTIONS",
    "MONODEPTH2_MEAN",
    "MONODEPTH2_STD",
    "NUM_SCALES",
    "ConvELU",
    "DepthDecoder",
    "ReflConv3x3",
    "ResnetEncoder",
    "load_imagenet_resnet_state",
]


# --------------------------------------------------------------------------------------
# Whole network
# --------------------------------------------------------------------------------------
class Monodepth2Net(nn.Module):
    """Encoder + :class:`DepthDecoder` predicting multi-scale sigmoid disparity.

    Args:
        encoder: a :class:`~litedepth.models.contract.FeatureEncoder` mapping RGB in ``[0, 1]``
            to five features with a Monodepth2-compatible ``feature_info`` (:class:`ResnetEncoder`,
            :class:`litedepth.models.hybrid.HybridEncoder`); it normalises its own input
            (``input_mean`` / ``input_std``). ``ConfigError`` for a module lacking these.

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
        missing = missing_members(encoder, FeatureEncoder)
        if missing:
            raise ConfigError(f"Monodepth2Net: the encoder {type(encoder).__qualname__} lacks {missing} "
                              "(FeatureEncoder in litedepth.models.contract)")
        self.encoder = encoder
        self.decoder = DepthDecoder(encoder.feature_info)
        self.input_mean = encoder.input_mean
        self.input_std = encoder.input_std

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
