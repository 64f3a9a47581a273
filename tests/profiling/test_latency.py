"""Latency statistics, peak-memory measurement and machine information."""

from __future__ import annotations

import mmap

import numpy as np
import pytest
import torch

import litedepth.profiling.latency as latency
from litedepth.profiling.latency import MEMORY_METHODS, LatencyStats, PeakMemory, machine_info, measure_latency


def test_stats_known_values():
    s = LatencyStats.from_samples([5.0, 1.0, 3.0, 2.0, 4.0], warmup=2)
    assert (s.mean_ms, s.p50_ms, s.min_ms, s.max_ms) == (3.0, 3.0, 1.0, 5.0)
    assert s.p90_ms == pytest.approx(4.6)  # linear interpolation between 4 and 5
    assert s.std_ms == pytest.approx(np.std([1, 2, 3, 4, 5]))
    assert (s.repeats, s.warmup) == (5, 2)
    with pytest.raises(ValueError):
        LatencyStats.from_samples([])


def test_measure_latency_calls_warmup_then_repeats():
    calls = []
    stats = measure_latency(lambda: calls.append(sum(range(2000))), warmup=3, repeats=7)
    assert len(calls) == 10 and stats.repeats == 7 and stats.warmup == 3
    assert 0 < stats.min_ms <= stats.p50_ms <= stats.p90_ms <= stats.max_ms
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(lambda: None, repeats=0)


def test_cuda_path_synchronises_around_every_call(monkeypatch):
    """No GPU here: count the synchronize calls the CUDA path makes."""
    syncs = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: syncs.append(device))
    measure_latency(lambda: None, warmup=2, repeats=4, device="cuda")
    assert len(syncs) == 1 + 2 * 4  # after warm-up, then before and after each timed call


def test_cuda_peak_memory_reads_max_memory_allocated(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 123_456)
    with PeakMemory("cuda") as mem:
        pass
    assert calls == ["reset"]
    assert (mem.method, mem.peak_bytes) == ("cuda_max_memory_allocated", 123_456)


def test_cpu_peak_memory_sees_a_large_allocation():
    size = 64 * 2**20
    with PeakMemory("cpu") as mem:
        # fresh anonymous pages (a heap allocation could reuse pages that are still resident)
        buf = mmap.mmap(-1, size)
        for offset in range(0, size, mmap.PAGESIZE):
            buf[offset] = 1  # touch every page
        buf.close()
    assert mem.method in MEMORY_METHODS and mem.method != "unavailable"
    if mem.method == "rss_hwm_delta":  # Linux: the high-water mark was reset first
        assert 48 * 2**20 <= mem.peak_bytes <= 256 * 2**20
    else:
        assert mem.peak_bytes >= 0


def test_cpu_peak_memory_falls_back_to_getrusage(monkeypatch):
    monkeypatch.setattr(latency, "_reset_hwm", lambda: False)
    with PeakMemory("cpu") as mem:
        pass
    assert mem.method == "ru_maxrss_delta" and mem.peak_bytes >= 0
    assert "lower bound" in mem.description


def test_machine_info_fields():
    info = machine_info("cpu")
    for key in ("cpu", "logical_cpus", "torch_threads", "torch", "onnxruntime", "onnx", "device",
                "device_name", "date", "litedepth"):
        assert key in info
    assert info["torch"] == torch.__version__ and info["device"] == "cpu"
    assert info["torch_threads"] == torch.get_num_threads()
    assert "T" in info["date"] and info["date"].endswith("+00:00")


def test_spread_statistics():
    s = LatencyStats.from_samples([10.0, 10.0, 10.0, 10.0, 30.0])
    assert s.iqr_ms == 0.0 and s.iqr_over_median == 0.0  # one outlier leaves the quartiles alone
    assert s.cv == pytest.approx(np.std([10, 10, 10, 10, 30]) / 14.0)
    wide = LatencyStats.from_samples([8.0, 9.0, 10.0, 11.0, 12.0])
    assert wide.iqr_ms == pytest.approx(2.0) and wide.iqr_over_median == pytest.approx(0.2)


def _load(one, cpus=2):
    return {"load_1min": one, "load_5min": one, "load_15min": one, "logical_cpus": cpus, "load_per_cpu": one / cpus}


def test_timing_warnings_name_a_busy_machine_and_a_wide_spread():
    steady = LatencyStats.from_samples([10.0, 10.1, 9.9, 10.0, 10.05])
    assert latency.timing_warnings(_load(0.2), [("eager batch 1", steady)]) == []
    (busy,) = latency.timing_warnings(_load(6.0), [("eager batch 1", steady)])
    assert "busy" in busy and "load average 6" in busy and "2 logical CPUs" in busy
    outlier = LatencyStats.from_samples([10.0, 10.0, 10.0, 10.0, 30.0])  # CV 57 %, IQR 0
    spread = LatencyStats.from_samples([8.0, 9.0, 10.0, 11.0, 12.0])  # CV 14 %, IQR 20 % of the median
    warnings = latency.timing_warnings(None, [("eager batch 1", outlier), ("onnxruntime batch 8", spread),
                                              ("eager batch 2", steady)])
    assert [w.split(":")[0] for w in warnings] == ["eager batch 1", "onnxruntime batch 8"]
    assert "coefficient of variation 57%" in warnings[0] and "interquartile range 20%" in warnings[1]
    # two calls say nothing about the spread
    assert latency.timing_warnings(None, [("eager batch 1", LatencyStats.from_samples([1.0, 9.0]))]) == []


def test_machine_load_reads_getloadavg(monkeypatch):
    monkeypatch.setattr(latency.os, "getloadavg", lambda: (3.0, 2.0, 1.0))
    monkeypatch.setattr(latency.os, "cpu_count", lambda: 4)
    assert latency.machine_load() == {"load_1min": 3.0, "load_5min": 2.0, "load_15min": 1.0, "logical_cpus": 4,
                                      "load_per_cpu": 0.75}

    def unavailable():
        raise OSError("no load average")

    monkeypatch.setattr(latency.os, "getloadavg", unavailable)
    assert latency.machine_load() is None
