"""KITTI raw layout: the frames of ``<date>/<drive>/velodyne_points/data/*.bin`` to export and
their depth maps, projected with the date's calibration.

See :mod:`litedepth.data.kitti_gt` for the layouts; split files are read by
:func:`litedepth.io.kitti_splits.read_split_file`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from litedepth.errors import DataError
from litedepth.geometry.calibration import VeloToImage, load_raw_calib_dir
from litedepth.geometry.velodyne import read_velodyne, velodyne_to_depth
from litedepth.io.images import read_image_size
from litedepth.io.kitti_splits import SplitEntry

__all__ = ["RawFrame", "find_raw_frames", "raw_frame_depth"]


@dataclass(frozen=True)
class RawFrame:
    """One raw-dataset frame to export."""

    folder: str  # "<date>/<drive>"
    frame: int
    camera: int
    velodyne: Path
    calib_dir: Path
    image: Path  # may not exist; only used to cross-check the image size

    def output_path(self, out: Path) -> Path:
        """``out/<date>/<drive>/image_0X/<frame:010d>.png``."""
        return Path(out) / self.folder / f"image_0{self.camera}" / f"{self.frame:010d}.png"


def _raw_frame(root: Path, folder: str, frame: int, camera: int) -> RawFrame:
    date = folder.split("/")[0]
    drive_dir = root / folder
    return RawFrame(
        folder=folder,
        frame=frame,
        camera=camera,
        velodyne=drive_dir / "velodyne_points" / "data" / f"{frame:010d}.bin",
        calib_dir=root / date,
        image=drive_dir / f"image_0{camera}" / "data" / f"{frame:010d}.png",
    )


def find_raw_frames(
    root: str | Path, split: Sequence[SplitEntry] | None = None, camera: int = 2
) -> list[RawFrame]:
    """Frames of a KITTI raw root to export.

    Args:
        root: folder holding ``<date>/calib_*.txt`` and ``<date>/<drive>/velodyne_points/``.
        split: entries of :func:`read_split_file` (their side picks the camera); default every
            Velodyne scan under ``root`` for ``camera``, sorted by drive and frame.
        camera: camera for the default (2 = left ``image_02``, 3 = right ``image_03``).

    Raises:
        DataError: ``root`` missing, a split frame without its scan, or no scans at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "KITTI raw root folder not found")
    if split is not None:
        frames = [_raw_frame(root, e.folder, e.frame, e.camera) for e in split]
        missing = [f for f in frames if not f.velodyne.is_file()]
        if missing:
            listed = ", ".join(str(f.velodyne) for f in missing[:3])
            raise DataError(
                root, f"{len(missing)} of {len(frames)} split frames have no Velodyne scan, "
                f"e.g. {listed}"
            )
        return frames
    frames = []
    for date_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for scan in sorted(date_dir.glob("*/velodyne_points/data/*.bin")):
            if not scan.stem.isdigit():
                continue
            folder = f"{date_dir.name}/{scan.parents[2].name}"
            frames.append(_raw_frame(root, folder, int(scan.stem), camera))
    if not frames:
        raise DataError(
            root, "no Velodyne scans found at <date>/<drive>/velodyne_points/data/*.bin"
        )
    return frames


def raw_frame_depth(
    frame: RawFrame,
    calib: VeloToImage | None = None,
    camz: bool = False,
    monodepth2_index_quirk: bool = False,
) -> np.ndarray:
    """Sparse GT depth of one raw frame: ``float32 (H, W)`` metres, 0 = no point.

    ``(H, W)`` is ``S_rect_0X`` of the calibration (as Monodepth2), else the image header.
    ``calib`` may be passed to avoid re-reading the date's calibration for every frame.
    """
    if calib is None:
        calib = load_raw_calib_dir(frame.calib_dir, frame.camera)
    size = calib.image_size
    if size is None:
        if not frame.image.is_file():
            raise DataError(
                frame.calib_dir / "calib_cam_to_cam.txt",
                f"no S_rect_0{frame.camera} and no image {frame.image} to read the size from",
            )
        size = read_image_size(frame.image)
    points = read_velodyne(frame.velodyne)
    return velodyne_to_depth(
        points, calib, size, vel_depth=not camz, monodepth2_index_quirk=monodepth2_index_quirk
    )

