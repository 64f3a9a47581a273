"""``litedepth serve``: the web demo (Gradio; ``pip install 'litedepth[serve]'``).

Upload an image, take a webcam snapshot or pick an example scene, pick a model, and see
the depth map with its colour bar (metres for metric models, relative values otherwise), the
near-object alert overlay and a 3-D view of the coloured point cloud; download the raw depth
(.npy, 16-bit PNG) and the point cloud (.ply). The video tab turns a video into a depth
video (H.264, the first --max-video-frames frames). The server listens on 127.0.0.1 (this
machine only) unless ``--host`` says otherwise; it has no authentication. The page's
predictions are also API endpoints, ``/predict`` and ``/predict_video``, for ``gradio_client``.

Networks named without weights are randomly initialised (the page says so) with the same
seed at every start. Without ``--detector`` the overlay announces the left / ahead / right
thirds of the view; with one (the detectors of ``litedepth assist``, local weights) it
announces detected objects.

Every model is loaded and run once before the server starts: a bad file stops it with one
line. Uploads larger than --max-upload-mb or --max-upload-mp are refused before they are
decoded; uploads and results live in a private temporary folder (0700, files 0600) that is
removed when the server stops.

Examples:
    litedepth serve                                   # every registered depth network, random weights
    litedepth serve --models lite-mono --weights lite-mono=weights/lite-mono --port 8080
    litedepth serve --checkpoint runs/x/checkpoints/best.ckpt --onnx lite-mono.onnx
    litedepth serve --models hf:depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf,lite-mono-tiny
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from litedepth.errors import ConfigError

log = logging.getLogger(__name__)


def _weights_pair(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, path


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("serve", help="web demo: depth map and alert overlay in the browser",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=None,
                   help="comma list of models for the picker: registered depth networks, transformers depth models "
                        "(hf:owner/name, hf:FOLDER, depth-anything-v2-small), litedepth networks in the Hugging "
                        "Face format (hub:owner/name or a folder) (default: every registered depth network)")
    p.add_argument("--weights", type=_weights_pair, action="append", default=[], metavar="NAME=PATH",
                   help="weights for a network (a file, a folder of official files or a published name); repeatable")
    p.add_argument("--checkpoint", action="append", default=[], help="a `litedepth train` checkpoint; repeatable")
    p.add_argument("--onnx", action="append", default=[], help="an exported ONNX file (onnxruntime); repeatable")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="network input size (default: each model's)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--device", default=None, help="cpu / cuda (default: cuda when available)")
    p.add_argument("--close", type=float, default=2.0, help="the close band's limit in metres (default 2)")
    p.add_argument("--relative-scale", type=float, default=1.0,
                   help="factor applied to disparity networks' relative depth before the limits (default 1)")
    up = p.add_argument_group("uploads (checked before an image is decoded)")
    up.add_argument("--max-upload-mb", type=float, default=20.0,
                    help="largest accepted upload in megabytes (MiB; default 20)")
    up.add_argument("--max-upload-mp", type=float, default=40.0,
                    help="largest accepted image in megapixels, width x height (default 40)")
    up.add_argument("--max-video-frames", type=int, default=150,
                    help="frames of an uploaded video turned into a depth video; the rest is ignored (default 150)")
    up.add_argument("--max-queue", type=int, default=64,
                    help="requests that may wait for a prediction; more are told the queue is full (default 64)")
    det = p.add_argument_group("object detector (optional; default: the image thirds stand in for objects)")
    det.add_argument("--detector", default=None, help="ssdlite, fasterrcnn, yolo or ground-truth (see `litedepth assist`)")
    det.add_argument("--detector-weights", default=None, help="local detector weights file")
    det.add_argument("--detections", default=None, help="JSON boxes for --detector ground-truth")
    det.add_argument("--score-threshold", type=float, default=0.5, help="minimum detection score (default 0.5)")
    return p


def build_service(args: argparse.Namespace):
    """The :class:`~litedepth.apps.serve.DepthService` described by the options."""
    from litedepth.apps.serve import DepthService, UploadLimits, default_sources, detector_overlay, near_region_overlay

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {args.port}")
    if args.max_queue < 1:
        raise ConfigError(f"--max-queue must be >= 1, got {args.max_queue}")
    limits = UploadLimits(max_bytes=int(args.max_upload_mb * 2**20), max_pixels=int(args.max_upload_mp * 1e6),
                          max_video_frames=args.max_video_frames)
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    sources = default_sources(models, dict(args.weights), args.checkpoint, args.onnx)
    overlay = near_region_overlay
    if args.detector:
        from litedepth.apps.assistant.detectors import create_detector

        overlay = detector_overlay(create_detector(args.detector, args.detector_weights, args.score_threshold,
                                                   args.device, args.detections))
    return DepthService(sources, input_size=tuple(args.size) if args.size else None, device=args.device,
                        close_m=args.close, relative_scale=args.relative_scale, overlay=overlay, limits=limits)


def run(args: argparse.Namespace) -> int:
    from litedepth.apps.serve import build_app, import_gradio, launch, private_storage

    import_gradio()  # a missing Gradio is said before any model loads
    service = build_service(args)
    service.check_models()  # every model loads and runs, or the server does not start
    with private_storage():
        app = build_app(service, max_queue=args.max_queue)
        launch(app, args.host, args.port, block=True, limits=service.limits)
    return 0
