"""The profile for people: terminal tables, a Markdown size table, the JSON file.

:func:`render_profile` gives the Rich tables ``litedepth profile`` prints;
:func:`size_table_markdown` formats :func:`~litedepth.profiling.report.profile_table` rows for
documentation; :func:`write_profile_json` writes ``ProfileResult.to_dict()`` atomically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litedepth.profiling.latency import MEMORY_METHODS
from litedepth.profiling.results import MAC_LABELS, ProfileResult, SizeRow
from litedepth.utils.atomic import atomic_open

__all__ = ["render_profile", "size_table_markdown", "write_profile_json"]


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
