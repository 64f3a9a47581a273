"""KITTI raw drives for self-supervised training (:class:`KittiRawDataset`).

Layout (the official raw download, unchanged)::

    root/2011_09_26/calib_cam_to_cam.txt           per-date calibration (P_rect_02/03, S_rect_0X)
    root/2011_09_26/calib_velo_to_cam.txt          Velodyne -> camera (only for ground truth)
    root/2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.jpg   left colour
    root/2011_09_26/2011_09_26_drive_0002_sync/image_03/data/0000000069.jpg   right colour
    root/2011_09_26/2011_09_26_drive_0002_sync/velodyne_points/data/0000000069.bin

Monodepth2 converts the PNGs to JPEG (``img_ext=".jpg"``, its default); pass ``".png"`` for
the original files.

Split files use Monodepth2's text format, one target per line, ``<date>/<drive> <frame> <l|r>``
(``2011_09_26/2011_09_26_drive_0002_sync 69 l``; the frame may be zero-padded). The standard
splits are folders ``splits/<name>/{train,val,test}_files.txt`` (e.g. Monodepth2's
``splits/eigen_zhou``); they are not shipped with litedepth: pass the folder to
:func:`split_file` (:mod:`litedepth.io.kitti_splits`, which parses them) or the path of one file to :class:`KittiRawDataset`.

Intrinsics are read per date from ``P_rect_02`` (left, ``l``) or ``P_rect_03`` (right, ``r``),
``K = P[:, :3]`` in pixels for the rectified image size (``S_rect_0X``), then scaled to the
training size with :func:`~litedepth.data.augment.resize_intrinsics` (pixel-centre convention;
Monodepth2 instead uses fixed normalised intrinsics 0.58 / 1.92 / 0.5 / 0.5 for every date).
The full frame is resized, never cropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from litedepth.data.augment import ColorJitter, resize_intrinsics
from litedepth.io.images import read_image_size, read_rgb
from litedepth.data.video import (
    KITTI_STEREO_BASELINE,
    STEREO,
    FrameId,
    SequenceDataset,
    TargetRef,
    resize_depth_nearest,
)
from litedepth.errors import ConfigError, DataError
from litedepth.geometry.calibration import VeloToImage, load_raw_calib_dir
from litedepth.geometry.intrinsics import read_kitti_intrinsics
from litedepth.geometry.velodyne import read_velodyne, velodyne_to_depth
from litedepth.io.kitti_splits import (  # the one split parser; split_file and parse_split_lines re-exported
    OTHER_SIDE, SIDE_TO_CAMERA, SplitEntry, parse_split_lines, read_split_file, split_file,
)

log = logging.getLogger(__name__)

__all__ = ["KITTI_GT_SIZE", "KittiRawDataset", "parse_split_lines", "read_raw_intrinsics", "split_file"]

#: ``(H, W)`` Monodepth2 resizes every Velodyne ground-truth map to (its ``full_res_shape``).
KITTI_GT_SIZE = (375, 1242)
_MAX_LISTED = 3


def read_raw_intrinsics(date_dir: str | Path, camera: int) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Pixel intrinsics of rectified camera ``camera`` (2 or 3) of one KITTI raw date.

    Returns:
        ``(K, size)``: ``(3, 3)`` float64 ``P_rect_0X[:, :3]`` and its image size ``(H, W)`` from
        ``S_rect_0X`` (``None`` when absent), read by
        :func:`litedepth.geometry.intrinsics.read_kitti_intrinsics` (plausibility-checked).

    Raises:
        DataError: missing ``calib_cam_to_cam.txt`` or ``P_rect_0X``, malformed numbers.
    """
    intr = read_kitti_intrinsics(Path(date_dir) / "calib_cam_to_cam.txt", camera)
    return intr.K, intr.size


class KittiRawDataset(SequenceDataset):
    """Monodepth2-style KITTI raw samples (see the module docstring for the layout).

    Names are ``"<date>/<drive> <frame:010d> <l|r>"``. Split lines whose temporal neighbours
    (``frame + i * frame_step``) have no image in the drive are skipped (logged); a listed
    target or stereo partner without its image is an error.

    Args:
        root: KITTI raw root (holding the date folders).
        split: a split file path, a list of split lines, or ``None`` for every left
            (``image_02``) frame under ``root``.
        frame_ids: e.g. ``(0, -1, 1)``, ``(0, -1, 1, "s")`` or ``(0, "s")``.
        size: ``(H, W)`` training size (Monodepth2: ``(192, 640)``); ``None`` keeps the stored size.
        img_ext: ``".jpg"`` (Monodepth2's converted files) or ``".png"``.
        use_stereo: add ``"s"`` to ``frame_ids`` when absent.
        load_gt: add ``depth_gt`` projected from ``velodyne_points/data/<frame>.bin`` (Velodyne
            forward ``x`` as depth, the Eigen protocol) at the rectified image size, resized
            (nearest) to ``gt_size`` like Monodepth2; when no target has a scan, ``depth_gt`` is
            omitted with a warning.
        gt_size: ``(H, W)`` of ``depth_gt``; ``None`` keeps each date's native size (batches
            then need frames of one date size).
        frame_step, color_jitter, hflip_p, augment_on_device: see
            :class:`~litedepth.data.video.SequenceDataset`.
        stereo_baseline: ``|stereo_T[0, 3]|``; 0.1 as Monodepth2 (the real baseline is about
            0.54 m; give it to get a metric stereo transform).
    """

    def __init__(
        self,
        root: str | Path,
        split: str | Path | Sequence[str] | None = None,
        frame_ids: Sequence[FrameId] = (0, -1, 1),
        size: Sequence[int] | None = (192, 640),
        *,
        img_ext: str = ".jpg",
        use_stereo: bool = False,
        load_gt: bool = False,
        gt_size: Sequence[int] | None = KITTI_GT_SIZE,
        frame_step: int = 1,
        stereo_baseline: float = KITTI_STEREO_BASELINE,
        color_jitter: ColorJitter | None = None,
        hflip_p: float = 0.0,
        augment_on_device: bool = False,
    ) -> None:
        frame_ids = tuple(frame_ids)
        if use_stereo and STEREO not in frame_ids:
            frame_ids = (*frame_ids, STEREO)
        super().__init__(
            frame_ids, size, frame_step=frame_step, color_jitter=color_jitter, hflip_p=hflip_p,
            stereo_baseline=stereo_baseline, augment_on_device=augment_on_device,
        )
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(self.root, "KITTI raw root folder not found")
        ext = img_ext if img_ext.startswith(".") else f".{img_ext}"
        if ext.lower() not in (".jpg", ".jpeg", ".png"):
            raise ConfigError(f"img_ext must be '.jpg' or '.png', got {img_ext!r}")
        self.img_ext = ext
        self.gt_size = None if gt_size is None else (int(gt_size[0]), int(gt_size[1]))
        self._listings: dict[tuple[str, int], set[int]] = {}
        self._intrinsics: dict[tuple[str, int], tuple[np.ndarray, tuple[int, int] | None]] = {}
        self._calib: dict[tuple[str, int], VeloToImage] = {}

        if split is None:
            entries = self._all_left_frames()
            source: Path | str = self.root
        elif isinstance(split, (str, Path)):
            source = Path(split)
            entries = read_split_file(source)
        else:
            source = "split lines"
            entries = parse_split_lines(list(split), source)
        self.split_source = source
        self._build_index(entries)
        self.has_depth_gt = bool(load_gt) and self._check_velodyne()
        log.info("%s (split: %s)", self.describe(), source)

    # ---------------------------------------------------------------- paths and index

    def image_path(self, folder: str, frame: int, camera: int) -> Path:
        """``root/<date>/<drive>/image_0X/data/<frame:010d><img_ext>``."""
        return self.root / folder / f"image_0{camera}" / "data" / f"{frame:010d}{self.img_ext}"

    def velodyne_path(self, folder: str, frame: int) -> Path:
        """``root/<date>/<drive>/velodyne_points/data/<frame:010d>.bin``."""
        return self.root / folder / "velodyne_points" / "data" / f"{frame:010d}.bin"

    def _listing(self, folder: str, camera: int) -> set[int]:
        key = (folder, camera)
        if key not in self._listings:
            data = self.root / folder / f"image_0{camera}" / "data"
            if not data.is_dir():
                raise DataError(data, "image folder not found (is the drive downloaded and extracted?)")
            self._listings[key] = {
                int(p.stem) for p in data.iterdir() if p.suffix == self.img_ext and p.stem.isdigit()
            }
        return self._listings[key]

    def _all_left_frames(self) -> list[SplitEntry]:
        entries = []
        for data in sorted(self.root.glob("*/*/image_02/data")):
            folder = f"{data.parents[2].name}/{data.parents[1].name}"
            entries.extend(SplitEntry(folder, f, "l") for f in sorted(self._listing(folder, 2)))
        if not entries:
            raise DataError(self.root, f"no frames at <date>/<drive>/image_02/data/*{self.img_ext}")
        return entries

    def _build_index(self, entries: list[SplitEntry]) -> None:
        missing_target: list[Path] = []
        missing_stereo: list[Path] = []
        skipped = 0
        for e in entries:
            cam = SIDE_TO_CAMERA[e.side]
            frames = self._listing(e.folder, cam)
            if e.frame not in frames:
                missing_target.append(self.image_path(e.folder, e.frame, cam))
                continue
            if any(e.frame + i * self.frame_step not in frames for i in self.temporal_ids):
                skipped += 1
                continue
            if STEREO in self.frame_ids:
                other = SIDE_TO_CAMERA[OTHER_SIDE[e.side]]
                if e.frame not in self._listing(e.folder, other):
                    missing_stereo.append(self.image_path(e.folder, e.frame, other))
                    continue
            self.targets.append(TargetRef(e.folder, e.frame, f"{e.folder} {e.frame:010d} {e.side}", e.side))
        for missing, what in ((missing_target, "target"), (missing_stereo, "stereo partner")):
            if missing:
                hint = "" if self.img_ext == ".png" else (
                    " (Monodepth2 converts to JPEG; pass img_ext='.png' for the original PNGs)"
                )
                raise DataError(
                    missing[0], f"{what} image not found; {len(missing)} of {len(entries)} split lines lack "
                    f"their {what} image, e.g. {[str(p) for p in missing[:_MAX_LISTED]]}{hint}",
                )
        if skipped:
            log.info("KITTI raw: skipped %d of %d split lines whose neighbours %s x %d fall outside the drive",
                     skipped, len(entries), self.temporal_ids, self.frame_step)
        if not self.targets:
            raise DataError(self.split_source, f"no split line has all neighbours {list(self.frame_ids)}")

    def _check_velodyne(self) -> bool:
        missing = [t for t in self.targets if not self.velodyne_path(t.sequence, t.frame).is_file()]
        if len(missing) == len(self.targets):
            log.warning("KITTI raw: no Velodyne scans under %s; samples carry no depth_gt", self.root)
            return False
        if missing:
            raise DataError(
                self.velodyne_path(missing[0].sequence, missing[0].frame),
                f"Velodyne scan not found; {len(missing)} of {len(self.targets)} targets have none "
                "(use load_gt=False or a split of frames with scans)",
            )
        return True

    # ---------------------------------------------------------------- hooks

    def load_frame(self, ref: TargetRef, frame_id: FrameId) -> np.ndarray:
        side = ref.side or "l"
        if frame_id == STEREO:
            return read_rgb(self.image_path(ref.sequence, ref.frame, SIDE_TO_CAMERA[OTHER_SIDE[side]]))
        return read_rgb(self.image_path(ref.sequence, self.position(ref, int(frame_id)), SIDE_TO_CAMERA[side]))

    def native_intrinsics(self, ref: TargetRef, native_size: tuple[int, int]) -> np.ndarray:
        date = ref.sequence.split("/")[0]
        cam = SIDE_TO_CAMERA[ref.side or "l"]
        if (date, cam) not in self._intrinsics:
            self._intrinsics[(date, cam)] = read_raw_intrinsics(self.root / date, cam)
        K, calib_size = self._intrinsics[(date, cam)]
        if calib_size is not None and calib_size != tuple(native_size):
            return resize_intrinsics(K, calib_size, native_size).double().numpy()
        return K

    def stereo_side_sign(self, ref: TargetRef) -> float:
        return -1.0 if (ref.side or "l") == "l" else 1.0

    def load_depth_gt(self, ref: TargetRef) -> np.ndarray:
        date = ref.sequence.split("/")[0]
        cam = SIDE_TO_CAMERA[ref.side or "l"]
        if (date, cam) not in self._calib:
            self._calib[(date, cam)] = load_raw_calib_dir(self.root / date, cam)
        calib = self._calib[(date, cam)]
        size = calib.image_size or read_image_size(self.image_path(ref.sequence, ref.frame, cam))
        depth = velodyne_to_depth(read_velodyne(self.velodyne_path(ref.sequence, ref.frame)), calib, size)
        return depth if self.gt_size is None else resize_depth_nearest(depth, self.gt_size)
