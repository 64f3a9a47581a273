"""``litedepth kitti-gt``: sparse KITTI ground-truth depth maps from Velodyne scans.

Examples::

    litedepth kitti-gt --calib-format object --root kitti/training --out gt/
    litedepth kitti-gt --calib-format raw --root kitti_raw --out gt/ \\
        --split splits/eigen/test_files.txt
    litedepth kitti-gt --calib-format matrix --projection lidar2img.txt --root data --out gt/

Output PNGs are uint16, metres * 256, 0 = no LiDAR point; with ``--split`` also
``gt_depths.npz`` (one float32 array per frame in metres, no pickles; ``--monodepth2-npz``
writes Monodepth2's pickled layout instead). Existing PNGs are kept unless ``--overwrite``.
An empty (0-byte) Velodyne scan is an error naming it; ``--skip-empty-scans`` leaves such
frames out and counts them in the summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from litedepth.errors import ConfigError

COMMAND = "kitti-gt"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``kitti-gt`` sub-command to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        COMMAND,
        help="project KITTI Velodyne scans to sparse GT depth maps (Eigen protocol)",
        description=(
            "Project KITTI Velodyne scans into the camera image and write sparse ground-truth "
            "depth as uint16 PNG (metres x 256, 0 = no point), the way Monodepth2's "
            "export_gt_depth.py builds the Eigen-split ground truth. With --split only the "
            "listed frames are exported, in order, and gt_depths.npz is written too."
        ),
    )
    parser.add_argument(
        "--calib-format", choices=("object", "raw", "matrix"), required=True,
        help="object: ROOT has image_2/ velodyne/ calib/; raw: ROOT is a KITTI raw root "
        "(<date>/calib_*.txt, <date>/<drive>/velodyne_points/data/*.bin); matrix: ROOT has image_2/ "
        "velodyne/ and --projection gives the Velodyne-to-image matrix",
    )
    parser.add_argument(
        "--projection", type=Path, default=None, metavar="FILE|DIR",
        help="--calib-format matrix: a 3x4 P2 @ R0_rect @ Tr_velo_to_cam or 4x4 lidar2img (mmdetection3d) "
        "as text (12/16 numbers), JSON or .npy, one file for every frame or a folder of one file per frame stem",
    )
    parser.add_argument("--root", type=Path, required=True,
                        help="KITTI folder: raw data (<date>/<drive>/...) or object format (image_2/, velodyne/, calib/)")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for the 16-bit ground-truth PNGs (metres x 256, 0 = no point) (created)")
    parser.add_argument(
        "--split", type=Path, default=None,
        help="frames to export, in order (raw: Monodepth2 lines '<date>/<drive> <frame> l|r'; "
        "object: one stem per line); also writes OUT/gt_depths.npz",
    )
    parser.add_argument(
        "--camz", action="store_true",
        help="depth = camera z instead of the Velodyne forward x of the Eigen protocol",
    )
    parser.add_argument(
        "--side", choices=("l", "r"), default=None,
        help="camera: l = image_2/P2 (default), r = image_3/P3; not with a raw --split, "
        "whose lines name the side",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="rewrite existing outputs (default: resume)"
    )
    parser.add_argument(
        "--monodepth2-quirk", action="store_true",
        help="also merge pixels (row, W-1) and (row+1, 0) like Monodepth2's sub2ind, for "
        "bit-identical maps (differs only in the first/last image column)",
    )
    parser.add_argument(
        "--monodepth2-npz", action="store_true",
        help="write gt_depths.npz in Monodepth2's layout (key 'data', a pickled object array) for "
        "Monodepth2's own evaluate_depth.py; default: one float array per frame, which needs no "
        "unpickling (litedepth evaluate reads the Monodepth2 layout only with --allow-pickle)",
    )
    parser.add_argument(
        "--skip-empty-scans", action="store_true",
        help="leave out frames whose Velodyne .bin is empty (0 bytes), counted in the summary; default: "
        "such a file is an error naming it (it would give an all-zero map). Not with --split",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``kitti-gt`` with parsed ``args``; returns the exit status (0 on success).

    Raises:
        litedepth.errors.DataError, ConfigError: bad input files or options (the entry point
            prints them as one line).
    """
    from litedepth.data.kitti_gt import export_gt

    if args.calib_format == "raw" and args.split is not None and args.side is not None:
        raise ConfigError("--side cannot be used with a raw --split: each split line names its side")
    if (args.calib_format == "matrix") != (args.projection is not None):
        raise ConfigError("--projection goes with --calib-format matrix (and that format needs it)")
    if args.root.resolve() == args.out.resolve():
        raise ConfigError(f"--out must differ from --root ({args.root})")
    camera = 3 if args.side == "r" else 2
    export_gt(
        args.root,
        args.out,
        layout=args.calib_format,
        projection=args.projection,
        split=args.split,
        camera=camera,
        camz=args.camz,
        overwrite=args.overwrite,
        monodepth2_index_quirk=args.monodepth2_quirk,
        progress=not args.no_progress,
        npz_layout="monodepth2" if args.monodepth2_npz else "maps",
        skip_empty_scans=args.skip_empty_scans,
    )
    return 0
