"""``litedepth profile``: parameters, MACs (two scopes), latency and peak memory of a network.

MACs are per image (batch 1) and given in both scopes: Conv + Linear modules only (as
published tables and thop count them) and torch FlopCounterMode / 2 (attention matrix
products included). Latency is p50 / p90 / mean milliseconds per call of the whole batch
after warm-up, for each batch size and backend; ``--backends eager,onnxruntime`` also times
the network exported to ONNX and run by onnxruntime, with the eager / onnxruntime ratio.

``--config PRESET`` profiles the network a training preset builds (``model.init_args.network``
with its ``network_options``) at the preset's data size; when the preset's first line says
``# Reproduces: ... <X>G ...`` (the published "FLOPs" of the row it reproduces, which like
thop's are multiply-accumulates) that figure is printed beside our conv + linear MACs with the
difference.

A warning is printed with the results (and written under ``warnings`` in the JSON) when the
machine was loaded before timing (1-minute load average above 0.5 per logical CPU) or the
timed calls of a series spread widely (coefficient of variation or interquartile range above
10 %): such latencies read high and vary.

Example:
    litedepth profile --model lite-mono --size 192 640 --batch-sizes 1,8 \\
        --backends eager,onnxruntime --json profile.json
    litedepth profile --config configs/seed001_fixed_bins.yaml --repeats 5
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litedepth.errors import ConfigError, DataError

if TYPE_CHECKING:  # building the command-line parser must not import torch
    from torch import nn

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
    from litedepth.cli.export import add_model_arguments, add_size_arguments

    p = subparsers.add_parser("profile", help="parameters, MACs, latency and memory of a network",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p)
    p.add_argument("--config", help="a training preset (YAML): profile the network it builds")
    add_size_arguments(p)
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

    from litedepth.cli.export import load_network, requested_size
    from litedepth.profiling.report import profile_model, render_profile, write_profile_json

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    height, width, _ = requested_size(args)
    reference = None
    if args.config:
        if args.model or args.checkpoint or args.weights:
            raise ConfigError("give --config alone, or --model/--checkpoint, not both")
        net, name, size, reference = network_from_preset(args.config)
    else:
        net, name, size = load_network(args.model, args.weights, args.checkpoint)
    height = size[0] if height is None else height
    width = size[1] if width is None else width
    result = profile_model(net, height, width, args.batch_sizes, warmup=args.warmup, repeats=args.repeats,
                           device=args.device, threads=args.threads, backends=backends,
                           onnx_path=args.onnx, model_name=name)
    result.reference = reference
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


_REFERENCE = re.compile(r"^#\s*Reproduces:\s*(?P<source>.*?):\s*(?P<g>\d+(?:\.\d+)?)\s*G\b")


def network_from_preset(path: str | Path) -> tuple[nn.Module, str, tuple[int, int], dict[str, Any] | None]:
    """The depth network a training preset builds, randomly initialised.

    Args:
        path: a ``litedepth train`` YAML whose ``model.init_args`` name ``network`` (and
            optionally ``network_options``).

    Returns:
        ``(network in eval mode, name, (height, width) in pixels, reference)`` where the size is
        ``data.init_args.size`` (else the network options' height/width, else the registry's)
        and ``reference`` is ``{"source", "gmacs"}`` from a first line
        ``# Reproduces: <source>: <X>G, ...`` or ``None``.
    """
    import yaml

    from litedepth.models import create_model, model_info

    path = Path(path)
    try:
        text = path.read_text()
        cfg = yaml.safe_load(text) or {}
    except OSError as exc:
        raise DataError(path, f"cannot read preset: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise DataError(path, f"not valid YAML: {exc}") from None
    model = (cfg.get("model") or {}).get("init_args") or {}
    name = model.get("network")
    if not isinstance(name, str):
        raise DataError(path, "preset has no model.init_args.network to profile")
    options = dict(model.get("network_options") or {})
    size = ((cfg.get("data") or {}).get("init_args") or {}).get("size")
    if not size:
        size = (options["height"], options["width"]) if "height" in options and "width" in options else None
    size = tuple(int(v) for v in size) if size else tuple(model_info(name).default_size)
    net = create_model(name, **options).eval()
    reference = None
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    match = _REFERENCE.match(first)
    if match:
        reference = {"source": match.group("source").strip(), "gmacs": float(match.group("g"))}
    log.info("%s: %s%s at %dx%d", path.name, name, f" {options}" if options else "", size[0], size[1])
    return net, name, (size[0], size[1]), reference
