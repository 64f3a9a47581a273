"""Latency, peak memory and machine information for benchmarks.

Timing (:func:`measure_latency`): ``warmup`` untimed calls, then ``repeats`` calls each
timed with :func:`time.perf_counter`; on CUDA ``torch.cuda.synchronize()`` runs before the
clock starts and before it stops, so each sample is the full GPU time of one call. Results
are in milliseconds per call (the whole batch).

Peak memory (:class:`PeakMemory`), with the method named in every result:

``"cuda_max_memory_allocated"``
    ``torch.cuda.max_memory_allocated()`` after ``torch.cuda.reset_peak_memory_stats()``:
    the peak of tensors allocated by PyTorch on the device during the measurement, weights
    and inputs included (not the caching allocator's reserve, not other libraries' memory).

``"rss_hwm_delta"``
    CPU, Linux: the kernel's resident-set high-water mark is reset through
    ``/proc/self/clear_refs`` (writing ``5``), and the peak is ``VmHWM`` after the run minus
    ``VmRSS`` before it (``/proc/self/status``): memory the run added on top of what the
    process already held (weights loaded before the run are not included; memory freed
    earlier but still held by the allocator is reused without showing up, so this can read
    low).

``"ru_maxrss_delta"``
    CPU fallback (no ``/proc``): ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after minus
    before. The process-lifetime peak cannot be reset, so this is a lower bound: ``0`` when
    an earlier phase of the process peaked higher.

Trust (:func:`timing_warnings`): timings taken while other programs load the machine read
high and scatter. A warning is raised when the 1-minute load average read before the timing
(:func:`machine_load`, ``os.getloadavg``) exceeds :data:`LOAD_PER_CPU_WARN` per logical CPU,
or when the timed calls of a series spread: coefficient of variation ``std / mean`` above
:data:`CV_WARN` or interquartile range above :data:`IQR_WARN` of the median.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

__all__ = [
    "CV_WARN",
    "IQR_WARN",
    "LOAD_PER_CPU_WARN",
    "MEMORY_METHODS",
    "LatencyStats",
    "PeakMemory",
    "machine_info",
    "machine_load",
    "measure_latency",
    "thread_count",
    "timing_warnings",
]

#: warn above this 1-minute load average per logical CPU, read before the timing (a quiet
#: machine reads < 0.3; each busy program on another core adds 1 / cores)
LOAD_PER_CPU_WARN = 0.5
#: warn when the timed calls of a series have a coefficient of variation (std / mean) above this
CV_WARN = 0.10
#: ... or an interquartile range (p75 - p25) above this fraction of their median
IQR_WARN = 0.10

MEMORY_METHODS: dict[str, str] = {
    "cuda_max_memory_allocated": (
        "torch.cuda.max_memory_allocated after reset_peak_memory_stats: peak PyTorch tensor "
        "memory on the GPU during the run, weights and inputs included"
    ),
    "rss_hwm_delta": (
        "CPU process RSS peak delta: Linux VmHWM (reset via /proc/self/clear_refs) minus VmRSS "
        "before the run; memory the run added on top of the loaded model (reads low when the run "
        "reuses memory the process freed earlier but still holds)"
    ),
    "ru_maxrss_delta": (
        "CPU process RSS peak delta from resource.getrusage ru_maxrss (lifetime peak, cannot "
        "be reset): a lower bound, 0 if an earlier phase peaked higher"
    ),
    "unavailable": "peak memory not measured",
}


@dataclass(frozen=True)
class LatencyStats:
    """Wall-clock statistics of ``repeats`` timed calls, in milliseconds per call.

    Attributes:
        mean_ms, p50_ms, p90_ms, min_ms, max_ms, std_ms: over the timed calls.
        iqr_ms: interquartile range ``p75 - p25`` of the timed calls.
        repeats: number of timed calls.
        warmup: untimed calls before them.
    """

    mean_ms: float
    p50_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    std_ms: float
    iqr_ms: float
    repeats: int
    warmup: int

    @property
    def cv(self) -> float:
        """Coefficient of variation ``std / mean`` (0 for a single call)."""
        return self.std_ms / self.mean_ms if self.mean_ms > 0 else 0.0

    @property
    def iqr_over_median(self) -> float:
        """Interquartile range as a fraction of the median."""
        return self.iqr_ms / self.p50_ms if self.p50_ms > 0 else 0.0

    @classmethod
    def from_samples(cls, samples_ms: list[float] | np.ndarray, warmup: int = 0) -> LatencyStats:
        a = np.asarray(samples_ms, dtype=np.float64)
        if a.size == 0:
            raise ValueError("no latency samples")
        p25, p50, p75, p90 = (float(v) for v in np.percentile(a, [25, 50, 75, 90]))
        return cls(float(a.mean()), p50, p90, float(a.min()), float(a.max()), float(a.std()), p75 - p25,
                   int(a.size), int(warmup))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def measure_latency(
    fn: Callable[[], Any],
    warmup: int = 5,
    repeats: int = 20,
    device: torch.device | str | None = None,
) -> LatencyStats:
    """Time ``fn()`` after ``warmup`` untimed calls.

    Args:
        fn: the call to time (e.g. ``lambda: net(x)`` under ``torch.inference_mode()``).
        warmup: untimed calls first (cuDNN autotuning, oneDNN primitive caches, lazy init).
        repeats: timed calls (at least 1).
        device: ``"cuda"`` (or a CUDA device) to synchronise around every call.

    Returns:
        :class:`LatencyStats` in milliseconds per call.

    Example:
        >>> stats = measure_latency(lambda: sum(range(1000)), warmup=1, repeats=5)
        >>> stats.repeats, stats.p50_ms > 0
        (5, True)
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(max(0, int(warmup))):
        fn()
    _sync(device)
    samples = []
    for _ in range(int(repeats)):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        samples.append((time.perf_counter() - start) * 1e3)
    return LatencyStats.from_samples(samples, warmup)


def _proc_status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _ru_maxrss_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # macOS: bytes, Linux: KiB


class PeakMemory:
    """Context manager measuring the peak memory of the code inside it.

    Args:
        device: ``"cuda"`` measures PyTorch's device allocations, anything else the process
            resident set (see the module docstring for the methods).

    Attributes:
        peak_bytes: the measured peak (``None`` when unavailable).
        method: key of :data:`MEMORY_METHODS`.

    Example:
        >>> with PeakMemory("cpu") as mem:
        ...     buf = bytearray(50_000_000)
        >>> mem.method in MEMORY_METHODS
        True
    """

    def __init__(self, device: torch.device | str | None = "cpu") -> None:
        self.device = torch.device(device or "cpu")
        self.peak_bytes: int | None = None
        self.method = "unavailable"
        self._before = 0

    @property
    def description(self) -> str:
        return MEMORY_METHODS[self.method]

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            self.method = "cuda_max_memory_allocated"
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            rss = _proc_status_kb("VmRSS")
            if rss is not None and _reset_hwm():
                self.method, self._before = "rss_hwm_delta", rss * 1024
            else:
                before = _ru_maxrss_bytes()
                if before is not None:
                    self.method, self._before = "ru_maxrss_delta", before
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.method == "cuda_max_memory_allocated":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = int(torch.cuda.max_memory_allocated(self.device))
        elif self.method == "rss_hwm_delta":
            hwm = _proc_status_kb("VmHWM")
            self.peak_bytes = None if hwm is None else max(0, hwm * 1024 - self._before)
        elif self.method == "ru_maxrss_delta":
            after = _ru_maxrss_bytes()
            self.peak_bytes = None if after is None else max(0, after - self._before)


def thread_count(threads: int | None) -> int:
    """``threads`` or PyTorch's current intra-op thread count."""
    return int(threads) if threads else int(torch.get_num_threads())


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info(device: torch.device | str | None = "cpu") -> dict[str, Any]:
    """What a benchmark ran on: CPU model, cores, threads, library versions, device, date.

    Returns:
        a JSON-serialisable dict (``cpu``, ``logical_cpus``, ``torch_threads``, ``torch``,
        ``onnxruntime``, ``onnx``, ``python``, ``platform``, ``device``, ``device_name``,
        ``cuda``, ``cudnn``, ``litedepth``, ``date`` in ISO 8601 UTC).
    """
    from litedepth import __version__

    device = torch.device(device or "cpu")
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "litedepth": __version__,
        "device": str(device),
        "device_name": _cpu_model(),
        "cuda": torch.version.cuda,
        "cudnn": None,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    for mod in ("onnxruntime", "onnx"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    if device.type == "cuda" and torch.cuda.is_available():
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def machine_load() -> dict[str, Any] | None:
    """Load averages and logical CPUs now.

    Returns:
        ``{"load_1min", "load_5min", "load_15min", "logical_cpus", "load_per_cpu"}`` (load =
        runnable processes averaged over 1 / 5 / 15 minutes, ``os.getloadavg``;
        ``load_per_cpu`` is the 1-minute figure per logical CPU), or ``None`` where the
        platform has no load average (Windows).
    """
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return None
    cpus = os.cpu_count() or 1
    return {"load_1min": round(one, 2), "load_5min": round(five, 2), "load_15min": round(fifteen, 2),
            "logical_cpus": cpus, "load_per_cpu": round(one / cpus, 3)}


def timing_warnings(load: dict[str, Any] | None, series: list[tuple[str, LatencyStats]]) -> list[str]:
    """Reasons not to trust timings: a loaded machine, or a large spread of the timed calls.

    Args:
        load: :func:`machine_load` read before the timing (``None``: not checked).
        series: ``(label, stats)`` of each timed series, e.g. ``("eager batch 8", stats)``;
            series of fewer than 3 calls are not checked for spread.

    Returns:
        one sentence per problem (empty when the timings look trustworthy), thresholds
        :data:`LOAD_PER_CPU_WARN`, :data:`CV_WARN`, :data:`IQR_WARN`.

    Example:
        >>> timing_warnings({"load_1min": 0.1, "logical_cpus": 4, "load_per_cpu": 0.025},
        ...                 [("eager batch 1", LatencyStats.from_samples([10, 10.2, 9.9, 10.1]))])
        []
    """
    out = []
    if load is not None and load["load_per_cpu"] > LOAD_PER_CPU_WARN:
        out.append(f"the machine was busy: load average {load['load_1min']:g} over the last minute on "
                   f"{load['logical_cpus']} logical CPUs ({load['load_per_cpu']:.2f} per CPU, above "
                   f"{LOAD_PER_CPU_WARN:g}) before timing; other programs compete for the CPU, so the "
                   "latencies read high and vary: profile on a quiet machine")
    for label, stats in series:
        if stats.repeats < 3:
            continue
        if stats.cv > CV_WARN or stats.iqr_over_median > IQR_WARN:
            out.append(f"{label}: the {stats.repeats} timed calls spread widely (coefficient of variation "
                       f"{stats.cv:.0%}, interquartile range {stats.iqr_over_median:.0%} of the median; "
                       f"warnings above {CV_WARN:.0%} / {IQR_WARN:.0%}): more repeats or a quieter machine "
                       "give steadier numbers")
    return out
