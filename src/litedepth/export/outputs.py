"""What an exported graph maps: its input ``image``, its one output and what that output means.

The graph has one input, ``image`` ``(B, 3, H, W)`` float32 RGB in ``[0, 1]`` (the network
normalises inside), and one output (:data:`OUTPUTS`): ``pred`` ``(B, 1, H, W)``, the
finest-scale depth map, or ``logits`` ``(B, C, H, W)``, class scores. :class:`PredOnly` wraps a
network so that its ``forward`` returns that one tensor; :func:`export_spec` is the
:class:`~litedepth.models.spec.OutputSpec` the file records for it.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from litedepth.errors import ConfigError
from litedepth.models.outputs import DepthOutput
from litedepth.models.segmentation_outputs import SegmentationOutput
from litedepth.models.spec import OutputSpec

__all__ = ["INPUT_NAME", "OUTPUTS", "OUTPUT_NAME", "PredOnly", "export_spec", "select_output"]

INPUT_NAME = "image"
OUTPUT_NAME = "pred"
#: what :func:`~litedepth.export.onnx.export_onnx` can export: the depth map or the class logits
OUTPUTS = ("pred", "logits")


def select_output(out: Any, output: str = "pred") -> Any:
    """The tensor ``output`` (``"pred"`` or ``"logits"``) of a network's return value.

    ``pred``: :attr:`DepthOutput.pred`, a multi-task network's depth head, or a plain tensor;
    ``logits``: :attr:`SegmentationOutput.logits` or a plain tensor.
    """
    if isinstance(out, Tensor):
        return out
    if output == "logits":
        return out.logits if isinstance(out, SegmentationOutput) else None
    if isinstance(out, SegmentationOutput):
        return out.depth.pred if out.depth is not None else None
    return out.pred if isinstance(out, DepthOutput) else None


class PredOnly(nn.Module):
    """Wraps a network so that ``forward`` returns one tensor: ``pred`` ``(B, 1, H, W)``, or
    with ``output="logits"`` the class scores ``(B, C, H, W)``."""

    def __init__(self, net: nn.Module, output: str = "pred") -> None:
        super().__init__()
        self.net = net
        self.output = output

    def forward(self, image: Tensor) -> Tensor:
        return select_output(self.net(image), self.output)


def export_spec(model: nn.Module, name: str, output: str, spec: OutputSpec | None, channels: int) -> OutputSpec:
    """The spec to record: given, else the network's (its depth head for ``pred``), else for
    ``logits`` a segmentation spec of ``channels`` classes."""
    declared = getattr(model, "output_spec", None)
    if output == "logits":
        base = spec or (declared if isinstance(declared, OutputSpec) and declared.kind == "segmentation" else None)
        if base is None:
            multiple = declared.size_multiple if isinstance(declared, OutputSpec) else 1
            norm = declared.normalisation if isinstance(declared, OutputSpec) else "none"
            base = OutputSpec.segmentation(channels, size_multiple=multiple, normalisation=norm)
        if base.kind != "segmentation" or base.num_classes != channels:
            raise ConfigError(f"{name}: the logits have {channels} channels; spec {base.describe()} does not match")
        return base
    if spec is None:
        if not isinstance(declared, OutputSpec):
            raise ConfigError(f"{name} does not declare what its output means (no output_spec); pass spec=")
        spec = declared
    if not spec.is_depth:
        raise ConfigError(f"{name}: a {spec.kind} network has no depth map to export as 'pred'; use output='logits'")
    return spec
