"""``litedepth export``: export a depth network to ONNX (parity-checked) or the Hugging Face format.

The file maps ``image`` (B, 3, H, W) float32 RGB in [0, 1] to ``pred`` (B, 1, H, W); what
``pred`` means (the network's output spec: metric or relative depth, sigmoid disparity with its
range, ...), where the weights came from and whether they are trained are stored in its
metadata, which ``predict``, ``evaluate`` and ``assist`` read. Batch is always dynamic; ``--dynamic-hw``
also makes height and width dynamic when the network's graph allows it (checked at a second
size; otherwise a warning and a fixed size). The onnxruntime output is compared with eager
PyTorch before the file is written; the export fails when they differ by more than
``--atol`` x max(1, output scale). The check compares the two on random images; a network whose
output is (nearly) the same at every pixel passes it trivially, and the table says so.

The input size is ``--size H W``, spelt as ``litedepth predict`` takes it (default: the size the
network was trained at); ``--height`` / ``--width`` are older spellings that must agree with it.

``--format hf`` writes a folder in the Hugging Face Hub format instead (config.json with the
network, its options, output spec, training size and depth encoding and the weights'
provenance; model.safetensors; a README.md model card with ``--evaluation`` reports and
``--license``); ``--push-to owner/name`` also uploads it with huggingface_hub. Load it with
``--model FOLDER`` or ``--model hub:owner/name`` in every command.

Examples:
    litedepth export --model lite-mono --weights weights/lite-mono --format onnx \\
        --size 192 640 --output lite-mono.onnx --dynamic-hw
    litedepth export --checkpoint runs/x/checkpoints/best.ckpt --output best.onnx
    litedepth export --checkpoint best.ckpt --output best-int8.onnx --precision int8 \\
        --calibration frames/          # images like the ones the network will see
    litedepth export --checkpoint best.ckpt --format hf --output lite-mono-nyu/ \\
        --evaluation metrics.json --license apache-2.0 --push-to me/lite-mono-nyu

``--precision fp16|int8`` converts the parity-checked float32 graph (int8: onnxruntime static
quantisation calibrated on ``--calibration`` images, per-channel weights; see
``litedepth.export.quantize``) and checks it against float32 on the calibration images (or
``--parity-images``): the difference in output units and as depth abs_rel / delta<1.25 after
median scaling, recorded in the file's metadata with ``litedepth.precision``. int8 keeps
groups of nodes in float until abs_rel <= ``--max-abs-rel``; the export fails otherwise.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from litedepth.errors import ConfigError

if TYPE_CHECKING:  # building the command-line parser must not import torch
    from torch import nn

log = logging.getLogger(__name__)

FORMATS = ("onnx", "hf")
PRECISIONS = ("fp32", "fp16", "int8")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("export", help="export a depth network to ONNX (parity-checked) or the Hugging Face "
                                             "format",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p)
    p.add_argument("--format", default="onnx", choices=FORMATS,
                   help="onnx (a .onnx file) or hf (a Hugging Face Hub folder: config.json, model.safetensors, README.md)")
    add_size_arguments(p)
    p.add_argument("--output", required=True, help="destination .onnx file (--format hf: a folder)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    p.add_argument("--dynamic-hw", action="store_true", help="dynamic height and width too")
    p.add_argument("--head", choices=("auto", "depth", "logits"), default="auto",
                   help="which output to export: the depth map (depth and multi-task networks) or the class "
                        "logits (segmentation and multi-task networks); auto: depth when the network has it")
    p.add_argument("--atol", type=float, default=1e-4,
                   help="parity tolerance relative to max(1, output scale) (default 1e-4)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="fp32 (default), fp16 (GPUs / accelerators) or int8 (static quantisation, CPUs)")
    p.add_argument("--calibration", metavar="DIR",
                   help="int8: folder of images (png/jpg) to calibrate activation ranges on (up to 64 used)")
    p.add_argument("--parity-images", metavar="DIR",
                   help="fp16/int8: images for the check against float32 (default: the calibration images)")
    p.add_argument("--max-abs-rel", type=float, default=0.01,
                   help="fp16/int8: largest depth abs_rel against float32 accepted (default 0.01)")
    p.add_argument("--int8-matmul", choices=("dynamic", "static", "float"), default="dynamic",
                   help="int8: how matrix products are quantised (default dynamic)")
    hf = p.add_argument_group("Hugging Face format (--format hf)")
    hf.add_argument("--evaluation", action="append", default=[], metavar="REPORT",
                    help="a `litedepth evaluate --output` JSON of these weights for the model card (metrics, protocol, "
                         "data); a report of other weights is refused; repeatable")
    hf.add_argument("--license", default=None, help="licence identifier for the model card, e.g. apache-2.0")
    hf.add_argument("--push-to", default=None, metavar="OWNER/NAME", help="also upload the folder to this Hub repository")
    hf.add_argument("--private", action="store_true", help="create the --push-to repository as private")
    return p


def add_size_arguments(p: argparse.ArgumentParser) -> None:
    """``--size H W`` (spelt as ``litedepth predict`` takes it) and its older spellings
    ``--height`` / ``--width`` (shared with ``litedepth profile``); read with :func:`requested_size`."""
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="network input height and width in pixels, as `litedepth predict --size` takes them "
                        "(default: the size the network was trained at)")
    p.add_argument("--height", type=int, default=None,
                   help="input height in pixels; another spelling of --size's H (it must agree with --size)")
    p.add_argument("--width", type=int, default=None,
                   help="input width in pixels; another spelling of --size's W (it must agree with --size)")


def requested_size(args: argparse.Namespace) -> tuple[int | None, int | None, str]:
    """``(height, width, option)`` asked for by ``--size`` / ``--height`` / ``--width``: ``None``
    where the network's training size applies; ``option`` names the option(s) for messages.

    Raises:
        ConfigError: ``--size`` and ``--height`` / ``--width`` that disagree.
    """
    if args.size is None:
        return args.height, args.width, "--height/--width"
    h, w = args.size
    for option, given, value in (("--height", args.height, h), ("--width", args.width, w)):
        if given is not None and given != value:
            raise ConfigError(f"--size {h} {w} contradicts {option} {given}")
    return h, w, "--size"


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--weights``, ``--checkpoint`` (shared with ``litedepth profile``)."""
    p.add_argument("--model", help="registered depth network (see `litedepth models`), a transformers depth model (hf:owner/name, "
                        "hf:FOLDER, a published name such as depth-anything-v2-small) or a litedepth network "
                        "saved in the Hugging Face format (hub:owner/name or its folder)")
    p.add_argument("--weights", help="weights: a folder of official files (encoder.pth + depth.pth), "
                                     "a file for the model's weights= option / a state dict, or a published "
                                     "name (`litedepth weights list`)")
    p.add_argument("--checkpoint", help="checkpoint written by `litedepth train`")


def load_model_from_args(model: str | None, weights: str | None = None, checkpoint: str | None = None):
    """The :class:`~litedepth.inference.LoadedModel` named on the command line (network, output
    spec, training size, weights provenance); a network without weights is warned about."""
    from litedepth.inference import load_model
    from litedepth.models import list_models, model_info

    if checkpoint:
        if weights:
            raise ConfigError("give either --checkpoint or --weights, not both")
        return load_model(checkpoint, network=model)
    if not model:
        raise ConfigError("--model NAME or --checkpoint CKPT is required")
    if model in list_models() and model_info(model).task == "pose":
        raise ConfigError(f"model {model!r} is a pose network; depth, multi-task and segmentation networks export here")
    return load_model(model, weights=weights)


def load_network(model: str | None, weights: str | None = None,
                 checkpoint: str | None = None) -> tuple[nn.Module, str, tuple[int, int]]:
    """Build the network named on the command line, with its weights.

    Args:
        model: registered name (optional with ``checkpoint``; then it must match).
        weights: a folder of official files (the family's ``load_official_weights``: Lite-Mono,
            Monodepth2 and the hybrid) or a file (the model's ``weights=`` option where it has
            one, else a state dict loaded strictly).
        checkpoint: a ``litedepth train`` checkpoint.

    Returns:
        ``(network in eval mode, registered name, (height, width) it was trained at)``: the
        size recorded in the checkpoint or official ``encoder.pth``, else the registry's. The
        network carries its ``output_spec`` and ``weights_info``.
    """
    loaded = load_model_from_args(model, weights, checkpoint)
    return loaded.net.eval(), loaded.name, loaded.input_size


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from litedepth.export.onnx import export_onnx
    from litedepth.models.input_size import check_input_size
    from litedepth.utils.atomic import check_writable

    if args.format == "hf":
        return run_hf(args)
    if args.evaluation or args.license or args.push_to or args.private:
        raise ConfigError("--evaluation, --license, --push-to and --private go with --format hf")
    if args.precision == "int8" and not args.calibration:
        raise ConfigError("--precision int8 needs --calibration DIR (images to calibrate the activation ranges on)")
    height, width, size_option = requested_size(args)
    if args.precision != "fp32":  # the folders are checked before the network is loaded
        from litedepth.export.calibration import image_files

        for option, folder in (("--calibration", args.calibration), ("--parity-images", args.parity_images)):
            if folder:
                image_files(folder, option)
    loaded = load_model_from_args(args.model, args.weights, args.checkpoint)
    name, size = loaded.name, loaded.input_size
    height = size[0] if height is None else height
    width = size[1] if width is None else width
    check_input_size(loaded.net, (height, width), size_option)
    check_writable(args.output)  # an unwritable destination fails before the export work
    head = args.head if args.head != "auto" else ("depth" if loaded.spec.is_depth else "logits")
    if head == "depth" and not loaded.spec.is_depth:
        raise ConfigError(f"--head depth: {name} has no depth output ({loaded.spec.describe()})")
    if head == "logits" and not loaded.spec.num_classes:
        raise ConfigError(f"--head logits: {name} has no segmentation output")
    if args.precision != "fp32" and head != "depth":
        raise ConfigError(f"--precision {args.precision}: only depth outputs are quantised (--head depth)")
    calibration = parity = None
    if args.precision != "fp32":
        from litedepth.export.calibration import calibration_frames

        calibration = (calibration_frames(args.calibration, height, width, option="--calibration")
                       if args.calibration else None)
        parity = (calibration_frames(args.parity_images, height, width, option="--parity-images")
                  if args.parity_images else None)
    result = export_onnx(loaded.net, args.output, height, width, opset=args.opset, dynamic_hw=args.dynamic_hw,
                         model_name=name, atol=args.atol, spec=loaded.spec if head == "depth" else None,
                         weights=loaded.weights, training_depth_encoding=loaded.depth_encoding,
                         output="pred" if head == "depth" else "logits", precision=args.precision,
                         calibration=calibration, parity_frames=parity, max_abs_rel=args.max_abs_rel,
                         quant_options={"matmul": args.int8_matmul} if args.precision == "int8" else None)
    table = Table(title=f"ONNX parity: {name} (onnxruntime CPU vs eager PyTorch)")
    for col in ("input (BxCxHxW)", "max abs diff", "relative", "tolerance", "eager output spread", "result"):
        table.add_column(col, justify="right")
    for c in result.parity:
        spread = f"{c.output_spread:.3e}" + (" (near-)constant" if c.constant_reference else "")
        table.add_row(f"{c.batch}x3x{c.height}x{c.width}", f"{c.max_abs_diff:.3e}", f"{c.max_rel_diff:.3e}",
                      f"{c.tolerance:.1e}", spread, "ok" if c.passed else "FAILED")
    hw = "dynamic" if result.dynamic_hw else "fixed"
    if args.dynamic_hw and not result.dynamic_hw:
        hw += " (the graph is shape-specialised; see the warning)"
    table.caption = (f"wrote {result.path} ({result.file_bytes / 1e6:.1f} MB, opset {result.opset}, "
                     f"{result.precision}); batch dynamic, {height}x{width} {hw}; output "
                     f"{result.output_spec.describe()}"
                     + ("" if loaded.weights.trained else "; UNTRAINED (random weights)"))
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)
    for warning in result.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
    if result.quantization is not None:
        q = result.quantization
        par = q["parity"]
        unit = result.output_spec.value_unit
        qt = Table(title=f"{result.precision} vs float32 (onnxruntime) on {par['frames']} frame(s)")
        for col in ("max abs diff", "mean abs diff", "depth abs_rel", "depth delta<1.25", "nodes in float"):
            qt.add_column(col, justify="right")
        qt.add_row(f"{par['max_abs_diff']:.3e} {unit}", f"{par['mean_abs_diff']:.3e} {unit}", f"{par['abs_rel']:.4f}",
                   f"{par['a1']:.4f}", f"{len(q['excluded_nodes'])} ({', '.join(q['excluded_stages']) or 'none'})")
        qt.caption = f"{q['method']}; depth after median scaling"
        console.print(qt)
    return 0


def run_hf(args: argparse.Namespace) -> int:
    """``--format hf``: save the network as a Hugging Face Hub folder (and push it)."""
    from litedepth.inference.hub import push_to_hub, save_pretrained
    from litedepth.utils.atomic import check_writable

    if (args.size is not None or args.height is not None or args.width is not None or args.dynamic_hw
            or args.head != "auto" or args.precision != "fp32" or args.calibration or args.parity_images):
        raise ConfigError("--size, --height, --width, --dynamic-hw, --head, --precision, --calibration and "
                          "--parity-images apply to ONNX; --format hf saves the float32 network at the size it was "
                          "trained at")
    loaded = load_model_from_args(args.model, args.weights, args.checkpoint)
    check_writable(args.output)  # an unwritable destination fails before any work
    folder = save_pretrained(loaded, args.output, evaluation=args.evaluation or None, license=args.license,
                             model_id=args.push_to)
    log.info("wrote %s (config.json, model.safetensors, README.md): %s, %s", folder, loaded.name,
             loaded.spec.describe())
    if args.push_to:
        url = push_to_hub(folder, args.push_to, private=args.private or None)
        log.info("pushed to %s", url)
    return 0
