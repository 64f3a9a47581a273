"""``litedepth evaluate``: score saved depth predictions against ground truth.

Examples::

    # Monodepth2-style: one (N, H, W) disparity export + KITTI gt_depths.npz, median scaling
    litedepth evaluate --predictions disps_eigen_split.npy --ground-truth gt_depths.npz \\
        --protocol kitti-eigen --pred-kind disparity --output metrics.json

    # stereo-trained model: fixed scale instead of median scaling
    litedepth evaluate --predictions pred/ --ground-truth gt/ --protocol kitti-eigen \\
        --pred-kind disparity --scale 5.4 --output metrics.json

    # relative (affine-invariant disparity) model on NYU, per-image rows too
    litedepth evaluate --predictions pred/ --ground-truth nyu_gt/ --gt-scale 1000 \\
        --protocol nyu --align scale-shift --output metrics.json --per-image-csv images.csv

Layout: :func:`run` handles the file inputs and calls :func:`write_report`;
:func:`run_on_items` evaluates any already-built iterable of ``(name, pred, gt)`` with the
same options and report, so another input mode (a model run on a dataset) only has to build
that iterable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from litedepth.errors import ConfigError
from litedepth.metrics.depth import HIGHER_IS_BETTER, METRIC_NAMES
from litedepth.metrics.evaluate import ALIGN_MODES, PRED_KINDS, EvalResult, resolve_options
from litedepth.metrics.protocols import list_protocols

COMMAND = "evaluate"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``evaluate`` sub-command to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        COMMAND,
        help="score depth predictions against ground truth (KITTI Eigen, NYU, ...)",
        description=(
            "Evaluate saved predictions against ground truth under a published protocol: "
            "resize each prediction to its ground truth (bilinear), apply the protocol's "
            "crop and depth range, scale (median, fixed, or scale-and-shift), clamp, and "
            "average abs_rel, sq_rel, rmse, rmse_log, log10, silog, a1-a3 over images."
        ),
    )
    files = parser.add_argument_group("inputs from files")
    files.add_argument(
        "--predictions", type=Path, metavar="DIR|FILE",
        help="folder of .npy maps (stems matching the ground truth), or one .npy/.npz "
        "array (N, H, W) such as Monodepth2's disps export",
    )  # fmt: skip
    files.add_argument(
        "--ground-truth", type=Path, metavar="DIR|FILE",
        help="folder of uint16 .png (metres = value / --gt-scale, 0 = invalid) or float "
        ".npy maps in metres, or a gt_depths.npz (key 'data')",
    )  # fmt: skip
    files.add_argument(
        "--gt-scale", type=float, default=256.0, metavar="F",
        help="divisor of ground-truth PNG values: 256 KITTI (default), 1000 NYU, 5000 TUM",
    )  # fmt: skip
    files.add_argument(
        "--allow-pickle", action="store_true",
        help="read pickled .npy/.npz arrays (e.g. Monodepth2's own gt_depths.npz). UNSAFE: "
        "unpickling executes any code stored in the file; use only for files you trust "
        "(`litedepth kitti-gt` writes a pickle-free gt_depths.npz)",
    )  # fmt: skip
    files.add_argument(
        "--split", type=Path, default=None, metavar="FILE",
        help="split file fixing which samples are evaluated and their order (the order of "
        "stacked arrays); KITTI lines '<date>/<drive> <frame> <side>' or one stem per line",
    )  # fmt: skip

    model = parser.add_argument_group("or: a trained model on an image/depth folder")
    model.add_argument("--checkpoint", type=Path, default=None, metavar="CKPT",
                       help="checkpoint written by `litedepth train`; predictions are made on --data")
    model.add_argument("--data", type=Path, default=None, metavar="DIR",
                       help="image/depth folder (images/ + depth/) to predict and score")
    model.add_argument("--data-split", default="test", choices=["train", "val", "test", "all"],
                       help="split of --data (the deterministic 80/10/10 split; default test)")
    model.add_argument("--depth-scale", default="1000", metavar="F|NAME",
                       help="depth PNG divisor of --data: a number or kitti/nyu/tum (default 1000)")
    model.add_argument("--split-seed", type=int, default=42)

    proto = parser.add_argument_group("protocol and scaling")
    proto.add_argument("--protocol", default=None, choices=list_protocols(),
                       help="evaluation protocol (required for depth evaluation)")
    proto.add_argument(
        "--pred-kind", choices=PRED_KINDS, default=None,
        help="what the predictions hold (default: depth, or disparity with --align)",
    )  # fmt: skip
    proto.add_argument(
        "--no-median-scaling", action="store_true",
        help="keep predictions as they are (metric models); default: per-image median scaling",
    )  # fmt: skip
    proto.add_argument(
        "--scale", type=float, default=None, metavar="F",
        help="multiply predicted depth by F instead of median scaling "
        "(5.4 for stereo-trained Monodepth2)",
    )  # fmt: skip
    proto.add_argument(
        "--align", choices=ALIGN_MODES, default=None,
        help="least-squares scale and shift in disparity space per image (relative models)",
    )  # fmt: skip

    out = parser.add_argument_group("outputs")
    out.add_argument("--output", type=Path, required=True, metavar="FILE", help="metrics JSON to write")
    out.add_argument(
        "--per-image-csv", type=Path, default=None, metavar="FILE", help="also write one row per image"
    )
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_segmentation_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def add_segmentation_arguments(parser: argparse.ArgumentParser) -> None:
    """``litedepth evaluate`` options for segmentation / multi-task networks (declared here, with
    no model imports, so that building the command-line parser stays cheap; the run is
    :func:`litedepth.inference.segmentation.run_evaluate`)."""
    g = parser.add_argument_group("or: a segmentation / multi-task model on VOC or an image + mask folder "
                                  "(mIoU, pixel accuracy, iIoU, per-class IoU)")
    g.add_argument("--seg-data", type=Path, default=None, metavar="DIR",
                   help="PASCAL VOC 2012 folder (layout voc) or images + masks folder (layout folder); "
                        "the model comes from --checkpoint or --seg-model")
    g.add_argument("--seg-layout", choices=["voc", "folder"], default="voc")
    g.add_argument("--seg-split", default="val", help="VOC split file name, or train/val/test/all of a folder")
    g.add_argument("--seg-model", default=None, help="registered segmentation model (instead of --checkpoint)")
    g.add_argument("--seg-weights", default=None, help="local weights file (or published name) for --seg-model")
    g.add_argument("--seg-size", type=int, nargs=2, default=None, metavar=("H", "W"), help="network input size")
    g.add_argument("--images-dir", default="images", help="folder layout: image folder")
    g.add_argument("--masks-dir", default="masks", help="folder layout: mask folder")
    g.add_argument("--image-suffix", default="", help="folder layout: image name suffix (e.g. _image)")
    g.add_argument("--mask-suffix", default="", help="folder layout: mask name suffix (e.g. _SegmentationClass)")


def _model_items(args: argparse.Namespace) -> tuple[list[tuple[str, Any, Any]], str]:
    """``(name, prediction, ground truth)`` for every image of ``--data`` at native resolution."""
    from litedepth.data.folder import FolderDepthDataset
    from litedepth.data.io import read_depth, read_rgb
    from litedepth.inference import Predictor

    if args.data is None:
        raise ConfigError("--checkpoint needs --data (an images/ + depth/ folder)")
    if args.predictions is not None or args.ground_truth is not None:
        raise ConfigError("give either --checkpoint/--data or --predictions/--ground-truth, not both")
    scale: float | str = args.depth_scale
    try:
        scale = float(scale)
    except ValueError:
        pass
    predictor = Predictor.from_checkpoint(args.checkpoint)
    ds = FolderDepthDataset(args.data, split=args.data_split, size=None, depth_scale=scale, split_seed=args.split_seed)
    items = []
    for pair in ds.pairs:
        pred = predictor.infer_image(read_rgb(pair.image))
        items.append((pair.name, pred, read_depth(pair.depth, scale)))
    return items, predictor.kind


def _run_model(args: argparse.Namespace) -> int:
    items, kind = _model_items(args)
    if args.pred_kind is not None and args.pred_kind != kind:
        raise ConfigError(f"the checkpoint predicts {kind}, but --pred-kind {args.pred_kind} was given")
    args.pred_kind = kind if args.align is None else args.pred_kind
    source = {"checkpoint": str(args.checkpoint), "data": str(args.data), "data_split": args.data_split}
    return run_on_items(items, args, total=len(items), source=source)


def _scaling_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluation options from ``args``, checked before any file is read."""
    kwargs = {
        "pred_kind": args.pred_kind,
        "median_scaling": not args.no_median_scaling,
        "scale": args.scale,
        "align": args.align,
    }
    resolve_options(**kwargs)  # raises ConfigError on a bad combination
    return kwargs


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def run(args: argparse.Namespace) -> int:
    """Run ``evaluate`` on prediction and ground-truth files; returns the exit status.

    Raises:
        litedepth.errors.DataError, ConfigError: bad inputs or options (the entry point
            prints them as one line).
    """
    from litedepth.metrics.evaluate import evaluate_folders

    if getattr(args, "seg_data", None) is not None:  # segmentation / multi-task networks
        from litedepth.inference.segmentation import run_evaluate

        return run_evaluate(args)
    if args.protocol is None:
        raise ConfigError("evaluate needs --protocol (depth) or --seg-data (segmentation)")
    kwargs = _scaling_kwargs(args)
    if getattr(args, "checkpoint", None) is not None:
        return _run_model(args)
    given = {"--predictions": args.predictions, "--ground-truth": args.ground_truth}
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        raise ConfigError(f"evaluate needs {' and '.join(missing)}")
    result = evaluate_folders(
        args.predictions, args.ground_truth, args.protocol, gt_scale=args.gt_scale, split=args.split,
        progress=_progress(args), allow_pickle=args.allow_pickle, **kwargs,
    )  # fmt: skip
    write_report(result, args)
    return 0


def run_on_items(
    items: Iterable[tuple[str, Any, Any]],
    args: argparse.Namespace,
    *,
    total: int | None = None,
    source: dict[str, Any] | None = None,
) -> int:
    """Evaluate already-built ``(name, pred, gt)`` items with the options in ``args``.

    The hook for input modes other than files (for example predictions made by a model on
    a dataset): build the iterable — ``pred`` ``(H', W')`` depth or disparity, ``gt``
    ``(H, W)`` metres with 0 = invalid — and call this. ``source`` (e.g. model and data
    paths) is recorded in the JSON's ``options``.

    Returns:
        The exit status (0).
    """
    from litedepth.metrics.evaluate import evaluate_arrays

    result = evaluate_arrays(
        items, args.protocol, progress=_progress(args), total=total, **_scaling_kwargs(args)
    )
    result.options.update(source or {})
    write_report(result, args)
    return 0


def write_report(result: EvalResult, args: argparse.Namespace, console: Any = None) -> None:
    """Write ``--output`` JSON (and ``--per-image-csv``) atomically; print a metrics table."""
    from rich.console import Console
    from rich.table import Table

    from litedepth import __version__
    from litedepth.utils.atomic import atomic_open

    data = result.to_dict()
    data["litedepth_version"] = __version__
    with atomic_open(args.output, "w") as f:
        f.write(json.dumps(data, indent=2) + "\n")
    if args.per_image_csv is not None:
        result.write_csv(args.per_image_csv)

    table = Table(title=f"{result.protocol}: {result.count} images", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("", style="dim")
    for k in METRIC_NAMES:
        table.add_row(k, f"{result.metrics[k]:.4f}", "higher is better" if k in HIGHER_IS_BETTER else "")
    if result.ratio_median is not None:
        scaling = (
            f"median scaling: ratio median {result.ratio_median:.3f}, "
            f"std {result.ratio_std:.3f} (of ratio / median)"
        )
    elif result.options.get("scale") is not None:
        scaling = f"fixed scale {result.options['scale']:g}"
    elif result.options.get("align"):
        scaling = "per-image scale-shift alignment in disparity space"
    else:
        scaling = "no scaling"
    console = console or Console()
    console.print(table)
    console.print(scaling, highlight=False)
    outputs = str(args.output) + (f", {args.per_image_csv}" if args.per_image_csv is not None else "")
    console.print(f"wrote {outputs}", highlight=False)
