"""Training throughput, split into phases (issue 7, benchmark 2).

Self-supervised (``SelfSupervisedDepthTask``, frames ``(0, -1, 1)``, pose network
``posenet-resnet18``) for lite-mono and monodepth2-resnet18: batch 2 at 96x320 (HxW) on the
CPU, batch 12 at 192x640 on CUDA; supervised (``SupervisedDepthTask``) for DeepLabV3.
Data come from a small synthetic dataset rendered first (not timed) by
:func:`litedepth.data.synthetic.make_dataset`, loaded by the project's own loaders
(:class:`~litedepth.data.video_module.VideoDataModule` with its default worker count and
training augmentation; :class:`~litedepth.data.folder.FolderDepthDataset` for supervised).

Each step is timed with ``time.perf_counter`` around its phases (CUDA synchronised at
every boundary):

* ``data``: waiting for the next batch from the DataLoader (+ host-to-device copy); the
  augmentation runs inside the loader's workers, so this is what loading costs the step;
* ``forward``: the depth and pose networks' forward passes (measured with forward hooks
  inside ``compute_losses``);
* ``loss``: the rest of ``compute_losses`` (warping, SSIM, smoothness);
* ``backward``: ``loss.backward()``; ``optimizer``: ``optimizer.step()``.

Beside the step's samples/s, the loader alone is iterated (same workers) to give its
samples/s. Target: data loading + augmentation under 20% of the lite-mono step.

Run: ``python -m benchmarks.bench_training [--steps 6] [--workers N] [--device cuda]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import BenchResult, Target, base_parser, finish, set_threads, sync

PHASES = ("data", "forward", "loss", "backward", "optimizer")
TARGET_FRACTION = 0.20


def render_dataset(root: Path, size: tuple[int, int], sequences: int = 2, frames: int = 24) -> Path:
    from litedepth.data.synthetic import SceneConfig, make_dataset

    make_dataset(root, n_sequences=sequences, frames_per_sequence=frames,
                 cfg=SceneConfig(kind="corridor", height=size[0], width=size[1]), seed=7)
    return root


class _ForwardTimer:
    """Accumulates wall time spent inside the forward of the given modules."""

    def __init__(self, modules: list[torch.nn.Module], device: str) -> None:
        self.total, self._t0, self.device = 0.0, 0.0, device
        self.handles = []
        for m in modules:
            self.handles.append(m.register_forward_pre_hook(self._pre))
            self.handles.append(m.register_forward_hook(self._post))

    def _pre(self, *_: Any) -> None:
        sync(self.device)
        self._t0 = time.perf_counter()

    def _post(self, *_: Any) -> None:
        sync(self.device)
        self.total += time.perf_counter() - self._t0

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _cycle(loader: Any) -> Iterator[Any]:
    while True:
        yield from loader


def _to(batch: dict[str, Any], device: str) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def time_steps(loss_fn: Any, modules: list[torch.nn.Module], params: list[torch.nn.Parameter],
               loader: Any, steps: int, warmup: int, device: str, after_transfer: Any = None,
               optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
    """Run ``warmup + steps`` optimisation steps; per-phase seconds of the timed steps.

    ``after_transfer`` (e.g. device-side augmentation) runs on each batch after the copy to
    ``device`` and counts as data time; ``optimizer`` defaults to Adam over ``params``.
    """
    opt = optimizer if optimizer is not None else torch.optim.Adam(params, lr=1e-4)
    timer = _ForwardTimer(modules, device)
    it = _cycle(loader)
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    totals: list[float] = []
    batch_size = None
    try:
        for step in range(warmup + steps):
            sync(device)
            t0 = time.perf_counter()
            batch = _to(next(it), device)
            if after_transfer is not None:
                batch = after_transfer(batch)
            sync(device)
            t1 = time.perf_counter()
            timer.total = 0.0
            loss = loss_fn(batch)
            sync(device)
            t2 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            sync(device)
            t3 = time.perf_counter()
            opt.step()
            sync(device)
            t4 = time.perf_counter()
            if step >= warmup:
                phases["data"].append(t1 - t0)
                phases["forward"].append(timer.total)
                phases["loss"].append(t2 - t1 - timer.total)
                phases["backward"].append(t3 - t2)
                phases["optimizer"].append(t4 - t3)
                totals.append(t4 - t0)
                batch_size = next(v.shape[0] for v in batch.values() if isinstance(v, torch.Tensor))
    finally:
        timer.remove()
    return {"phases_s": {p: float(np.mean(v)) for p, v in phases.items()},
            "step_s": float(np.mean(totals)), "step_p50_s": float(np.median(totals)),
            "steps": steps, "warmup": warmup, "batch_size": batch_size}


def loader_rate(loader: Any, batches: int) -> float:
    """Samples per second of the loader alone (after its first batch: worker start-up excluded)."""
    it = _cycle(loader)
    first = next(it)
    n = 0
    t0 = time.perf_counter()
    for _ in range(batches):
        b = next(it)
        n += next(v.shape[0] for v in b.values() if isinstance(v, torch.Tensor))
    del first
    return n / (time.perf_counter() - t0)


def bench_self_supervised(network: str, root: Path, size: tuple[int, int], batch_size: int,
                          workers: int | None, steps: int, warmup: int, device: str) -> dict[str, Any]:
    from litedepth.data.video_module import VideoDataModule
    from litedepth.tasks.self_supervised import SelfSupervisedDepthTask

    kw = {} if workers is None else {"num_workers": workers}
    dm = VideoDataModule(dataset="synthetic", root=str(root), size=size, batch_size=batch_size,
                         train_split="all", val_split=None, **kw)
    dm.setup("fit")
    task = SelfSupervisedDepthTask(network=network).to(device).train()
    loader = dm.train_dataloader()
    out = time_steps(lambda b: task.compute_losses(b)["loss"], [task.net, task.pose_net],
                     [p for p in task.parameters() if p.requires_grad], loader, steps, warmup, device)
    out["loader_samples_per_s"] = loader_rate(loader, batches=max(4, steps))
    out["workers"] = dm.num_workers
    out.update(network=network, regime="self-supervised", size=size)
    return out


def bench_supervised(network: str, root: Path, size: tuple[int, int], batch_size: int,
                     workers: int, steps: int, warmup: int, device: str) -> dict[str, Any]:
    from torch.utils.data import DataLoader

    from litedepth.data.folder import FolderDepthDataset
    from litedepth.tasks.supervised import SupervisedDepthTask

    ds = FolderDepthDataset(root, "all", size=size, depth_encoding="nyu", hflip=True)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, drop_last=True)
    task = SupervisedDepthTask(network=network).to(device).train()

    def loss_fn(b: dict[str, Any]) -> torch.Tensor:
        return task._loss(task(b["image"]), b["depth"])

    out = time_steps(loss_fn, [task.net], [p for p in task.parameters() if p.requires_grad],
                     loader, steps, warmup, device)
    out["loader_samples_per_s"] = loader_rate(loader, batches=max(4, steps))
    out["workers"] = workers
    out.update(network=network, regime="supervised", size=size)
    return out


def run(device: str = "cpu", threads: int = 2, steps: int = 4, warmup: int = 1,
        workers: int | None = None, networks: tuple[str, ...] = ("lite-mono", "monodepth2-resnet18"),
        supervised: str = "deeplabv3-resnet50", batch_size: int | None = None) -> BenchResult:
    threads = set_threads(threads)
    cuda = device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but torch.cuda.is_available() is False")
    size = (192, 640) if cuda else (96, 320)
    bs = batch_size or (12 if cuda else 2)
    results = []
    with tempfile.TemporaryDirectory(prefix="litedepth-bench-train-") as tmp:
        root = render_dataset(Path(tmp) / "synthetic", size, frames=max(12, (warmup + 2 * steps + 4) * bs // 2 + 2))
        for net in networks:
            results.append(bench_self_supervised(net, root, size, bs, workers, steps, warmup, device))
        if supervised:
            sup_workers = results[0]["workers"] if results else (workers or 0)
            results.append(bench_supervised(supervised, root, size, bs, sup_workers, steps, warmup, device))
    dev_label = "CUDA" if cuda else f"CPU, {threads} threads"
    res = BenchResult(
        name="training" if not cuda else "training_cuda",
        title=f"Training throughput ({dev_label}; batch {bs} at {size[0]}x{size[1]} HxW; mean s per step)",
        columns=["network", "regime", "workers", "step s", "steps / s", "step samples / s",
                 "loader samples / s", *[f"{p} s" for p in PHASES], "data %", "loader cost %"],
        threads=threads)
    for r in results:
        ph, step = r["phases_s"], r["step_s"]
        r["data_fraction"] = ph["data"] / step
        # seconds the loader alone needs for one batch, relative to the whole step
        r["loader_cost_fraction"] = r["batch_size"] / r["loader_samples_per_s"] / step
        res.rows.append([r["network"], r["regime"], str(r["workers"]), f"{step:.3f}", f"{1 / step:.2f}",
                         f"{r['batch_size'] / step:.2f}", f"{r['loader_samples_per_s']:.1f}",
                         *[f"{ph[p]:.3f}" for p in PHASES], f"{100 * r['data_fraction']:.1f}%",
                         f"{100 * r['loader_cost_fraction']:.1f}%"])
    lite = next((r for r in results if r["network"] == "lite-mono"), None)
    res.targets.append(Target("lite-mono self-supervised step: data loading + augmentation share",
                              None if lite is None else 100 * lite["data_fraction"], 100 * TARGET_FRACTION,
                              "<", "%"))
    res.notes.append(f"{steps} timed steps after {warmup} warm-up steps; Adam; frames (0, -1, 1); "
                     "synthetic corridor sequences rendered before timing; colour jitter + flip in the "
                     "loader workers (the default VideoDataModule setting)")
    res.notes.append("'data %' = time the step waits for its batch (workers prefetch, so loading "
                     "overlaps compute); 'loader cost %' = batch size / loader samples/s over the step "
                     "time, the share loading would take if it did not overlap. Loader workers share "
                     "the same cores as the training threads")
    res.notes.append("'forward' = depth + pose network forwards (hooks); 'loss' = the rest of "
                     "compute_losses (view synthesis, SSIM, smoothness)")
    res.raw = {"results": results}
    return res


def main(argv: list[str] | None = None) -> BenchResult:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4, help="timed steps per network")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--workers", type=int, default=None, help="loader workers (default: VideoDataModule's)")
    p.add_argument("--batch-size", type=int, default=None, help="default 2 on CPU, 12 on CUDA")
    p.add_argument("--networks", nargs="+", default=["lite-mono", "monodepth2-resnet18"])
    p.add_argument("--supervised", default="deeplabv3-resnet50", help="'' to skip")
    args = p.parse_args(argv)
    res = run(args.device, args.threads, args.steps, args.warmup, args.workers, tuple(args.networks),
              args.supervised, args.batch_size)
    finish(res, args.out, args.device)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
