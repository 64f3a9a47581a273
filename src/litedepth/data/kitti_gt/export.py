"""Writing KITTI ground truth: one uint16 depth PNG per frame and, with a split,
``gt_depths.npz`` - :func:`export_gt` for every layout (object, matrix, raw).

See :mod:`litedepth.data.kitti_gt` for the layouts, the encodings and resuming.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.data.kitti_gt.object_layout import (
    ObjectFrame, _listing, find_matrix_frames, find_object_frames, matrix_frame_depth, object_frame_depth,
)
from litedepth.data.kitti_gt.raw_layout import RawFrame, find_raw_frames, raw_frame_depth
from litedepth.errors import ConfigError
from litedepth.geometry.calibration import VeloToImage, load_raw_calib_dir
from litedepth.geometry.velodyne import EMPTY_SCAN, EmptyScanError
from litedepth.io.images import read_image_size, write_depth_png
from litedepth.io.kitti_splits import read_split_file, read_stem_list
from litedepth.utils.arrays import save_map_archive
from litedepth.utils.atomic import atomic_save_npz, atomic_write_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "GT_NPZ_NAME", "LAYOUTS", "NPZ_LAYOUTS", "ExportSummary", "export_gt", "export_matrix_gt", "export_object_gt",
    "export_raw_gt",
]

GT_NPZ_NAME = "gt_depths.npz"


@dataclass
class ExportSummary:
    """What an export did. ``outputs`` lists every frame's PNG in export order.

    ``skipped`` counts existing outputs kept (resume); ``empty_scans`` lists the 0-byte
    Velodyne files left out with ``skip_empty_scans`` (no PNG is written for them).
    """

    written: int = 0
    skipped: int = 0
    valid_pixels: int = 0
    outputs: list[Path] = field(default_factory=list)
    npz: Path | None = None
    empty_scans: list[Path] = field(default_factory=list)



NPZ_LAYOUTS = ("maps", "monodepth2")


def _object_array(maps: list[np.ndarray]) -> np.ndarray:
    arr = np.empty(len(maps), dtype=object)
    for i, depth in enumerate(maps):
        arr[i] = depth
    return arr


def _write_npz(path: Path, maps: list[np.ndarray], names: list[str], layout: str) -> None:
    if layout == "monodepth2":  # pickled object array, as Monodepth2's export_gt_depth.py writes
        atomic_save_npz(path, compressed=True, data=_object_array(maps))
        return
    buf = io.BytesIO()
    save_map_archive(buf, maps, names, units="metres")
    atomic_write_bytes(path, buf.getvalue())


def _empty_scans(scans: Iterable[Path]) -> list[Path]:
    return [scan for scan in scans if scan.is_file() and scan.stat().st_size == 0]


def _export(
    items: Sequence[tuple[str, Path, Path, Callable[[], np.ndarray]]],
    out: Path,
    with_npz: bool,
    overwrite: bool,
    progress: bool,
    npz_layout: str = "maps",
    skip_empty_scans: bool = False,
) -> ExportSummary:
    if npz_layout not in NPZ_LAYOUTS:
        raise ConfigError(f"unknown gt_depths.npz layout {npz_layout!r}; choose one of {', '.join(NPZ_LAYOUTS)}")
    if skip_empty_scans and with_npz:
        raise ConfigError("--skip-empty-scans cannot be used with --split: gt_depths.npz must hold one map per "
                          "split line; remove the frames with empty scans from the split instead")
    summary = ExportSummary(outputs=[p for _, p, _, _ in items])
    npz_path = out / GT_NPZ_NAME
    need_npz = with_npz and (overwrite or not npz_path.exists())
    if with_npz and not need_npz:
        logger.info("%s exists; not rewritten (use --overwrite, overwrite=True, to redo it)", npz_path)
    if not skip_empty_scans:  # before anything is written
        empty = _empty_scans(scan for _, png, scan, _ in items if overwrite or need_npz or not png.exists())
        if empty:
            more = f" ({len(empty)} empty scans: {_listing(str(e) for e in empty)})" if len(empty) > 1 else ""
            raise EmptyScanError(empty[0], f"{EMPTY_SCAN}{more}; --skip-empty-scans leaves such frames out")
    maps: list[np.ndarray] = []
    names: list[str] = []

    def work(advance: Callable[[], None]) -> None:
        for name, png, _, compute in items:
            png_needed = overwrite or not png.exists()
            if png_needed or need_npz:
                try:
                    depth = compute()
                except EmptyScanError as exc:
                    if not skip_empty_scans:
                        raise
                    logger.warning("%s: empty Velodyne scan (0 bytes); frame %s skipped, no map written",
                                   exc.path, name)
                    summary.empty_scans.append(exc.path)
                    summary.outputs.remove(png)
                    advance()
                    continue
                summary.valid_pixels += int(np.count_nonzero(depth))
                if png_needed:
                    write_depth_png(png, depth, "kitti")
                    summary.written += 1
                    logger.debug("%s -> %s (%d points)", name, png, np.count_nonzero(depth))
                if need_npz:
                    maps.append(depth)
                    names.append(name)
            if not png_needed:
                summary.skipped += 1
            advance()

    if progress and items:
        from rich.console import Console
        from rich.progress import (
            BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn,
        )

        columns = (
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            task = bar.add_task("KITTI GT depth", total=len(items))
            work(lambda: bar.advance(task))
    else:
        work(lambda: None)

    if need_npz:
        _write_npz(npz_path, maps, names, npz_layout)
        summary.npz = npz_path
    elif with_npz:
        summary.npz = npz_path
    logger.info(
        "KITTI GT: %d maps written, %d existing kept, %d empty scans skipped, to %s%s",
        summary.written, summary.skipped, len(summary.empty_scans), out,
        f"; {GT_NPZ_NAME} with {len(maps)} maps" if need_npz else "",
    )
    return summary


#: Input layouts :func:`export_gt` reads (see :mod:`litedepth.data.kitti_gt`).
LAYOUTS = ("object", "raw", "matrix")


def export_gt(
    root: str | Path,
    out: str | Path,
    *,
    layout: str = "object",
    split: str | Path | None = None,
    camera: int = 2,
    camz: bool = False,
    overwrite: bool = False,
    monodepth2_index_quirk: bool = False,
    progress: bool = False,
    npz_layout: str = "maps",
    projection: str | Path | None = None,
    skip_empty_scans: bool = False,
) -> ExportSummary:
    """Export GT depth PNGs (and ``gt_depths.npz`` with a split) for a KITTI folder of any layout.

    Every map is ``(H, W)`` uint16, value = metres * 256, 0 = no point (the KITTI encoding);
    ``gt_depths.npz`` holds the float32 maps in metres in split order.

    Args:
        root: the KITTI folder: ``object``: ``image_{camera}/``, ``velodyne/``, ``calib/``;
            ``matrix``: ``image_{camera}/`` and ``velodyne/`` (the calibration is ``projection``);
            ``raw``: ``<date>/calib_*.txt`` and ``<date>/<drive>/velodyne_points/data``.
        out: output folder: ``out/<image stem>.png`` (object, matrix) or
            ``out/<date>/<drive>/image_0X/<frame:010d>.png`` (raw).
        layout: ``"object"``, ``"matrix"`` or ``"raw"`` (:data:`LAYOUTS`); ``"object"`` with a
            ``projection`` is the matrix layout.
        split: optional split file; with it only its frames are exported, in order, and
            ``out/gt_depths.npz`` is written. Object / matrix: one frame stem per line (first
            token, :func:`~litedepth.io.kitti_splits.read_stem_list`); raw: Monodepth2 lines
            ``<date>/<drive> <frame> <l|r>`` (:func:`~litedepth.io.kitti_splits.read_split_file`),
            each projected into the camera of its side (Monodepth2's own export always projects
            into camera 2; the Eigen test files are all ``l``).
        camera: 2 (left) or 3 (right); for ``raw`` only when there is no split.
        camz: depth = camera z instead of Velodyne x.
        overwrite: rewrite existing outputs (default: keep them, so a killed run resumes).
        monodepth2_index_quirk: see :func:`litedepth.geometry.velodyne.velodyne_to_depth`.
        progress: show a rich progress bar on stderr.
        npz_layout: ``"maps"`` (default; pickle-free, one array per frame) or
            ``"monodepth2"`` (Monodepth2's pickled object array under ``data``).
        projection: Velodyne-to-image matrices (the matrix layout): one 3x4 / 4x4 matrix file
            for every frame, or a folder of one per frame stem (:func:`find_matrix_frames`).
        skip_empty_scans: leave out frames whose Velodyne file is empty (0 bytes), counted in
            :attr:`ExportSummary.empty_scans`; default: such a file is an error naming it.
            Not with ``split`` (``gt_depths.npz`` holds one map per split line).

    Raises:
        ConfigError: an unknown layout, ``matrix`` without ``projection``, ``raw`` with one.
        EmptyScanError: an empty scan without ``skip_empty_scans``.
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown KITTI layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if layout == "matrix" and projection is None:
        raise ConfigError("the matrix layout needs projection= (a matrix file or a folder of them)")
    if layout == "raw" and projection is not None:
        raise ConfigError("projection= is for the object / matrix layouts, not raw")
    out = Path(out)
    if layout == "raw":
        items = _raw_items(Path(root), out, split, camera, camz, monodepth2_index_quirk)
    else:
        items = _object_items(root, out, split, camera, camz, monodepth2_index_quirk, projection)
    return _export(items, out, split is not None, overwrite, progress, npz_layout, skip_empty_scans)


_Item = tuple[str, Path, Path, Callable[[], np.ndarray]]  # (name, output PNG, scan, compute the map)


def _object_items(
    root: str | Path, out: Path, split: str | Path | None, camera: int, camz: bool, quirk: bool,
    projection: str | Path | None,
) -> list[_Item]:
    stems = read_stem_list(split) if split is not None else None
    if projection is None:
        frames, depth_of = find_object_frames(root, camera=camera, stems=stems), object_frame_depth
    else:
        frames, depth_of = find_matrix_frames(root, projection, camera=camera, stems=stems), matrix_frame_depth

    def compute(frame: ObjectFrame) -> Callable[[], np.ndarray]:
        return lambda: depth_of(frame, camera, camz, quirk)

    return [(f.stem, out / f"{f.stem}.png", f.velodyne, compute(f)) for f in frames]


def _raw_items(
    root: Path, out: Path, split: str | Path | None, camera: int, camz: bool, quirk: bool
) -> list[_Item]:
    entries = read_split_file(split) if split is not None else None
    frames = find_raw_frames(root, entries, camera=camera)
    calibs: dict[tuple[Path, int], VeloToImage] = {}
    checked: set[tuple[str, int]] = set()

    def calib_for(frame: RawFrame) -> VeloToImage:
        key = (frame.calib_dir, frame.camera)
        if key not in calibs:
            calibs[key] = load_raw_calib_dir(frame.calib_dir, frame.camera)
        calib = calibs[key]
        drive_key = (frame.folder, frame.camera)
        if calib.image_size is not None and drive_key not in checked and frame.image.is_file():
            checked.add(drive_key)
            actual = read_image_size(frame.image)
            if actual != calib.image_size:
                logger.warning(
                    "%s: image is %dx%d (HxW) but S_rect_0%d says %dx%d; using the calibration "
                    "size as Monodepth2 does", frame.image, *actual, frame.camera,
                    *calib.image_size,
                )
        return calib

    def compute(frame: RawFrame) -> Callable[[], np.ndarray]:
        return lambda: raw_frame_depth(frame, calib_for(frame), camz, quirk)

    return [
        (f"{Path(f.folder).name}_{f.frame:010d}_{'l' if f.camera == 2 else 'r'}", f.output_path(out), f.velodyne,
         compute(f))
        for f in frames
    ]


def _deprecated(name: str, layout: str) -> None:
    warnings.warn(f"{name} is deprecated; use export_gt(..., layout={layout!r})", DeprecationWarning, stacklevel=3)


def export_object_gt(root: str | Path, out: str | Path, **options: Any) -> ExportSummary:
    """Deprecated: :func:`export_gt` with ``layout="object"`` (the options are the same)."""
    _deprecated("export_object_gt", "object")
    return export_gt(root, out, layout="object", **options)


def export_matrix_gt(root: str | Path, out: str | Path, projection: str | Path, **options: Any) -> ExportSummary:
    """Deprecated: :func:`export_gt` with ``layout="matrix"`` and ``projection``."""
    _deprecated("export_matrix_gt", "matrix")
    return export_gt(root, out, layout="matrix", projection=projection, **options)


def export_raw_gt(root: str | Path, out: str | Path, **options: Any) -> ExportSummary:
    """Deprecated: :func:`export_gt` with ``layout="raw"`` (the options are the same)."""
    _deprecated("export_raw_gt", "raw")
    return export_gt(root, out, layout="raw", **options)
