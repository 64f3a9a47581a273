"""``litedepth predict``: depth (and segmentation) for images, folders, globs, videos and cameras.

For each input ``<stem>`` it writes into ``--output``:

* ``<stem>.npy`` — float32 ``(H, W)`` at the input's resolution: the network's output in the
  units its output spec states (metres for a metric depth network, sigmoid disparity for
  Lite-Mono / Monodepth2, ...; recorded in ``predictions.json``, which ``litedepth evaluate``
  reads);
* ``<stem>_depth.png`` — 16-bit PNG: millimetres (value / 1000 = metres, 0 = none) for metric
  depth; otherwise the map x 65535 / max (relative, said in ``predictions.json``);
* ``<stem>_color.png`` — colourised map (plasma; near = bright);
* ``<stem>_seg.png`` — segmentation and multi-task networks: a palette PNG whose pixel values
  are class ids (PASCAL VOC colours);
* ``<stem>.ply`` with ``--pointcloud`` — coloured points, camera frame, from ``--intrinsics``,
  ``--intrinsics-file`` or a ``--fov`` (default 60°); metres only for metric depth;
  ``predictions.json`` records the intrinsics and their convention.

``predictions.json`` records the output spec, the model, its weights (source, sha256, trained
or random) and the formats. A network without trained weights is announced with a warning.

For a video file (or a camera index such as ``0``, or image frames with ``--as-video``) it
writes ``<stem>_depth.mp4`` at the input's frame rate (input | depth side by side, or the
depth colours alone with ``--layout depth``), optionally smoothed over time (``--smoothing``,
an exponential moving average restarted at scene cuts) and with one ``.npy`` per frame in
``<stem>_npy/`` (``--npy-frames``). Ctrl+C stops a camera and keeps the video so far.

``--onnx FILE`` (or ``--backend onnxruntime``, which exports the network to a temporary
parity-checked file first) runs the network with onnxruntime.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path
from typing import Any

from litedepth.errors import ConfigError

log = logging.getLogger(__name__)



def __getattr__(name: str) -> Any:
    """``IMAGE_EXTS`` and ``collect_images``, re-exported for callers of the old CLI module (the
    implementations live in :mod:`litedepth.inference.files`), imported on first use so that
    building the command-line parser does not import torch."""
    if name in ("IMAGE_EXTS", "collect_images"):
        from litedepth.inference import files

        return getattr(files, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from litedepth.io.output_spec import OUTPUT_KIND_FORMS

    p = subparsers.add_parser("predict", help="depth (and segmentation) for images, folders, videos, cameras; "
                                              "point clouds", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns; a video file or camera index")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint written by `litedepth train`")
    src.add_argument("--model", help="registered model name (with --weights; without, the network is untrained); a "
                     "transformers depth model: hf:owner/name, hf:FOLDER or a published name (depth-anything-v2-small); "
                     "a litedepth network in the Hugging Face format: hub:owner/name or its folder")
    src.add_argument("--onnx", help="an exported .onnx file, run by onnxruntime")
    p.add_argument("--weights", help="weights for --model: a file, or a folder of official Lite-Mono/Monodepth2 files")
    p.add_argument("--output-kind", default=None, metavar="KIND",
                   help="what an --onnx file without litedepth metadata (or an hf: model of a type litedepth does "
                        "not know) outputs: " + ", ".join(OUTPUT_KIND_FORMS))
    p.add_argument("--output", required=True, help="folder the maps and predictions.json are written to (created)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"),
                   help="network input size (default: the size the weights were trained at); for an hf: model, the "
                        "size setting of its own image processor (Depth Anything: S S = lower bound of its "
                        "aspect-keeping resize, default 518 518)")
    p.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default 4)")
    p.add_argument("--formats", default="npy,png16,color", help="comma list of npy, png16, color (default: all)")
    p.add_argument("--skip-bad", action="store_true",
                   help="log and count unreadable images and go on (default: stop at the first, naming it)")
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
                    help="intrinsics of the input images, in pixels of each image (checked against its size), "
                    "or normalised with --intrinsics-convention normalised (default: from --fov)")
    pc.add_argument("--intrinsics-file", default=None, metavar="FILE",
                    help="intrinsics file: JSON {fx, fy, cx, cy, width, height} or with \"normalised\": true; a bare "
                    "3x3 list / .npy / text (Monodepth2, ManyDepth) with --intrinsics-convention; a KITTI "
                    "calibration file (P2 / P_rect_02); or a 3x4 projection matrix")
    pc.add_argument("--intrinsics-convention", choices=("pixels", "normalised"), default=None,
                    help="convention of --intrinsics / a bare --intrinsics-file matrix: pixels or normalised "
                    "(fx/W, fy/H, cx/W, cy/H, Monodepth2's)")
    pc.add_argument("--fov", type=float, default=None,
                    help="horizontal field of view in degrees when --intrinsics is not given (default 60)")
    pc.add_argument("--pointcloud-stride", type=int, default=1, help="keep every N-th row and column")
    pc.add_argument("--pointcloud-ascii", action="store_true", help="ASCII PLY instead of binary")
    return p


def video_input(args: argparse.Namespace) -> str | None:
    """The video file / camera index / frame folder to read as a video, or ``None`` for images."""
    from litedepth.io.video import VIDEO_EXTS

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
    from litedepth.inference import Predictor, load_model
    from litedepth.models.spec import parse_output_kind

    size = tuple(args.size) if args.size else None
    spec = parse_output_kind(args.output_kind) if getattr(args, "output_kind", None) else None
    if spec is not None and not (args.onnx or str(args.model or "").startswith("hf:")):
        raise ConfigError("--output-kind describes an --onnx file without litedepth metadata (or an hf: model); "
                          "checkpoints and registered networks record their own output")
    if args.weights and not args.model:
        raise ConfigError("--weights goes with --model")
    source = args.onnx or args.checkpoint or args.model
    loaded = load_model(source, weights=args.weights, device=args.device, spec=spec)
    if args.backend == "onnxruntime" and not args.onnx:
        from litedepth.export import export_onnx
        from litedepth.inference.onnx_backend import load_onnx_model

        if loaded.spec.is_depth and loaded.spec.num_classes:
            raise ConfigError(f"--backend onnxruntime: {loaded.name} is a multi-task network (depth + segmentation); "
                              "its ONNX export keeps one output, so run it with PyTorch (--backend torch)")
        h, w = size or loaded.input_size
        exported = export_onnx(loaded.net, Path(tmp_dir) / "model.onnx", h, w, model_name=loaded.name,
                               spec=loaded.spec, weights=loaded.weights, training_depth_encoding=loaded.depth_encoding,
                               output="pred" if loaded.spec.is_depth else "logits")
        onnx_loaded = load_onnx_model(exported.path, device=args.device)
        onnx_loaded.weights = loaded.weights  # provenance of the weights, not of the temporary file
        loaded = onnx_loaded
    return Predictor(loaded, input_size=size, device=args.device)


def run_video(args: argparse.Namespace, predictor: Any, source_spec: str) -> int:
    """Depth video (and per-frame ``.npy``) for one video file, camera or frame folder."""
    from litedepth.inference.video import predict_video
    from litedepth.metrics.prediction_files import write_manifest
    from litedepth.io.video import open_source

    if not predictor.spec.is_depth:
        raise ConfigError(f"{predictor.loaded.name} predicts {predictor.spec.kind}: depth videos need a depth network")
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"camera{source_spec.strip()}" if source_spec.strip().isdigit() else Path(source_spec.rstrip("/")).stem
    stem = stem.replace("*", "").replace("?", "").strip("_-. ") or "video"  # "seq0000_*.png" -> seq0000
    with open_source(source_spec, fps=args.fps) as source:
        result = predict_video(predictor, source, out_dir / f"{stem}_depth.mp4", layout=args.layout,
                               smoothing=args.smoothing, cut_threshold=args.scene_cut or None,
                               npy_dir=out_dir / f"{stem}_npy" if args.npy_frames else None, fps=args.fps,
                               batch_size=args.batch_size, max_frames=args.max_frames)
    write_manifest(out_dir, predictor.spec, model=predictor.loaded.describe(), source=source_spec,
                   input_size=list(predictor.input_size), video=result.to_dict())
    return 0


def pointcloud_options(args: argparse.Namespace):
    """``--pointcloud`` options (the camera from ``--intrinsics`` / ``--intrinsics-file`` / ``--fov``),
    or ``None`` without the flag."""
    from litedepth.inference.files import PointCloudOptions
    from litedepth.inference.pointcloud import pointcloud_camera

    if args.pointcloud_stride < 1:
        raise ConfigError("--pointcloud-stride must be >= 1")
    camera = pointcloud_camera(args.intrinsics, args.intrinsics_file, args.intrinsics_convention, args.fov)
    if not args.pointcloud:
        return None
    return PointCloudOptions(camera, args.pointcloud_stride, not args.pointcloud_ascii)


def run(args: argparse.Namespace) -> int:
    from litedepth.inference.files import collect_images, parse_formats, predict_files

    formats = parse_formats(args.formats)
    if args.batch_size < 1:
        raise ConfigError("--batch-size must be >= 1")
    pointcloud = pointcloud_options(args)
    video = video_input(args)
    images = None if video is not None else collect_images(args.inputs)  # bad inputs fail before models load
    if pointcloud is not None and images:  # implausible intrinsics fail before any output is written
        from litedepth.io.images import read_image_size

        pointcloud.camera.for_image(*read_image_size(images[0]))
    with tempfile.TemporaryDirectory(prefix="litedepth-predict-") as tmp:
        predictor = build_predictor(args, tmp)
        if pointcloud is not None and not predictor.spec.is_depth:
            raise ConfigError(f"--pointcloud: {predictor.loaded.name} predicts {predictor.spec.kind}, not depth")
        if video is not None:
            return run_video(args, predictor, video)
        predict_files(predictor, images, args.output, formats=formats, batch_size=args.batch_size,
                      pointcloud=pointcloud, skip_bad=args.skip_bad)
    return 0
