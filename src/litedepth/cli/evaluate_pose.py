"""``litedepth evaluate-pose``: KITTI odometry ATE of a pose network (Monodepth2's protocol).

Examples::

    # relative poses saved by Monodepth2's evaluate_pose.py (poses.npy) or by --save-pred
    litedepth evaluate-pose --pred poses.npy --gt kitti_odom/poses/09.txt --json ate_09.json

    # a self-supervised checkpoint's pose network over one sequence's frames
    litedepth evaluate-pose --checkpoint runs/x/checkpoints/best.ckpt \\
        --frames kitti_odom/sequences/09/image_2 --gt kitti_odom/poses/09.txt --json ate_09.json

Protocol and conventions: :mod:`litedepth.metrics.pose`. Predicted relative poses are
``(N - 1, 4, 4)`` ``T_{i+1 <- i}`` (``X_{i+1} = T @ X_i``, the pose network's output for the
pair ``(i, i + 1)`` fed in temporal order, not inverted), one per consecutive frame pair of the
``N`` ground-truth poses.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import CheckpointError, ConfigError, DataError
from litedepth.metrics.pose import TRACK_LENGTH, PoseEvalResult, evaluate_ate, read_kitti_poses
from litedepth.utils.arrays import load_npy

log = logging.getLogger(__name__)

COMMAND = "evaluate-pose"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``evaluate-pose`` sub-command to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        COMMAND,
        help="KITTI odometry ATE of relative poses (Monodepth2's 5-frame snippet protocol)",
        description=(
            "Chain predicted consecutive relative poses into 5-frame snippets, align each to the "
            "ground-truth snippet (first frame, least-squares scale) and report the mean and std "
            "of the absolute trajectory error, as Monodepth2 / SfMLearner do on KITTI odometry "
            "sequences 09 and 10."
        ),
    )
    parser.add_argument("--gt", type=Path, required=True, metavar="FILE",
                        help="KITTI poses/NN.txt: 12 numbers per line, 3x4 camera-to-world, metres")
    src = parser.add_argument_group("predictions: a file, or a checkpoint run on frames")
    src.add_argument("--pred", type=Path, default=None, metavar="FILE.npy",
                     help="(N-1, 4, 4) relative poses T_{i+1<-i} (X_{i+1} = T X_i): the pose network's "
                     "output for the pair (i, i+1), as Monodepth2's poses.npy")
    src.add_argument("--invert-pred", action="store_true",
                     help="--pred holds T_{i<-i+1} (camera i+1's pose in camera i) instead: invert each")
    src.add_argument("--checkpoint", type=Path, default=None, metavar="CKPT",
                     help="self-supervised checkpoint written by `litedepth train` (its pose network is used)")
    src.add_argument("--frames", type=Path, default=None, metavar="DIR",
                     help="with --checkpoint: folder of the sequence's consecutive frames (.png/.jpg, "
                     "sorted by name), one per ground-truth pose")
    src.add_argument("--batch-size", type=int, default=8, metavar="B", help="frame pairs per forward pass (8)")
    src.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.add_argument("--track-length", type=int, default=TRACK_LENGTH, metavar="L",
                        help=f"frames per snippet (default {TRACK_LENGTH}, the published protocol)")
    out = parser.add_argument_group("outputs")
    out.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the result as JSON")
    out.add_argument("--save-pred", type=Path, default=None, metavar="OUT.npy",
                     help="with --checkpoint: save the predicted relative poses (the --pred format)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


# ------------------------------------------------------------------------------ predictions


def load_relative_poses(path: Path, invert: bool = False) -> np.ndarray:
    """``(N-1, 4, 4)`` float64 relative poses from a ``.npy`` file (``(N-1, 3, 4)`` accepted).

    Raises:
        DataError: unreadable file, wrong shape, non-finite values.
    """
    arr = load_npy(path, what="relative poses")
    if arr.ndim != 3 or arr.shape[1:] not in ((4, 4), (3, 4)):
        raise DataError(path, f"expected relative poses of shape (N-1, 4, 4), got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise DataError(path, "relative poses contain non-finite values")
    if arr.shape[1] == 3:
        arr = np.concatenate([arr, np.tile([[[0.0, 0.0, 0.0, 1.0]]], (len(arr), 1, 1))], axis=1)
    return np.linalg.inv(arr) if invert else arr


def load_pose_network(path: Path) -> tuple[Any, tuple[int, int]]:
    """The pose network of a self-supervised checkpoint and its training input size ``(H, W)``.

    Raises:
        CheckpointError: unreadable file, no pose network, mismatching weights.
    """
    from litedepth.models import create_model, model_info
    from litedepth.tasks.engine import read_checkpoint

    ckpt = read_checkpoint(path)
    hp = ckpt.get("hyper_parameters") or {}
    sd = {k[len("pose_net."):]: v for k, v in (ckpt.get("state_dict") or {}).items() if k.startswith("pose_net.")}
    name = hp.get("pose_network")
    if not sd or name is None:
        raise CheckpointError(f"{path}: no pose network in the checkpoint (a self-supervised run with "
                              "temporal frame_ids has one; supervised and stereo-only runs do not)")
    options = {k: v for k, v in (hp.get("pose_options") or {}).items() if k != "pretrained_path"}
    net = create_model(name, **options)
    result = net.load_state_dict(sd, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(f"{path}: weights do not fit {name!r} (missing {result.missing_keys[:3]}, "
                              f"unexpected {result.unexpected_keys[:3]})")
    size = (ckpt.get("datamodule_hyper_parameters") or {}).get("size") or model_info(name).default_size
    return net.eval(), (int(size[0]), int(size[1]))


def predict_relative_poses(
    net: Any,
    frame_paths: list[Path],
    size: tuple[int, int],
    *,
    batch_size: int = 8,
    device: str | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Run a pose network over consecutive frame pairs.

    Each frame is read as RGB, scaled to ``[0, 1]`` and resized to ``size`` ``(H, W)`` with
    the antialiased bilinear resize used in training (:func:`litedepth.data.augment.resize_frames`);
    the pair ``(i, i + 1)`` is stacked in temporal order and prediction 0 is taken as is.

    Returns:
        ``(N - 1, 4, 4)`` float64 ``T_{i+1 <- i}`` (:mod:`litedepth.metrics.pose` convention).
    """
    import torch

    from litedepth.data.augment import resize_frames
    from litedepth.io.images import read_rgb

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    net = net.to(dev).eval()

    def load(p: Path) -> torch.Tensor:
        rgb = torch.from_numpy(np.array(read_rgb(p))).permute(2, 0, 1).float().div_(255.0)
        return resize_frames(rgb[None], size)[0]

    n_pairs = len(frame_paths) - 1
    out: list[np.ndarray] = []
    bar = _progress_bar(progress)
    with bar, torch.inference_mode():
        task = bar.add_task("pose", total=n_pairs) if progress else None
        prev = load(frame_paths[0])
        for start in range(0, n_pairs, batch_size):
            stop = min(start + batch_size, n_pairs)
            frames = [prev] + [load(frame_paths[i + 1]) for i in range(start, stop)]
            prev = frames[-1]
            stack = torch.stack(frames).to(dev)  # (b + 1, 3, H, W)
            pairs = torch.cat([stack[:-1], stack[1:]], dim=1)  # (b, 6, H, W): (i, i + 1)
            out.append(net(pairs).matrix(0, invert=False).double().cpu().numpy())
            if task is not None:
                bar.advance(task, stop - start)
    return np.concatenate(out)


def _progress_bar(enabled: bool) -> Any:
    import contextlib

    if not enabled:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True)


# ------------------------------------------------------------------------------ command


def _predictions(args: argparse.Namespace, n_gt: int) -> tuple[np.ndarray, dict[str, Any]]:
    if (args.pred is None) == (args.checkpoint is None):
        raise ConfigError("evaluate-pose needs either --pred FILE.npy or --checkpoint CKPT --frames DIR")
    if args.pred is not None:
        if args.frames is not None or args.save_pred is not None:
            raise ConfigError("--frames and --save-pred go with --checkpoint, not --pred")
        rel = load_relative_poses(args.pred, invert=args.invert_pred)
        return rel, {"pred": str(args.pred), "invert_pred": bool(args.invert_pred)}
    if args.frames is None:
        raise ConfigError("--checkpoint needs --frames DIR (the sequence's consecutive frames)")
    if args.invert_pred:
        raise ConfigError("--invert-pred applies to --pred files only")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    from litedepth.data.video_folder import list_frames

    if not args.frames.is_dir():
        raise DataError(args.frames, "frames folder not found")
    frames = list_frames(args.frames)
    if len(frames) != n_gt:
        raise DataError(args.frames, f"{len(frames)} frames, but {args.gt} has {n_gt} poses "
                        "(one frame per ground-truth pose is needed)")
    net, size = load_pose_network(args.checkpoint)
    log.info("pose network of %s at %dx%d on %d frame pairs", args.checkpoint, size[0], size[1], len(frames) - 1)
    rel = predict_relative_poses(net, frames, size, batch_size=args.batch_size, device=args.device,
                                 progress=not args.no_progress and sys.stderr.isatty())
    if args.save_pred is not None:
        from litedepth.utils.atomic import atomic_open

        with atomic_open(args.save_pred, "wb") as f:
            np.save(f, rel.astype(np.float32))
    return rel, {"checkpoint": str(args.checkpoint), "frames": str(args.frames), "input_size": list(size)}


def run(args: argparse.Namespace) -> int:
    """Run ``evaluate-pose``; returns the exit status.

    Raises:
        DataError, ConfigError, CheckpointError: bad inputs (printed as one line, exit 2).
    """
    if args.track_length < 2:
        raise ConfigError(f"--track-length must be >= 2, got {args.track_length}")
    gt = read_kitti_poses(args.gt)
    rel, source = _predictions(args, len(gt))
    try:
        result = evaluate_ate(gt, rel, track_length=args.track_length)
    except DataError as exc:
        raise DataError(args.pred or args.frames, exc.problem) from None
    write_report(result, args, source)
    return 0


def write_report(result: PoseEvalResult, args: argparse.Namespace, source: dict[str, Any], console: Any = None) -> None:
    """Print the ATE table; write ``--json`` atomically when given."""
    from rich.console import Console
    from rich.table import Table

    from litedepth import __version__
    from litedepth.utils.atomic import atomic_open

    if args.json is not None:
        data = {"protocol": "kitti-odometry-ate", "gt": str(args.gt), **source, **result.to_dict(),
                "units": "metres", "litedepth_version": __version__}
        with atomic_open(args.json, "w") as f:
            f.write(json.dumps(data, indent=2) + "\n")
    table = Table(title=f"KITTI odometry ATE: {args.gt.name}", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("ATE (m)", f"{result.mean:.4f} ± {result.std:.4f}")
    table.add_row("snippets", f"{result.n_snippets} (up to {result.track_length} frames)")
    console = console or Console()
    console.print(table)
    if args.json is not None:
        console.print(f"wrote {args.json}", highlight=False)
