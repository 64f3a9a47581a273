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

What it returns is a :class:`~litedepth.profiling.results.ProfileResult`; the tables and the
JSON file are made by :mod:`litedepth.profiling.render`.

Example:
    >>> from litedepth.models import create_model
    >>> from litedepth.profiling.report import profile_model
    >>> result = profile_model(create_model("lite-mono-tiny"), 192, 640, batch_sizes=(1, 8))  # doctest: +SKIP
    >>> result.latency[0].latency.p50_ms  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from litedepth.errors import ConfigError
from litedepth.profiling.flops import count_macs, count_params
from litedepth.profiling.latency import PeakMemory, machine_info, machine_load, measure_latency, timing_warnings
from litedepth.profiling.render import render_profile, size_table_markdown, write_profile_json
from litedepth.profiling.results import BACKENDS, MAC_LABELS, LatencyRow, ProfileResult, SizeRow

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
        net = None  # the session lets go of the file before its folder is removed


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

