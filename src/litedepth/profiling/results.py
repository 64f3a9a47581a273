"""What a profile holds: latency rows, the whole result of a profile, size-table rows.

:class:`ProfileResult` (written by :func:`~litedepth.profiling.report.profile_model`) holds
parameters, both MAC counts (labelled :data:`MAC_LABELS`), one :class:`LatencyRow` per backend
and batch size, the machine and the reasons not to trust the timings; ``to_dict()`` is the JSON
``litedepth profile --json`` writes. :class:`SizeRow` is one row of
:func:`~litedepth.profiling.report.profile_table`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litedepth.profiling.flops import MODE_DESCRIPTIONS
from litedepth.profiling.latency import MEMORY_METHODS, LatencyStats

__all__ = ["BACKENDS", "MAC_LABELS", "LatencyRow", "ProfileResult", "SizeRow"]

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

