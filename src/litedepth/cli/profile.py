"""``litedepth profile``: parameters, MACs (two scopes), latency and peak memory of a network.

MACs are per image (batch 1) and given in both scopes: Conv + Linear modules only (as
published tables and thop count them) and torch FlopCounterMode / 2 (attention matrix
products included). Latency is p50 / p90 / mean milliseconds per call of the whole batch
after warm-up, for each batch size and backend; ``--backends eager,onnxruntime`` also times
the network exported to ONNX and run by onnxruntime, with the eager / onnxruntime ratio.

Example:
    litedepth profile --model lite-mono --height 192 --width 640 --batch-sizes 1,8 \\
        --backends eager,onnxruntime --json profile.json
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from litedepth.errors import ConfigError

log = logging.getLogger(__name__)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one batch size")
    return values


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from litedepth.cli.export import add_model_arguments

    p = subparsers.add_parser("profile", help="parameters, MACs, latency and memory of a network",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p)
    p.add_argument("--height", type=int, default=None, help="input height (default: training size)")
    p.add_argument("--width", type=int, default=None, help="input width (default: training size)")
    p.add_argument("--batch-sizes", type=_int_list, default=[1], help="comma list, e.g. 1,8")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    p.add_argument("--repeats", type=int, default=20, help="timed calls (default 20)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (torch and onnxruntime)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--backends", default="eager", help="comma list of eager, onnxruntime")
    p.add_argument("--onnx", default=None, help="time this exported file instead of exporting one")
    p.add_argument("--json", default=None, help="also write the results as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from litedepth.cli.export import load_network
    from litedepth.profiling.report import profile_model, render_profile, write_profile_json

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    net, name, size = load_network(args.model, args.weights, args.checkpoint)
    height = args.height or size[0]
    width = args.width or size[1]
    result = profile_model(net, height, width, args.batch_sizes, warmup=args.warmup, repeats=args.repeats,
                           device=args.device, threads=args.threads, backends=backends,
                           onnx_path=args.onnx, model_name=name)
    console = Console()
    if not console.is_terminal:
        console = Console(width=180)
    for renderable in render_profile(result):
        console.print(renderable)
    for note in result.notes:
        log.info("note: %s", note)
    if args.json:
        path = write_profile_json(result, args.json)
        log.info("wrote %s", path)
    return 0
