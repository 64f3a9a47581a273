"""The ResNet-18/50 feature encoder shared by Monodepth2, its PoseNet and the hybrid network.

* :class:`FiveLevelEncoder` - what the ResNet-style encoders share: Monodepth2's input
  normalisation ``(x - 0.45) / 0.225``, the ResNet stem (``conv1``, ``bn1``, ``relu``,
  ``maxpool``) and five features at ``H/2 ... H/32`` described by ``feature_info``
  (:data:`EXPECTED_REDUCTIONS`, what :class:`~litedepth.models.decoders.depth.DepthDecoder` needs).
* :class:`ResnetEncoder` - ResNet-18/50 trunk (no classifier); :class:`HybridEncoder
  <litedepth.models.hybrid.HybridEncoder>` keeps its stem, ``layer1`` and ``layer2``.
* :func:`load_imagenet_resnet_state` / :func:`load_strict` - local torchvision ImageNet
  weights, loaded strictly with errors naming the file and the keys.

State-dict keys are torchvision's (``conv1.weight``, ``layer4.1.bn2.running_var`` ...), which
are also the keys of the official Monodepth2 ``encoder.pth`` under ``encoder.``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models import resnet

from litedepth.errors import CheckpointError, ConfigError
from litedepth.utils.torch_files import load_torch_file

__all__ = [
    "EXPECTED_REDUCTIONS", "FiveLevelEncoder", "MONODEPTH2_MEAN", "MONODEPTH2_STD", "ResnetEncoder",
    "load_imagenet_resnet_state", "load_strict",
]

log = logging.getLogger(__name__)

# Monodepth2 normalises with a single scalar mean / std for all channels.
MONODEPTH2_MEAN = 0.45
MONODEPTH2_STD = 0.225
#: Reductions of the five features; the depth decoder's x2 upsampling must meet these skips.
EXPECTED_REDUCTIONS = (2, 4, 8, 16, 32)
# BatchNorm's step counter: absent from files written before PyTorch 0.4.1 and from
# torchvision's ImageNet files, so never required when loading.
_OPTIONAL_SUFFIX = ".num_batches_tracked"

_RESNETS = {
    18: (resnet.BasicBlock, (2, 2, 2, 2)),
    50: (resnet.Bottleneck, (3, 4, 6, 3)),
}


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


def load_strict(module: nn.Module, sd: Mapping[str, Tensor], source: str) -> None:
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


class FiveLevelEncoder(nn.Module):
    """Base of the ResNet-style encoders: ResNet stem, then four stages named in ``feature_info``.

    A subclass sets ``conv1``, ``bn1``, ``relu``, ``maxpool`` (the stem, whose output is
    feature 0 at ``H/2``) and four stage modules, then calls :meth:`_describe_features` with
    the five widths and the stage names; :meth:`forward` runs the stages in that order.

    Shapes:
        input ``(B, C, H, W)``, images in ``[0, 1]`` -> five features at ``H/2, H/4, H/8,
        H/16, H/32`` (the stem's ``maxpool`` gives ``H/4`` before the first stage).
    """

    input_mean = (MONODEPTH2_MEAN,) * 3
    input_std = (MONODEPTH2_STD,) * 3
    feature_info: list[dict[str, Any]]

    def _describe_features(self, widths: Sequence[int], stages: Sequence[str]) -> None:
        """Set ``feature_info``: five ``{"num_chs", "reduction", "module"}``, finest first."""
        names = ["relu", *stages]
        self.feature_info = [
            {"num_chs": int(c), "reduction": r, "module": n} for c, r, n in zip(widths, EXPECTED_REDUCTIONS, names)
        ]

    def forward(self, image: Tensor) -> list[Tensor]:
        """Five feature maps, finest (``H/2``) first, for ``image`` in ``[0, 1]``."""
        x = (image - MONODEPTH2_MEAN) / MONODEPTH2_STD
        features = [self.relu(self.bn1(self.conv1(x)))]
        x = self.maxpool(features[0])
        for info in self.feature_info[1:]:
            x = self.get_submodule(info["module"])(x)
            features.append(x)
        return features


class ResnetEncoder(FiveLevelEncoder):
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
        self._describe_features([64] + [64 * 2**i * block.expansion for i in range(4)],
                                ["layer1", "layer2", "layer3", "layer4"])
        if pretrained_path is not None:
            sd = load_imagenet_resnet_state(pretrained_path, num_input_images)
            load_strict(self, sd, str(pretrained_path))
            log.info("loaded ImageNet ResNet-%d weights from %s", depth, pretrained_path)

    def official_extra_tensors(self) -> dict[str, Tensor]:
        """Tensors the official wrapper stores but this encoder lacks.

        The official ``ResnetEncoder`` keeps torchvision's unused ImageNet classifier, so its
        ``encoder.pth`` / ``pose_encoder.pth`` hold ``fc.weight`` ``(1000, C)`` and
        ``fc.bias`` ``(1000,)``; the official scripts load them strictly. They never affect
        the output, so they are written as zeros and ignored on loading.
        """
        c = self.feature_info[-1]["num_chs"]
        return {"fc.weight": torch.zeros(1000, c), "fc.bias": torch.zeros(1000)}
