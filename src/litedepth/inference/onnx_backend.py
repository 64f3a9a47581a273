"""Run an exported ONNX depth model with onnxruntime, as a drop-in depth network.

:class:`OnnxDepthModel` behaves like a litedepth depth network for
:class:`~litedepth.inference.Predictor`: calling it on an RGB batch ``(B, 3, H, W)`` float
tensor in ``[0, 1]`` returns :class:`~litedepth.models.DepthOutput` whose ``pred`` is the
``(B, 1, H, W)`` float32 tensor computed by onnxruntime (on the input's device). What the
output means (:class:`~litedepth.models.spec.OutputSpec`) is read from the file's
``litedepth.output_spec`` metadata written by :func:`litedepth.export.export_onnx`; a file
without it must be given a spec explicitly (files of older litedepth versions, which recorded
only ``"depth"`` or ``"disparity"``, are read conservatively: depth as *relative* depth, and
disparity as a sigmoid disparity whose ``disp_to_depth`` range is unknown).

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
from litedepth.models.segmentation_outputs import SegmentationOutput
from litedepth.models.spec import OutputSpec

logger = logging.getLogger(__name__)

__all__ = ["OnnxDepthModel", "available_providers", "load_onnx_model", "predictor_from_onnx", "spec_from_metadata"]

_META = "litedepth."


def spec_from_metadata(metadata: dict[str, str], where: str | Path) -> OutputSpec | None:
    """The :class:`OutputSpec` an ONNX file records (``None`` when it records none).

    ``litedepth.output_spec`` (JSON) is used when present. Files of older litedepth versions
    recorded only ``litedepth.output_kind``: ``"depth"`` is read as *relative* depth (whether
    it was metric was not recorded, and metres must never be claimed without evidence) and
    ``"disparity"`` as a sigmoid disparity without its range.

    Raises:
        DataError: a malformed spec.
    """
    text = metadata.get(f"{_META}output_spec")
    if text is not None:
        try:
            return OutputSpec.from_json(text, f"{where} (metadata litedepth.output_spec)")
        except ConfigError as exc:
            raise DataError(where, str(exc)) from None
    legacy = metadata.get(f"{_META}output_kind")
    if legacy == "depth":
        return OutputSpec.relative_depth(note="older litedepth file: whether the depth is metric was not recorded")
    if legacy == "disparity":
        return OutputSpec("sigmoid-disparity", "relative", note="older litedepth file: disp_to_depth range not recorded")
    if legacy is not None:
        raise DataError(where, f"unknown output kind {legacy!r} in its metadata")
    return None


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
            output, given ``spec``).
        device: ``"cpu"`` or ``"cuda"``: picks the CUDA execution provider when onnxruntime
            has it (default: CUDA when available, else CPU). Outputs are returned on the
            input tensor's device either way.
        providers: explicit onnxruntime providers (overrides ``device``).
        spec: the output spec of a file that records none (e.g. exported elsewhere); a spec
            that contradicts the recorded one is an error.
        threads: onnxruntime intra-op threads (default: onnxruntime's choice).
        spin: let idle onnxruntime threads spin (onnxruntime's default; lowest latency, but
            the spinning threads slow down PyTorch work on the same cores). Off by default.

    Attributes:
        output_spec: what the output means (:func:`spec_from_metadata`, or the ``spec``
            argument for files that record none).
        output_kind: ``"depth"`` or ``"disparity"`` (legacy two-word form of the spec).
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
        spec: OutputSpec | None = None,
    ) -> None:
        super().__init__()
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "ONNX file not found")
        from litedepth.export.parity import session_options

        opts = session_options(threads, spin=spin)
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
        recorded = spec_from_metadata(self.metadata, self.path)
        if recorded is not None and spec is not None and recorded != spec:
            raise ConfigError(f"{self.path}: records output {recorded.describe()}; the given "
                              f"{spec.describe()} contradicts it")
        if recorded is None and spec is None:
            raise DataError(self.path, "does not record what its output means (no litedepth.output_spec "
                                       "metadata; not exported by litedepth export?): give the output kind "
                                       "explicitly (--output-kind, e.g. depth:metric or sigmoid-disparity:0.1:100)")
        self.output_spec: OutputSpec = recorded or spec  # type: ignore[assignment]
        self.output_kind = "depth" if self.output_spec.kind == "depth" else "disparity"
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

    def forward(self, image: Tensor) -> DepthOutput | SegmentationOutput:
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
        if self.output_spec.kind == "segmentation":
            return SegmentationOutput(logits=pred)
        return DepthOutput(pred=pred, kind=self.output_kind)  # type: ignore[arg-type]

    def run_numpy(self, image: np.ndarray) -> np.ndarray:
        """The raw session call: ``(B, 3, H, W)`` float32 array -> ``(B, 1, H, W)`` array."""
        return self.session.run([self.output_name], {self.input_name: image})[0]

    def extra_repr(self) -> str:
        return (f"path={str(self.path)!r}, output={self.output_spec.kind!r}, precision={self.precision!r}, "
                f"providers={self.providers}")


def load_onnx_model(path: str | Path, device: str | torch.device | None = None, spec: OutputSpec | None = None,
                    **session_kw: Any):
    """A :class:`~litedepth.inference.loading.LoadedModel` for an exported ONNX file.

    The network name, output spec, input size and whether its weights were trained come from
    the file's metadata.
    """
    from litedepth.inference.loading import LoadedModel, WeightsInfo, sha256_of

    net = OnnxDepthModel(path, device=device, spec=spec, **session_kw)
    recorded = net.metadata.get(f"{_META}trained", "unknown").lower()
    if recorded == "unknown":
        logger.info("%s does not record whether its weights were trained", net.path)
    weights = WeightsInfo(recorded != "false", "onnx", str(net.path), sha256_of(net.path))
    encoding = net.metadata.get(f"{_META}training_depth_encoding") or None
    task = "segmentation" if net.output_spec.kind == "segmentation" else "depth"
    return LoadedModel(net.eval(), net.model_name, net.output_spec, net.input_size, weights, task,
                       None, encoding, {})


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
        a Predictor whose output spec comes from the file's metadata.
    """
    from litedepth.inference.predictor import Predictor

    loaded = load_onnx_model(path, device=device, **session_kw)
    net = loaded.net
    if input_size is not None and not net.dynamic_hw and tuple(input_size) != net.input_size:
        raise ConfigError(f"{path}: the graph has a fixed {net.input_size[0]}x{net.input_size[1]} "
                          f"input; input_size {tuple(input_size)} cannot be used")
    return Predictor(loaded, input_size=input_size, device=device)
