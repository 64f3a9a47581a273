"""``litedepth pseudo-label``: teacher pseudo-labels for every frame of a dataset split, once.

Example::

    litedepth pseudo-label --teacher depth-anything/Depth-Anything-V2-Small-hf \\
        --dataset kitti-raw --root kitti_raw/ --split splits/eigen_zhou/train_files.txt \\
        --out pseudo/da2-small --batch-size 8

Resumable: run the same command again after an interruption and only the missing frames are
computed. Licences: Depth Anything V2 Small is Apache-2.0; Base and Large are CC-BY-NC-4.0.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("litedepth")

DATASETS = ("synthetic", "video-folder", "kitti-raw", "images")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "pseudo-label",
        help="compute and cache teacher depth pseudo-labels for a dataset",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--teacher", required=True,
                   help="Hugging Face depth model: local folder, published name (e.g. depth-anything-v2-small, "
                        "see `litedepth weights list`) or hub id (e.g. depth-anything/Depth-Anything-V2-Small-hf)")
    p.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    p.add_argument("--dataset", required=True, choices=DATASETS,
                   help="synthetic (make_dataset output), video-folder, kitti-raw, or images "
                        "(a plain folder of images; keys are relative paths)")
    p.add_argument("--root", required=True, type=Path, help="dataset root folder")
    p.add_argument("--split", default=None,
                   help="synthetic / video-folder: train, val, test or all (default all); "
                        "kitti-raw: a split file (default: every left frame under --root)")
    p.add_argument("--img-ext", default=".jpg", help="kitti-raw image extension (.jpg or .png)")
    p.add_argument("--out", required=True, type=Path, help="cache folder (manifest.json + frames/)")
    p.add_argument("--batch-size", type=int, default=4, help="frames per teacher forward pass (default 4)")
    p.add_argument("--input-size", type=int, default=518,
                   help="teacher resize lower bound in pixels (Depth Anything V2: 518); 0 = processor's own")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps (default: auto)")
    p.add_argument("--devices", default="auto", help="number of GPUs / processes (default: all visible)")
    p.add_argument("--workers", type=int, default=2, help="image-reading DataLoader workers")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def build_frames(name: str, root: Path, split: str | None, img_ext: str = ".jpg") -> Any:
    """The frame source of ``--dataset name``: every frame is a target (``frame_ids=(0,)``,
    native size, no augmentation)."""
    from litedepth.teachers.hf import ImageFolderFrames, as_frame_source

    if name == "images":
        return ImageFolderFrames(root)
    if name == "synthetic":
        from litedepth.data.video import SyntheticSequenceDataset

        ds = SyntheticSequenceDataset(root, split=split or "all", frame_ids=(0,), size=None, load_gt=False)
    elif name == "video-folder":
        from litedepth.data.video_folder import VideoFolderDataset

        ds = VideoFolderDataset(root, split=split or "all", frame_ids=(0,), size=None)
    elif name == "kitti-raw":
        from litedepth.data.kitti_raw import KittiRawDataset

        ds = KittiRawDataset(root, split=split, frame_ids=(0,), size=None, img_ext=img_ext)
    else:  # pragma: no cover - argparse choices
        raise ValueError(name)
    return as_frame_source(ds)


def run(args: argparse.Namespace) -> int:
    from litedepth.io.pseudo_labels import PseudoLabelCache
    from litedepth.teachers.hf import HFDepthTeacher, run_pseudo_labels
    from litedepth.utils.logging import route_library_logs

    route_library_logs()

    devices: int | str = args.devices if args.devices == "auto" else int(args.devices)
    frames = build_frames(args.dataset, args.root, args.split, args.img_ext)
    teacher = HFDepthTeacher(args.teacher, device="cpu" if args.device is None else args.device,
                             revision=args.revision, input_size=args.input_size or None)
    cache = PseudoLabelCache(args.out)
    report = run_pseudo_labels(frames, teacher, cache, args.batch_size, progress=not args.no_progress,
                               num_workers=args.workers, device=args.device, devices=devices)
    if report.rank == 0:  # one line for the whole run, whatever the number of processes
        print(f"pseudo-labels: {report.total} frames, {report.skipped} already cached, "
              f"computed {report.total - report.skipped} in {report.seconds:.1f} s -> {args.out} "
              f"({teacher.output_kind}; licence: {teacher.describe()['licence']})")
    return 0
