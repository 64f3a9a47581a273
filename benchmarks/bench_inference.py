"""Inference latency of every registered depth network (issue 7, benchmark 1).

For each network at its published resolution (self-supervised 192x640, with ``--large``
also 320x1024; supervised DeepLabV3 at its 256x512 default, ``--nyu`` for NYU 480x640) and
each batch size, the back-ends are timed one after the other in the same process:

* CPU: eager PyTorch fp32, eager fp32 channels-last, onnxruntime (CPU provider, the graph
  exported by :func:`litedepth.export.export_onnx`, parity-checked at export);
* CUDA (``--device cuda``, when present): eager fp32, channels-last, fp16 and bf16 autocast,
  onnxruntime's CUDA provider when installed; every call is synchronised.

PyTorch intra-op threads and onnxruntime ``intra_op_num_threads`` are both ``--threads``
(default 2, the target setting). Median (p50) and p90 over the timed calls after warm-up;
the speed-up column is ``eager fp32 p50 / back-end p50`` measured in the same run.

The default run stays short on 2 cores: batch 1 for every network (batch 8 for the target
network lite-mono), few timed calls (each series also stops after ``--budget`` seconds once
it has 3 calls) except for the target row. ``--batch-sizes 1 8 --repeats 20 --budget 0``
gives the full sweep.

Target: onnxruntime at least 1.5x faster than eager for lite-mono at 192x640 (HxW), batch 1,
2 threads.

Run: ``python -m benchmarks.bench_inference [--models lite-mono ...] [--large] [--nyu]``
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import BenchResult, Target, base_parser, finish, set_threads, time_calls

TARGET_MODEL, TARGET_SIZE, TARGET_RATIO = "lite-mono", (192, 640), 1.5
LARGE_SIZE = (320, 1024)
NYU_SIZE = (480, 640)


def sizes_for(name: str, large: bool, nyu: bool) -> list[tuple[int, int]]:
    """Published input sizes (H, W) of a registered depth network."""
    from litedepth.models import model_info

    info = model_info(name)
    if "supervised" in info.tags and "self-supervised" not in info.tags:
        return [NYU_SIZE if nyu else tuple(info.default_size)]
    return [tuple(info.default_size)] + ([LARGE_SIZE] if large else [])


def _ort_session(path: Path, device: str, threads: int):
    from litedepth.inference.onnx_backend import OnnxDepthModel

    # spin=True is onnxruntime's own default (lowest latency for back-to-back calls)
    return OnnxDepthModel(path, device=device, threads=threads, spin=True)


def bench_one(name: str, size: tuple[int, int], plan: dict[int, tuple[int, int, float | None]],
              device: str, threads: int, with_ort: bool = True,
              single_thread: bool = False) -> list[dict[str, Any]]:
    """Time every back-end for one network at one size; one dict per (backend, batch).

    ``plan`` maps each batch size to its ``(warmup, repeats, budget_s)``.
    """
    batch_sizes = sorted(plan)
    from litedepth.export.onnx import export_onnx
    from litedepth.models import create_model

    h, w = size
    model = create_model(name).eval()
    out: list[dict[str, Any]] = []
    rows_of: dict[int, list[dict[str, Any]]] = {b: [] for b in batch_sizes}

    def add(backend: str, b: int, stats: dict[str, float], **extra: Any) -> None:
        row = {"model": name, "height": h, "width": w, "batch": b, "backend": backend,
               "device": device, "threads": threads, **stats, **extra}
        rows_of[b].append(row)
        out.append(row)

    with tempfile.TemporaryDirectory(prefix="litedepth-bench-") as tmp:
        onnx_file = None
        if with_ort:
            exported = export_onnx(model, Path(tmp) / f"{name}.onnx", h, w, model_name=name)
            onnx_file = exported.path
        model.to(device)
        with torch.inference_mode():
            for b in batch_sizes:
                x = torch.rand(b, 3, h, w, device=device)
                add("eager fp32", b, time_calls(lambda: model(x), *plan[b][:2], device, plan[b][2]))
                if single_thread and device == "cpu" and threads != 1:
                    torch.set_num_threads(1)
                    add("eager fp32, 1 thread", b, time_calls(lambda: model(x), *plan[b][:2], device, plan[b][2]))
                    torch.set_num_threads(threads)
                if device == "cuda":
                    for dt, label in ((torch.float16, "eager fp16 autocast"),
                                      (torch.bfloat16, "eager bf16 autocast")):
                        def call(dt=dt):
                            with torch.autocast("cuda", dtype=dt):
                                return model(x)
                        add(label, b, time_calls(call, *plan[b][:2], device, plan[b][2]))
            model.to(memory_format=torch.channels_last)
            for b in batch_sizes:
                x = torch.rand(b, 3, h, w, device=device).contiguous(memory_format=torch.channels_last)
                add("eager channels-last", b, time_calls(lambda: model(x), *plan[b][:2], device, plan[b][2]))
        model = None  # free the eager weights before onnxruntime runs
        if onnx_file is not None:
            net = _ort_session(onnx_file, device, threads)
            provider = net.providers[0]
            for b in batch_sizes:
                xn = np.random.default_rng(0).random((b, 3, h, w), dtype=np.float32)
                add("onnxruntime", b, time_calls(lambda: net.run_numpy(xn), *plan[b][:2], "cpu", plan[b][2]),
                    provider=provider)
            del net
            if single_thread and device == "cpu" and threads != 1:
                net = _ort_session(onnx_file, device, 1)
                for b in batch_sizes:
                    xn = np.random.default_rng(0).random((b, 3, h, w), dtype=np.float32)
                    add("onnxruntime, 1 thread", b,
                        time_calls(lambda: net.run_numpy(xn), *plan[b][:2], "cpu", plan[b][2]), provider=provider)
                del net
    for rows in rows_of.values():
        base = next(r["p50_ms"] for r in rows if r["backend"] == "eager fp32")
        for r in rows:
            r["speedup_vs_eager"] = base / r["p50_ms"]
    return out


ORT_VARIANTS: dict[str, dict[str, Any]] = {
    "opt=all, spin (default)": {},
    "opt=extended": {"opt": "ORT_ENABLE_EXTENDED"},
    "opt=basic": {"opt": "ORT_ENABLE_BASIC"},
    "opt=disabled": {"opt": "ORT_DISABLE_ALL"},
    "no spinning": {"spin": False},
    "1 intra-op thread": {"threads": 1},
}


def ort_variants(name: str, size: tuple[int, int], threads: int, warmup: int,
                 repeats: int) -> list[dict[str, Any]]:
    """Cheap onnxruntime settings (graph optimisation level, spinning, threads) against eager
    fp32 and channels-last, all measured back to back at batch 1 on the CPU."""
    import onnxruntime as ort

    from litedepth.export.onnx import export_onnx
    from litedepth.models import create_model

    h, w = size
    model = create_model(name).eval()
    x = torch.rand(1, 3, h, w)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="litedepth-bench-") as tmp:
        path = export_onnx(model, Path(tmp) / f"{name}.onnx", h, w, model_name=name).path
        with torch.inference_mode():
            rows.append({"variant": "eager fp32", **time_calls(lambda: model(x), warmup, repeats)})
            cl = model.to(memory_format=torch.channels_last)
            xc = x.contiguous(memory_format=torch.channels_last)
            rows.append({"variant": "eager channels-last", **time_calls(lambda: cl(xc), warmup, repeats)})
            model.to(memory_format=torch.contiguous_format)
        xn = x.numpy()
        for label, v in ORT_VARIANTS.items():
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            opts.intra_op_num_threads = int(v.get("threads", threads))
            opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, v.get("opt", "ORT_ENABLE_ALL"))
            if not v.get("spin", True):
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            feed = {sess.get_inputs()[0].name: xn}
            rows.append({"variant": f"onnxruntime {label}", **time_calls(lambda: sess.run(None, feed), warmup, repeats)})
            sess = None
    base = rows[0]["p50_ms"]
    for r in rows:
        r["speedup_vs_eager"] = base / r["p50_ms"]
    return rows


def eager_profile(name: str, size: tuple[int, int], top: int = 8) -> list[dict[str, Any]]:
    """Top CPU operators of one eager batch-1 forward (torch.profiler, after 2 warm-up calls)."""
    from torch.profiler import ProfilerActivity, profile

    from litedepth.models import create_model

    model = create_model(name).eval()
    x = torch.rand(1, 3, *size)
    with torch.inference_mode():
        for _ in range(2):
            model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model(x)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [{"op": e.key, "calls": e.count, "self_cpu_ms": e.self_cpu_time_total / 1e3} for e in events]


def run(models: Sequence[str] | None = None, batch_sizes: Sequence[int] = (1,),
        target_batch_sizes: Sequence[int] = (1, 8), large: bool = False, nyu: bool = False,
        device: str = "cpu", threads: int = 2, warmup: int = 1, repeats: int = 3,
        budget: float | None = 2.0, target_warmup: int = 3, target_repeats: int = 20,
        with_ort: bool = True, single_thread_all: bool = False, variants: bool = False,
        profile_eager: bool = False) -> BenchResult:
    from litedepth.models import list_models

    threads = set_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but torch.cuda.is_available() is False")
    names = list(models) if models else list_models(task="depth")
    dev_label = "CUDA" if device == "cuda" else f"CPU, {threads} threads"
    res = BenchResult(
        name="inference" if device == "cpu" else "inference_cuda",
        title=f"Inference latency ({dev_label}; ms per call of the whole batch)",
        columns=["network", "input HxW", "batch", "backend", "p50 ms", "p90 ms", "ms / image",
                 "images / s", "x vs eager fp32", "calls"],
        threads=threads)
    rows: list[dict[str, Any]] = []
    for name in names:
        for size in sizes_for(name, large, nyu):
            is_target = name == TARGET_MODEL and tuple(size) == TARGET_SIZE
            bs = sorted(set(batch_sizes) | (set(target_batch_sizes) if is_target else set()))
            # the target row (batch 1) gets the long series; everything else the short one
            plan = {b: (target_warmup, target_repeats, None) if is_target and b == 1
                    else (warmup, repeats, budget or None) for b in bs}
            rows += bench_one(name, size, plan, device, threads, with_ort,
                              single_thread=single_thread_all or is_target)
    for r in rows:
        res.rows.append([r["model"], f"{r['height']}x{r['width']}", str(r["batch"]), r["backend"],
                         f"{r['p50_ms']:.1f}", f"{r['p90_ms']:.1f}", f"{r['p50_ms'] / r['batch']:.1f}",
                         f"{1e3 * r['batch'] / r['p50_ms']:.1f}", f"{r['speedup_vs_eager']:.2f}x",
                         str(r["n"])])
    ratio = next((r["speedup_vs_eager"] for r in rows if r["model"] == TARGET_MODEL
                  and (r["height"], r["width"]) == TARGET_SIZE and r["batch"] == 1
                  and r["backend"] == "onnxruntime"), None)
    one = next((r["p50_ms"] for r in rows if r["model"] == TARGET_MODEL
                and (r["height"], r["width"]) == TARGET_SIZE and r["batch"] == 1
                and r["backend"] == "eager fp32, 1 thread"), None)
    ort = next((r["p50_ms"] for r in rows if r["model"] == TARGET_MODEL
                and (r["height"], r["width"]) == TARGET_SIZE and r["batch"] == 1
                and r["backend"] == "onnxruntime"), None)
    if one and ort:
        res.notes.append(f"{TARGET_MODEL} 192x640 batch 1: eager fp32 with 1 thread / onnxruntime "
                         f"with {threads} threads = {one / ort:.2f}x (against eager with one thread, "
                         "which is the faster eager setting when the machine is oversubscribed)")
    if device == "cpu":
        res.targets.append(Target(f"onnxruntime vs eager, {TARGET_MODEL} 192x640 batch 1, {threads} threads",
                                  ratio, TARGET_RATIO, ">=", "x"))
    res.notes.append("onnxruntime: CPU execution provider, graph optimisation level ORT_ENABLE_ALL "
                     f"(default), intra_op_num_threads={threads}, spinning on (its default); input "
                     "is a NumPy array (no torch conversion in the timed call)")
    res.notes.append("'1 thread' rows (target network by default) run the same network with one "
                     "intra-op thread: on a loaded machine a second OpenMP thread can wait for a "
                     "core at every parallel region, which slows eager networks made of many small "
                     "ops (seen while writing this benchmark: lite-mono-tiny eager 2.7 s with 2 "
                     "threads vs 0.11 s with 1, back to back)")
    res.notes.append(f"calls = timed calls after warm-up ({warmup} untimed; target row, batch 1: "
                     f"{target_warmup} untimed, no time limit); other series stop after {budget} s "
                     "once 3 calls are timed")
    if variants and device == "cpu":
        var_rows = ort_variants(TARGET_MODEL, TARGET_SIZE, threads, target_warmup, target_repeats)
        for r in var_rows:
            res.rows.append([TARGET_MODEL, f"{TARGET_SIZE[0]}x{TARGET_SIZE[1]}", "1", r["variant"],
                             f"{r['p50_ms']:.1f}", f"{r['p90_ms']:.1f}", f"{r['p50_ms']:.1f}",
                             f"{1e3 / r['p50_ms']:.1f}", f"{r['speedup_vs_eager']:.2f}x", str(r["n"])])
        res.raw["ort_variants"] = var_rows
        best = max((r for r in var_rows if r["variant"].startswith("onnxruntime")),
                   key=lambda r: r["speedup_vs_eager"])
        res.targets.append(Target(f"best cheap onnxruntime setting ({best['variant']}) vs eager fp32, "
                                  f"{TARGET_MODEL} 192x640 batch 1, {threads} threads unless named, variants run",
                                  best["speedup_vs_eager"], TARGET_RATIO, ">=", "x"))
        res.notes.append("rows 'onnxruntime opt=... / no spinning / 1 intra-op thread' (and the eager "
                         "rows before them) are a second back-to-back series for the target: the "
                         "cheap fixes tried for the onnxruntime target (graph optimisation level, "
                         "spinning, threads), with channels-last for eager")
    if profile_eager:
        ops = eager_profile(TARGET_MODEL, TARGET_SIZE)
        res.raw["eager_profile"] = ops
        res.notes.append(f"torch.profiler, {TARGET_MODEL} eager batch 1, top self-CPU ops: " +
                         ", ".join(f"{o['op']} {o['self_cpu_ms']:.1f} ms x{o['calls']}" for o in ops))
    res.raw.update({"rows": rows, "warmup": warmup, "repeats": repeats, "budget_s": budget,
               "target": {"model": TARGET_MODEL, "size": TARGET_SIZE, "warmup": target_warmup,
                          "repeats": target_repeats}})
    return res


def main(argv: list[str] | None = None) -> BenchResult:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", help="registered depth networks (default: all)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1])
    p.add_argument("--target-batch-sizes", type=int, nargs="+", default=[1, 8],
                   help="batch sizes of the target network lite-mono at 192x640")
    p.add_argument("--large", action="store_true", help="also 320x1024 for self-supervised networks")
    p.add_argument("--nyu", action="store_true", help="supervised networks at NYU 480x640")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--budget", type=float, default=2.0, help="seconds per series (0: no limit)")
    p.add_argument("--target-repeats", type=int, default=20)
    p.add_argument("--no-ort", action="store_true", help="skip the onnxruntime back-end")
    p.add_argument("--ort-variants", action="store_true",
                   help="also time onnxruntime settings (optimisation level, spinning, threads) for lite-mono")
    p.add_argument("--profile", action="store_true", help="torch.profiler top ops of eager lite-mono")
    p.add_argument("--single-thread-rows", action="store_true",
                   help="add 1-thread eager and onnxruntime rows for every network (default: target only)")
    args = p.parse_args(argv)
    res = run(args.models, args.batch_sizes, args.target_batch_sizes, args.large, args.nyu,
              args.device, args.threads, args.warmup, args.repeats, args.budget or None,
              target_repeats=args.target_repeats, with_ort=not args.no_ort,
              single_thread_all=args.single_thread_rows, variants=args.ort_variants,
              profile_eager=args.profile)
    finish(res, args.out, args.device)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
