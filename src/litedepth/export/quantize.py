"""FP16 and INT8 versions of an exported depth network, with their parity to float32.

:func:`quantize_model` turns the float32 graph written by :func:`litedepth.export.onnx.export_onnx`
into one of :data:`PRECISIONS` (``export_onnx(..., precision=...)`` calls it and writes the
metadata; use that):

* ``"int8"``: onnxruntime **static** quantisation in the QDQ format (after fusing the exported
  erf GELU into one ``Gelu`` node, :func:`fuse_gelu`, so that it stays one float kernel
  between quantised convolutions): convolution weights int8
  per output channel, activations uint8 per tensor with ranges calibrated (min/max) on
  calibration frames (:func:`calibration_frames`: real images resized to the input size,
  RGB in ``[0, 1]``), the U8S8 scheme onnxruntime recommends for x86 CPUs (VNNI). Matrix
  products (the pointwise MLPs of Lite-Mono) are quantised *dynamically* by default
  (int8 weights, activation ranges taken per call: onnxruntime's fused
  ``DynamicQuantizeMatMul``, which measured faster than static QDQ matrix products here);
  ``matmul="static"`` calibrates them too, ``"float"`` leaves them in float32.
* ``"fp16"``: every float32 weight and operation in float16, input and output kept float32
  (``onnxruntime.transformers.float16``). Meant for GPUs and accelerators; onnxruntime's CPU
  provider runs few float16 kernels and inserts casts.

**Parity** (:class:`QuantParity`, :mod:`litedepth.export.quant_parity`): the quantised and the
float32 graph run on the parity frames; differences are reported in the output's own units and
as depth metrics of the quantised model against the float32 one after median scaling.

**Nodes kept in float where needed** (:mod:`litedepth.export.quant_graph`): when the int8
graph's ``abs_rel`` exceeds ``max_abs_rel``, groups of nodes are excluded from quantisation one
stage at a time (cumulative) until it does not - the input convolution (the first one reading the image), the output head
(the last convolutions or matrix products before the output), the stem (every one reading
the input image), attention products (next to a Softmax), decoder convolutions (node names
containing ``/decoder/``, else every node outside ``/encoder/``), every matrix product - and
:class:`QuantParity` lists what stayed float. If no stage reaches the bound,
:class:`~litedepth.export.errors.ParityError` is raised and nothing is written.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError
from litedepth.export.calibration import IMAGE_SUFFIXES, FrameReader, calibration_frames
from litedepth.export.errors import ParityError
from litedepth.export.parity import cpu_session
from litedepth.export.quant_graph import EXCLUSION_STAGES, exclusion_group, fuse_gelu
from litedepth.export.quant_parity import DISP_MAX_DEPTH, DISP_MIN_DEPTH, QuantParity, precision_parity

logger = logging.getLogger(__name__)

__all__ = ["DISP_MAX_DEPTH", "DISP_MIN_DEPTH", "EXCLUSION_STAGES", "IMAGE_SUFFIXES", "MATMUL_MODES", "PRECISIONS",
           "QuantParity", "QuantResult", "calibration_frames", "exclusion_group", "fuse_gelu", "precision_parity",
           "quantize_model", "to_fp16"]

PRECISIONS = ("fp32", "fp16", "int8")
MATMUL_MODES = ("dynamic", "static", "float")


@dataclass
class QuantResult:
    """What :func:`quantize_model` produced: the model, its parity and how it was made."""

    proto: Any
    precision: str
    parity: QuantParity
    method: str
    excluded_nodes: list[str] = field(default_factory=list)
    excluded_stages: list[str] = field(default_factory=list)
    calibration_frames: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "parity": asdict(self.parity), "method": self.method,
                "excluded_nodes": list(self.excluded_nodes), "excluded_stages": list(self.excluded_stages),
                "calibration_frames": self.calibration_frames}


def _runner(session: Any) -> Callable[[np.ndarray], np.ndarray]:
    name_in, name_out = session.get_inputs()[0].name, session.get_outputs()[0].name
    return lambda x: session.run([name_out], {name_in: x})[0]


def to_fp16(proto: Any) -> Any:
    """Float16 weights and operations, float32 input and output."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with _quiet():
        return convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """onnxruntime's quantisation tools log warnings on the root logger; keep them at debug."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _int8(src: Path, dst: Path, frames: Sequence[np.ndarray], excluded: list[str], matmul: str,
          per_channel: bool, cache: Path) -> Any:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    static_ops = ["Conv"] + (["MatMul"] if matmul == "static" else [])
    input_name = onnx.load(str(src), load_external_data=False).graph.input[0].name
    kw: dict[str, Any] = {}
    if "calibration_cache_path" in inspect.signature(quantize_static).parameters:
        kw["calibration_cache_path"] = str(cache)  # ranges computed once for every stage
    static_out = dst.with_name(dst.stem + ".static.onnx")
    with _quiet():
        quantize_static(str(src), str(static_out), FrameReader(input_name, frames), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=static_ops, per_channel=per_channel, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=list(excluded),
                        calibrate_method=CalibrationMethod.MinMax, **kw)
        if matmul == "dynamic":
            quantize_dynamic(str(static_out), str(dst), op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8,
                             nodes_to_exclude=list(excluded))
        else:
            static_out.replace(dst)
    return onnx.load(str(dst))


def _method(per_channel: bool, matmul: str) -> str:
    mm = {"dynamic": "MatMul dynamic int8 (weights int8, activation range per call)",
          "static": "MatMul static QDQ like Conv", "float": "MatMul float32"}[matmul]
    return (f"onnxruntime static QDQ: Conv weights int8 {'per channel' if per_channel else 'per tensor'}, "
            f"activations uint8 per tensor, min/max calibration; {mm}")


def quantize_model(
    proto: Any,
    precision: str,
    output_kind: str,
    calibration: Sequence[np.ndarray] | None = None,
    parity_frames: Sequence[np.ndarray] | None = None,
    *,
    max_abs_rel: float | None = 0.01,
    matmul: str = "dynamic",
    per_channel: bool = True,
    exclude: Sequence[str] = (),
    threads: int | None = None,
    value_unit: str = "",
) -> QuantResult:
    """FP16 or INT8 version of a float32 depth graph, checked against it.

    Args:
        proto: the float32 ``onnx.ModelProto`` (one ``(B, 3, H, W)`` input, one ``(B, 1, H, W)``
            output, weights inside the proto).
        precision: ``"fp16"`` or ``"int8"``.
        output_kind: ``"depth"`` or ``"disparity"``: how parity converts to depth.
        value_unit: the output values' unit label for the parity report
            (:attr:`OutputSpec.value_unit`: ``"m"`` only for metric depth).
        calibration: int8 only: ``(1, 3, H, W)`` float32 frames in ``[0, 1]`` whose activation
            ranges set the quantisation (see :func:`calibration_frames`).
        parity_frames: frames of the parity check (default: the calibration frames; fp16
            without calibration frames: required).
        max_abs_rel: bound on the parity ``abs_rel``: int8 keeps more nodes in float (see the
            module docstring) until it is met; :class:`ParityError` when it cannot be, or when
            fp16 exceeds it. ``None`` = no bound.
        matmul: ``"dynamic"`` (default), ``"static"`` or ``"float"`` (see the module docstring).
        per_channel: per-output-channel weight scales (int8).
        exclude: node names always kept in float (int8).
        threads: onnxruntime threads of the parity sessions.

    Returns:
        :class:`QuantResult`.

    Raises:
        ConfigError: unknown precision / matmul mode, int8 without calibration frames.
        ParityError: the parity bound is not met.
    """
    if precision not in ("fp16", "int8"):
        raise ConfigError(f"precision must be 'fp16' or 'int8' here (fp32 is the export itself), got {precision!r}")
    if matmul not in MATMUL_MODES:
        raise ConfigError(f"matmul must be one of {MATMUL_MODES}, got {matmul!r}")
    if precision == "int8" and not calibration:
        raise ConfigError("int8 quantisation needs calibration frames (litedepth export --calibration DIR: a folder "
                          "of images like the ones the network will see)")
    frames = list(parity_frames or calibration or [])
    if not frames:
        raise ConfigError("the fp16 parity check needs frames (give parity_frames or calibration)")
    reference = _runner(cpu_session(proto, threads))
    if precision == "fp16":
        half = to_fp16(proto)
        parity = precision_parity(reference, _runner(cpu_session(half, threads)), frames, output_kind, precision,
                                  value_unit)
        logger.info("fp16 parity: %s", parity)
        if max_abs_rel is not None and not parity.abs_rel <= max_abs_rel:
            raise ParityError(f"fp16 graph differs from float32: {parity} (bound abs_rel <= {max_abs_rel})")
        return QuantResult(half, precision, parity, "float16 weights and operations, float32 input/output")

    import onnx

    excluded: list[str] = list(exclude)
    stages_used: list[str] = []
    best: QuantResult | None = None
    fused, n_gelu = fuse_gelu(proto)
    logger.debug("int8: %d GELU pattern(s) fused before quantisation", n_gelu)
    with tempfile.TemporaryDirectory(prefix="litedepth-quant-") as tmp:
        src = Path(tmp) / "fp32.onnx"
        onnx.save_model(fused, str(src))
        for stage in (None, *EXCLUSION_STAGES):
            if stage is not None:
                new = [n for n in exclusion_group(proto, stage) if n not in excluded]
                if not new:
                    continue
                excluded += new
                stages_used.append(stage)
                logger.info("int8: keeping the %s in float (%d node(s)) and quantising again", stage, len(new))
            q = _int8(src, Path(tmp) / "int8.onnx", calibration, excluded,
                      "float" if "matmul" in stages_used else matmul, per_channel, Path(tmp) / "calibration.cache")
            parity = precision_parity(reference, _runner(cpu_session(q, threads)), frames, output_kind, precision,
                                  value_unit)
            logger.info("int8 parity (%s in float): %s", ", ".join(stages_used) or "nothing", parity)
            result = QuantResult(q, precision, parity, _method(per_channel, matmul if "matmul" not in stages_used
                                                                 else "float"),
                                 list(excluded), list(stages_used), len(calibration or []))
            if best is None or parity.abs_rel < best.parity.abs_rel:
                best = result
            if max_abs_rel is None or parity.abs_rel <= max_abs_rel:
                return result
    assert best is not None
    raise ParityError(f"int8 graph differs from float32 beyond the bound even with {', '.join(stages_used)} in "
                      f"float: best {best.parity} (bound abs_rel <= {max_abs_rel}); no file written")
