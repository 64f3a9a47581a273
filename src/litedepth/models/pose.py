"""Monodepth2's PoseNet: a separate ResNet-18 on two stacked frames and a small conv head.

* Encoder: :class:`litedepth.models.encoders.resnet.ResnetEncoder` with a 6-channel ``conv1``
  (ImageNet weights, when given, have ``conv1`` repeated twice and halved). Input
  normalised inside as ``(x - 0.45) / 0.225``.
* :class:`PoseDecoder`: 1x1 conv 512 -> 256 + ReLU, two 3x3 convs 256 -> 256 + ReLU, 1x1 conv
  256 -> ``6 * num_frames_to_predict``, mean over space, times 0.01, split per frame into
  axis-angle ``(B, F, 1, 3)`` and translation ``(B, F, 1, 3)``.

Feed the two frames in temporal order, earlier first. For a target frame 0 and a source
frame ``-1`` Monodepth2 feeds ``(-1, 0)`` and inverts the resulting transform; for source
``+1`` it feeds ``(0, +1)`` and uses it as is (see
:func:`litedepth.geometry.pose_utils.transformation_from_parameters`). The official release
builds the head with ``num_frames_to_predict=2`` but uses only prediction 0; the default keeps
that shape so the published ``pose.pth`` loads unchanged.

Parameters: 12,500,492 (encoder 11,185,920, decoder 1,314,572). The published 13.013M
(13,013,492) also counts the official encoder's unused ImageNet classifier (1000 x 512 + 1000
= 513,000), which this encoder does not keep.

Example:
    >>> import torch
    >>> from litedepth.models import create_model
    >>> net = create_model("posenet-resnet18").eval()
    >>> out = net(torch.rand(2, 6, 64, 192))  # frames (t-1, t) stacked along channels
    >>> out.axisangle.shape, out.translation.shape
    (torch.Size([2, 2, 1, 3]), torch.Size([2, 2, 1, 3]))
"""

from __future__ import annotations

from collections.abc import Sequence
import torch
from torch import Tensor, nn

from litedepth.errors import ConfigError, DataError
from litedepth.models.encoders.resnet import ResnetEncoder
from litedepth.models.outputs import PoseOutput
from litedepth.models.monodepth2 import load_official_weights as load_official_weights  # noqa: PLC0414
from litedepth.models.registry import register_model
from litedepth.models.spec import NORMALISE_MONODEPTH2, OutputSpec

__all__ = ["PoseDecoder", "PoseNet", "PoseOutput", "load_official_weights"]

# Monodepth2 scales the head's raw output by 0.01 so that an untrained network predicts
# near-identity motion (small rotations and translations).
POSE_OUTPUT_SCALE = 0.01


class PoseDecoder(nn.Module):
    """Monodepth2's pose head.

    Args:
        in_channels: channels of the encoder's coarsest feature (512 for ResNet-18).
        num_frames_to_predict: ``F``, poses predicted per forward pass.
        hidden: head width (256).

    Shapes:
        ``(B, in_channels, h, w)`` -> :class:`PoseOutput` with ``(B, F, 1, 3)`` fields.
    """

    def __init__(self, in_channels: int = 512, num_frames_to_predict: int = 2, hidden: int = 256) -> None:
        super().__init__()
        if num_frames_to_predict < 1:
            raise ConfigError(f"num_frames_to_predict must be >= 1, got {num_frames_to_predict}")
        self.num_frames_to_predict = num_frames_to_predict
        self.squeeze = nn.Conv2d(in_channels, hidden, kernel_size=1)
        self.convs = nn.ModuleList(nn.Conv2d(hidden, hidden, kernel_size=3, padding=1) for _ in range(2))
        self.out = nn.Conv2d(hidden, 6 * num_frames_to_predict, kernel_size=1)
        self.act = nn.ReLU()

    def forward(self, feature: Tensor) -> PoseOutput:
        x = self.act(self.squeeze(feature))
        for conv in self.convs:
            x = self.act(conv(x))
        raw = self.out(x).mean(dim=(2, 3))  # (B, 6F)
        params = POSE_OUTPUT_SCALE * raw.view(-1, self.num_frames_to_predict, 1, 6)
        return PoseOutput(axisangle=params[..., :3], translation=params[..., 3:])

    def official_key_map(self) -> dict[str, str]:
        """``{our key: official pose.pth key}`` (the official head is one ``ModuleList`` ``net``)."""
        names = ["squeeze", "convs.0", "convs.1", "out"]
        return {f"{n}.{p}": f"net.{i}.{p}" for i, n in enumerate(names) for p in ("weight", "bias")}


class PoseNet(nn.Module):
    """Separate-encoder PoseNet of Monodepth2.

    Args:
        num_input_frames: frames stacked along channels at the input (2 = pairs).
        num_frames_to_predict: poses per pass (official checkpoints: 2, of which 0 is used).
        pretrained_path: optional local torchvision ImageNet ResNet-18 state dict.

    Shapes:
        input ``(B, 3 * num_input_frames, H, W)``: RGB frames in ``[0, 1]`` concatenated in
        temporal order -> :class:`PoseOutput`, fields ``(B, num_frames_to_predict, 1, 3)``.
    """

    official_files = ("pose_encoder.pth", "pose.pth")

    def __init__(
        self,
        num_input_frames: int = 2,
        num_frames_to_predict: int = 2,
        pretrained_path: str | None = None,
        depth: int = 18,
    ) -> None:
        super().__init__()
        self.num_input_frames = num_input_frames
        self.encoder = ResnetEncoder(depth, num_input_images=num_input_frames, pretrained_path=pretrained_path)
        self.decoder = PoseDecoder(self.encoder.feature_info[-1]["num_chs"], num_frames_to_predict)
        self.input_mean = self.encoder.input_mean
        self.input_std = self.encoder.input_std

    def forward(self, frames: Tensor | Sequence[Tensor]) -> PoseOutput:
        """Pose from frames stacked ``(B, 3 * n, H, W)`` (or a sequence of ``(B, 3, H, W)``)."""
        if not isinstance(frames, Tensor):
            frames = torch.cat(list(frames), dim=1)
        expected = 3 * self.num_input_frames
        if frames.dim() != 4 or frames.shape[1] != expected:
            raise DataError(
                None, f"PoseNet expects {self.num_input_frames} RGB frames stacked as (B, {expected}, H, W), "
                f"got shape {tuple(frames.shape)}"
            )
        return self.decoder(self.encoder(frames)[-1])

    def official_key_map(self) -> dict[str, tuple[str, str]]:
        """``{our state-dict key: (official file, official key)}``."""
        mapping = {f"encoder.{k}": ("pose_encoder.pth", f"encoder.{k}") for k in self.encoder.state_dict()}
        for ours, theirs in self.decoder.official_key_map().items():
            mapping[f"decoder.{ours}"] = ("pose.pth", theirs)
        return mapping

    def official_ignored_tensors(self) -> dict[str, dict[str, Tensor]]:
        """The official encoder's unused classifier (zeros; ignored when reading)."""
        return {"pose_encoder.pth": {f"encoder.{k}": v for k, v in self.encoder.official_extra_tensors().items()}}


@register_model("posenet-resnet18", output=OutputSpec.pose(normalisation=NORMALISE_MONODEPTH2), task="pose", default_size=(192, 640), tags=("self-supervised",))
def posenet_resnet18(
    pretrained_path: str | None = None, num_input_frames: int = 2, num_frames_to_predict: int = 2
) -> PoseNet:
    """Monodepth2 PoseNet on a 6-channel ResNet-18 (``pretrained_path``: local ImageNet weights)."""
    return PoseNet(num_input_frames, num_frames_to_predict, pretrained_path=pretrained_path)
