"""``litedepth predict``: depth for an image, a folder, a glob, a video file or a camera.

For each input ``<stem>`` it writes into ``--output``:

* ``<stem>.npy`` — float32 ``(H, W)`` at the input's resolution, in the model's units
  (metres for depth models, disparity for disparity models; stated in ``predictions.json``);
* ``<stem>_depth.png`` — 16-bit PNG: depth in millimetres (value / 1000 = metres, 0 = none)
  for depth models; for disparity models disparity x 65535 / max (relative);
* ``<stem>_color.png`` — colourised map (plasma; near = bright);
* ``<stem>.ply`` with ``--pointcloud`` — coloured points, camera frame, metres for depth
  models (relative for disparity models), from ``--intrinsics`` or a ``--fov`` (default 60°).

For a video file (or a camera index such as ``0``, or image frames with ``--as-video``) it
writes ``<stem>_depth.mp4`` at the input's frame rate (input | depth side by side, or the
depth colours alone with ``--layout depth``), optionally smoothed over time (``--smoothing``,
an exponential moving average restarted at scene cuts) and with one ``.npy`` per frame in
``<stem>_npy/`` (``--npy-frames``). Ctrl+C stops a camera and keeps the video so far.

``--onnx FILE`` (or ``--backend onnxruntime``, which exports the network to a temporary
parity-checked file first) runs the network with onnxruntime.

Segmentation and multi-task networks (``--model`` / ``--checkpoint`` of task segmentation or
multitask) write ``<stem>_seg.png`` per image instead: a palette PNG whose pixel values are
class ids (PASCAL VOC colours); multi-task networks also write their depth map in the
``--formats`` above (:mod:`litedepth.inference.segmentation`).
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError, DataError

log = logging.getLogger(__name__)

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("predict", help="predict depth for images", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint written by `litedepth train`")
    src.add_argument("--model", help="registered model name (with --weights)")
    src.add_argument("--onnx", help="an exported .onnx file, run by onnxruntime")
    p.add_argument("--weights", help="weights for --model: a file, or a folder of official Lite-Mono/Monodepth2 files")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="network input size")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--formats", default="npy,png16,color", help="comma list of npy, png16, color")
    p.add_argument("--device", default=None, help="cpu / cuda (default: cuda when available)")
    p.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch",
                   help="run --model / --checkpoint with PyTorch (default) or export to ONNX and run onnxruntime")
    vid = p.add_argument_group("videos and cameras")
    vid.add_argument("--layout", choices=("side-by-side", "depth"), default="side-by-side",
                     help="depth video: input | depth (default) or the depth colours alone")
    vid.add_argument("--smoothing", type=float, default=None, metavar="ALPHA",
                     help="temporal EMA weight of the newest frame in (0, 1], e.g. 0.5 (default: off)")
    vid.add_argument("--scene-cut", type=float, default=0.2, metavar="T",
                     help="frame difference (0-1) that restarts the smoothing; 0 = never (default 0.2)")
    vid.add_argument("--npy-frames", action="store_true", help="also write one .npy per frame")
    vid.add_argument("--fps", type=float, default=None, help="output frame rate (default: the input's)")
    vid.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    vid.add_argument("--as-video", action="store_true", help="treat an image folder / glob as the frames of one video")
    pc = p.add_argument_group("point clouds (--pointcloud)")
    pc.add_argument("--pointcloud", action="store_true",
                    help="also write <stem>.ply: coloured points in the camera frame (x right, y down, z forward)")
    pc.add_argument("--intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"),
                    help="pixel intrinsics of the input images (default: from --fov)")
    pc.add_argument("--fov", type=float, default=None,
                    help="horizontal field of view in degrees when --intrinsics is not given (default 60)")
    pc.add_argument("--pointcloud-stride", type=int, default=1, help="keep every N-th row and column")
    pc.add_argument("--pointcloud-ascii", action="store_true", help="ASCII PLY instead of binary")
    return p


def collect_images(inputs: list[str]) -> list[Path]:
    """Expand files, folders (non-recursive) and glob patterns into a sorted unique list."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_EXTS)
        elif path.is_file():
            found.append(path)
        else:
            matches = [Path(m) for m in sorted(glob.glob(item)) if Path(m).suffix.lower() in IMAGE_EXTS]
            if not matches:
                raise DataError(item, "no such image file, folder or matching glob")
            found.extend(matches)
    unique = list(dict.fromkeys(found))
    if not unique:
        raise DataError(inputs[0], "no images found")
    return unique


def write_outputs(out_dir: Path, stem: str, pred: np.ndarray, kind: str, formats: set[str]) -> None:
    """Write one prediction ``(H, W)`` float32 in the requested formats (atomic writes)."""
    from PIL import Image

    from litedepth.inference.visualize import colorize, save_png
    from litedepth.utils.atomic import atomic_open

    if "npy" in formats:
        with atomic_open(out_dir / f"{stem}.npy", "wb") as f:
            np.save(f, pred.astype(np.float32))
    if "png16" in formats:
        if kind == "depth":
            enc = np.clip(np.round(pred * 1000.0), 0, 65535).astype(np.uint16)
        else:
            enc = np.clip(np.round(pred / max(float(pred.max()), 1e-12) * 65535.0), 0, 65535).astype(np.uint16)
        with atomic_open(out_dir / f"{stem}_depth.png", "wb") as f:
            Image.fromarray(enc).save(f, format="PNG")
    if "color" in formats:
        save_png(out_dir / f"{stem}_color.png", colorize(pred, invert=(kind == "depth")))


def write_pointcloud(path: Path, pred: np.ndarray, kind: str, rgb: np.ndarray, args: argparse.Namespace) -> None:
    """``--pointcloud``: one coloured PLY for a prediction ``(H, W)`` and its ``(H, W, 3)`` image."""
    from litedepth.inference.pointcloud import DEFAULT_FOV_DEG, as_depth, save_pointcloud

    depth, units = as_depth(pred, kind)
    K = None
    if args.intrinsics:
        fx, fy, cx, cy = args.intrinsics
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    save_pointcloud(path, depth, rgb, K, fov_deg=args.fov or DEFAULT_FOV_DEG, stride=args.pointcloud_stride,
                    binary=not args.pointcloud_ascii, units=units)


def video_input(args: argparse.Namespace) -> str | None:
    """The video file / camera index / frame folder to read as a video, or ``None`` for images."""
    from litedepth.utils.video_io import VIDEO_EXTS

    is_video = [i.strip().isdigit() or Path(i).suffix.lower() in VIDEO_EXTS for i in args.inputs]
    if not (any(is_video) or args.as_video):
        return None
    if len(args.inputs) != 1:
        raise ConfigError("give one video, camera or frame folder at a time")
    if args.pointcloud:
        raise ConfigError("--pointcloud applies to image inputs, not videos")
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError("--max-frames must be >= 1")
    if args.smoothing is not None and not 0.0 < args.smoothing <= 1.0:
        raise ConfigError(f"--smoothing is an EMA alpha in (0, 1], got {args.smoothing}")
    if not 0.0 <= args.scene_cut <= 1.0:
        raise ConfigError(f"--scene-cut must be in [0, 1], got {args.scene_cut}")
    return args.inputs[0]


def build_predictor(args: argparse.Namespace, tmp_dir: str):
    """The Predictor named by ``--checkpoint`` / ``--model [--weights]`` / ``--onnx`` and ``--backend``."""
    from litedepth.inference import Predictor

    size = tuple(args.size) if args.size else None
    if args.onnx:
        from litedepth.inference.onnx_backend import predictor_from_onnx

        return predictor_from_onnx(args.onnx, device=args.device, input_size=size)
    if args.checkpoint:
        predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, **({"input_size": size} if size else {}))
    elif args.weights:
        from litedepth.models import load_pretrained

        net, trained_size = load_pretrained(args.model, args.weights)
        predictor = Predictor(net, size or trained_size, device=args.device)
    else:
        predictor = Predictor.from_name(args.model, input_size=size, device=args.device)
    if args.backend == "onnxruntime":
        from litedepth.export import export_onnx
        from litedepth.inference.onnx_backend import predictor_from_onnx

        h, w = predictor.input_size
        name = args.model or Path(args.checkpoint).stem
        exported = export_onnx(predictor.model, Path(tmp_dir) / "model.onnx", h, w, model_name=name,
                               output_kind=predictor.kind)
        predictor = predictor_from_onnx(exported.path, device=args.device)
    return predictor


def run_video(args: argparse.Namespace, predictor, source_spec: str) -> int:
    """Depth video (and per-frame ``.npy``) for one video file, camera or frame folder."""
    from litedepth.inference.video import predict_video
    from litedepth.utils.atomic import atomic_write_bytes
    from litedepth.utils.video_io import open_source

    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"camera{source_spec.strip()}" if source_spec.strip().isdigit() else Path(source_spec.rstrip("/")).stem
    stem = stem.replace("*", "").replace("?", "") or "video"
    with open_source(source_spec, fps=args.fps) as source:
        result = predict_video(predictor, source, out_dir / f"{stem}_depth.mp4", layout=args.layout,
                               smoothing=args.smoothing, cut_threshold=args.scene_cut or None,
                               npy_dir=out_dir / f"{stem}_npy" if args.npy_frames else None, fps=args.fps,
                               batch_size=args.batch_size, max_frames=args.max_frames)
    meta = {"kind": predictor.kind, "units": "metres" if predictor.kind == "depth" else "disparity",
            "input_size": list(predictor.input_size),
            "precision": getattr(predictor.model, "precision", "fp32"), "source": source_spec, "video": result.to_dict()}
    atomic_write_bytes(out_dir / "predictions.json", json.dumps(meta, indent=2).encode())
    return 0


def parse_common_options(args: argparse.Namespace) -> set[str]:
    """Check ``--formats`` and ``--batch-size`` (shared by depth and segmentation predict).

    Returns:
        The requested output formats, a subset of ``{"npy", "png16", "color"}``.
    """
    formats = {f.strip() for f in args.formats.split(",") if f.strip()}
    unknown = formats - {"npy", "png16", "color"}
    if unknown:
        raise ConfigError(f"unknown output format(s) {sorted(unknown)}; choose from npy, png16, color")
    if args.batch_size < 1:
        raise ConfigError("--batch-size must be >= 1")
    return formats


def run(args: argparse.Namespace) -> int:
    from litedepth.inference.segmentation import is_segmentation_request
    from litedepth.inference.segmentation import run_predict as run_segmentation_predict

    if is_segmentation_request(args):  # segmentation / multi-task networks: palette masks (+ depth)
        unsupported = [flag for flag, used in (
            ("--backend onnxruntime", args.backend != "torch"), ("--pointcloud", args.pointcloud),
            ("--smoothing", args.smoothing is not None), ("--npy-frames", args.npy_frames),
            ("--as-video", args.as_video), ("--max-frames", args.max_frames is not None),
            ("--fps", args.fps is not None)) if used]
        if unsupported:
            raise ConfigError(f"{', '.join(unsupported)}: not supported for segmentation / multi-task models "
                              "(images only, PyTorch backend)")
        return run_segmentation_predict(args)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    import tempfile

    from litedepth.data.io import read_rgb
    from litedepth.utils.atomic import atomic_write_bytes

    formats = parse_common_options(args)
    if args.pointcloud_stride < 1:
        raise ConfigError("--pointcloud-stride must be >= 1")
    if args.intrinsics and args.fov is not None:
        raise ConfigError("give either --intrinsics or --fov, not both")
    video = video_input(args)
    with tempfile.TemporaryDirectory(prefix="litedepth-predict-") as tmp:
        predictor = build_predictor(args, tmp)
        if video is not None:
            return run_video(args, predictor, video)
    images = collect_images(args.inputs)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    stems = [p.stem for p in images]
    if len(set(stems)) != len(stems):
        raise DataError(None, "several inputs share a file stem; outputs would overwrite each other")
    with Progress(TextColumn("predict"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("predict", total=len(images))
        for i in range(0, len(images), args.batch_size):
            chunk = images[i : i + args.batch_size]
            rgbs = [read_rgb(p) for p in chunk]
            preds = predictor.infer_batch(rgbs)
            for path, rgb, pred in zip(chunk, rgbs, preds):
                write_outputs(out_dir, path.stem, pred, predictor.kind, formats)
                if args.pointcloud:
                    write_pointcloud(out_dir / f"{path.stem}.ply", pred, predictor.kind, rgb, args)
            bar.advance(task, len(chunk))
    meta = {"kind": predictor.kind, "units": "metres" if predictor.kind == "depth" else "disparity",
            "png16": "millimetres" if predictor.kind == "depth" else "disparity * 65535 / max",
            "input_size": list(predictor.input_size),
            "precision": getattr(predictor.model, "precision", "fp32"), "count": len(images), "formats": sorted(formats)}
    if args.pointcloud:
        from litedepth.inference.pointcloud import DEFAULT_FOV_DEG

        meta["pointcloud"] = {"intrinsics": list(args.intrinsics) if args.intrinsics else None,
                              "fov_deg": None if args.intrinsics else (args.fov or DEFAULT_FOV_DEG),
                              "units": "metres" if predictor.kind == "depth" else "relative"}
    atomic_write_bytes(out_dir / "predictions.json", json.dumps(meta, indent=2).encode())
    log.info("wrote %d predictions to %s", len(images), out_dir)
    return 0
