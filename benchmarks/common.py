"""Shared helpers of the benchmark scripts: thread setup, timing, JSON output, tables.

Every benchmark returns a :class:`BenchResult` (one table + targets + raw numbers);
:func:`finish` prints it as one rich table and writes it as JSON atomically, with the
machine (CPU model, logical CPUs, threads, torch / onnxruntime versions, date).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from litedepth.profiling.latency import machine_info
from litedepth.utils.atomic import atomic_open

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_THREADS = 2  # the targets are stated for 2 CPU threads

__all__ = ["DEFAULT_THREADS", "RESULTS_DIR", "BenchResult", "RatioStats", "Target", "base_parser", "finish",
           "interleaved", "loadavg", "peak_tensor_bytes", "set_threads", "summary_markdown", "time_calls",
           "timer_stats"]


@dataclass
class Target:
    """One target of issue 7: ``value`` compared with ``threshold`` (``op`` ``"<"`` or ``">="``)."""

    name: str
    value: float | None
    threshold: float
    op: str
    unit: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value < self.threshold if self.op == "<" else self.value >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}

    def describe(self) -> str:
        v = "not measured" if self.value is None else f"{self.value:.3g}{self.unit}"
        verdict = {True: "MET", False: "MISSED", None: "n/a"}[self.met]
        return f"{self.name}: {v} (target {self.op} {self.threshold:g}{self.unit}) - {verdict}"


@dataclass
class BenchResult:
    """What one benchmark measured: a table (string cells), targets, notes and raw numbers."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    threads: int = DEFAULT_THREADS
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "threads": self.threads,
                "machine": self.machine, "skipped": self.skipped, "columns": self.columns,
                "rows": self.rows, "targets": [t.to_dict() for t in self.targets],
                "notes": self.notes, "raw": self.raw}

    def label(self) -> str:
        m = self.machine
        return (f"{m.get('cpu', '?')} ({m.get('logical_cpus', '?')} logical CPUs), {self.threads} "
                f"thread(s), torch {m.get('torch')}, onnxruntime {m.get('onnxruntime')}, {m.get('date')}")


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help="PyTorch intra-op (and onnxruntime) threads (default 2, the target setting)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda rows need a GPU)")
    return p


def set_threads(threads: int) -> int:
    """Set PyTorch's intra-op threads (and OMP_NUM_THREADS for child libraries)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def sync(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timer_stats(samples_s: Sequence[float]) -> dict[str, float]:
    """Median / p90 / mean of samples in seconds, returned in milliseconds."""
    a = np.asarray(samples_s, dtype=np.float64) * 1e3
    return {"p50_ms": float(np.median(a)), "p90_ms": float(np.percentile(a, 90)),
            "mean_ms": float(a.mean()), "min_ms": float(a.min()), "n": int(a.size)}


def time_calls(fn: Callable[[], Any], warmup: int, repeats: int, device: str = "cpu",
               budget_s: float | None = None) -> dict[str, float]:
    """``warmup`` untimed calls, then up to ``repeats`` timed calls (synchronised on CUDA).

    With ``budget_s`` the timed series stops early once it has taken that long (at least
    3 calls are always timed), so slow networks keep the default run short.
    """
    for _ in range(warmup):
        fn()
    sync(device)
    samples: list[float] = []
    start_all = time.perf_counter()
    for i in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        samples.append(time.perf_counter() - t0)
        if budget_s is not None and i >= 2 and time.perf_counter() - start_all > budget_s:
            break
    return timer_stats(samples)


@dataclass
class RatioStats:
    """Per-round ratios ``a / b`` of two alternately timed workloads.

    Attributes:
        median, low, high: median, minimum and maximum of the per-round ratios.
        q1, q3: their quartiles (the spread that a single noisy round cannot move much).
        rounds: number of rounds; ``a_ms`` / ``b_ms``: medians of each side's times.
    """

    median: float
    low: float
    high: float
    q1: float
    q3: float
    rounds: int
    a_ms: float
    b_ms: float

    @classmethod
    def of(cls, a_s: Sequence[float], b_s: Sequence[float]) -> RatioStats:
        a, b = np.asarray(a_s, np.float64), np.asarray(b_s, np.float64)
        r = a / b
        return cls(float(np.median(r)), float(r.min()), float(r.max()), float(np.percentile(r, 25)),
                   float(np.percentile(r, 75)), int(r.size), float(np.median(a) * 1e3), float(np.median(b) * 1e3))

    def cell(self) -> str:
        """``0.83 (0.80-0.86, n=7)``: median ratio (range of the per-round ratios, rounds)."""
        return f"{self.median:.2f} ({self.low:.2f}-{self.high:.2f}, n={self.rounds})"


def interleaved(a: Callable[[], Any], b: Callable[[], Any], rounds: int, warmup: int = 1,
                device: str = "cpu", budget_s: float | None = None) -> RatioStats:
    """Time ``a`` and ``b`` alternately in this process: ``warmup`` untimed calls of each, then
    ``rounds`` rounds of one call each, the order swapped every round (ABBA...), so that load
    from other processes affects both sides alike. Ratios are ``a / b`` per round.

    With ``budget_s`` the rounds stop once that many seconds have passed (at least 3 rounds).
    """
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    start = time.perf_counter()
    for r in range(rounds):
        order = ((a, ta), (b, tb)) if r % 2 == 0 else ((b, tb), (a, ta))
        for fn, out in order:
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            out.append(time.perf_counter() - t0)
        if budget_s is not None and r >= 2 and time.perf_counter() - start > budget_s:
            break
    return RatioStats.of(ta, tb)


def peak_tensor_bytes(fn: Callable[[], Any]) -> int | None:
    """Peak bytes of CPU tensor memory allocated by ``fn`` above what was live when it started.

    From the allocation and free events of ``torch.profiler`` (``profile_memory=True``), summed
    in time order; counts every tensor (activations, saved tensors, gradients, optimiser
    temporaries), not the allocator's cache or Python objects. ``None`` when the profiler's
    event list is unavailable.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    try:
        events = [(e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                  if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU]
    except AttributeError:
        return None
    events.sort()
    cur = peak = 0
    for _, n in events:
        cur += n
        peak = max(peak, cur)
    return int(peak)


def loadavg() -> str:
    """The 1/5/15-minute load average, e.g. ``"1.52, 1.31, 0.98"``."""
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def finish(result: BenchResult, out_dir: Path, device: str = "cpu", quiet: bool = False) -> Path:
    """Fill in the machine, print the rich table, write ``<out_dir>/<name>.json`` atomically."""
    if not result.machine:
        result.machine = machine_info(device)
    result.machine["torch_threads"] = result.threads
    if not quiet:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=result.title, caption=result.label())
        for c in result.columns:
            table.add_column(c, justify="left" if c in result.columns[:2] else "right")
        for r in result.rows:
            table.add_row(*r)
        console = Console(width=max(Console().width, 160))
        if result.skipped:
            console.print(f"[yellow]{result.name}: skipped - {result.skipped}")
        else:
            console.print(table)
        for t in result.targets:
            console.print(f"target {t.describe()}")
        for n in result.notes:
            console.print(f"note: {n}")
    path = Path(out_dir) / f"{result.name}.json"
    with atomic_open(path, "w") as f:
        json.dump(result.to_dict(), f, indent=2)
        f.write("\n")
    return path


def summary_markdown(result: BenchResult) -> str:
    """One markdown section: title, machine label, the table, targets and notes."""
    lines = [f"### {result.title}", "", f"*{result.label()}*", ""]
    if result.skipped:
        return "\n".join([*lines, f"Skipped: {result.skipped}", ""])
    lines.append("| " + " | ".join(result.columns) + " |")
    lines.append("|" + "---|" * len(result.columns))
    lines += ["| " + " | ".join(r) + " |" for r in result.rows]
    if result.targets:
        lines += ["", *[f"- Target {t.describe()}" for t in result.targets]]
    if result.notes:
        lines += ["", *[f"- Note: {n}" for n in result.notes]]
    return "\n".join(lines) + "\n"
