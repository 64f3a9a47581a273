"""Evaluation speed: ``litedepth evaluate`` of 697 KITTI-sized frames from saved files (issue 13).

What is compared, side by side on the same files (interleaved rounds, one process each):

* **litedepth**: ``python -m litedepth evaluate --predictions pred/ --ground-truth gt/
  --protocol kitti-eigen --pred-kind disparity`` — the whole process (interpreter start, imports,
  pairing, reading, scoring, the JSON report), once with every available core (``--workers``
  default) and once with ``--workers 1``;
* **reference**: a plain NumPy loop of the Eigen protocol written below (:data:`REFERENCE`), in
  its own process, one thread: per frame it decodes the PNG with Pillow, loads the ``.npy``,
  resizes the disparity to the ground-truth size (``cv2.resize``, bilinear, as Monodepth2's
  ``evaluate_depth.py`` does; a separable NumPy resize where OpenCV is missing), masks with the
  Garg crop and ``1e-3 < gt < 80``, median-scales, clamps and computes the same nine metrics.

Files: ``375 x 1242`` uint16 KITTI PNGs (metres * 256, ~5 % valid pixels below the horizon,
like projected LiDAR) and ``192 x 640`` float32 ``.npy`` disparities, one file per frame; a pool
of distinct frames is written once and hard-linked up to 697 names (generation not timed).
Each round runs the commands in a rotated order; the per-round ratio litedepth / reference is
reported as its median and spread (min-max), with the load average around the run. Both sides'
mean metrics are compared (they must agree; OpenCV's float resize differs in the 6th digit).

Also timed, in this process: :func:`litedepth.metrics.evaluate.evaluate_arrays` on the same 697
frames already in memory (issue 7's target: under 10 s on 2 cores).

Target (issue 13): ratio <= 0.5 with every core.

Run: ``python -m benchmarks.bench_eval [--frames 697] [--rounds 5] [--workers 0 1] [--profile]``
(``--workers 0`` means litedepth's default, every available core).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import BenchResult, Target, base_parser, finish

GT_SIZE = (375, 1242)
PRED_SIZE = (192, 640)
EIGEN_FRAMES = 697
TARGET_RATIO = 0.5
TARGET_IN_PROCESS_S = 10.0
METRICS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "a1", "a2", "a3")

#: The reference: a plain NumPy loop of the Eigen protocol (argv: pred_dir gt_dir out.json).
REFERENCE = r'''
import json, sys
from pathlib import Path
import numpy as np
from PIL import Image
try:
    import cv2
    cv2.setNumThreads(1)
    def resize(a, h, w):
        return cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
except ImportError:
    def _axis(n_in, n_out):
        pos = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = pos.astype(np.int64)
        return i0, np.minimum(i0 + 1, n_in - 1), pos - i0
    def resize(a, h, w):
        y0, y1, wy = _axis(a.shape[0], h)
        x0, x1, wx = _axis(a.shape[1], w)
        rows = a[y0] * (1 - wy)[:, None] + a[y1] * wy[:, None]
        return rows[:, x0] * (1 - wx) + rows[:, x1] * wx
pred_dir, gt_dir = Path(sys.argv[1]), Path(sys.argv[2])
errors = []
for gt_path in sorted(gt_dir.glob("*.png")):
    gt = np.asarray(Image.open(gt_path), dtype=np.float32) / 256.0
    h, w = gt.shape
    disp = np.load(pred_dir / (gt_path.stem + ".npy"))
    pred = 1.0 / resize(disp, h, w)
    mask = (gt > 1e-3) & (gt < 80.0)
    crop = np.zeros_like(mask)
    crop[int(0.40810811 * h):int(0.99189189 * h), int(0.03594771 * w):int(0.96405229 * w)] = True
    mask &= crop
    g, p = gt[mask].astype(np.float64), pred[mask].astype(np.float64)
    p = np.clip(p * np.median(g) / np.median(p), 1e-3, 80.0)
    d, e = g - p, np.log(p) - np.log(g)
    t = np.maximum(g / p, p / g)
    errors.append([np.mean(np.abs(d) / g), np.mean(d ** 2 / g), np.sqrt(np.mean(d ** 2)), np.sqrt(np.mean(e ** 2)),
                   np.mean(np.abs(e)) / np.log(10), 100 * np.sqrt(max(np.mean(e ** 2) - np.mean(e) ** 2, 0.0)),
                   np.mean(t < 1.25), np.mean(t < 1.25 ** 2), np.mean(t < 1.25 ** 3)])
names = ["abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "a1", "a2", "a3"]
Path(sys.argv[3]).write_text(json.dumps({"count": len(errors), "metrics": dict(zip(names, np.mean(errors, 0).tolist()))}))
'''


def make_pool(n: int, valid_fraction: float = 0.05, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` pairs ``(pred (192, 640) disparity in (0, 1), gt (375, 1242) metres, 0 = invalid)``."""
    rng = np.random.default_rng(seed)
    h, w = GT_SIZE
    rows = np.arange(h, dtype=np.float32)[:, None]
    pool = []
    for _ in range(n):
        gt = np.zeros(GT_SIZE, np.float32)
        # valid points only below the horizon (rows > h/3), ~valid_fraction of the whole image
        mask = (rng.random(GT_SIZE) < valid_fraction * 1.5) & (rows > h / 3)
        depth = 2.0 + 78.0 * (1.0 - (rows - h / 3) / (2 * h / 3)) ** 2  # far near the horizon
        gt[mask] = (depth * rng.uniform(0.9, 1.1, GT_SIZE))[mask].astype(np.float32)
        pred = rng.uniform(0.01, 0.3, PRED_SIZE).astype(np.float32)
        pool.append((pred, gt))
    return pool


def write_files(root: Path, frames: int, pool_size: int) -> tuple[Path, Path]:
    """``root/pred/NNNNNN.npy`` and ``root/gt/NNNNNN.png`` for ``frames`` frames cycling a pool."""
    from PIL import Image

    pred_dir, gt_dir = root / "pred", root / "gt"
    pred_dir.mkdir(parents=True)
    gt_dir.mkdir()
    pool = make_pool(pool_size)
    for i in range(frames):
        j = i % pool_size
        names = (pred_dir / f"{i:06d}.npy", gt_dir / f"{i:06d}.png")
        if i < pool_size:
            pred, gt = pool[j]
            np.save(names[0], pred)
            Image.fromarray(np.round(gt * 256.0).astype(np.uint16)).save(names[1])
            continue
        for src, dst in zip((pred_dir / f"{j:06d}.npy", gt_dir / f"{j:06d}.png"), names):
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
    return pred_dir, gt_dir


def _loadavg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def _cores() -> int:
    from litedepth.utils.parallel import available_cores

    return available_cores()


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({res.returncode}):\n{res.stderr[-2000:]}")
    return elapsed


def compare(frames: int = EIGEN_FRAMES, rounds: int = 5, workers: Sequence[int] = (0, 1), pool_size: int = 32,
            threads: int = 1, profile: bool = False) -> dict[str, Any]:
    """Interleaved rounds of every litedepth command and the reference on the same files.

    Returns the raw record: per command its seconds per round, per-round ratios to the
    reference, the metrics of both sides and the load average before and after.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="litedepth-bench-eval-") as tmp:
        root = Path(tmp)
        pred_dir, gt_dir = write_files(root, frames, pool_size)
        commands: dict[str, list[str]] = {}
        for w in workers:
            out = root / f"litedepth-w{w}.json"
            commands[f"litedepth-w{w}"] = [
                sys.executable, "-m", "litedepth", "evaluate", "--predictions", str(pred_dir), "--ground-truth",
                str(gt_dir), "--protocol", "kitti-eigen", "--pred-kind", "disparity", "--no-progress",
                "--output", str(out), *(["--workers", str(w)] if w > 0 else [])]
        commands["reference"] = [sys.executable, "-c", REFERENCE, str(pred_dir), str(gt_dir), str(root / "ref.json")]
        keys = list(commands)
        seconds: dict[str, list[float]] = {k: [] for k in keys}
        load_before = _loadavg()
        for r in range(rounds):
            order = keys[r % len(keys):] + keys[: r % len(keys)]  # rotate: no command always first
            for k in order:
                seconds[k].append(_timed(commands[k], env))
        load_after = _loadavg()
        metrics = {k: json.loads((root / (f"{k}.json" if k != "reference" else "ref.json")).read_text())["metrics"]
                   for k in keys}
        hot = _profile(pred_dir, gt_dir) if profile else None
    ref = np.asarray(seconds["reference"])
    record: dict[str, Any] = {"frames": frames, "pool_size": pool_size, "rounds": rounds, "omp_threads": threads,
                              "cores": _cores(), "load_before": load_before, "load_after": load_after,
                              "seconds": seconds, "metrics": metrics, "ratios": {}, "profile": hot}
    for k in keys[:-1]:
        record["ratios"][k] = (np.asarray(seconds[k]) / ref).tolist()
    return record


def _profile(pred_dir: Path, gt_dir: Path, top: int = 8) -> list[str]:
    """cProfile of one in-process ``litedepth evaluate`` with one worker: the top functions."""
    import contextlib
    import cProfile
    import io
    import logging
    import pstats

    from litedepth.cli.main import main

    prof = cProfile.Profile()
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        prof.enable()
        main(["evaluate", "--predictions", str(pred_dir), "--ground-truth", str(gt_dir), "--protocol", "kitti-eigen",
              "--pred-kind", "disparity", "--no-progress", "--workers", "1", "--output", str(pred_dir.parent / "p.json")])
        prof.disable()
    logging.getLogger("litedepth").setLevel(logging.WARNING)  # main() set INFO on its console handler
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    return [f"{fn[2]} ({Path(fn[0]).name}:{fn[1]}): {tt:.2f} s of {total:.2f} s" for fn, (_, _, tt, _, _) in rows]


def time_in_process(frames: int = EIGEN_FRAMES, pool_size: int = 32, workers: int | None = None) -> tuple[float, float]:
    """Seconds of :func:`evaluate_arrays` on ``frames`` in-memory frames, and its abs_rel."""
    from litedepth.metrics.evaluate import evaluate_arrays

    pool = make_pool(pool_size)
    items = [(f"frame{i:04d}", *pool[i % pool_size]) for i in range(frames)]
    t0 = time.perf_counter()
    result = evaluate_arrays(items, "kitti-eigen", pred_kind="disparity", workers=workers)
    return time.perf_counter() - t0, float(result.metrics["abs_rel"])


def _spread(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def run(frames: int = EIGEN_FRAMES, rounds: int = 5, workers: Sequence[int] = (0, 1), pool_size: int = 32,
        threads: int = 1, profile: bool = False, in_process: bool = True) -> BenchResult:
    """Run the comparison (and the in-process timing); a :class:`BenchResult` with one row per
    litedepth setting, the targets and the raw record."""
    rec = compare(frames, rounds, workers, pool_size, threads, profile)
    cores = rec["cores"]
    res = BenchResult(
        name="eval", title=f"`litedepth evaluate` of {frames} KITTI-sized frames from saved files vs a plain NumPy "
                           "loop of the Eigen protocol (whole processes, interleaved)",
        columns=["work", "litedepth s (median)", "NumPy loop s (median)", "ratio (median of rounds)",
                 "ratio spread (min-max)", "rounds"],
        threads=threads)
    ref_s = float(np.median(rec["seconds"]["reference"]))
    for w in workers:
        key = f"litedepth-w{w}"
        ratios = rec["ratios"][key]
        label = f"every core ({cores})" if w == 0 else f"{w} worker{'s' if w > 1 else ''}"
        res.rows.append([f"evaluate CLI, {label}", f"{np.median(rec['seconds'][key]):.2f}", f"{ref_s:.2f}",
                         f"{np.median(ratios):.3f}", _spread(ratios), str(rounds)])
        if w == 0:
            res.targets.append(Target(f"`litedepth evaluate` / NumPy loop, {frames} frames from files, every core "
                                      f"({cores}), median of {rounds} rounds", float(np.median(ratios)),
                                      TARGET_RATIO, "<"))
    ref_m = rec["metrics"]["reference"]
    worst = max(abs(m[k] - ref_m[k]) / max(abs(ref_m[k]), 1e-12)
                for key, m in rec["metrics"].items() if key != "reference" for k in METRICS)
    rec["max_relative_metric_difference"] = worst
    if worst > 1e-4:
        raise RuntimeError(f"litedepth and the reference disagree: relative metric difference {worst:.3g}")
    if in_process:
        seconds, abs_rel = time_in_process(frames, pool_size)
        rec["in_process"] = {"seconds": seconds, "abs_rel": abs_rel}
        res.rows.append([f"evaluate_arrays in this process, {frames} in-memory frames, every core", f"{seconds:.2f}",
                         "-", "-", "-", "1"])
        res.targets.append(Target(f"Eigen evaluation of {frames} in-memory frames on {cores} cores (issue 7)",
                                  seconds, TARGET_IN_PROCESS_S, "<", " s"))
    res.raw = rec
    res.notes.append(f"load average (1/5/15 min) {rec['load_before']} before, {rec['load_after']} after, on "
                     f"{os.cpu_count()} logical CPUs ({cores} available); OMP/BLAS threads {threads} on both sides")
    res.notes.append(f"files: {frames} x ({GT_SIZE[0]}x{GT_SIZE[1]} uint16 PNG ground truth, ~5% valid; "
                     f"{PRED_SIZE[0]}x{PRED_SIZE[1]} float32 .npy disparity), {pool_size} distinct frames hard-linked; "
                     "median scaling; both sides' metrics agree within "
                     f"{worst:.1e} (relative)")
    res.notes.append("reference: one process, a NumPy loop of the Eigen protocol (Pillow decode, "
                     "cv2.resize to the GT size, full-frame mask and Garg crop, median scaling, nine metrics)")
    if rec["profile"]:
        res.notes.append("profile of litedepth evaluate, 1 worker, in process (function: own time): "
                         + "; ".join(rec["profile"]))
    return res


def main(argv: list[str] | None = None) -> BenchResult:
    p = base_parser(__doc__.splitlines()[0])
    p.set_defaults(threads=1)
    p.add_argument("--frames", type=int, default=EIGEN_FRAMES)
    p.add_argument("--pool", type=int, default=32, help="distinct synthetic frames (hard-linked to --frames names)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median and spread of their ratios)")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1],
                   help="litedepth --workers settings, one row each; 0 = the default (every available core)")
    p.add_argument("--profile", action="store_true", help="add a cProfile of one in-process run (1 worker)")
    p.add_argument("--no-in-process", dest="in_process", action="store_false",
                   help="skip the in-process evaluate_arrays timing")
    args = p.parse_args(argv)
    res = run(args.frames, args.rounds, args.workers, args.pool, args.threads, args.profile, args.in_process)
    finish(res, args.out)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
