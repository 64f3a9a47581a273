"""Self-supervised training on a CUDA device: precision, memory order, loader vs step (issue 13).

Two parts, both for lite-mono and monodepth2-resnet18 at 640x192 (HxW), batch 12 (the
published recipe), frames (0, -1, 1):

1. **Precision and memory order** on one fixed random batch, the same weights for every
   variant: float32 (default memory order and channels-last), bf16 and fp16 autocast (what
   ``--trainer.precision bf16-mixed`` / ``16-mixed`` run; fp16 with a gradient scaler),
   optionally ``torch.compile``. Per variant: the loss of the first step against float32
   (relative difference; the auto-masking noise is seeded), ms per step (forward + losses +
   backward + fused optimiser step, synchronised), samples/s and peak device memory
   (``torch.cuda.max_memory_allocated``). Steps alternate between variants round by round.
2. **Loader vs step**: KITTI-sized (1242x375) JPEG frames written to a temporary drive
   (real KITTI frames cycled when the sample data is present, else rendered frames) read by
   ``KittiRawDataset`` with ``--workers`` workers: the loader's samples/s alone, and the
   training step fed by it, split into data wait / forward / loss / backward / optimiser
   (:func:`benchmarks.bench_training.time_steps`), once with augmentation in the workers (the
   default) and once on the device (``augment_on_device``).

``--device cpu --quick`` runs everything tiny on the CPU (a smoke run of this script).

Run: ``python -m benchmarks.bench_gpu [--steps 8] [--workers 8] [--compile]``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import BenchResult, base_parser, finish, sync

NETWORKS = ("lite-mono", "monodepth2-resnet18")
VARIANTS = ("fp32", "fp32 channels-last", "bf16 autocast", "fp16 autocast")


def _task(name: str, channels_last: bool, device: str, compile_: bool = False) -> Any:
    from litedepth.tasks.self_supervised import SelfSupervisedDepthTask

    torch.manual_seed(0)
    lite = name.startswith("lite-mono")
    task = SelfSupervisedDepthTask(network=name, optimizer="adamw" if lite else "adam",
                                   weight_decay=1e-2 if lite else 0.0, channels_last=channels_last,
                                   compile=compile_).to(device).train()
    if compile_:
        task.configure_model()
    return task


def _batch(batch_size: int, size: tuple[int, int], device: str) -> dict[str, torch.Tensor]:
    h, w = size
    g = torch.Generator().manual_seed(0)
    base = torch.rand(batch_size, 3, h, w + 16, generator=g)
    frames = torch.stack([base[..., 8:w + 8], base[..., 4:w + 4], base[..., 12:w + 12]], 1)
    K = torch.tensor([[0.58 * w, 0, (w - 1) / 2], [0, 1.92 * h, (h - 1) / 2], [0, 0, 1]]).expand(batch_size, 3, 3)
    return {"frames": frames.to(device), "frames_raw": frames.clone().to(device), "K": K.contiguous().to(device)}


def precision_rows(name: str, batch_size: int, size: tuple[int, int], device: str, steps: int,
                   compile_: bool) -> list[dict[str, Any]]:
    """Loss agreement, step time and peak memory of every precision / memory-order variant."""
    dev = torch.device(device)
    variants = list(VARIANTS) + (["bf16 autocast + compile"] if compile_ else [])
    if dev.type == "cpu":
        variants = [v for v in variants if not v.startswith("fp16")]  # no fp16 autocast training on the CPU
    state = _task(name, False, "cpu").state_dict()
    batch = _batch(batch_size, size, device)
    runs: dict[str, dict[str, Any]] = {}
    for v in variants:
        task = _task(name, "channels-last" in v or "autocast" in v, device, compile_="compile" in v)
        task.load_state_dict(state)
        dtype = torch.bfloat16 if v.startswith("bf16") else torch.float16 if v.startswith("fp16") else None
        scaler = torch.amp.GradScaler(dev.type) if dtype is torch.float16 else None
        runs[v] = {"task": task, "opt": task.configure_optimizers()["optimizer"], "dtype": dtype, "scaler": scaler,
                   "times": []}

    def step(r: dict[str, Any]) -> float:
        torch.manual_seed(1)  # the same auto-masking noise for every variant
        r["opt"].zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=r["dtype"] or torch.float32, enabled=r["dtype"] is not None):
            loss = r["task"].compute_losses(batch)["loss"]
        if r["scaler"] is not None:
            r["scaler"].scale(loss).backward()
            r["scaler"].step(r["opt"])
            r["scaler"].update()
        else:
            loss.backward()
            r["opt"].step()
        return float(loss.detach())

    for v, r in runs.items():  # first step: same weights, same batch -> comparable losses
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        r["loss"] = step(r)
        step(r)  # warm-up (autotuning, compilation)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
            r["peak_mb"] = torch.cuda.max_memory_allocated(dev) / 1e6
    for i in range(steps):
        for v in (variants if i % 2 == 0 else variants[::-1]):
            sync(device)
            t0 = time.perf_counter()
            step(runs[v])
            sync(device)
            runs[v]["times"].append(time.perf_counter() - t0)
    ref = runs["fp32"]["loss"]
    rows = []
    for v, r in runs.items():
        ms = float(np.median(r["times"])) * 1e3
        rows.append({"network": name, "variant": v, "loss": r["loss"], "rel_diff": abs(r["loss"] - ref) / abs(ref),
                     "ms_per_step": ms, "samples_per_s": batch_size / ms * 1e3, "peak_mb": r.get("peak_mb"),
                     "vs_fp32": ms / (float(np.median(runs["fp32"]["times"])) * 1e3)})
    return rows


def loader_rows(name: str, batch_size: int, size: tuple[int, int], device: str, workers: int, steps: int,
                n_frames: int) -> list[dict[str, Any]]:
    """Loader samples/s alone and the training step fed by it, augmentation in the workers or on the device."""
    from torch.utils.data import DataLoader

    from benchmarks.bench_compare import write_kitti_drive
    from benchmarks.bench_training import PHASES, loader_rate, time_steps
    from litedepth.data.augment import ColorJitter, augment_batch
    from litedepth.data.kitti_raw import KittiRawDataset
    from litedepth.data.video import collate_native

    rows = []
    with tempfile.TemporaryDirectory(prefix="litedepth-bench-gpu-") as tmp:
        root, lines, what = write_kitti_drive(Path(tmp), n_frames, ".jpg")
        for on_device in (False, True):
            ds = KittiRawDataset(root, lines, size=size, color_jitter=ColorJitter(p=0.5), hflip_p=0.5,
                                 augment_on_device=on_device)
            loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                                persistent_workers=workers > 0, pin_memory=torch.device(device).type == "cuda",
                                collate_fn=collate_native if on_device else None)
            rate = loader_rate(loader, batches=max(3, steps // 2))
            task = _task(name, True, device)
            opt = task.configure_optimizers()["optimizer"]
            out = time_steps(lambda b: task.compute_losses(b)["loss"], [task.net, task.pose_net], [], loader, steps,
                             1, device, after_transfer=(lambda b: augment_batch(b, size)) if on_device else None,
                             optimizer=opt)
            step_s = out["step_p50_s"]
            rows.append({"network": name, "augmentation": "on the device" if on_device else "in the workers",
                         "workers": workers, "loader_samples_per_s": rate,
                         "step_samples_per_s": batch_size / step_s, "phases_ms": {p: out["phases_s"][p] * 1e3
                                                                                  for p in PHASES},
                         "data_fraction": out["phases_s"]["data"] / out["step_s"], "frames": what})
    return rows


def run(device: str = "cuda", steps: int = 8, workers: int | None = None, compile_: bool = False,
        quick: bool = False, networks: tuple[str, ...] = NETWORKS) -> BenchResult:
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but torch.cuda.is_available() is False")
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True
    size, bs = ((64, 192), 2) if quick else ((192, 640), 12)
    workers = workers if workers is not None else (0 if quick else min(8, os.cpu_count() or 1))
    res = BenchResult(name="gpu" if not quick else "gpu_quick",
                      title=f"Self-supervised training on {device} (batch {bs}, {size[0]}x{size[1]} HxW)",
                      columns=["network", "variant", "loss", "vs fp32 loss", "ms / step", "samples / s",
                               "x fp32 time", "peak MB"], threads=torch.get_num_threads())
    prec, load = [], []
    for name in networks:
        prec += precision_rows(name, bs, size, device, steps, compile_)
    for r in prec:
        res.rows.append([r["network"], r["variant"], f"{r['loss']:.5f}", f"{100 * r['rel_diff']:.3f}%",
                         f"{r['ms_per_step']:.1f}", f"{r['samples_per_s']:.1f}", f"{r['vs_fp32']:.2f}",
                         "-" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"])
    for name in networks:
        load += loader_rows(name, bs, size, device, workers, max(4, steps), n_frames=max(24, 3 * bs))
    for r in load:
        ph = r["phases_ms"]
        res.rows.append([r["network"], f"loader -> step, augmentation {r['augmentation']}, {r['workers']} workers",
                         "-", "-", f"{sum(ph.values()):.1f}", f"step {r['step_samples_per_s']:.1f} / loader "
                         f"{r['loader_samples_per_s']:.1f}", "-", "-"])
        res.notes.append(f"{r['network']}, augmentation {r['augmentation']}: step breakdown (median ms) "
                         + ", ".join(f"{p} {v:.1f}" for p, v in ph.items())
                         + f"; data wait {100 * r['data_fraction']:.0f}% of the step; frames: {r['frames']}")
    res.notes.append("'vs fp32 loss' = |loss - fp32 loss| / fp32 loss of the first step (same weights, batch and "
                     "noise); 'x fp32 time' = ms per step / fp32 ms per step (rounds alternate between variants); "
                     "peak MB = torch.cuda.max_memory_allocated over the first two steps")
    res.raw = {"precision": prec, "loader": load, "device_name": torch.cuda.get_device_name(0)
               if torch.device(device).type == "cuda" else "cpu"}
    return res


def main(argv: list[str] | None = None) -> BenchResult:
    p = base_parser(__doc__.splitlines()[0])
    p.set_defaults(device="cuda")
    p.add_argument("--steps", type=int, default=8, help="timed steps per variant")
    p.add_argument("--workers", type=int, default=None, help="loader workers (default min(8, CPUs))")
    p.add_argument("--compile", action="store_true", help="also time bf16 autocast with torch.compile")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run, e.g. on the CPU)")
    p.add_argument("--networks", nargs="+", default=list(NETWORKS))
    args = p.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    res = run(args.device, args.steps, args.workers, args.compile, args.quick, tuple(args.networks))
    finish(res, args.out, args.device)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
