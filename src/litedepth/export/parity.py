"""Parity of an exported graph with eager PyTorch: the checks that decide whether a file is written.

The exported graph runs with onnxruntime (CPU, :func:`cpu_session`) on seeded random inputs
(:func:`example_input`) and its output is compared with the network's own
(:func:`eager_output`). :func:`compare` gives one :class:`ParityCheck`; it passes when
``max |onnx - eager| <= atol * max(1, max |eager|)``: ``atol`` (default :data:`DEFAULT_ATOL`)
is an absolute tolerance for outputs of order 1 (sigmoid disparity) and a relative one for
outputs in metres that may reach the hundreds. :func:`check_second_size` checks a graph with
dynamic height and width at a second size (:func:`second_size`).

A check whose reference output is (nearly) the same value everywhere proves little: any graph
that returned a constant in that range would pass it. :attr:`ParityCheck.constant_reference`
flags such a check (the eager output's spread ``max - min`` is at most the tolerance, or at most
:data:`CONSTANT_SPREAD` of its magnitude) and :func:`constant_output_warning` says so - a network
with random or briefly trained weights (BatchNorm in eval mode) can give such outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from litedepth.errors import ConfigError
from litedepth.export.errors import ExportError
from litedepth.export.outputs import INPUT_NAME, OUTPUT_NAME, select_output
from litedepth.models.spec import OutputSpec

__all__ = ["CONSTANT_SPREAD", "DEFAULT_ATOL", "ParityCheck", "check_second_size", "compare",
           "constant_output_warning", "cpu_session", "eager_output", "example_input", "onnxruntime_module",
           "run_graph", "second_size"]

DEFAULT_ATOL = 1e-4
#: a reference output whose spread (max - min) is at most this fraction of its magnitude is "constant"
CONSTANT_SPREAD = 1e-3


@dataclass(frozen=True)
class ParityCheck:
    """One comparison of onnxruntime against eager PyTorch.

    Attributes:
        batch, height, width: input shape ``(batch, 3, height, width)`` compared.
        max_abs_diff: ``max |onnx - eager|`` in output units (metres or disparity).
        output_scale: ``max |eager|``, the output's magnitude.
        max_rel_diff: ``max_abs_diff / output_scale``.
        tolerance: the absolute bound applied, ``atol * max(1, output_scale)``.
        output_spread: ``max eager - min eager`` over the compared outputs, in output units
            (``nan`` when not measured).
    """

    batch: int
    height: int
    width: int
    max_abs_diff: float
    output_scale: float
    max_rel_diff: float
    tolerance: float
    output_spread: float = float("nan")

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    @property
    def constant_reference(self) -> bool:
        """The eager output is (nearly) constant: its spread is within the tolerance (any
        constant in its range would pass) or at most :data:`CONSTANT_SPREAD` of its magnitude."""
        return self.output_spread <= max(self.tolerance, CONSTANT_SPREAD * self.output_scale)

    def __str__(self) -> str:
        return (f"{self.batch}x3x{self.height}x{self.width}: max abs diff {self.max_abs_diff:.3e} "
                f"(relative {self.max_rel_diff:.3e}, tolerance {self.tolerance:.1e}) "
                f"{'ok' if self.passed else 'FAILED'}")


def onnxruntime_module() -> Any:
    """The ``onnxruntime`` module (a :class:`ConfigError` saying how to install it if missing)."""
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError("onnxruntime is not installed (pip install onnxruntime)") from exc
    return onnxruntime


def session_options(threads: int | None = None, *, spin: bool = False) -> Any:
    """``onnxruntime.SessionOptions``: warnings only, ``threads`` intra-op threads (default:
    onnxruntime's choice), idle threads spinning only with ``spin``."""
    opts = onnxruntime_module().SessionOptions()
    opts.log_severity_level = 3
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = int(threads)
    return opts


def cpu_session(model: Any, threads: int | None = None) -> Any:
    """onnxruntime CPU session for the parity checks, whose idle threads sleep (spinning threads
    would slow down the eager runs that alternate with it).

    Args:
        model: an ``onnx.ModelProto``, its serialised bytes, or an ``.onnx`` file.
        threads: intra-op threads (default: onnxruntime's choice).
    """
    ort = onnxruntime_module()
    opts = session_options(threads, spin=False)
    if hasattr(model, "SerializeToString"):
        src = model.SerializeToString()
    else:
        src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])


def run_graph(session: Any, x: Tensor, output: str = OUTPUT_NAME) -> np.ndarray:
    """The exported graph's ``output`` for the input ``x`` ``(B, 3, H, W)``."""
    return session.run([output], {INPUT_NAME: x.numpy()})[0]


def eager_output(model: nn.Module, x: Tensor, output: str = "pred") -> np.ndarray:
    """The network's own ``output`` (``"pred"`` or ``"logits"``) for ``x`` ``(B, 3, H, W)``, float32."""
    with torch.no_grad():
        out = model(x)
    pred = select_output(out, output)
    if not isinstance(pred, Tensor):
        raise ExportError(f"{type(model).__name__} returned {type(out).__name__}, which has no {output!r} tensor")
    return pred.detach().float().cpu().numpy()


def example_input(batch: int, height: int, width: int, seed: int) -> Tensor:
    """Seeded random RGB ``(batch, 3, height, width)`` in ``[0, 1]``."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, height, width, generator=gen)


def compare(onnx_out: np.ndarray, eager: np.ndarray, atol: float) -> ParityCheck:
    """One :class:`ParityCheck` of ``onnx_out`` against ``eager`` (both ``(B, C, H, W)``)."""
    b, _, h, w = eager.shape
    if onnx_out.shape != eager.shape:
        raise ExportError(f"onnxruntime output shape {onnx_out.shape} != eager {eager.shape}")
    diff = float(np.max(np.abs(onnx_out.astype(np.float64) - eager))) if eager.size else 0.0
    if not np.isfinite(diff):
        diff = float("inf")
    scale = float(np.max(np.abs(eager))) if eager.size else 0.0
    spread = float(np.max(eager) - np.min(eager)) if eager.size else 0.0
    return ParityCheck(int(b), int(h), int(w), diff, scale, diff / max(scale, 1e-12),
                       atol * max(1.0, scale), spread)


def constant_output_warning(name: str, checks: Sequence[ParityCheck]) -> str | None:
    """One line saying that the parity checks compared constant maps, when every check's eager
    reference is (nearly) constant (:attr:`ParityCheck.constant_reference`); else ``None``."""
    if not checks or not all(c.constant_reference for c in checks):
        return None
    spread = max(c.output_spread for c in checks)
    scale = max(c.output_scale for c in checks)
    return (f"{name}: the eager output is (near-)constant on the random test images (spread max-min "
            f"{spread:.3e} at magnitude {scale:.3e}), so the parity check compares constant maps and proves "
            "little: any graph returning that value would pass. Random or briefly trained weights (BatchNorm "
            "in eval mode) can do this; check the network's predictions on real images")


def second_size(spec: OutputSpec, height: int, width: int) -> tuple[int, int]:
    """A second input size of another aspect ratio that the network accepts: a multiple of its
    spec's size multiple of at least 32 pixels, so that the graph's shapes really change."""
    m = spec.size_multiple * max(1, -(-32 // spec.size_multiple))
    return height + m, width + 2 * m


def check_second_size(session: Any, x: Tensor, eager: np.ndarray,
                      atol: float, output: str = OUTPUT_NAME) -> tuple[str | None, ParityCheck | None]:
    """``(None, check)`` when the dynamic-H/W graph matches eager on ``x`` (another size than
    the export size), else ``(problem, None)``."""
    h, w = x.shape[-2:]
    try:
        got = run_graph(session, x, output)
    except Exception as exc:  # noqa: BLE001
        return f"onnxruntime fails at {h}x{w} ({str(exc).splitlines()[0][:160]})", None
    if tuple(eager.shape[-2:]) != (h, w):
        return (f"the network's own output at {h}x{w} has shape {tuple(eager.shape)}, not the "
                f"input size"), None
    if got.shape != eager.shape:
        return (f"at {h}x{w} it returns shape {tuple(got.shape)} instead of "
                f"{tuple(eager.shape)}"), None
    check = compare(got, eager, atol)
    if not check.passed:
        return f"at {h}x{w} its output differs from eager PyTorch ({check})", None
    return None, check
