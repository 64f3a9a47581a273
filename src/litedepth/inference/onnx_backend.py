"""Run an exported ONNX depth model with onnxruntime, as a drop-in depth network.

:class:`OnnxDepthModel` behaves like a litedepth depth network for
:class:`~litedepth.inference.Predictor`: calling it on an RGB batch ``(B, 3, H, W)`` float
tensor in ``[0, 1]`` returns :class:`~litedepth.models.DepthOutput` whose ``pred`` is the
``(B, 1, H, W)`` float32 tensor computed by onnxruntime (on the input's device), with the
output kind (``"depth"`` in metres or ``"disparity"``) read from the file's metadata written
by :func:`litedepth.export.export_onnx`.

Example:
    >>> from litedepth.inference.onnx_backend import predictor_from_onnx
    >>> predictor = predictor_from_onnx("lite-mono.onnx")  # doctest: +SKIP
    >>> disparity = predictor.infer_image(rgb)  # (H, W) float32  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from litedepth.errors import ConfigError, DataError
from litedepth.models.outputs import DepthOutput

logger = logging.getLogger(__name__)

__all__ = ["OnnxDepthModel", "available_providers", "predictor_from_onnx"]

_META = "litedepth."


def available_providers() -> list[str]:
    """onnxruntime execution providers installed here (e.g. ``["CPUExecutionProvider"]``)."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def _choose_providers(device: str | torch.device | None) -> list[str]:
    available = available_providers()
    want_cuda = device is None or torch.device(device).type == "cuda"
    if want_cuda and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device is not None and torch.device(device).type == "cuda":
        logger.warning("onnxruntime has no CUDAExecutionProvider here (available: %s); using the CPU",
                       ", ".join(available))
    return ["CPUExecutionProvider"]


class OnnxDepthModel(nn.Module):
    """An exported depth network run by onnxruntime, callable like the PyTorch network.

    Args:
        path: ``.onnx`` file written by :func:`litedepth.export.export_onnx` (files from
            elsewhere work too if they map one ``(B, 3, H, W)`` input to a ``(B, 1, H, W)``
            output; their kind then defaults to ``"depth"``).
        device: ``"cpu"`` or ``"cuda"``: picks the CUDA execution provider when onnxruntime
            has it (default: CUDA when available, else CPU). Outputs are returned on the
            input tensor's device either way.
        providers: explicit onnxruntime providers (overrides ``device``).
        threads: onnxruntime intra-op threads (default: onnxruntime's choice).
        spin: let idle onnxruntime threads spin (onnxruntime's default; lowest latency, but
            the spinning threads slow down PyTorch work on the same cores). Off by default.

    Attributes:
        output_kind: ``"depth"`` or ``"disparity"`` (from the metadata).
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"`` from the metadata (``litedepth.precision``),
            ``"unrecorded"`` for files that do not say (made elsewhere or before litedepth
            recorded it).
        input_size: ``(height, width)`` exported at (metadata, else the graph's static shape).
        dynamic_hw: whether the graph accepts other heights and widths.
        metadata: the file's ``metadata_props``.
        providers: the providers the session uses.

    Example:
        >>> net = OnnxDepthModel("lite-mono.onnx")  # doctest: +SKIP
        >>> net(torch.rand(2, 3, 192, 640)).pred.shape  # doctest: +SKIP
        torch.Size([2, 1, 192, 640])
    """

    def __init__(
        self,
        path: str | Path,
        device: str | torch.device | None = None,
        providers: list[str] | None = None,
        threads: int | None = None,
        spin: bool = False,
    ) -> None:
        super().__init__()
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "ONNX file not found")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if not spin:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts,
                                                providers=providers or _choose_providers(device))
        except Exception as exc:  # noqa: BLE001 - corrupt / unsupported file
            raise DataError(self.path, f"onnxruntime cannot load it ({exc})") from exc
        self.providers = list(self.session.get_providers())
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise DataError(self.path, f"expected one (B, 3, H, W) input, got "
                                       f"{[(i.name, i.shape) for i in inputs]}")
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.output_kind = self.metadata.get(f"{_META}output_kind", "depth")
        if self.output_kind not in ("depth", "disparity"):
            raise DataError(self.path, f"unknown output kind {self.output_kind!r} in its metadata")
        self.model_name = self.metadata.get(f"{_META}model", self.path.stem)
        self.precision = self.metadata.get(f"{_META}precision", "unrecorded")
        self.input_size = self._input_size(inputs[0].shape)
        h, w = inputs[0].shape[2:]
        self.dynamic_hw = not (isinstance(h, int) and isinstance(w, int))

    def _input_size(self, shape: list[Any]) -> tuple[int, int]:
        try:
            return int(self.metadata[f"{_META}input_height"]), int(self.metadata[f"{_META}input_width"])
        except (KeyError, ValueError):
            h, w = shape[2:]
            if isinstance(h, int) and isinstance(w, int):
                return h, w
        raise DataError(self.path, "no litedepth input size in its metadata and a dynamic input "
                                   "shape; pass input_size to the Predictor yourself")

    def forward(self, image: Tensor) -> DepthOutput:
        """``image`` ``(B, 3, H, W)`` float in ``[0, 1]`` -> :class:`DepthOutput` (``pred``
        ``(B, 1, H, W)`` float32 on ``image``'s device)."""
        if image.dim() != 4 or image.shape[1] != 3:
            raise DataError(None, f"expected an RGB batch (B, 3, H, W), got shape {tuple(image.shape)}")
        if not self.dynamic_hw and tuple(image.shape[-2:]) != self.input_size:
            raise DataError(self.path, f"this graph has a fixed {self.input_size[0]}x{self.input_size[1]} "
                                       f"(HxW) input, got {image.shape[-2]}x{image.shape[-1]}")
        x = np.ascontiguousarray(image.detach().float().cpu().numpy())
        out = self.session.run([self.output_name], {self.input_name: x})[0]
        pred = torch.from_numpy(np.asarray(out, dtype=np.float32)).to(image.device)
        return DepthOutput(pred=pred, kind=self.output_kind)  # type: ignore[arg-type]

    def run_numpy(self, image: np.ndarray) -> np.ndarray:
        """The raw session call: ``(B, 3, H, W)`` float32 array -> ``(B, 1, H, W)`` array."""
        return self.session.run([self.output_name], {self.input_name: image})[0]

    def extra_repr(self) -> str:
        return (f"path={str(self.path)!r}, kind={self.output_kind!r}, precision={self.precision!r}, "
                f"providers={self.providers}")


def predictor_from_onnx(
    path: str | Path,
    device: str | torch.device | None = None,
    input_size: tuple[int, int] | None = None,
    **session_kw: Any,
):
    """A :class:`~litedepth.inference.Predictor` running an exported ONNX file.

    Args:
        path: ``.onnx`` file from :func:`litedepth.export.export_onnx`.
        device: ``"cpu"`` / ``"cuda"`` (default: CUDA when available); selects the
            onnxruntime provider and where the Predictor puts its tensors.
        input_size: ``(height, width)`` images are resized to (default: the export size).
        session_kw: more :class:`OnnxDepthModel` options (``threads``, ``providers``, ``spin``).

    Returns:
        a Predictor whose ``kind`` comes from the file's metadata.
    """
    from litedepth.inference.predictor import Predictor

    net = OnnxDepthModel(path, device=device, **session_kw)
    if input_size is not None and not net.dynamic_hw and tuple(input_size) != net.input_size:
        raise ConfigError(f"{path}: the graph has a fixed {net.input_size[0]}x{net.input_size[1]} "
                          f"input; input_size {tuple(input_size)} cannot be used")
    return Predictor(net, input_size or net.input_size, device=device, kind=net.output_kind)
