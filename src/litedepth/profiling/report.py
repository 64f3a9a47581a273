"""Profile a depth network: parameters, MACs in both scopes, latency sweep, peak memory.

:func:`profile_model` measures one network at one input size:

* parameters: total and per top-level child (``encoder`` / ``decoder``, ``backbone`` /
  ``classifier`` ...), counted by :func:`~litedepth.profiling.flops.count_params`;
* multiply-accumulates for one image (batch 1), in both scopes of
  :func:`~litedepth.profiling.flops.count_macs`, labelled :data:`MAC_LABELS`;
* latency (mean / p50 / p90 ms per batch) for every batch size, after warm-up, see
  :func:`~litedepth.profiling.latency.measure_latency`, and peak memory with the method
  named (:class:`~litedepth.profiling.latency.PeakMemory`);
* optionally the same latency for the network exported to ONNX and run by onnxruntime,
  with the ratio ``eager p50 / onnxruntime p50`` (> 1: onnxruntime is faster).

:func:`profile_table` gives parameters and both MAC counts for several registered networks
(for documentation tables); :func:`size_table_markdown` formats it.

Example:
    >>> from litedepth.models import create_model
    >>> from litedepth.profiling.report import profile_model
    >>> result = profile_model(create_model("lite-mono-tiny"), 192, 640, batch_sizes=(1, 8))  # doctest: +SKIP
    >>> result.latency[0].latency.p50_ms  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from litedepth.errors import ConfigError
from litedepth.profiling.flops import MODE_DESCRIPTIONS, count_macs, count_params
from litedepth.profiling.latency import (
    MEMORY_METHODS,
    LatencyStats,
    PeakMemory,
    machine_info,
    machine_load,
    measure_latency,
    timing_warnings,
)
from litedepth.utils.atomic import atomic_open

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "MAC_LABELS",
    "LatencyRow",
    "ProfileResult",
    "SizeRow",
    "profile_model",
    "profile_table",
    "render_profile",
    "size_table_markdown",
    "write_profile_json",
]

BACKENDS = ("eager", "onnxruntime")

MAC_LABELS: dict[str, str] = {
    "conv_linear": "MACs (conv+linear, as published tables / thop count them)",
    "full": "MACs (full, incl. attention matmuls, torch FlopCounterMode / 2)",
}


@dataclass
class LatencyRow:
    """Latency of one backend at one batch size.

    Attributes:
        backend: ``"eager"`` (PyTorch) or ``"onnxruntime"``.
        batch_size: images per call.
        latency: :class:`LatencyStats`, milliseconds per call (the whole batch).
        per_image_ms: ``p50_ms / batch_size``.
        images_per_s: ``batch_size / p50`` in images per second.
        peak_memory_bytes: peak memory of the run (``None`` when not measured).
        memory_method: key of :data:`~litedepth.profiling.latency.MEMORY_METHODS`.
        provider: ``"cpu"`` / ``"cuda:0"`` for eager, the onnxruntime execution provider.
        eager_over_ort: for onnxruntime rows, eager p50 / this p50 at the same batch size.
    """

    backend: str
    batch_size: int
    latency: LatencyStats
    peak_memory_bytes: int | None
    memory_method: str
    provider: str
    eager_over_ort: float | None = None

    @property
    def per_image_ms(self) -> float:
        return self.latency.p50_ms / self.batch_size

    @property
    def images_per_s(self) -> float:
        return self.batch_size / (self.latency.p50_ms / 1e3) if self.latency.p50_ms > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "provider": self.provider,
            "batch_size": self.batch_size,
            **self.latency.to_dict(),
            "per_image_ms": self.per_image_ms,
            "images_per_s": self.images_per_s,
            "peak_memory_bytes": self.peak_memory_bytes,
            "memory_method": self.memory_method,
            "eager_over_ort": self.eager_over_ort,
        }


@dataclass
class ProfileResult:
    """Everything :func:`profile_model` measured.

    Attributes:
        model_name: registered name (or class name).
        input_size: ``(height, width)`` in pixels.
        device: torch device of the eager runs.
        threads: PyTorch intra-op threads (and onnxruntime's) during the runs.
        params_total: parameter elements of the whole network.
        params_by_child: parameters per top-level child module (empty for a flat module).
        macs_conv_linear: MACs of Conv/Linear modules for one image (``"conv_linear"``).
        macs_full: FlopCounterMode FLOPs / 2 for one image (``"full"``).
        latency: one :class:`LatencyRow` per backend and batch size.
        machine: :func:`~litedepth.profiling.latency.machine_info`.
        onnx: for the onnxruntime backend: the file, its parity and H/W mode.
        notes: caveats worth printing with the numbers.
        machine_load: :func:`~litedepth.profiling.latency.machine_load` read before the
            timing (``None`` where unavailable).
        warnings: reasons not to trust the latencies (a loaded machine, widely spread calls),
            from :func:`~litedepth.profiling.latency.timing_warnings`; empty when none.
        reference: a published figure to compare with, e.g. ``{"source": "seed 001 ...",
            "gmacs": 5.032}`` (GMACs; the seed tables call them FLOPs, as thop does).
    """

    model_name: str
    input_size: tuple[int, int]
    device: str
    threads: int
    params_total: int
    params_by_child: dict[str, int]
    macs_conv_linear: int
    macs_full: int
    latency: list[LatencyRow] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    onnx: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    reference: dict[str, Any] | None = None
    machine_load: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def reference_comparison(self) -> dict[str, Any] | None:
        """Our conv/linear GMACs beside :attr:`reference` (``None`` without one).

        Keys: ``source``, ``reference_gmacs``, ``gmacs`` (ours, conv/linear scope, one image),
        ``difference_gmacs`` (ours - reference), ``ratio`` (ours / reference).
        """
        if not self.reference or self.reference.get("gmacs") is None:
            return None
        ref = float(self.reference["gmacs"])
        ours = self.macs_conv_linear / 1e9
        return {"source": self.reference.get("source", ""), "reference_gmacs": ref, "gmacs": ours,
                "difference_gmacs": ours - ref, "ratio": ours / ref if ref else None}

    def rows(self, backend: str) -> list[LatencyRow]:
        """Latency rows of one backend, in batch-size order."""
        return [r for r in self.latency if r.backend == backend]

    def backend_comparison(self) -> list[dict[str, Any]]:
        """Eager PyTorch and onnxruntime side by side, one dict per batch size timed with both.

        Keys: ``batch_size``, ``eager_p50_ms``, ``onnxruntime_p50_ms``, ``eager_p90_ms``,
        ``onnxruntime_p90_ms`` (ms per call of the batch), ``eager_over_ort`` (eager p50 /
        onnxruntime p50; > 1: onnxruntime is faster), ``onnxruntime_provider``.
        """
        ort = {r.batch_size: r for r in self.rows("onnxruntime")}
        out = []
        for e in self.rows("eager"):
            o = ort.get(e.batch_size)
            if o is not None:
                out.append({"batch_size": e.batch_size, "eager_p50_ms": e.latency.p50_ms,
                            "onnxruntime_p50_ms": o.latency.p50_ms, "eager_p90_ms": e.latency.p90_ms,
                            "onnxruntime_p90_ms": o.latency.p90_ms, "eager_over_ort": o.eager_over_ort,
                            "onnxruntime_provider": o.provider})
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (MAC labels and scope descriptions included)."""
        return {
            "model": self.model_name,
            "input_size": {"height": self.input_size[0], "width": self.input_size[1]},
            "device": self.device,
            "threads": self.threads,
            "params": {"total": self.params_total, "by_child": dict(self.params_by_child)},
            "macs_per_image": {
                "conv_linear": self.macs_conv_linear,
                "full": self.macs_full,
                "labels": dict(MAC_LABELS),
                "descriptions": {k: MODE_DESCRIPTIONS[k] for k in MAC_LABELS},
            },
            "latency": [r.to_dict() for r in self.latency],
            "backend_comparison": self.backend_comparison(),
            "memory_methods": {r.memory_method: MEMORY_METHODS[r.memory_method] for r in self.latency},
            "onnx": self.onnx,
            "machine": self.machine,
            "notes": list(self.notes),
            "machine_load": self.machine_load,
            "warnings": list(self.warnings),
            "reference": self.reference_comparison(),
        }


@dataclass(frozen=True)
class SizeRow:
    """Parameters and MACs of one registered network at one input size (batch 1)."""

    name: str
    height: int
    width: int
    params_total: int
    params_by_child: dict[str, int]
    macs_conv_linear: int
    macs_full: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "height": self.height, "width": self.width,
                "params_total": self.params_total, "params_by_child": dict(self.params_by_child),
                "macs_conv_linear": self.macs_conv_linear, "macs_full": self.macs_full}


# --------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------
def _params_by_child(model: nn.Module) -> dict[str, int]:
    children = list(model.named_children())
    if len(children) < 2:
        return {}
    return {name: count_params(child) for name, child in children if count_params(child) > 0}


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[int]:
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _check_args(batch_sizes: Sequence[int], backends: Sequence[str], warmup: int,
                repeats: int, height: int, width: int) -> None:
    if not batch_sizes or any(int(b) < 1 for b in batch_sizes):
        raise ConfigError(f"batch sizes must be >= 1, got {list(batch_sizes)}")
    unknown = set(backends) - set(BACKENDS)
    if unknown or not backends:
        raise ConfigError(f"unknown backend(s) {sorted(unknown)}; choose from {', '.join(BACKENDS)}")
    if warmup < 0 or repeats < 1:
        raise ConfigError(f"warmup must be >= 0 and repeats >= 1, got {warmup} and {repeats}")
    if height < 1 or width < 1:
        raise ConfigError(f"height and width must be positive, got {height}x{width}")


def profile_model(
    model: nn.Module,
    height: int,
    width: int,
    batch_sizes: Sequence[int] = (1,),
    *,
    warmup: int = 5,
    repeats: int = 20,
    device: str | torch.device = "cpu",
    threads: int | None = None,
    backends: Sequence[str] = ("eager",),
    onnx_path: str | Path | None = None,
    model_name: str | None = None,
) -> ProfileResult:
    """Parameters, MACs (both scopes), latency and peak memory of a depth network.

    Args:
        model: network taking RGB ``(B, 3, H, W)`` in ``[0, 1]``; it is put in eval mode and
            moved to ``device``.
        height, width: input size in pixels.
        batch_sizes: latency sweep, one row per batch size and backend.
        warmup: untimed calls before each timed series.
        repeats: timed calls per series.
        device: ``"cpu"`` or ``"cuda"`` for the eager runs (onnxruntime uses its CUDA
            provider there when installed, else the CPU provider, as the row says).
        threads: PyTorch and onnxruntime intra-op threads (default: PyTorch's setting).
        backends: ``"eager"`` and / or ``"onnxruntime"``.
        onnx_path: exported file for the onnxruntime backend; default: export the network
            into a temporary folder with :func:`litedepth.export.export_onnx` (parity
            checked, fixed H/W, dynamic batch).
        model_name: name in the report (default ``model.model_name`` or the class name).

    Returns:
        :class:`ProfileResult`; MACs are per image, latency per call of the whole batch.
    """
    batch_sizes = [int(b) for b in batch_sizes]
    backends = list(dict.fromkeys(backends))
    _check_args(batch_sizes, backends, warmup, repeats, height, width)
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but torch.cuda.is_available() is False")
    name = model_name or getattr(model, "model_name", None) or type(model).__name__
    model.eval().to(device)

    with _torch_threads(threads) as n_threads:
        x1 = torch.rand(1, 3, height, width, device=device)
        macs_cl = count_macs(model, x1, mode="conv_linear").macs
        macs_full = count_macs(model, x1, mode="full").macs
        result = ProfileResult(str(name), (int(height), int(width)), str(device), n_threads,
                               count_params(model), _params_by_child(model), macs_cl, macs_full)
        result.machine_load = machine_load()  # before the timing: what other programs add
        if "eager" in backends:
            for b in batch_sizes:
                x = torch.rand(b, 3, height, width, device=device)
                with torch.inference_mode(), PeakMemory(device) as mem:
                    stats = measure_latency(lambda: model(x), warmup, repeats, device)
                result.latency.append(LatencyRow("eager", b, stats, mem.peak_bytes, mem.method, str(device)))
                logger.info("eager batch %d: p50 %.2f ms", b, stats.p50_ms)
        if "onnxruntime" in backends:
            _profile_onnxruntime(model, result, batch_sizes, warmup, repeats, device, n_threads,
                                 onnx_path)
        result.machine = machine_info(device)
    result.warnings = timing_warnings(result.machine_load,
                                      [(f"{r.backend} batch {r.batch_size}", r.latency) for r in result.latency])
    if device.type == "cpu":
        result.notes.append("CPU peak memory is the process RSS peak delta (Linux VmHWM reset "
                            "through /proc/self/clear_refs, else getrusage): memory added on "
                            "top of the loaded model")
    return result


def _profile_onnxruntime(model: nn.Module, result: ProfileResult, batch_sizes: list[int],
                         warmup: int, repeats: int, device: torch.device, threads: int,
                         onnx_path: str | Path | None) -> None:
    from litedepth.export.onnx import export_onnx
    from litedepth.inference.onnx_backend import OnnxDepthModel

    h, w = result.input_size
    with tempfile.TemporaryDirectory(prefix="litedepth-profile-") as tmp:
        if onnx_path is None:
            exported = export_onnx(model, Path(tmp) / "model.onnx", h, w, model_name=result.model_name)
            path = exported.path
            result.onnx = {"path": None, "exported_for_profile": True, "dynamic_hw": exported.dynamic_hw,
                           "parity_max_abs_diff": exported.max_abs_diff,
                           "parity_max_rel_diff": exported.max_rel_diff, "opset": exported.opset}
        else:
            path = Path(onnx_path)
            result.onnx = {"path": str(path), "exported_for_profile": False}
        net = OnnxDepthModel(path, device=device, threads=threads, spin=True)
        provider = net.providers[0]
        result.onnx["provider"] = provider
        result.onnx["precision"] = net.precision
        on_gpu = provider == "CUDAExecutionProvider"
        if on_gpu:
            result.notes.append("onnxruntime CUDA rows include the host->device copy of the input "
                                "and the copy of the output back; eager rows do not")
        rng = np.random.default_rng(0)
        eager = {r.batch_size: r for r in result.rows("eager")}
        for b in batch_sizes:
            x = rng.random((b, 3, h, w), dtype=np.float32)
            with PeakMemory("cpu") as mem:  # onnxruntime's GPU memory is invisible to torch
                stats = measure_latency(lambda: net.run_numpy(x), warmup, repeats)
            peak, method = (mem.peak_bytes, mem.method) if not on_gpu else (None, "unavailable")
            ratio = eager[b].latency.p50_ms / stats.p50_ms if b in eager and stats.p50_ms > 0 else None
            result.latency.append(LatencyRow("onnxruntime", b, stats, peak, method, provider, ratio))
            logger.info("onnxruntime batch %d: p50 %.2f ms", b, stats.p50_ms)
        del net


def profile_table(
    names: Sequence[str],
    height: int,
    width: int,
    **model_kwargs: Any,
) -> list[SizeRow]:
    """Parameters and both MAC counts (one image) of registered networks.

    Args:
        names: registered model names.
        height, width: input size in pixels.
        model_kwargs: options passed to every ``create_model`` call.

    Returns:
        one :class:`SizeRow` per name, in order.

    Example:
        >>> rows = profile_table(["lite-mono-tiny", "lite-mono"], 192, 640)  # doctest: +SKIP
        >>> print(size_table_markdown(rows))  # doctest: +SKIP
    """
    from litedepth.models import create_model

    rows = []
    x = torch.rand(1, 3, int(height), int(width))
    for name in names:
        net = create_model(name, **model_kwargs).eval()
        rows.append(SizeRow(name, int(height), int(width), count_params(net), _params_by_child(net),
                            count_macs(net, x, mode="conv_linear").macs,
                            count_macs(net, x, mode="full").macs))
    return rows


# --------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------
def _si(n: float | int | None, unit: str = "") -> str:
    if n is None:
        return "-"
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.3f} {prefix}{unit}"
    return f"{n:g} {unit}".strip()


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f}"


def size_table_markdown(rows: Sequence[SizeRow]) -> str:
    """A Markdown table of :func:`profile_table` rows (parameters in M, MACs in G)."""
    lines = [f"| network | input (HxW) | params | params by part | {MAC_LABELS['conv_linear']} "
             f"| {MAC_LABELS['full']} |", "|---|---|---|---|---|---|"]
    for r in rows:
        parts = ", ".join(f"{k} {v / 1e6:.3f}M" for k, v in r.params_by_child.items()) or "-"
        lines.append(f"| {r.name} | {r.height}x{r.width} | {r.params_total / 1e6:.3f}M | {parts} | "
                     f"{r.macs_conv_linear / 1e9:.3f}G | {r.macs_full / 1e9:.3f}G |")
    return "\n".join(lines)


def render_profile(result: ProfileResult) -> list[Any]:
    """Rich renderables for the terminal: a size table, a latency table, when both backends
    ran an eager vs onnxruntime table, and the reasons not to trust the timings, if any."""
    from rich.table import Table
    from rich.text import Text

    h, w = result.input_size
    sizes = Table(title=f"{result.model_name} at {h}x{w} (HxW)")
    sizes.add_column("quantity")
    sizes.add_column("value", justify="right")
    sizes.add_row("parameters (total)", f"{result.params_total:,} ({_si(result.params_total)})")
    for child, n in result.params_by_child.items():
        sizes.add_row(f"  parameters: {child}", f"{n:,} ({_si(n)})")
    sizes.add_row(f"{MAC_LABELS['conv_linear']}, per image", _si(result.macs_conv_linear, "MACs"))
    sizes.add_row(f"{MAC_LABELS['full']}, per image", _si(result.macs_full, "MACs"))
    ref = result.reference_comparison()
    if ref is not None:
        sizes.add_row(f"reference: {ref['source']}", f"{ref['reference_gmacs']:.3f} GMACs (\"FLOPs\")")
        sizes.add_row("ours - reference (conv + linear)",
                      f"{ref['difference_gmacs']:+.3f} G ({ref['ratio']:.3f}x)")
    if result.onnx and "parity_max_abs_diff" in result.onnx:
        sizes.add_row("ONNX parity (max abs diff)", f"{result.onnx['parity_max_abs_diff']:.2e}")
    if result.onnx and "precision" in result.onnx:
        sizes.add_row("ONNX precision", str(result.onnx["precision"]))

    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    lat = Table(title=f"latency ({result.device}, {threads}; ms per call of the batch)")
    for col in ("backend", "provider", "batch", "mean ms", "p50 ms", "p90 ms", "p50 ms / image",
                "images/s", "peak mem MB", "eager/ORT"):
        lat.add_column(col, justify="left" if col in ("backend", "provider") else "right")
    for r in result.latency:
        s = r.latency
        lat.add_row(r.backend, r.provider, str(r.batch_size), f"{s.mean_ms:.2f}", f"{s.p50_ms:.2f}",
                    f"{s.p90_ms:.2f}", f"{r.per_image_ms:.2f}", f"{r.images_per_s:.1f}",
                    _mb(r.peak_memory_bytes),
                    "-" if r.eager_over_ort is None else f"{r.eager_over_ort:.2f}x")
    m = result.machine
    methods = sorted({r.memory_method for r in result.latency})
    lat.caption = (f"{m.get('device_name')} | torch {m.get('torch')} | onnxruntime {m.get('onnxruntime')} "
                   f"| {m.get('date')}\npeak memory: " + "; ".join(MEMORY_METHODS[k] for k in methods)
                   + "\neager/ORT (onnxruntime rows): eager PyTorch p50 / this p50 at the same batch "
                     "(> 1x: onnxruntime is faster)")
    renderables: list[Any] = [sizes, lat]
    comparison = result.backend_comparison()
    if comparison:
        cmp = Table(title=f"eager PyTorch vs onnxruntime ({result.device}, {threads}; ms per call of the batch)")
        for col in ("batch", "eager p50", "onnxruntime p50", "eager p90", "onnxruntime p90", "eager / onnxruntime"):
            cmp.add_column(col, justify="right")
        for c in comparison:
            cmp.add_row(str(c["batch_size"]), f"{c['eager_p50_ms']:.2f}", f"{c['onnxruntime_p50_ms']:.2f}",
                        f"{c['eager_p90_ms']:.2f}", f"{c['onnxruntime_p90_ms']:.2f}",
                        "-" if c["eager_over_ort"] is None else f"{c['eager_over_ort']:.2f}x")
        cmp.caption = f"onnxruntime provider: {comparison[0]['onnxruntime_provider']}; > 1x: onnxruntime is faster"
        renderables.append(cmp)
    for warning in result.warnings:
        renderables.append(Text(f"warning: {warning}", style="yellow"))
    return renderables


def write_profile_json(result: ProfileResult, path: str | Path) -> Path:
    """Write ``result.to_dict()`` as indented JSON, atomically."""
    path = Path(path)
    with atomic_open(path, "w") as f:
        json.dump(result.to_dict(), f, indent=2)
        f.write("\n")
    return path
