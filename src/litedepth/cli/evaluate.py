"""``litedepth evaluate``: score depth predictions against ground truth.

What the predictions mean is read, never guessed: from the ``predictions.json`` that
``litedepth predict`` writes beside them, or from the checkpoint with ``--checkpoint``.
``--pred-kind``, ``--min-depth/--max-depth``, ``--scale``, ``--no-median-scaling`` only
override it; an option that contradicts the recorded meaning is an error naming both unless
``--force``. Arrays without a manifest (e.g. Monodepth2's exports) are described by the
options (default: depth).

Examples::

    # litedepth predict output: kind, units and range come from pred/predictions.json
    litedepth evaluate --predictions pred/ --ground-truth gt/ --gt-scale kitti --protocol kitti-eigen \
        --output metrics.json

    # Monodepth2-style: one (N, H, W) scaled-disparity export + KITTI gt_depths.npz, median scaling
    litedepth evaluate --predictions disps_eigen_split.npy --ground-truth gt_depths.npz \
        --protocol kitti-eigen --pred-kind inverse-depth --output metrics.json

    # stereo-trained model: fixed scale instead of median scaling
    litedepth evaluate --predictions disps.npy --ground-truth gt_depths.npz --protocol kitti-eigen \
        --pred-kind inverse-depth --scale 5.4 --output metrics.json

    # relative (affine-invariant disparity) model on NYU, per-image rows too
    litedepth evaluate --predictions pred/ --ground-truth nyu_gt/ --gt-scale nyu \
        --protocol nyu --align scale-shift --output metrics.json --per-image-csv images.csv

    # a checkpoint on an images/ + depth/ folder: the depth encoding it was trained with is reused
    litedepth evaluate --checkpoint best.ckpt --data tum_folder/ --protocol nyu --output metrics.json

The report states the kind and units of the predictions, the scaling step, the ground truth's
valid-pixel fraction and range, and warns when much of the valid ground truth lies outside the
protocol's range or its median is implausible for the protocol (a wrong ``--gt-scale``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from litedepth.errors import ConfigError
from litedepth.metrics.depth import HIGHER_IS_BETTER, METRIC_NAMES
from litedepth.metrics.evaluate import ALIGN_MODES, PRED_KINDS, EvalResult
from litedepth.metrics.protocols import list_protocols

log = logging.getLogger(__name__)

COMMAND = "evaluate"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``evaluate`` sub-command to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        COMMAND,
        help="score depth predictions against ground truth (KITTI Eigen, NYU, ...)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    files = parser.add_argument_group("inputs from files")
    files.add_argument(
        "--predictions", type=Path, metavar="DIR|FILE",
        help="folder of .npy maps (stems matching the ground truth; its predictions.json says what they "
        "are), or one .npy/.npz array (N, H, W) such as Monodepth2's disps export",
    )  # fmt: skip
    files.add_argument(
        "--ground-truth", type=Path, metavar="DIR|FILE",
        help="folder of uint16 .png (metres = value / --gt-scale, 0 = invalid) or float "
        ".npy maps in metres, or a gt_depths.npz written by `litedepth kitti-gt`",
    )  # fmt: skip
    files.add_argument(
        "--gt-scale", "--gt-encoding", dest="gt_scale", default=None, metavar="NAME|F",
        help="depth encoding of ground-truth PNG/PGM files: kitti (value / 256; the default with a kitti "
        "protocol), nyu / mm (millimetres), tum (/ 5000), sunrgbd, nyu-raw, ... or a number (the divisor); "
        "needed for PNG/PGM ground truth under other protocols; .npy is metres",
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
                       help="checkpoint written by `litedepth train` (or any model source of predict --model: "
                            "hf:owner/name, hub:owner/name, a Hub-format folder); predictions are made on --data with "
                            "the meaning the model records")
    model.add_argument("--data", type=Path, default=None, metavar="DIR",
                       help="image/depth folder (images/ + depth/) to predict and score")
    model.add_argument("--data-split", default="test", choices=["train", "val", "test", "all"],
                       help="split of --data (the deterministic 80/10/10 split; default test)")
    model.add_argument("--depth-scale", "--depth-encoding", dest="depth_scale", default=None, metavar="NAME|F",
                       help="depth encoding of --data's files: kitti, nyu / mm, tum, sunrgbd, nyu-raw, ... or a "
                            "number (default: the encoding the checkpoint was trained on)")
    model.add_argument("--split-seed", type=int, default=42, help="seed of the 80/10/10 split of --data (default 42)")

    proto = parser.add_argument_group("protocol, meaning and scaling (override what is recorded)")
    proto.add_argument("--protocol", default=None, choices=list_protocols(),
                       help="evaluation protocol (required for depth evaluation)")
    proto.add_argument(
        "--pred-kind", choices=PRED_KINDS, default=None,
        help="what the predictions hold when nothing records it: depth, inverse-depth (depth = 1 / value; "
        "'disparity' is its old name), sigmoid-disparity (with --min-depth/--max-depth), relative-disparity",
    )  # fmt: skip
    proto.add_argument("--min-depth", type=float, default=None, metavar="M",
                       help="disp_to_depth range of sigmoid disparities: depth of value 1 (e.g. 0.1)")
    proto.add_argument("--max-depth", type=float, default=None, metavar="M",
                       help="disp_to_depth range of sigmoid disparities: depth of value 0 (e.g. 100)")
    scaling = proto.add_mutually_exclusive_group()
    scaling.add_argument(
        "--median-scaling", dest="median_scaling", action="store_const", const=True, default=None,
        help="scale each prediction by median(gt) / median(pred) (default for relative predictions)",
    )  # fmt: skip
    scaling.add_argument(
        "--no-median-scaling", dest="median_scaling", action="store_const", const=False,
        help="keep predictions as they are (default for metric predictions)",
    )  # fmt: skip
    proto.add_argument(
        "--scale", type=float, default=None, metavar="F",
        help="multiply predicted depth by F instead of median scaling "
        "(5.4 for stereo-trained Monodepth2 exports)",
    )  # fmt: skip
    proto.add_argument(
        "--align", choices=ALIGN_MODES, default=None,
        help="least-squares scale and shift in inverse-depth space per image (relative models; the "
        "default for relative-disparity)",
    )  # fmt: skip
    proto.add_argument("--force", action="store_true",
                       help="evaluate even when an option contradicts the recorded meaning (a warning instead "
                            "of an error)")

    out = parser.add_argument_group("outputs")
    out.add_argument("--output", type=Path, required=True, metavar="FILE", help="metrics JSON to write")
    out.add_argument(
        "--per-image-csv", type=Path, default=None, metavar="FILE", help="also write one row per image"
    )
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    out.add_argument("--workers", type=int, default=None, metavar="N",
                     help="threads reading and scoring frames in parallel (default: every available core; "
                          "the result does not depend on it)")
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
    g.add_argument("--seg-layout", choices=["voc", "folder"], default="voc",
                   help="voc: JPEGImages/ + SegmentationClass/ + ImageSets/Segmentation/; folder: images and masks "
                        "matched by name (default voc)")
    g.add_argument("--seg-split", default="val", help="VOC split file name, or train/val/test/all of a folder")
    g.add_argument("--seg-model", default=None, help="registered segmentation model (instead of --checkpoint)")
    g.add_argument("--seg-weights", default=None, help="local weights file (or published name) for --seg-model")
    g.add_argument("--seg-size", type=int, nargs=2, default=None, metavar=("H", "W"), help="network input size")
    g.add_argument("--images-dir", default="images", help="folder layout: image folder")
    g.add_argument("--masks-dir", default="masks", help="folder layout: mask folder")
    g.add_argument("--image-suffix", default="", help="folder layout: image name suffix (e.g. _image)")
    g.add_argument("--mask-suffix", default="", help="folder layout: mask name suffix (e.g. _SegmentationClass)")


def parse_depth_encoding(text: Any, option: str) -> Any:
    """A depth encoding (:class:`litedepth.io.DepthEncoding`) from a name, alias or number;
    ``None`` stays ``None``."""
    if text is None:
        return None
    from litedepth.io import parse_encoding

    try:
        return parse_encoding(text)
    except ConfigError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _scaling_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"pred_kind": args.pred_kind, "median_scaling": args.median_scaling, "scale": args.scale,
            "align": args.align, "min_depth": args.min_depth, "max_depth": args.max_depth, "force": args.force}


def _workers(args: argparse.Namespace) -> int | None:
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    return workers


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def _model_items(args: argparse.Namespace, loaded: Any) -> list[tuple[str, Any, Any]]:
    """``(name, prediction, ground truth)`` for every image of ``--data`` at native resolution."""
    from litedepth.data.folder import FolderDepthDataset
    from litedepth.io.images import read_depth, read_image_size
    from litedepth.errors import DataError
    from litedepth.inference import Predictor

    recorded = parse_depth_encoding(loaded.depth_encoding, f"{args.checkpoint} (its recorded depth encoding)")
    given = parse_depth_encoding(args.depth_scale, "--depth-scale")
    if given is None and recorded is None:
        raise ConfigError(f"{args.checkpoint} does not record the depth encoding of its training data: give "
                          "--depth-scale (kitti, nyu, tum, ... or a number)")
    # the encoding belongs to the evaluation data: the checkpoint's record (its training data's
    # encoding) is only the default, a stated --depth-scale describes the data and wins
    if given is not None and recorded is not None and given.name != recorded.name:
        log.warning("--depth-scale %s (%s) describes %s; %s was trained on depth encoded as %s (%s)",
                    args.depth_scale, given.describe(), args.data, args.checkpoint, recorded.name, recorded.describe())
    elif given is None:
        log.warning("%s read with %s's training encoding %s (%s); give --depth-scale if this data is encoded "
                    "otherwise", args.data, args.checkpoint, recorded.name, recorded.describe())
    encoding = given if given is not None else recorded
    args.depth_encoding_used = encoding.to_dict()
    predictor = Predictor(loaded)
    ds = FolderDepthDataset(args.data, split=args.data_split, size=None, depth_encoding=encoding,
                            split_seed=args.split_seed)
    args.training_overlap = _training_overlap(args, loaded, [p.name for p in ds.pairs])
    items = []
    for pair in ds.pairs:
        ih, iw = read_image_size(pair.image)
        gt = read_depth(pair.depth, encoding)
        dh, dw = gt.shape
        if abs(ih / iw - dh / dw) > 0.02:
            raise DataError(pair.depth, f"depth map {dw}x{dh} does not match the aspect of image "
                                        f"{pair.image.name} ({iw}x{ih})")
        items.append((pair.name, predictor.infer_image(pair.image).raw, gt))
    return items


def _training_overlap(args: argparse.Namespace, loaded: Any, names: list[str]) -> dict[str, Any] | None:
    """The evaluated images that the checkpoint was trained on (same folder, its training split),
    or None: evaluating them as held-out data reads too well, so it is warned and recorded."""
    from litedepth.data.folder import match_pairs, split_indices

    train = loaded.training_data
    if not train or args.data_split == "train" or Path(train["root"]).resolve() != Path(args.data).resolve():
        return None
    pairs = match_pairs(Path(args.data))
    seen = {pairs[i].name for i in split_indices(len(pairs), "train", train["fractions"], train["split_seed"])}
    overlap = sorted(seen.intersection(names))
    if not overlap:
        return None
    return {"images": len(overlap), "of": len(names), "training_split_seed": train["split_seed"],
            "names": overlap[:20]}


def _run_model(args: argparse.Namespace) -> int:
    from litedepth.inference import load_model

    if args.data is None:
        raise ConfigError("--checkpoint needs --data (an images/ + depth/ folder)")
    if args.predictions is not None or args.ground_truth is not None:
        raise ConfigError("give either --checkpoint/--data or --predictions/--ground-truth, not both")
    loaded = load_model(args.checkpoint)
    items = _model_items(args, loaded)
    source = {"checkpoint": str(args.checkpoint), "data": str(args.data), "data_split": args.data_split,
              "data_split_seed": args.split_seed, "depth_encoding": args.depth_encoding_used,
              "model": loaded.describe(), "training_overlap": args.training_overlap}
    overlap = args.training_overlap
    extra = ([f"{overlap['images']} of the {overlap['of']} images of --data-split {args.data_split} (--split-seed "
              f"{args.split_seed}) were in {args.checkpoint}'s training split (split seed "
              f"{overlap['training_split_seed']}): these metrics are not of held-out data"] if overlap else [])
    return run_on_items(items, args, total=len(items), source=source, spec=loaded.spec,
                        origin=f"checkpoint {args.checkpoint}", warnings=extra)


def run(args: argparse.Namespace) -> int:
    """Run ``evaluate``; returns the exit status.

    Raises:
        litedepth.errors.DataError, ConfigError: bad inputs or options (the entry point
            prints them as one line).
    """
    from litedepth.metrics.evaluate import evaluate_folders, resolve_options

    if getattr(args, "seg_data", None) is not None:  # segmentation / multi-task networks
        return run_segmentation(args)
    if args.protocol is None:
        raise ConfigError("evaluate needs --protocol (depth) or --seg-data (segmentation)")
    kwargs = _scaling_kwargs(args)
    if args.checkpoint is None:
        from litedepth.metrics.prediction_files import read_manifest

        if args.predictions is not None:  # options checked before any array is read
            manifest = read_manifest(args.predictions)
            resolve_options(**kwargs, recorded=manifest.spec if manifest else None, warn=False,
                            source=str(manifest.path) if manifest else "the predictions")
    if args.checkpoint is not None:
        return _run_model(args)
    given = {"--predictions": args.predictions, "--ground-truth": args.ground_truth}
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        raise ConfigError(f"evaluate needs {' and '.join(missing)}")
    result = evaluate_folders(
        args.predictions, args.ground_truth, args.protocol, gt_scale=_gt_encoding(args),
        split=args.split, progress=_progress(args), allow_pickle=args.allow_pickle, workers=_workers(args), **kwargs,
    )  # fmt: skip
    write_report(result, args)
    return 0


def _gt_encoding(args: argparse.Namespace) -> Any:
    """The ground-truth files' encoding: ``--gt-encoding``; else KITTI's under a kitti protocol;
    else metres for ``.npy``/``.npz`` ground truth; PNG/PGM ground truth without a stated
    encoding is refused (a 16-bit value means nothing without it)."""
    if args.depth_scale is not None:
        raise ConfigError("--depth-encoding describes --data (with --checkpoint); the encoding of --ground-truth "
                          "files is --gt-encoding")
    if args.gt_scale is not None:
        return parse_depth_encoding(args.gt_scale, "--gt-scale")
    if str(args.protocol).startswith("kitti"):
        log.info("ground truth read as KITTI depth PNGs (metres x 256), the %s protocol's encoding; "
                 "--gt-encoding NAME for other data", args.protocol)
        return parse_depth_encoding("kitti", "--gt-scale")
    gt = Path(args.ground_truth)
    stored = [gt] if gt.is_file() else (p for p in gt.rglob("*") if p.is_file())
    if any(p.suffix.lower() in (".png", ".pgm") for p in stored):
        raise ConfigError(f"--gt-encoding: the 16-bit depth files in {gt} do not say how depth is stored; name "
                          "it (kitti, tum, mm / nyu, sunrgbd, nyu-raw, ... or a divisor)")
    return parse_depth_encoding("npy", "--gt-scale")


def run_on_items(
    items: Iterable[tuple[str, Any, Any]],
    args: argparse.Namespace,
    *,
    total: int | None = None,
    source: dict[str, Any] | None = None,
    spec: Any = None,
    origin: str = "the predictions",
    warnings: list[str] | None = None,
) -> int:
    """Evaluate already-built ``(name, pred, gt)`` items with the options in ``args``.

    ``spec`` is the recorded meaning of the predictions (e.g. a checkpoint's output spec);
    ``source`` (model and data paths) is recorded in the JSON's ``options``; ``warnings`` are
    added to the report's.

    Returns:
        The exit status (0).
    """
    from litedepth.metrics.evaluate import evaluate_arrays

    result = evaluate_arrays(items, args.protocol, progress=_progress(args), total=total, spec=spec, source=origin,
                             workers=_workers(args), **_scaling_kwargs(args))
    result.options.update(source or {})
    result.warnings.extend(warnings or [])
    write_report(result, args)
    return 0


def write_report(result: EvalResult, args: argparse.Namespace, console: Any = None) -> None:
    """Write ``--output`` JSON (and ``--per-image-csv``) atomically; print a metrics table
    and what was evaluated (kind, units, scaling, ground truth), with any warnings."""
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

    opts = result.options
    table = Table(title=f"{result.protocol}: {result.count} images", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("better", style="dim")
    for k in METRIC_NAMES:
        table.add_row(k, f"{result.metrics[k]:.4f}", "higher" if k in HIGHER_IS_BETTER else "lower")
    console = console or Console()
    console.print(table)
    gt = opts.get("ground_truth_stats") or {}
    origin = {"recorded": opts.get("manifest") or "the recorded spec", "pred_kind": "--pred-kind",
              "default": "the default (nothing recorded it; give --pred-kind)"}.get(opts.get("meaning_from", ""),
                                                                                   opts.get("meaning_from"))
    lines = [f"predictions: {opts.get('pred_kind')} ({opts.get('units')}); meaning from {origin}",
             f"scaling: {opts.get('scaling')}" + (
                 f"; ratio median {result.ratio_median:.3f}, std {result.ratio_std:.3f} (of ratio / median)"
                 if result.ratio_median is not None else "")]
    if gt:
        rng = (f", {gt['min_m']:.3g}-{gt['max_m']:.3g} m" if gt.get("min_m") is not None else "")
        lines.append(f"ground truth: {gt['valid_fraction']:.1%} of pixels valid{rng}, "
                     f"{gt['outside_protocol_range_fraction']:.1%} of them outside the protocol range")
    for line in lines:
        console.print(line, highlight=False)
    for w in result.warnings:
        console.print(f"[bold yellow]warning:[/] {w}", highlight=False)
    outputs = str(args.output) + (f", {args.per_image_csv}" if args.per_image_csv is not None else "")
    console.print(f"wrote {outputs}", highlight=False)


def run_segmentation(args: argparse.Namespace) -> int:
    """``litedepth evaluate --seg-data ...``: scores, per-class IoU table, JSON report."""
    from litedepth import __version__
    from litedepth.data.segmentation import folder_items, voc_items
    from litedepth.errors import DataError
    from litedepth.inference.segmentation import SegmentationPredictor, evaluate_segmentation, print_report
    from litedepth.utils.atomic import atomic_write_bytes

    size = tuple(args.seg_size) if args.seg_size else None
    if args.checkpoint:
        predictor = SegmentationPredictor.from_checkpoint(args.checkpoint, input_size=size)
    elif args.seg_model:
        predictor = SegmentationPredictor.from_name(args.seg_model, input_size=size, weights=args.seg_weights)
    else:
        raise ConfigError("give --checkpoint or --seg-model with --seg-data")
    if args.seg_layout == "voc":
        items = voc_items(args.seg_data, args.seg_split)
    else:
        from litedepth.data.folder import split_indices

        everything = folder_items(args.seg_data, args.images_dir, args.masks_dir, args.image_suffix, args.mask_suffix)
        items = [everything[i] for i in split_indices(len(everything), args.seg_split)]
        if not items:
            raise DataError(args.seg_data, f"split {args.seg_split!r} is empty ({len(everything)} images in total)")
    result = evaluate_segmentation(predictor, items)
    result["options"] = {"data": str(args.seg_data), "layout": args.seg_layout, "split": args.seg_split,
                         "checkpoint": str(args.checkpoint) if args.checkpoint else None, "model": args.seg_model,
                         "input_size": list(predictor.input_size), "resolution": "original image size",
                         "weights": predictor.loaded.weights.to_dict()}
    result["litedepth_version"] = __version__
    atomic_write_bytes(args.output, (json.dumps(result, indent=2) + "\n").encode())
    print_report(result, f"segmentation: {result['count']} images ({args.seg_layout} {args.seg_split})")
    return 0
