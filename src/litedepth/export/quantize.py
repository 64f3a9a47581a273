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

**Parity** (:class:`QuantParity`): the quantised and the float32 graph run on the parity frames;
differences are reported in the output's own units (``max_abs_diff``, ``mean_abs_diff``:
metres for depth networks, sigmoid disparity for disparity networks) and as depth metrics of
the quantised model against the float32 one after per-frame median scaling (``abs_rel``,
``a1`` = fraction with ``max(q / f, f / q) < 1.25``); disparities become depth with
Monodepth2's ``disp_to_depth(0.1, 100)`` first.

**Nodes kept in float where needed**: when the int8 graph's ``abs_rel`` exceeds
``max_abs_rel``, groups of nodes are excluded from quantisation one stage at a time (cumulative)
until it does not - the input convolution (the first one reading the image), the output head
(the last convolutions or matrix products before the output), the stem (every one reading
the input image), attention products (next to a Softmax), decoder convolutions (node names
containing ``/decoder/``, else every node outside ``/encoder/``), every matrix product - and
:class:`QuantParity` lists what stayed float. If no stage reaches the bound,
:class:`~litedepth.export.onnx.ParityError` is raised and nothing is written.
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

from litedepth.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

__all__ = ["EXCLUSION_STAGES", "PRECISIONS", "QuantParity", "QuantResult", "calibration_frames",
           "precision_parity", "quantize_model"]

PRECISIONS = ("fp32", "fp16", "int8")
MATMUL_MODES = ("dynamic", "static", "float")
#: Monodepth2's disparity-to-depth range used to compare disparity outputs as depth
DISP_MIN_DEPTH, DISP_MAX_DEPTH = 0.1, 100.0
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm")
#: cumulative groups of nodes kept in float, in the order they are tried
EXCLUSION_STAGES = ("input", "head", "stem", "attention", "decoder", "matmul")
_QUANT_OPS = ("Conv", "MatMul")


@dataclass(frozen=True)
class QuantParity:
    """A quantised graph against its float32 original on the same frames.

    Attributes:
        precision: ``"fp16"`` or ``"int8"``.
        frames: number of parity frames.
        max_abs_diff, mean_abs_diff: ``|quantised - fp32|`` over all pixels, in output units
            (metres or disparity, see ``output_kind``).
        output_scale: ``max |fp32|``.
        abs_rel: mean over frames of ``mean |s q - f| / f`` with the quantised depth ``q``
            median-scaled (``s = median(f) / median(q)``) to the float32 depth ``f``.
        a1: mean over frames of the fraction of pixels with ``max(s q / f, f / (s q)) < 1.25``.
        output_kind: ``"depth"`` or ``"disparity"``.
    """

    precision: str
    frames: int
    max_abs_diff: float
    mean_abs_diff: float
    output_scale: float
    abs_rel: float
    a1: float
    output_kind: str

    def __str__(self) -> str:
        unit = "m" if self.output_kind == "depth" else "disparity"
        return (f"{self.precision} vs fp32 on {self.frames} frame(s): max |diff| {self.max_abs_diff:.3e} {unit} "
                f"(mean {self.mean_abs_diff:.3e}, output scale {self.output_scale:.3g}); depth after "
                f"median scaling: abs_rel {self.abs_rel:.4f}, delta<1.25 {self.a1:.4f}")


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


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError("onnxruntime is not installed (pip install onnxruntime)") from exc
    return onnxruntime


# --------------------------------------------------------------------------------- frames
def calibration_frames(folder: str | Path, height: int, width: int, limit: int | None = 64) -> list[np.ndarray]:
    """Images of ``folder`` (sorted, ``.png/.jpg/...``) as network inputs ``(1, 3, H, W)``.

    Each image is read as RGB, scaled to ``[0, 1]`` and resized to ``height x width``
    (bilinear, antialiased, the resize of the training data), like the inputs the exported
    graph receives. At most ``limit`` images are used, spread evenly over the sorted list.

    Raises:
        DataError: the folder is missing or holds no readable image.
    """
    import torch
    import torch.nn.functional as F

    from litedepth.io.images import read_rgb

    root = Path(folder)
    if not root.is_dir():
        raise DataError(root, "calibration folder not found")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(root, f"no calibration image ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    if limit is not None and len(files) > limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, int(limit)).round().astype(int)]
    out = []
    for path in files:
        rgb = torch.from_numpy(read_rgb(path).copy()).permute(2, 0, 1)[None].float().div_(255.0)
        if tuple(rgb.shape[-2:]) != (height, width):
            rgb = F.interpolate(rgb, (height, width), mode="bilinear", align_corners=False, antialias=True)
        out.append(np.ascontiguousarray(rgb.clamp_(0, 1).numpy(), dtype=np.float32))
    return out


# --------------------------------------------------------------------------------- parity
def _as_depth(pred: np.ndarray, kind: str) -> np.ndarray:
    if kind == "disparity":
        min_disp, max_disp = 1.0 / DISP_MAX_DEPTH, 1.0 / DISP_MIN_DEPTH
        return 1.0 / (min_disp + (max_disp - min_disp) * pred.astype(np.float64))
    return pred.astype(np.float64)


def precision_parity(reference: Callable[[np.ndarray], np.ndarray], candidate: Callable[[np.ndarray], np.ndarray],
                     frames: Sequence[np.ndarray], output_kind: str, precision: str) -> QuantParity:
    """Compare ``candidate(x)`` with ``reference(x)`` (``(B, 1, H, W)`` outputs) on ``frames``.

    See :class:`QuantParity` for the figures. Depth outputs must be positive where compared;
    pixels where either depth is not finite and positive are left out.
    """
    if not frames:
        raise ConfigError("the parity check needs at least one frame")
    max_abs, sum_abs, n_px, scale, abs_rels, a1s = 0.0, 0.0, 0, 0.0, [], []
    for x in frames:
        f_out = np.asarray(reference(x), dtype=np.float64)
        q_out = np.asarray(candidate(x), dtype=np.float64)
        diff = np.abs(q_out - f_out)
        max_abs = max(max_abs, float(diff.max()) if diff.size else 0.0)
        sum_abs += float(diff.sum())
        n_px += diff.size
        scale = max(scale, float(np.abs(f_out).max()) if f_out.size else 0.0)
        for f_map, q_map in zip(_as_depth(f_out, output_kind), _as_depth(q_out, output_kind)):
            ok = np.isfinite(f_map) & np.isfinite(q_map) & (f_map > 0) & (q_map > 0)
            if not ok.any():
                abs_rels.append(float("inf"))
                a1s.append(0.0)
                continue
            f, q = f_map[ok], q_map[ok]
            q = q * (np.median(f) / np.median(q))
            abs_rels.append(float(np.mean(np.abs(q - f) / f)))
            a1s.append(float(np.mean(np.maximum(q / f, f / q) < 1.25)))
    return QuantParity(precision, len(frames), max_abs, sum_abs / max(n_px, 1), scale, float(np.mean(abs_rels)),
                       float(np.mean(a1s)), output_kind)


# --------------------------------------------------------------------------------- graph groups
def _graph_maps(graph: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return producer, consumers


def _nearest_quantisable(start: Sequence[str], step: Callable[[Any], list[str]], first: Callable[[str], list[Any]],
                         limit: int = 12) -> list[str]:
    """Names of the first Conv / MatMul nodes met walking the graph from tensors ``start``."""
    found: list[str] = []
    frontier, seen = list(start), set()
    for _ in range(limit):
        nxt: list[str] = []
        for tensor in frontier:
            for node in first(tensor):
                if node.name in seen:
                    continue
                seen.add(node.name)
                if node.op_type in _QUANT_OPS:
                    found.append(node.name)
                else:
                    nxt.extend(step(node))
        if not nxt:
            break
        frontier = nxt
    return found


def exclusion_group(proto: Any, stage: str) -> list[str]:
    """Node names of one of :data:`EXCLUSION_STAGES` in ``proto``'s graph."""
    graph = proto.graph
    producer, consumers = _graph_maps(graph)
    if stage == "head":
        return _nearest_quantisable([o.name for o in graph.output], lambda n: list(n.input),
                                    lambda t: [producer[t]] if t in producer else [])
    if stage in ("stem", "input"):
        found = _nearest_quantisable([i.name for i in graph.input], lambda n: list(n.output),
                                     lambda t: consumers.get(t, []))
        if stage == "stem":
            return found
        order = {n.name: i for i, n in enumerate(graph.node)}
        return sorted(found, key=order.__getitem__)[:1]
    if stage == "attention":
        out: list[str] = []
        for node in graph.node:
            if node.op_type != "Softmax":
                continue
            out += _nearest_quantisable(list(node.input), lambda n: list(n.input),
                                        lambda t: [producer[t]] if t in producer else [], limit=3)
            out += _nearest_quantisable(list(node.output), lambda n: list(n.output),
                                        lambda t: consumers.get(t, []), limit=3)
        return out
    if stage == "decoder":
        quantisable = [n.name for n in graph.node if n.op_type in _QUANT_OPS]
        named = [n for n in quantisable if "/decoder/" in n]
        if named or not any("/encoder/" in n for n in quantisable):
            return named
        return [n for n in quantisable if "/encoder/" not in n]  # scopes lost in export: not the encoder
    if stage == "matmul":
        return [n.name for n in graph.node if n.op_type == "MatMul"]
    raise ConfigError(f"unknown exclusion stage {stage!r}; known: {EXCLUSION_STAGES}")


# --------------------------------------------------------------------------------- graph rewrites
_SQRT2 = 1.4142135623730951


def _constant_value(name: str, constants: dict[str, Any], initializers: dict[str, Any]) -> float | None:
    from onnx import numpy_helper

    if name in constants:
        arr = numpy_helper.to_array(constants[name].attribute[0].t)
    elif name in initializers:
        arr = numpy_helper.to_array(initializers[name])
    else:
        return None
    return float(arr.reshape(-1)[0]) if arr.size == 1 else None


def fuse_gelu(proto: Any) -> tuple[Any, int]:
    """Replace the exported erf GELU ``0.5 * x * (1 + erf(x / sqrt(2)))`` (five nodes) by one
    onnxruntime ``Gelu`` node (``com.microsoft``, the same erf formula).

    onnxruntime fuses this pattern itself in float graphs, but not once quantisation nodes
    surround it; fused first, it stays one kernel in the int8 graph. Returns ``(copy, count)``.
    """
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    producer, consumers = _graph_maps(graph)
    constants = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}
    inits = {t.name: t for t in graph.initializer}

    def value(name: str) -> float | None:
        return _constant_value(name, constants, inits)

    def only(tensor: str, op: str) -> Any | None:
        users = consumers.get(tensor, [])
        return users[0] if len(users) == 1 and users[0].op_type == op else None

    remove, new_nodes = set(), {}
    for erf in [n for n in graph.node if n.op_type == "Erf"]:
        div = producer.get(erf.input[0])
        if div is None or div.op_type != "Div" or value(div.input[1]) is None or abs(value(div.input[1]) - _SQRT2) > 1e-5:
            continue
        x = div.input[0]
        add = only(erf.output[0], "Add")
        if add is None or value(next(i for i in add.input if i != erf.output[0])) != 1.0:
            continue
        mul = only(add.output[0], "Mul")
        if mul is None or x not in mul.input:
            continue
        half = only(mul.output[0], "Mul")
        if half is None or value(next((i for i in half.input if i != mul.output[0]), "")) != 0.5:
            continue
        if len(consumers.get(div.output[0], [])) != 1:
            continue
        remove.update(id(n) for n in (div, erf, add, mul, half))
        new_nodes[id(half)] = onnx.helper.make_node("Gelu", [x], [half.output[0]], name=f"{half.name}_gelu",
                                                    domain="com.microsoft")
    if not new_nodes:
        return model, 0
    kept = []
    for n in graph.node:
        if id(n) in new_nodes:
            kept.append(new_nodes[id(n)])
        elif id(n) not in remove:
            kept.append(n)
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in graph.node for i in n.input}
    unused = [n for n in graph.node if n.op_type == "Constant" and n.output[0] not in used]
    for n in unused:
        graph.node.remove(n)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    # the calibrator only collects ranges of tensors with a known type: declare the new outputs
    typed = {v.name for v in graph.value_info}
    for node in new_nodes.values():
        if node.output[0] not in typed:
            graph.value_info.append(onnx.helper.make_tensor_value_info(node.output[0], onnx.TensorProto.FLOAT, None))
    return model, len(new_nodes)


# --------------------------------------------------------------------------------- conversion
def _session(model: Any, threads: int | None = None) -> Any:
    ort = _ort()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = int(threads)
    src = model.SerializeToString() if hasattr(model, "SerializeToString") else str(model)
    return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])


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


class _Reader:
    """onnxruntime ``CalibrationDataReader`` over in-memory frames."""

    def __init__(self, name: str, frames: Sequence[np.ndarray]) -> None:
        self.name, self.frames, self.i = name, list(frames), 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.i >= len(self.frames):
            return None
        self.i += 1
        return {self.name: self.frames[self.i - 1]}

    def rewind(self) -> None:
        self.i = 0


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
        quantize_static(str(src), str(static_out), _Reader(input_name, frames), quant_format=QuantFormat.QDQ,
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
) -> QuantResult:
    """FP16 or INT8 version of a float32 depth graph, checked against it.

    Args:
        proto: the float32 ``onnx.ModelProto`` (one ``(B, 3, H, W)`` input, one ``(B, 1, H, W)``
            output, weights inside the proto).
        precision: ``"fp16"`` or ``"int8"``.
        output_kind: ``"depth"`` (metres) or ``"disparity"``: how parity converts to depth.
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
    from litedepth.export.onnx import ParityError

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
    reference = _runner(_session(proto, threads))
    if precision == "fp16":
        half = to_fp16(proto)
        parity = precision_parity(reference, _runner(_session(half, threads)), frames, output_kind, precision)
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
            parity = precision_parity(reference, _runner(_session(q, threads)), frames, output_kind, precision)
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
