"""``litedepth assist``: near-object alerts from a camera, a video or images (seed 000's app).

Per frame a depth model and an object detector run; each object's distance is a low
percentile of the metric depth in its box; objects are tracked, put in distance bands
(near < 1 m, close < 2 m by default) and directions (left / ahead / right), and announced
without nagging (hysteresis, per-object cooldown, a maximum alert rate).

Writes into --output: events.jsonl (header + one line per alert), annotated.mp4 (or
frames/), summary.json (frames per second, scale method, counts). Alerts are also logged
and spoken with espeak-ng when it is installed.

Relative-depth models (Lite-Mono, Monodepth2: sigmoid disparity, converted with the range the
weights record) need --scale:
  fixed:F           metres = model depth x F
  calibrate:D       the centre of the first frame is D metres away
  camera-height:H   the camera is H metres above a flat floor seen in the lower rows
Metric models (supervised DeepLabV3 checkpoints, stereo Monodepth2) default to --scale metric.
A network without trained weights is refused unless --allow-untrained.

Examples:
  litedepth assist --source 0 --model lite-mono-tiny --weights lite-mono-tiny/ \\
      --scale camera-height:1.4 --detector ssdlite --detector-weights ssdlite.pth --output run/
  litedepth assist --source clip.mp4 --onnx lite-mono.onnx --scale calibrate:2.0 \\
      --detector-weights ssdlite.pth --output run/ --no-speech
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from litedepth.errors import ConfigError

log = logging.getLogger(__name__)


def _floats(text: str, n: int | None = None, what: str = "values") -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if n is not None and len(values) != n:
        raise ConfigError(f"{what}: expected {n} comma-separated numbers, got {text!r}")
    return values


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("assist", help="near-object alerts from a camera, video or images",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="camera index (0), video file, image folder or glob")
    p.add_argument("--output", required=True, help="folder for events.jsonl (alerts), annotated.mp4 and summary.json (created)")
    depth = p.add_argument_group("depth")
    src = depth.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="registered depth network (with --weights; without, it is untrained), a "
                     "transformers depth model (hf:owner/name, hf:FOLDER; a metric one needs no --scale) or a "
                     "litedepth network in the Hugging Face format (hub:owner/name or its folder)")
    src.add_argument("--checkpoint", help="checkpoint written by `litedepth train`")
    src.add_argument("--onnx", help="ONNX file written by `litedepth export`")
    src.add_argument("--depth-dir", help="recorded depth per frame (.npy metres, or PNG/PGM in --depth-encoding)")
    depth.add_argument("--weights", help="weights for --model: a file, a folder of official Lite-Mono/Monodepth2 "
                                         "files, or a published name (`litedepth weights list`)")
    depth.add_argument("--backend", choices=("torch", "onnxruntime"), help="default: onnxruntime with --onnx, else torch")
    depth.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="depth network input size")
    depth.add_argument("--depth-encoding", "--depth-scale", dest="depth_encoding", default=None, metavar="NAME|F",
                       help="encoding of --depth-dir PNG/PGM files: mm, kitti, tum, sunrgbd, nyu-raw, ... or a "
                       "number (units per metre); required for them (--depth-scale is its former name)")
    depth.add_argument("--allow-untrained", action="store_true",
                       help="run a depth network with random weights anyway (timing, tests): its distances mean "
                            "nothing; refused by default")
    depth.add_argument("--scale", help="metric | fixed:F | calibrate:METRES | camera-height:METRES")
    depth.add_argument("--hfov", type=float, default=70.0, help="camera horizontal field of view, degrees (default 70)")
    depth.add_argument("--intrinsics", help="fx,fy,cx,cy in pixels of the source frames (overrides --hfov)")
    det = p.add_argument_group("detector")
    det.add_argument("--detector", default="ssdlite", choices=("ssdlite", "fasterrcnn", "yolo", "ground-truth"),
                     help="object detector: torchvision SSDlite (fast) or Faster R-CNN, Ultralytics YOLO (extra), "
                          "or boxes from --detections (default ssdlite)")
    det.add_argument("--detector-weights", help="torchvision .pth (or its published name, e.g. "
                                                "ssdlite320-mobilenet-v3-large-coco) / YOLO .pt (default: torchvision's "
                                                "cache path, then litedepth's weights cache)")
    det.add_argument("--detections", help="JSON boxes per frame for --detector ground-truth")
    det.add_argument("--score-threshold", type=float, default=0.5,
                     help="detections below this confidence are ignored (default 0.5)")
    pol = p.add_argument_group("alerts")
    pol.add_argument("--bands", default="1,2", help="band limits in metres, near,close[,...] (default 1,2)")
    pol.add_argument("--band-names", help="comma list, one more than --bands (default near,close,far)")
    pol.add_argument("--percentile", type=float, default=15.0, help="percentile of box depth = distance (default 15)")
    pol.add_argument("--hysteresis", type=float, default=0.15, help="metres past a limit to change band")
    pol.add_argument("--cooldown", type=float, default=5.0, help="seconds before an object's band is repeated")
    pol.add_argument("--min-interval", type=float, default=1.0, help="seconds between any two alerts")
    pol.add_argument("--min-hits", type=int, default=2, help="frames an object must be seen before an alert")
    pol.add_argument("--labels", help="comma list of labels to announce (default all)")
    out = p.add_argument_group("output")
    out.add_argument("--speech", action=argparse.BooleanOptionalAction, default=True,
                     help="speak alerts with espeak-ng when installed (default on)")
    out.add_argument("--annotated", choices=("video", "frames", "none"), default="video",
                     help="write the frames with boxes, distances and alerts drawn as an H.264 video, as PNGs, "
                          "or not at all (default video)")
    out.add_argument("--log-objects", action="store_true", help="also write objects.jsonl (every object, every frame)")
    out.add_argument("--no-inset", action="store_true", help="no depth inset in annotated frames")
    out.add_argument("--max-frames", type=int, help="stop after N frames")
    out.add_argument("--skip-bad", action="store_true",
                     help="image folders / globs: log and skip unreadable or corrupt images (counted in "
                          "summary.json) instead of stopping at the first one")
    out.add_argument("--fps", type=float, help="frame rate of image folders (default 1) or override of a video's")
    out.add_argument("--device", help="cpu / cuda (default: cuda when available)")
    out.add_argument("--threads", type=int, help="CPU threads per model (default: half the cores with the "
                                                  "detector in its own thread, else all)")
    out.add_argument("--sequential", action="store_true", help="run detector and depth model one after the other")
    return p


def build_depth(args: argparse.Namespace) -> Any:
    """The depth estimator chosen on the command line (a PredictorDepth or DepthFiles)."""
    from litedepth.apps.assistant.depth import DepthFiles, PredictorDepth

    backend = args.backend or ("onnxruntime" if args.onnx else "torch")
    if backend == "onnxruntime" and not args.onnx:
        raise ConfigError("--backend onnxruntime runs an exported file: give --onnx FILE (see `litedepth export`)")
    if args.onnx and backend != "onnxruntime":
        raise ConfigError("--onnx files run with --backend onnxruntime")
    if args.weights and not args.model:
        raise ConfigError("--weights goes with --model")
    size = tuple(args.size) if args.size else None
    if args.depth_dir:
        return DepthFiles(args.depth_dir, args.depth_encoding)
    from litedepth.inference import Predictor

    source = args.onnx or args.checkpoint or args.model
    kw = {"threads": args.threads} if args.onnx else {}
    # untrained weights are refused (or allowed with --allow-untrained) by the caller, not just warned about
    pred = Predictor.load(source, weights=args.weights, input_size=size, device=args.device, warn_untrained=False, **kw)
    info = {"name": pred.loaded.name, "backend": backend, "source": str(source), "weights": args.weights,
            "precision": pred.loaded.precision}
    return PredictorDepth(pred, info)


def _default_threads(parallel: bool) -> int:
    cores = os.cpu_count() or 1
    return max(1, cores // 2) if parallel else cores


def run(args: argparse.Namespace) -> int:
    import torch

    from litedepth.apps.assistant.alerts import AlertConfig
    from litedepth.apps.assistant.pipeline import AssistConfig

    bands = _floats(args.bands, what="--bands")
    names = tuple(n.strip() for n in args.band_names.split(",")) if args.band_names else (
        ("near", "close", "far") if len(bands) == 2 else tuple(f"band{i}" for i in range(len(bands))) + ("far",))
    alert = AlertConfig(bands_m=bands, band_names=names, hysteresis_m=args.hysteresis, cooldown_s=args.cooldown,
                        min_interval_s=args.min_interval, min_hits=args.min_hits,
                        labels=tuple(s.strip() for s in args.labels.split(",")) if args.labels else None)
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError("--max-frames must be >= 1")
    intrinsics = _floats(args.intrinsics, 4, "--intrinsics") if args.intrinsics else None
    config = AssistConfig(alert=alert, percentile=args.percentile, hfov_deg=args.hfov, intrinsics=intrinsics,
                          inset=not args.no_inset, parallel=not args.sequential,  # type: ignore[arg-type]
                          allow_untrained=args.allow_untrained)
    if args.threads is not None and args.threads < 1:
        raise ConfigError("--threads must be >= 1")
    args.threads = args.threads or _default_threads(config.parallel)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args, config)
    finally:
        torch.set_num_threads(threads_before)


def _run(args: argparse.Namespace, config: Any) -> int:
    from litedepth.apps.assistant.detectors import create_detector
    from litedepth.apps.assistant.pipeline import AssistPipeline
    from litedepth.apps.assistant.scale import parse_scale
    from litedepth.apps.assistant.session import run_assist
    from litedepth.apps.assistant.speech import make_speaker
    from litedepth.io.video import open_source

    with open_source(args.source, fps=args.fps, skip_bad=args.skip_bad) as source:  # first: a wrong source fails before models load
        depth = build_depth(args)
        if not depth.trained and not args.allow_untrained:  # before the detector loads
            raise ConfigError("the depth network has random (untrained) weights, so its distances are noise: give "
                              "trained weights (--checkpoint, --weights, --onnx), or --allow-untrained for timing "
                              "and tests")
        if depth.spec.needs_alignment:  # no --scale helps: say so before suggesting one
            raise ConfigError(f"this depth model predicts relative disparity ({depth.spec.units}): no single scale "
                              "turns it into distances; use a metric model (e.g. a metric Depth Anything: hf:...-"
                              "Metric-Indoor-Small-hf) or a relative depth model with --scale")
        if args.scale is None and not depth.spec.is_metric:
            raise ConfigError(f"this depth model is not metric ({depth.spec.units}): give --scale fixed:F, "
                              "calibrate:METRES or camera-height:METRES")
        scale = parse_scale(args.scale, hfov_deg=args.hfov)
        detector = create_detector(args.detector, args.detector_weights, args.score_threshold, args.device,
                                   args.detections)
        with AssistPipeline(depth, detector, scale, config) as pipeline, make_speaker(args.speech) as speaker:
            summary = run_assist(source, pipeline, args.output, speaker, max_frames=args.max_frames,
                                 annotated=args.annotated, progress=True, log_objects=args.log_objects)
    scale_info = summary["scale"]
    log.info("distances in metres by scale method %r: %s", scale_info["method"], scale_info.get("assumption", ""))
    return 0
