"""ONNX export of depth networks, with a parity check against eager PyTorch at export time.

:func:`export_onnx` wraps a depth network so that the graph has one input and one output:

* input ``image``: ``(B, 3, H, W)`` float32 RGB in ``[0, 1]`` (the network normalises inside);
* output ``pred``: ``(B, 1, H, W)`` float32, the finest-scale :attr:`DepthOutput.pred` (of a
  multi-task network: its depth head), whose meaning — the network's
  :class:`~litedepth.models.spec.OutputSpec` — is stored in the file's metadata; or, with
  ``output="logits"``, ``logits`` ``(B, C, H, W)``: the class scores of a segmentation or
  multi-task network (one exporter for both, selected by ``output``).

The batch axis is always dynamic. Height and width are dynamic on request
(``dynamic_hw=True``): the exported graph is then run at a second size and compared with
eager PyTorch; a graph that turns out to be specialised to the export size (a shape baked in
as a constant) is re-exported with a fixed ``H x W`` and a warning says so.

Exporter: the TorchScript-based ``torch.onnx.export(..., dynamo=False)``. The torch.export
based exporter (the default since PyTorch 2.9) needs the ``onnxscript`` package, which is
not a litedepth dependency; the tracer-based exporter handles every registered depth network
(Lite-Mono's XCA attention, the hybrid's spatial-reduction attention, DeepLabV3, Monodepth2)
with dynamic batch, height and width, and its output matches eager PyTorch on CPU far within
the tolerance below (measured max relative differences 1e-7 to 2e-5).

Parity (:mod:`litedepth.export.parity`): the exported file is run with onnxruntime (CPU) on
seeded random inputs at batch 1 and 2 (and at a second size when ``H x W`` is dynamic). The
check fails, and no file is written, when ``max |onnx - eager| > atol * max(1, max |eager|)``: ``atol`` (default 1e-4)
is an absolute tolerance for outputs of order 1 (sigmoid disparity) and a relative one for
outputs in metres that may reach the hundreds.

Metadata: :mod:`litedepth.export.metadata` lists the ``litedepth.*`` keys written and
reads them back (:func:`read_metadata`).

Precision (``precision="fp16" | "int8"``, see :mod:`litedepth.export.quantize`): the float32
graph is exported and parity-checked against eager PyTorch as above, then converted; the
converted graph is checked against the float32 one (figures in the metadata) and written
instead of it.

The file is self-contained. Only a network whose protobuf would exceed
:data:`EXTERNAL_DATA_THRESHOLD` (protobuf's 2 GiB limit; no registered network comes close)
gets its tensors in ``<file>.data`` beside it.

Example:
    >>> from litedepth.models import create_model
    >>> from litedepth.export import export_onnx
    >>> net = create_model("lite-mono-tiny")
    >>> result = export_onnx(net, "lite-mono-tiny.onnx", 192, 640, dynamic_hw=True)  # doctest: +SKIP
    >>> result.parity[0].max_abs_diff < 1e-4  # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from litedepth import __version__
from litedepth.errors import ConfigError, LitedepthError, OutputError
from litedepth.export.errors import ExportError, ParityError
from litedepth.export.metadata import (
    META_PREFIX,
    NORMALISATION_NOTE,
    OUTPUT_NOTE,
    PRECISION_KEY,
    build_metadata,
    read_metadata,
    set_metadata,
)
from litedepth.export.outputs import INPUT_NAME, OUTPUT_NAME, OUTPUTS, PredOnly, export_spec, select_output
from litedepth.export.parity import (
    DEFAULT_ATOL,
    ParityCheck,
    check_second_size,
    compare,
    constant_output_warning,
    cpu_session,
    eager_output,
    example_input,
    run_graph,
    second_size,
)
from litedepth.models.spec import OutputSpec, WeightsInfo
from litedepth.utils.atomic import atomic_write_bytes, make_dirs

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_OPSET",
    "INPUT_NAME",
    "NORMALISATION_NOTE",
    "OUTPUTS",
    "OUTPUT_NAME",
    "OUTPUT_NOTE",
    "META_PREFIX",
    "PRECISION_KEY",
    "ExportError",
    "OnnxExportResult",
    "ParityCheck",
    "ParityError",
    "PredOnly",
    "export_onnx",
    "select_output",
    "read_metadata",
]

DEFAULT_OPSET = 17
#: serialised protobuf size above which tensors go to ``<file>.data`` (protobuf's limit is 2 GiB)
EXTERNAL_DATA_THRESHOLD = 1_800_000_000


@dataclass
class OnnxExportResult:
    """What :func:`export_onnx` wrote.

    Attributes:
        path: the ``.onnx`` file.
        model_name: registered name (or class name) stored in the metadata.
        output_kind: legacy two-word kind (``"depth"``, ``"disparity"`` or ``"segmentation"``).
        input_size: ``(height, width)`` exported at.
        opset: ONNX opset version.
        dynamic_hw: whether height and width are dynamic in the written graph.
        dynamic_hw_requested: whether they were asked for (``dynamic_hw`` is False with this
            True when the graph turned out shape-specialised).
        parity: the checks run (batch 1 and 2 at ``input_size``, plus the second size).
        metadata: the ``metadata_props`` written.
        file_bytes: size of the ``.onnx`` file (plus its external data file, if any).
        external_data: path of the external tensor file, ``None`` for a self-contained file.
        exporter: which ``torch.onnx.export`` path was used.
        output_spec: what the exported output means (also in ``metadata``).
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"``.
        quantization: for fp16 / int8, ``QuantResult.to_dict()`` (parity to float32, nodes in float).
        warnings: what the checks could not vouch for, one line each (e.g. a parity check on a
            (near-)constant output, :func:`~litedepth.export.parity.constant_output_warning`).
    """

    path: Path
    model_name: str
    output_kind: str
    input_size: tuple[int, int]
    opset: int
    dynamic_hw: bool
    dynamic_hw_requested: bool
    parity: list[ParityCheck] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    file_bytes: int = 0
    external_data: Path | None = None
    exporter: str = "torchscript (torch.onnx.export dynamo=False)"
    output_spec: OutputSpec | None = None
    precision: str = "fp32"
    quantization: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def max_abs_diff(self) -> float:
        return max((p.max_abs_diff for p in self.parity), default=0.0)

    @property
    def max_rel_diff(self) -> float:
        return max((p.max_rel_diff for p in self.parity), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["external_data"] = None if self.external_data is None else str(self.external_data)
        d["input_size"] = list(self.input_size)
        d["max_abs_diff"] = self.max_abs_diff
        d["max_rel_diff"] = self.max_rel_diff
        return d


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Send the TorchScript exporter's warnings (tracer, deprecation, folding) to debug logs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[str] = set()
    for w in caught:
        msg = str(w.message).splitlines()[0][:200]
        if msg not in seen:
            seen.add(msg)
            logger.debug("exporter warning: %s", msg)


def _export_proto(wrapper: nn.Module, example: Tensor, opset: int, dynamic_hw: bool, output: str = OUTPUT_NAME):
    """Run the TorchScript exporter into a temporary folder and load the ModelProto."""
    import onnx

    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_hw else {0: "batch"}
    with tempfile.TemporaryDirectory(prefix="litedepth-onnx-") as tmp:
        tmp_path = Path(tmp) / "model.onnx"
        try:
            with _quiet_exporter():
                torch.onnx.export(
                    wrapper, (example,), str(tmp_path), dynamo=False, opset_version=opset,
                    input_names=[INPUT_NAME], output_names=[output],
                    dynamic_axes={INPUT_NAME: axes, output: dict(axes)},
                    do_constant_folding=True, export_params=True,
                )
        except Exception as exc:  # noqa: BLE001 - any exporter failure is reported the same way
            raise ExportError(f"torch.onnx.export failed for {type(wrapper.net).__name__} "
                              f"(opset {opset}): {exc}") from exc
        return onnx.load(str(tmp_path), load_external_data=True)


def export_onnx(
    model: nn.Module,
    path: str | Path,
    height: int,
    width: int,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_hw: bool = False,
    model_name: str | None = None,
    output_kind: str | None = None,
    atol: float = DEFAULT_ATOL,
    seed: int = 0,
    output: str = "pred",
    spec: OutputSpec | None = None,
    weights: WeightsInfo | None = None,
    training_depth_encoding: str | float | None = None,
    metadata: dict[str, str] | None = None,
    precision: str = "fp32",
    calibration: Sequence[np.ndarray] | None = None,
    parity_frames: Sequence[np.ndarray] | None = None,
    max_abs_rel: float | None = 0.01,
    quant_options: dict[str, Any] | None = None,
) -> OnnxExportResult:
    """Export a depth network to a single ONNX file and check it against eager PyTorch.

    The network runs on the CPU for the export and the checks (it is moved back to its
    device and training mode afterwards), so that the parity is not blurred by TF32 GPU
    convolutions.

    Args:
        model: a depth network: ``forward`` takes RGB ``(B, 3, H, W)`` in ``[0, 1]`` and
            returns :class:`DepthOutput` (or the ``(B, 1, H, W)`` tensor itself).
        path: destination ``.onnx`` file (written atomically, parent folders created).
        height, width: export input size in pixels (must suit the network, e.g. multiples
            of 32 for Monodepth2).
        opset: ONNX opset version.
        dynamic_hw: make height and width dynamic too (verified at a second size; falls
            back to a fixed size with a warning when the graph is shape-specialised).
        model_name: name stored in the metadata (default ``model.model_name`` or the class).
        output_kind: deprecated two-word kind; must agree with the spec when given.
        atol: parity tolerance, applied as ``atol * max(1, max |eager|)``.
        seed: seed of the random test images.
        output: ``"pred"`` (the depth map) or ``"logits"`` (class scores of a segmentation /
            multi-task network; for a multi-task network only the encoder and semantic
            decoder end up in the graph).
        spec: what the exported output means (default: the network's ``output_spec``; for
            ``logits`` a segmentation spec with the logits' class count). Stored as
            ``litedepth.output_spec``.
        weights: where the weights came from (default: the network's ``weights_info``);
            ``litedepth.trained`` records whether they are trained.
        training_depth_encoding: encoding of the training data's depth files, if known.
        metadata: extra ``metadata_props`` entries, stored as ``litedepth.<key>`` (e.g. what a
            relative output means).
        precision: ``"fp32"`` (default), ``"fp16"`` or ``"int8"`` (see
            :func:`litedepth.export.quantize.quantize_model`).
        calibration: int8: calibration frames ``(1, 3, H, W)`` float32 in ``[0, 1]`` at the
            export size (:func:`litedepth.export.quantize.calibration_frames`).
        parity_frames: frames of the fp16 / int8 parity check (default: the calibration
            frames, else the seeded random test images).
        max_abs_rel: bound on the fp16 / int8 parity ``abs_rel`` against float32.
        quant_options: more :func:`~litedepth.export.quantize.quantize_model` options
            (``matmul``, ``per_channel``, ``exclude``).

    Returns:
        :class:`OnnxExportResult` (path, parity checks, metadata, whether H/W are dynamic).

    Raises:
        ConfigError: bad size or opset; a network that applies its own image processor.
        ExportError: the network does not run at this size or cannot be exported.
        ParityError: onnxruntime and eager PyTorch disagree beyond the tolerance (no file
            is written).
    """
    height, width = int(height), int(width)
    if output not in OUTPUTS:
        raise ConfigError(f"unknown export output {output!r}; choose one of {', '.join(OUTPUTS)}")
    if getattr(model, "own_preprocessing", False):
        raise ConfigError(f"{getattr(model, 'model_name', type(model).__name__)} runs its own image processor inside "
                          "forward (a transformers model), which ONNX export does not cover; distil it into a small "
                          "network (`litedepth distill`) and export that, or run it with PyTorch")
    if output == "logits" and hasattr(model, "segmentation_only"):  # multi-task: deploy encoder + seg decoder
        declared = getattr(model, "output_spec", None)
        model_name = model_name or getattr(model, "model_name", None)
        weights = weights or getattr(model, "weights_info", None)
        model = model.segmentation_only()
        if isinstance(declared, OutputSpec) and declared.num_classes:
            spec = spec or OutputSpec.segmentation(declared.num_classes, size_multiple=declared.size_multiple,
                                                   normalisation=declared.normalisation)
    if height <= 0 or width <= 0:
        raise ConfigError(f"export height and width must be positive, got {height}x{width}")
    if not 7 <= int(opset) <= 23:
        raise ConfigError(f"ONNX opset must be between 7 and 23, got {opset}")
    if precision not in ("fp32", "fp16", "int8"):
        raise ConfigError(f"precision must be fp32, fp16 or int8, got {precision!r}")
    if precision == "int8" and not calibration:
        raise ConfigError("--precision int8 needs calibration images (--calibration DIR): static quantisation "
                          "sets activation ranges from frames like the ones the network will see")
    path = Path(path)
    name = model_name or getattr(model, "model_name", None) or type(model).__name__

    # each submodule's own mode (a wrapper such as a multi-task network's segmentation_only()
    # shares modules with a network in eval mode while itself claiming training mode)
    modes = [(m, m.training) for m in model.modules()]
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    model.eval().cpu()
    try:
        x1 = example_input(1, height, width, seed)
        try:
            with torch.no_grad():
                out = model(x1)
        except LitedepthError:
            raise
        except Exception as exc:  # noqa: BLE001 - the network's own shape checks
            raise ExportError(f"{name} does not run at {height}x{width} (HxW): {exc}") from exc
        pred = select_output(out, output)
        channels = pred.shape[1] if isinstance(pred, Tensor) and pred.dim() == 4 and output == "logits" else 1
        if not isinstance(pred, Tensor) or tuple(pred.shape) != (1, channels, height, width):
            shape = tuple(pred.shape) if isinstance(pred, Tensor) else type(out).__name__
            raise ExportError(f"{name}: expected a (1, {'C' if output == 'logits' else 1}, {height}, {width}) "
                              f"{output!r} output, got {shape}")
        spec = export_spec(model, name, output, spec, channels)
        kind = "segmentation" if spec.kind == "segmentation" else ("depth" if spec.kind == "depth" else "disparity")
        if output_kind is not None and output_kind != kind:
            raise ConfigError(f"output_kind={output_kind!r} contradicts {name}'s output {spec.describe()}")
        weights = weights or getattr(model, "weights_info", None)

        # Eager references first: onnxruntime's threads must not compete with these runs.
        ref1 = pred.detach().float().numpy()
        x2 = example_input(2, height, width, seed + 2)
        ref2 = eager_output(model, x2, output)
        second: tuple[Tensor, np.ndarray] | None = None
        problem: str | None = None
        if dynamic_hw:
            h2, w2 = second_size(spec, height, width)
            xs = example_input(1, h2, w2, seed + 1)
            try:
                second = (xs, eager_output(model, xs, output))
            except Exception as exc:  # noqa: BLE001 - the network's own shape checks
                problem = f"the network does not run at the check size {h2}x{w2} ({str(exc)[:160]})"

        wrapper = PredOnly(model, output).eval()  # eval: the exporter restores the wrapper's mode
        make_dirs(path.parent)
        try:
            stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        except OSError as exc:
            raise OutputError(path, exc) from exc
        try:
            proto = _export_proto(wrapper, x1, opset, dynamic_hw, output)
            session, staged = _open_checked(proto, path, stage, name)
            use_dynamic = dynamic_hw
            parity: list[ParityCheck] = []
            if dynamic_hw:
                if problem is None and second is not None:
                    problem, check = check_second_size(session, *second, atol, output)
                    if check is not None:
                        parity.append(check)
                if problem is not None:
                    logger.warning(
                        "%s: dynamic height/width requested, but %s; the graph is treated as "
                        "specialised to the export size and exported with a fixed %dx%d (HxW) "
                        "input instead (batch stays dynamic)", name, problem, height, width)
                    use_dynamic = False
                    parity = []
                    del session
                    proto = _export_proto(wrapper, x1, opset, False, output)
                    session, staged = _open_checked(proto, path, stage, name)
            parity[:0] = [compare(run_graph(session, x1, output), ref1, atol),
                          compare(run_graph(session, x2, output), ref2, atol)]
            del session
            for check in parity:
                logger.debug("ONNX parity %s", check)
            logger.info("ONNX parity vs eager PyTorch: max abs diff %.3e, relative %.3e over %s (tolerance "
                        "%.0e x max(1, output scale))", max(c.max_abs_diff for c in parity),
                        max(c.max_rel_diff for c in parity),
                        ", ".join(f"{c.batch}x3x{c.height}x{c.width}" for c in parity), atol)
            failed = [c for c in parity if not c.passed]
            if failed:
                raise ParityError(f"{path}: ONNX output of {name} differs from eager PyTorch: "
                                  + "; ".join(str(c) for c in failed) + " (no file written)")
            notes = [note for note in [constant_output_warning(name, parity)] if note]
            for note in notes:
                logger.warning("%s", note)
            quant = None
            if precision != "fp32":
                from litedepth.export.quantize import quantize_model

                if output != OUTPUT_NAME:
                    raise ExportError(f"{name}: only the depth output is quantised (output={output!r})")
                if staged is not None:
                    raise ExportError(f"{name}: fp16 / int8 conversion of a model stored with external data "
                                      "is not supported")
                frames = list(parity_frames or calibration or [x1[:1].numpy(), x2[:1].numpy()])
                quant = quantize_model(proto, precision, str(kind), calibration, frames, max_abs_rel=max_abs_rel,
                                       value_unit=spec.value_unit if spec is not None else "",
                                       **(quant_options or {}))
                proto = quant.proto
            meta = build_metadata(name, kind, height, width, use_dynamic, parity, opset, precision, quant, spec=spec,
                             output=output, weights=weights, training_depth_encoding=training_depth_encoding,
                             extra=metadata)
            data_path = _commit(proto, staged, path, meta, name, kind)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    finally:
        model.to(device)
        for m, training in modes:
            m.training = training

    size = path.stat().st_size + (data_path.stat().st_size if data_path else 0)
    result = OnnxExportResult(path, str(name), str(kind), (height, width), int(opset), use_dynamic,
                              dynamic_hw, parity, meta, size, data_path, output_spec=spec, precision=precision,
                              quantization=None if quant is None else quant.to_dict(), warnings=notes)
    logger.info("wrote %s (%s, %.1f MB, %s H/W, max abs diff %.2e)", path, name, size / 1e6,
                "dynamic" if use_dynamic else "fixed", result.max_abs_diff)
    return result


def _open_checked(proto: Any, path: Path, stage: Path, name: str) -> tuple[Any, Path | None]:
    """Run ``onnx.checker`` and open a CPU session on ``proto``.

    Models whose protobuf would pass :data:`EXTERNAL_DATA_THRESHOLD` are first saved into
    ``stage`` as ``<path.name>`` + ``<path.name>.data`` (the proto then refers to that file)
    and that staged path is returned; small models stay in memory (``None``).
    """
    import onnx

    staged: Path | None = None
    if proto.ByteSize() > EXTERNAL_DATA_THRESHOLD:
        staged = stage / path.name
        onnx.save_model(proto, str(staged), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=f"{path.name}.data", size_threshold=0)
    try:
        onnx.checker.check_model(str(staged) if staged else proto, full_check=True)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"{path}: onnx.checker rejected the exported {name}: {exc}") from exc
    return cpu_session(staged if staged else proto, torch.get_num_threads()), staged


def _commit(proto: Any, staged: Path | None, path: Path, meta: dict[str, str], name: str,
            kind: str) -> Path | None:
    """Write the verified model with ``meta`` to ``path``; returns the external data file."""
    import onnx

    if staged is not None:  # the graph refers to <name>.data: rewrite the graph file only
        proto = onnx.load(str(staged), load_external_data=False)
    set_metadata(proto, meta)
    proto.doc_string = f"litedepth {name}: {meta.get(f'{META_PREFIX}output_spec', kind)} from RGB; {NORMALISATION_NOTE}"
    proto.producer_name = "litedepth"
    proto.producer_version = __version__
    if staged is None:
        atomic_write_bytes(path, proto.SerializeToString())
        stale = path.with_name(f"{path.name}.data")
        if stale.exists():
            logger.warning("%s: left in place; the new %s does not use it", stale, path.name)
        return None
    staged.write_bytes(proto.SerializeToString())
    data = path.with_name(f"{path.name}.data")
    os.replace(staged.with_name(f"{path.name}.data"), data)
    os.replace(staged, path)
    return data
