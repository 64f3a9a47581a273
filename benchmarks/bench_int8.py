"""INT8 and FP16 lite-mono at 640x192: speed against float32 onnxruntime, accuracy on real frames.

The network is lite-mono trained on the synthetic scenes (:mod:`benchmarks.train_synthetic`,
cached after the first run). It is exported with :func:`litedepth.export.export_onnx` three
times at 192x640 (HxW): float32, int8 (``precision="int8"``) and fp16.

* **Calibration** (int8): 8 synthetic frames rendered at 192x640 from scenes not used in
  training, plus the 5 grey KITTI odometry frames of the real sample data (repeated on three
  channels) when present.
* **Accuracy**: which nodes stay in float is decided by the export's own parity check (bound
  abs_rel 0.01) on the real calibration frames (the grey odometry frames; all calibration
  frames without the sample data); the quantised graphs are then measured against float32
  on held-out real KITTI colour frames
  (the 3 object-benchmark frames and the raw stereo pair of ``kitti_object_frames_with_lidar``,
  resized to 192x640): max / mean |difference| of the disparity output, and depth
  ``abs_rel`` / ``delta < 1.25`` after median scaling (:class:`litedepth.export.quantize.QuantParity`);
  also on the calibration frames. Without the real sample data, rendered frames stand in
  (said in the table).
* **Speed**: float32 and int8 sessions (onnxruntime CPU provider, ``intra_op_num_threads``
  1 and 2) timed alternately in this process at batch 1; the speed-up is the median of the
  per-round ratios ``fp32 / int8``.

Targets (issue 13): int8 at least 1.5x faster than float32 onnxruntime; abs_rel against float32
below 0.01 on the real frames.

Run: ``python -m benchmarks.bench_int8 [--rounds 15] [--train-steps 600]``
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import BenchResult, Target, base_parser, finish, interleaved, loadavg
from benchmarks.train_synthetic import DEFAULT_CACHE, trained_weights

SIZE = (192, 640)
TARGET_SPEEDUP, TARGET_ABS_REL = 1.5, 0.01


def _real_root() -> Path:
    return Path(os.environ.get("LITEDEPTH_REAL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data" / "real")


def _frames_from(paths: list[Path]) -> list[np.ndarray]:
    import torch.nn.functional as F

    from litedepth.io.images import read_rgb

    out = []
    for p in paths:
        rgb = torch.from_numpy(read_rgb(p).copy()).permute(2, 0, 1)[None].float().div_(255.0)
        rgb = F.interpolate(rgb, SIZE, mode="bilinear", align_corners=False, antialias=True).clamp_(0, 1)
        out.append(np.ascontiguousarray(rgb.numpy(), dtype=np.float32))
    return out


def frame_sets() -> tuple[list[np.ndarray], list[np.ndarray], str, str, list[np.ndarray]]:
    """``(calibration, held-out test frames, what calibration is, what the test frames are,
    the real frames among the calibration frames (empty without the sample data))``."""
    from litedepth.data.synthetic import SceneConfig, make_sequence

    synth = []
    for seed in (101, 202):
        seq = make_sequence(SceneConfig(kind="mixed", height=SIZE[0], width=SIZE[1], open_sky=True, seed=seed), 4)
        synth += [np.ascontiguousarray(f.transpose(2, 0, 1)[None] / 255.0, dtype=np.float32) for f in seq.rgb]
    root = _real_root()
    odo = sorted((root / "kitti_odometry_gray_slambook2").glob("00000[1-5].png")) if root.is_dir() else []
    colour = sorted((root / "kitti_object_frames_with_lidar").glob("*/image_[23]/*.png")) if root.is_dir() else []
    real_calib = _frames_from(odo)
    calib = synth + real_calib
    calib_what = f"{len(synth)} synthetic frames (unseen scenes)" + (f" + {len(odo)} real KITTI odometry frames (grey)"
                                                                    if odo else "")
    if colour:
        return calib, _frames_from(colour), calib_what, f"{len(colour)} real KITTI colour frames (held out)", real_calib
    more = make_sequence(SceneConfig(kind="mixed", height=SIZE[0], width=SIZE[1], open_sky=True, seed=303), 4)
    test = [np.ascontiguousarray(f.transpose(2, 0, 1)[None] / 255.0, dtype=np.float32) for f in more.rgb]
    return calib, test, calib_what, "4 rendered frames (real KITTI sample data absent)", real_calib


def run(rounds: int = 15, train_steps: int = 600, weights: Path = DEFAULT_CACHE,
        threads_list: tuple[int, ...] = (1, 2)) -> BenchResult:
    from litedepth.export import export_onnx
    from litedepth.export.quantize import precision_parity
    from litedepth.inference.onnx_backend import OnnxDepthModel
    from litedepth.models import create_model

    path, info = trained_weights(weights, "lite-mono", train_steps)
    net = create_model("lite-mono").eval()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    calib, test, calib_what, test_what, real_calib = frame_sets()
    decide = real_calib or calib  # the frames the export's own parity check (and node exclusion) uses
    res = BenchResult(name="int8", title="lite-mono 640x192 (trained on synthetic scenes): int8 / fp16 onnxruntime "
                                         "vs float32 onnxruntime",
                      columns=["precision", "frames", "max |diff| (disparity)", "mean |diff|", "depth abs_rel",
                               "depth delta<1.25", "nodes in float", "file MB"], threads=1)
    raw: dict[str, Any] = {"training": info, "calibration": calib_what, "test": test_what, "speed": {}}
    with tempfile.TemporaryDirectory(prefix="litedepth-bench-int8-") as tmp:
        fp32 = export_onnx(net, Path(tmp) / "fp32.onnx", *SIZE, model_name="lite-mono")
        int8 = export_onnx(net, Path(tmp) / "int8.onnx", *SIZE, model_name="lite-mono", precision="int8",
                           calibration=calib, parity_frames=decide, max_abs_rel=TARGET_ABS_REL)
        fp16 = export_onnx(net, Path(tmp) / "fp16.onnx", *SIZE, model_name="lite-mono", precision="fp16",
                           parity_frames=calib, max_abs_rel=None)
        ref = OnnxDepthModel(fp32.path, device="cpu", threads=1)
        for label, exp in (("int8", int8), ("fp16", fp16)):
            m = OnnxDepthModel(exp.path, device="cpu", threads=1)
            for what, frames in ((test_what, test), ("calibration frames: " + calib_what, calib)):
                p = precision_parity(ref.run_numpy, m.run_numpy, frames, "disparity", label)
                q = exp.quantization or {}
                res.rows.append([label, what, f"{p.max_abs_diff:.4f}", f"{p.mean_abs_diff:.5f}", f"{p.abs_rel:.4f}",
                                 f"{p.a1:.4f}", f"{len(q.get('excluded_nodes', []))} "
                                 f"({', '.join(q.get('excluded_stages', [])) or 'none'})",
                                 f"{exp.file_bytes / 1e6:.1f}"])
                raw.setdefault("parity", []).append({**p.__dict__, "frame_set": what})
        res.rows.append(["fp32", "-", "-", "-", "-", "-", "-", f"{fp32.file_bytes / 1e6:.1f}"])
        held_out = next(r for r in raw["parity"] if r["precision"] == "int8" and r["frame_set"] == test_what)
        speedups = []
        for t in threads_list:
            a = OnnxDepthModel(fp32.path, device="cpu", threads=t, spin=True)
            b = OnnxDepthModel(int8.path, device="cpu", threads=t, spin=True)
            x = test[0]
            st = interleaved(lambda: a.run_numpy(x), lambda: b.run_numpy(x), rounds, warmup=2)
            raw["speed"][str(t)] = st.__dict__
            speedups.append(st.median)
            res.notes.append(f"speed, {t} onnxruntime thread(s), batch 1: int8 {st.b_ms:.1f} ms, fp32 {st.a_ms:.1f} ms; "
                             f"speed-up fp32/int8 {st.cell()}")
            del a, b
        res.targets.append(Target("int8 speed-up over float32 onnxruntime, 1 thread", speedups[0], TARGET_SPEEDUP,
                                  ">=", "x"))
        if len(speedups) > 1:
            res.targets.append(Target(f"int8 speed-up over float32 onnxruntime, {threads_list[1]} threads",
                                      speedups[1], TARGET_SPEEDUP, ">=", "x"))
        res.targets.append(Target(f"int8 depth abs_rel vs float32 on {test_what}", held_out["abs_rel"],
                                  TARGET_ABS_REL, "<"))
        res.notes.append(f"int8: {int8.quantization['method']}; calibration: {calib_what}; nodes kept in float "
                         f"decided on {'the real calibration frames' if real_calib else 'the calibration frames'}: "
                         f"{', '.join(int8.quantization['excluded_stages']) or 'none'}")
        res.notes.append(f"network: lite-mono trained {info['steps']} steps on synthetic scenes at "
                         f"{info['train_size'][0]}x{info['train_size'][1]} (loss {info['first_loss']:.3f} -> "
                         f"{info['final_loss']:.3f}, scale-invariant log), weights {path}")
        res.notes.append(f"load average {loadavg()}; speed rounds alternate fp32 / int8 in one process")
    res.raw = raw
    return res


def main(argv: list[str] | None = None) -> BenchResult:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--train-steps", type=int, default=600)
    p.add_argument("--weights", type=Path, default=DEFAULT_CACHE, help="cached trained weights (trained if missing)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    res = run(args.rounds, args.train_steps, args.weights)
    finish(res, args.out)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
