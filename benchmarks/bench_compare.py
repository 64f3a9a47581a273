"""litedepth side by side with the original Lite-Mono and Monodepth2 code (issue 13).

Every comparison runs both sides in this process, alternately (ABBA... rounds, warm-up calls
first), with the same number of threads on each side (default 1, as the issue's figures), and
reports the **median of the per-round ratios** ``litedepth / original`` with their range: load
from other processes slows both sides of a round alike. The original code is imported from
checkouts named by ``LITEDEPTH_BENCH_LITEMONO`` / ``LITEDEPTH_BENCH_MONODEPTH2`` (see
:mod:`benchmarks.originals`); rows whose checkout is not configured are skipped with a message.
Weights are random on both sides (speed does not depend on them).

Rows:

* **eager inference** of lite-mono, lite-mono-tiny and monodepth2-resnet18 at 640x192, batch 1,
  ``torch.inference_mode``: litedepth's network with channels-last weights
  (``net.to(memory_format=torch.channels_last)``, what the self-supervised task trains with)
  and, for the record, in the default memory order, against the original encoder + decoder;
* **onnxruntime** (litedepth's parity-checked export, CPU provider, same thread count) against
  the original eager network, float32 and int8 (``export --precision int8``, calibrated on 4
  rendered frames; random weights, so these rows time the graph only - the int8 accuracy of a
  trained lite-mono is measured by :mod:`benchmarks.bench_int8`);
* **self-supervised training step** (forward of depth and pose networks, view synthesis,
  losses, backward, optimiser step) at batch 2, 640x192: litedepth's
  ``SelfSupervisedDepthTask.compute_losses`` + its own optimiser against the original
  ``Trainer.process_batch`` + backward + its optimisers (lite-mono: AdamW, monodepth2-R18:
  Adam);
* **peak memory** of that step: tensors alive at the start (parameters, gradients, optimiser
  state) plus the highest amount allocated during the step (``torch.profiler`` memory events);
* **video data loading**: one training sample (frames 0, -1, 1 at 1242x375 read from JPEG,
  resized to 640x192, colour jitter p=0.5 and flip p=0.5) of litedepth's ``KittiRawDataset``
  against the original ``KITTIRAWDataset`` on the same files; plus DataLoader samples/s with
  0, 1 and 2 workers (cores stated);
* **evaluation**: ``litedepth evaluate`` of 697 KITTI-sized frames from saved files
  (uint16 PNG ground truth, ``.npy`` disparities), whole process wall time, against a plain
  NumPy loop of the Eigen protocol in its own process.

Run: ``python -m benchmarks.bench_compare [--threads 1] [--rounds 5] [--only inference training ...]``
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import (
    BenchResult,
    RatioStats,
    Target,
    base_parser,
    finish,
    interleaved,
    loadavg,
    peak_tensor_bytes,
    set_threads,
)
from benchmarks.originals import PROJECT_OF, Original, OriginalUnavailable, load_original

SIZE = (192, 640)
NETWORKS = ("lite-mono", "lite-mono-tiny", "monodepth2-resnet18")
TRAIN_NETWORKS = ("lite-mono", "monodepth2-resnet18")
PARTS = ("inference", "training", "loading", "evaluation")
KITTI_SIZE = (375, 1242)
#: Monodepth2's normalised KITTI intrinsics (REFERENCE section 2), 4x4 as its loader keeps them
K_NORM = np.array([[0.58, 0, 0.5, 0], [0, 1.92, 0.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32)
#: issue 13's targets: (row key, threshold, op)
TARGETS = {"inference": (0.95, "<"), "onnxruntime": (0.5, "<"), "training": (0.80, "<"),
           "memory": (0.90, "<"), "loading": (2.0, ">=")}


class Originals:
    """Imports each original project once; remembers why one is unavailable."""

    def __init__(self) -> None:
        self._cache: dict[str, Original | str] = {}

    def get(self, project: str) -> Original | str:
        if project not in self._cache:
            try:
                self._cache[project] = load_original(project)
            except OriginalUnavailable as exc:
                self._cache[project] = str(exc)
        return self._cache[project]


# ---------------------------------------------------------------------------------- inference
def _ours_network(name: str, channels_last: bool) -> torch.nn.Module:
    from litedepth.models import create_model

    net = create_model(name).eval()
    return net.to(memory_format=torch.channels_last) if channels_last else net


def bench_inference(originals: Originals, threads: int, rounds: int, names: Sequence[str]) -> list[dict[str, Any]]:
    from litedepth.export.onnx import export_onnx
    from litedepth.inference.onnx_backend import OnnxDepthModel

    rows: list[dict[str, Any]] = []
    h, w = SIZE
    for name in names:
        orig = originals.get(PROJECT_OF[name])
        if isinstance(orig, str):
            rows.append({"work": f"eager inference {name}", "skipped": orig})
            continue
        theirs = orig.inference_fn(name, h, w)
        x = torch.rand(1, 3, h, w)
        with torch.inference_mode():
            for cl in (True, False):
                net = _ours_network(name, cl)
                label = "channels-last" if cl else "default memory order"
                r = interleaved(lambda: net(x), lambda: theirs(x), rounds, warmup=2)
                rows.append({"work": f"eager inference {name}, 640x192, batch 1 ({label})", "key": "inference" if cl else None,
                             "stats": r, "network": name})
        with tempfile.TemporaryDirectory(prefix="litedepth-bench-") as tmp:
            exported = export_onnx(_ours_network(name, False), Path(tmp) / "m.onnx", h, w, model_name=name)
            ort = OnnxDepthModel(exported.path, device="cpu", threads=threads)
            xn = x.numpy()
            with torch.inference_mode():
                r = interleaved(lambda: ort.run_numpy(xn), lambda: theirs(x), rounds, warmup=2)
            rows.append({"work": f"onnxruntime {name} (fp32) vs original eager", "key": None, "stats": r,
                         "network": name})
            del ort
            # int8 (timing: random weights; its accuracy on a trained network is bench_int8's)
            q = export_onnx(_ours_network(name, False), Path(tmp) / "q.onnx", h, w, model_name=name,
                            precision="int8", calibration=_calibration_frames(h, w), max_abs_rel=None)
            ort = OnnxDepthModel(q.path, device="cpu", threads=threads)
            with torch.inference_mode():
                r = interleaved(lambda: ort.run_numpy(xn), lambda: theirs(x), rounds, warmup=2)
            rows.append({"work": f"onnxruntime {name} (int8, `export --precision int8`) vs original eager",
                         "key": "onnxruntime", "stats": r, "network": name})
            del ort
    return rows


_CALIBRATION: dict[tuple[int, int], list[np.ndarray]] = {}


def _calibration_frames(h: int, w: int) -> list[np.ndarray]:
    """4 rendered synthetic frames (street corridors and rooms) as int8 calibration inputs."""
    if (h, w) not in _CALIBRATION:
        from litedepth.data.synthetic import SceneConfig, make_sequence

        seq = make_sequence(SceneConfig(kind="mixed", height=h, width=w, open_sky=True, seed=11), 4)
        _CALIBRATION[(h, w)] = [np.ascontiguousarray(f.transpose(2, 0, 1)[None] / 255.0, dtype=np.float32)
                                for f in seq.rgb]
    return _CALIBRATION[(h, w)]


# ---------------------------------------------------------------------------------- training
def _persistent_bytes(modules: Sequence[torch.nn.Module], optimisers: Sequence[torch.optim.Optimizer]) -> int:
    """Bytes of parameters, buffers, gradients and optimiser state (distinct storages)."""
    seen: set[int] = set()
    total = 0

    def add(t: torch.Tensor | None) -> None:
        nonlocal total
        if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in seen:
            seen.add(t.untyped_storage().data_ptr())
            total += t.untyped_storage().nbytes()

    for m in modules:
        for p in m.parameters():
            add(p)
            add(p.grad)
        for b in m.buffers():
            add(b)
    for o in optimisers:
        for state in o.state.values():
            for v in state.values():
                add(v)
    return total


def _ours_step(name: str, batch_size: int) -> tuple[Callable[[], float], list[torch.nn.Module], list[Any], Any]:
    from litedepth.tasks.self_supervised import SelfSupervisedDepthTask

    lite = name.startswith("lite-mono")
    task = SelfSupervisedDepthTask(network=name, optimizer="adamw" if lite else "adam",
                                   weight_decay=1e-2 if lite else 0.0).train()
    opt = task.configure_optimizers()["optimizer"]

    def step(batch: dict[str, torch.Tensor]) -> float:
        opt.zero_grad(set_to_none=True)  # Lightning's order: gradients freed before the forward
        loss = task.compute_losses(batch)["loss"]
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step, [task], [opt], task


def bench_training(originals: Originals, rounds: int, batch_size: int = 2,
                   names: Sequence[str] = TRAIN_NETWORKS) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    h, w = SIZE
    for name in names:
        orig = originals.get(PROJECT_OF[name])
        if isinstance(orig, str):
            rows.append({"work": f"training step {name}", "skipped": orig})
            continue
        g = torch.Generator().manual_seed(0)
        frames = torch.rand(batch_size, 3, 3, h, w, generator=g)
        K = torch.from_numpy(K_NORM[:3, :3] * np.array([[w], [h], [1]], dtype=np.float32))
        batch = {"frames": frames, "frames_raw": frames.clone(), "K": K.expand(batch_size, 3, 3).contiguous()}
        theirs = orig.training_step(name, batch_size, h, w)
        inputs = theirs.inputs(frames, frames.clone(), K_NORM)
        ours, our_modules, our_opts, _ = _ours_step(name, batch_size)
        r = interleaved(lambda: ours(batch), lambda: theirs(inputs), rounds, warmup=1)
        rows.append({"work": f"self-supervised training step {name}, batch {batch_size}, 640x192 "
                             "(forward + loss + backward + optimiser step)", "key": "training", "stats": r,
                     "network": name})
        peaks: dict[str, list[float]] = {"ours": [], "theirs": []}
        for _ in range(2):
            for side, fn, mods, opts in (("ours", lambda: ours(batch), our_modules, our_opts),
                                         ("theirs", lambda: theirs(inputs), theirs.modules, theirs.optimisers)):
                base = _persistent_bytes(mods, opts)
                peak = peak_tensor_bytes(fn)
                if peak is not None:
                    peaks[side].append(base + peak)
        if peaks["ours"] and peaks["theirs"]:
            mem = RatioStats.of(peaks["ours"], peaks["theirs"])
            rows.append({"work": f"peak memory of that step ({name})", "key": "memory", "stats": mem,
                         "network": name, "unit": "MB", "a": float(np.median(peaks["ours"])) / 1e6,
                         "b": float(np.median(peaks["theirs"])) / 1e6})
    return rows


# ---------------------------------------------------------------------------------- loading
def _real_kitti_frames() -> list[Path]:
    root = Path(os.environ.get("LITEDEPTH_REAL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data" / "real")
    frames = sorted((root / "kitti_object_frames_with_lidar").glob("*/image_[23]/*.png")) if root.is_dir() else []
    return frames


def write_kitti_drive(root: Path, n_frames: int, ext: str = ".jpg") -> tuple[Path, list[str], str]:
    """A KITTI-raw-shaped folder with ``n_frames`` 1242x375 left frames (real KITTI frames when
    the real sample data is present, cycled; else rendered synthetic corridor frames) and the
    real 2011_09_26 calibration layout; returns ``(root, split lines, source description)``."""
    from PIL import Image

    date, drive = "2011_09_26", "2011_09_26_drive_0001_sync"
    folder = root / date / drive / "image_02" / "data"
    folder.mkdir(parents=True)
    sources = _real_kitti_frames()
    if sources:
        images = [Image.open(p).convert("RGB").resize((KITTI_SIZE[1], KITTI_SIZE[0]), Image.BICUBIC) for p in sources]
        what = f"{len(sources)} real KITTI frames cycled"
    else:
        from litedepth.data.synthetic import SceneConfig, make_sequence

        seq = make_sequence(SceneConfig(kind="corridor", height=KITTI_SIZE[0], width=KITTI_SIZE[1]), n_frames=4)
        images = [Image.fromarray(f) for f in seq.rgb]
        what = "synthetic corridor frames (real KITTI frames absent)"
    for i in range(n_frames):
        im = images[i % len(images)]
        path = folder / f"{i:010d}{ext}"
        if ext == ".jpg":
            im.save(path, quality=92)  # Monodepth2's conversion of KITTI raw to JPEG
        else:
            im.save(path)
    fx, cx, fy, cy = 721.5377, 609.5593, 721.5377, 172.854
    p2 = f"{fx} 0 {cx} 44.85728 0 {fy} {cy} 0.2163791 0 0 1 0.002745884"
    (root / date / "calib_cam_to_cam.txt").write_text(
        f"S_rect_02: {KITTI_SIZE[1]}.0 {KITTI_SIZE[0]}.0\nP_rect_02: {p2}\n"
        f"S_rect_03: {KITTI_SIZE[1]}.0 {KITTI_SIZE[0]}.0\nP_rect_03: {p2}\n")
    lines = [f"{date}/{drive} {i} l" for i in range(1, n_frames - 1)]
    return root, lines, what


def _loader_rate(ds: Any, workers: int, samples: int) -> float:
    from torch.utils.data import DataLoader

    loader = DataLoader(ds, batch_size=1, shuffle=True, num_workers=workers, persistent_workers=False)
    it = iter(loader)
    next(it)  # worker start-up excluded
    t0 = time.perf_counter()
    n = 0
    for _ in range(samples):
        try:
            next(it)
        except StopIteration:
            it = iter(loader)
            next(it)
        n += 1
    return n / (time.perf_counter() - t0)


def bench_loading(originals: Originals, rounds: int, workers: Sequence[int] = (0, 1, 2)) -> list[dict[str, Any]]:
    from litedepth.data.augment import ColorJitter
    from litedepth.data.kitti_raw import KittiRawDataset

    rows: list[dict[str, Any]] = []
    orig = originals.get("lite-mono")
    if isinstance(orig, str):
        orig = originals.get("monodepth2")
    n = max(12, rounds + 4)
    for ext in (".jpg", ".png"):
        with tempfile.TemporaryDirectory(prefix="litedepth-bench-kitti-") as tmp:
            root, lines, what = write_kitti_drive(Path(tmp), n, ext)
            split = Path(tmp) / "train_files.txt"
            split.write_text("\n".join(lines) + "\n")
            ours = KittiRawDataset(root, split, size=SIZE, img_ext=ext, color_jitter=ColorJitter(p=0.5), hflip_p=0.5,
                                   load_gt=False)
            label = f"video data loading, 3 frames {KITTI_SIZE[1]}x{KITTI_SIZE[0]} {ext[1:].upper()} -> 640x192 + augmentation"
            counter = {"a": 0, "b": 0}

            def a() -> Any:
                counter["a"] += 1
                return ours[counter["a"] % len(ours)]

            if isinstance(orig, str):
                rows.append({"work": label, "skipped": orig})
            else:
                theirs = orig.kitti_dataset(root, lines, SIZE[0], SIZE[1], img_ext=ext)

                def b() -> Any:
                    counter["b"] += 1
                    return theirs[counter["b"] % len(theirs)]

                r = interleaved(a, b, max(rounds * 4, 12), warmup=2)
                rows.append({"work": f"{label} ({orig.project} loader; {what}; speed-up = original / litedepth)",
                             "key": "loading" if ext == ".jpg" else None, "stats": r, "speedup": 1.0 / r.median})
            for nw in workers:
                rate = _loader_rate(ours, nw, samples=max(8, 4 * max(nw, 1)))
                rows.append({"work": f"litedepth loader {ext[1:].upper()}, {nw} worker(s), {os.cpu_count()} cores",
                             "rate": rate})
    return rows


# ---------------------------------------------------------------------------------- evaluation
_NUMPY_EIGEN = r'''
import sys, numpy as np
from pathlib import Path
from PIL import Image
import cv2
pred_dir, gt_dir = Path(sys.argv[1]), Path(sys.argv[2])
errs = []
for gt_path in sorted(gt_dir.glob("*.png")):
    gt = np.asarray(Image.open(gt_path), dtype=np.float32) / 256.0
    h, w = gt.shape
    disp = np.load(pred_dir / (gt_path.stem + ".npy"))
    pred = 1.0 / cv2.resize(disp, (w, h))  # disparity -> depth at the GT size (bilinear)
    mask = (gt > 1e-3) & (gt < 80)
    crop = np.zeros_like(mask)
    crop[int(0.40810811 * h):int(0.99189189 * h), int(0.03594771 * w):int(0.96405229 * w)] = True
    mask &= crop
    g, p = gt[mask], pred[mask]
    p = np.clip(p * np.median(g) / np.median(p), 1e-3, 80)
    t = np.maximum(g / p, p / g)
    errs.append([np.mean(np.abs(g - p) / g), np.mean((g - p) ** 2 / g), np.sqrt(np.mean((g - p) ** 2)),
                 np.sqrt(np.mean((np.log(g) - np.log(p)) ** 2)), (t < 1.25).mean(), (t < 1.25 ** 2).mean(),
                 (t < 1.25 ** 3).mean()])
print(np.mean(errs, 0))
'''


def bench_evaluation(rounds: int, frames: int = 697, threads: int = 1) -> list[dict[str, Any]]:
    from benchmarks.bench_eval import make_pool
    from PIL import Image

    pool = make_pool(16)
    with tempfile.TemporaryDirectory(prefix="litedepth-bench-eval-") as tmp:
        pred_dir, gt_dir = Path(tmp) / "pred", Path(tmp) / "gt"
        pred_dir.mkdir()
        gt_dir.mkdir()
        for i in range(frames):
            pred, gt = pool[i % len(pool)]
            np.save(pred_dir / f"{i:06d}.npy", pred)
            Image.fromarray(np.round(gt * 256.0).astype(np.uint16)).save(gt_dir / f"{i:06d}.png")
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
        ours_cmd = [sys.executable, "-m", "litedepth", "evaluate",  # this interpreter, this sys.path
                    "--predictions", str(pred_dir), "--ground-truth", str(gt_dir), "--protocol", "kitti-eigen",
                    "--pred-kind", "disparity", "--output", str(Path(tmp) / "metrics.json")]
        base_cmd = [sys.executable, "-c", _NUMPY_EIGEN, str(pred_dir), str(gt_dir)]

        def run(cmd: list[str]) -> Callable[[], None]:
            def go() -> None:
                subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=1800)
            return go

        r = interleaved(run(ours_cmd), run(base_cmd), rounds, warmup=0)
    return [{"work": f"`litedepth evaluate` of {frames} KITTI-sized frames from saved files, whole process, "
                     "vs a plain NumPy loop of the Eigen protocol", "key": None, "stats": r}]


# ---------------------------------------------------------------------------------- table
def run(threads: int = 1, rounds: int = 5, parts: Sequence[str] = PARTS, eval_rounds: int = 3) -> BenchResult:
    threads = set_threads(threads)
    originals = Originals()
    load_start = loadavg()
    rows: list[dict[str, Any]] = []
    if "inference" in parts:
        rows += bench_inference(originals, threads, max(rounds * 3, 9), NETWORKS)
    if "training" in parts:
        rows += bench_training(originals, rounds)
    if "loading" in parts:
        rows += bench_loading(originals, rounds)
    if "evaluation" in parts:
        rows += bench_evaluation(eval_rounds, threads=threads)
    res = BenchResult(
        name="compare", title=f"litedepth vs the original implementations (CPU, {threads} thread(s) each side; "
                              "ratio = litedepth / original, median of interleaved rounds)",
        columns=["work", "ratio (range, rounds)", "litedepth", "original", "target"], threads=threads)
    worst: dict[str, float] = {}
    for r in rows:
        if "skipped" in r:
            res.rows.append([r["work"], "skipped", "-", "-", "-"])
            res.notes.append(f"{r['work']}: skipped - {r['skipped']}")
            continue
        if "rate" in r:
            res.rows.append([r["work"], "-", f"{r['rate']:.1f} samples/s", "-", "-"])
            continue
        st: RatioStats = r["stats"]
        key = r.get("key")
        target = ""
        if key in TARGETS:
            thr, op = TARGETS[key]
            target = f"{op} {thr:g}" + ("x speed-up" if key == "loading" else "")
        if "unit" in r:
            a, b = f"{r['a']:.0f} MB", f"{r['b']:.0f} MB"
        else:
            a, b = f"{st.a_ms:.1f} ms", f"{st.b_ms:.1f} ms"
        cell = st.cell() if "speedup" not in r else f"{st.cell()}; speed-up {r['speedup']:.2f}x"
        res.rows.append([r["work"], cell, a, b, target])
        if key == "loading":
            worst[key] = min(worst.get(key, np.inf), r["speedup"])
        elif key in TARGETS:
            worst[key] = max(worst.get(key, -np.inf), st.median)
    names = {"inference": "eager inference (channels-last), worst of the networks", "onnxruntime":
             "onnxruntime int8 vs original eager, worst of the networks", "training": "training step, worst network",
             "memory": "training-step peak memory, worst network", "loading": "video data loading speed-up (JPEG)"}
    for key, (thr, op) in TARGETS.items():
        res.targets.append(Target(names[key], worst.get(key), thr, op, "x" if key == "loading" else ""))
    res.notes.append(f"load average (1/5/15 min) {load_start} at the start, {loadavg()} at the end, on "
                     f"{os.cpu_count()} logical CPUs; torch intra-op threads {threads}, onnxruntime "
                     f"intra_op_num_threads {threads}, both sides")
    res.notes.append("ratios are medians of per-round ratios of back-to-back runs (order alternated every "
                     "round); '(a-b, n=k)' is the range of the k per-round ratios")
    res.raw = {"rows": [{k: (v.__dict__ if isinstance(v, RatioStats) else v) for k, v in r.items()} for r in rows],
               "load_start": load_start, "load_end": loadavg()}
    return res


def main(argv: list[str] | None = None) -> BenchResult:
    p = base_parser(__doc__.splitlines()[0])
    p.set_defaults(threads=1)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the training step (inference: 3x)")
    p.add_argument("--eval-rounds", type=int, default=3)
    p.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    args = p.parse_args(argv)
    res = run(args.threads, args.rounds, args.only, args.eval_rounds)
    finish(res, args.out)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
