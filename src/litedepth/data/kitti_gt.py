"""Export KITTI sparse ground-truth depth from Velodyne scans (Eigen protocol).

Three input layouts:

* **object** (object/tracking benchmark style): ``root/image_2/``, ``root/velodyne/`` and
  ``root/calib/`` with one file per frame. Stems are matched exactly, falling back to the
  integer value of numeric stems (``0000000001.png`` <-> ``000001.txt``). The image size is read
  from the image header. Output: ``out/<image stem>.png``.
* **raw** (KITTI raw dataset): ``root/<date>/calib_cam_to_cam.txt``,
  ``root/<date>/calib_velo_to_cam.txt`` and ``root/<date>/<drive>/velodyne_points/data/*.bin``.
  The image size is ``S_rect_0X`` of the calibration (as Monodepth2 uses). Output:
  ``out/<date>/<drive>/image_0X/<frame:010d>.png``.
* **matrix** (data that comes with the projection already composed, e.g. mmdetection3d's
  ``lidar2img``): ``root/image_2/`` and ``root/velodyne/`` as in the object layout, and a
  ``projection``: one file for every frame, or a folder of one file per frame stem
  (``.txt``/``.json``/``.npy``), each a 3x4 ``P2 @ R0_rect @ Tr_velo_to_cam`` or a 4x4
  ``lidar2img`` (:func:`litedepth.geometry.calibration.load_projection_matrix`). The same
  frame gives the same map as through its object calibration. Output: ``out/<image stem>.png``.

Every map is written as a uint16 PNG, value = ``round(metres * 256)``, 0 = no point (the KITTI
depth encoding). With a split file (raw: Monodepth2 format ``<date>/<drive> <frame> l|r``;
object: one stem per line) only the listed frames are exported, in order, and
``out/gt_depths.npz`` holds the float32 maps in metres in split order, one array per frame
(:func:`litedepth.utils.arrays.save_map_archive`: entries ``map_000000``, ... and ``names``):
no pickles, so reading it cannot run code. ``npz_layout="monodepth2"`` writes instead the
layout of Monodepth2's ``export_gt_depth.py`` (key ``data``: a pickled object array), for
Monodepth2's own evaluation script; ``litedepth evaluate`` reads that only with
``--allow-pickle``.

Writes are atomic; existing PNGs are kept unless ``overwrite`` so that a killed run resumes.
Because the PNG quantises depth to 1/256 m, the maps for ``gt_depths.npz`` are always computed
from the scans, so the archive is identical whether or not a run was resumed.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.io.images import read_image_size, write_depth_png
from litedepth.errors import ConfigError, DataError
from litedepth.geometry.calibration import (
    VeloToImage,
    load_object_calib,
    load_projection_matrix,
    load_raw_calib_dir,
)
from litedepth.geometry.velodyne import EMPTY_SCAN, EmptyScanError, read_velodyne, velodyne_to_depth
from litedepth.utils.arrays import save_map_archive
from litedepth.utils.atomic import atomic_save_npz, atomic_write_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "ExportSummary",
    "ObjectFrame",
    "RawFrame",
    "SplitEntry",
    "export_matrix_gt",
    "export_object_gt",
    "export_raw_gt",
    "find_matrix_frames",
    "find_object_frames",
    "find_raw_frames",
    "matrix_frame_depth",
    "object_frame_depth",
    "raw_frame_depth",
    "read_split_file",
    "read_stem_list",
]

GT_NPZ_NAME = "gt_depths.npz"
_SIDE_TO_CAMERA = {"l": 2, "r": 3}
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_MATRIX_SUFFIXES = (".txt", ".json", ".npy")
_MAX_LISTED = 10


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class ObjectFrame:
    """One object-format frame: its image stem and the three matched files."""

    stem: str
    image: Path
    velodyne: Path
    calib: Path


@dataclass(frozen=True)
class SplitEntry:
    """One line of a Monodepth2 split file: ``<date>/<drive> <frame index> <l|r>``."""

    folder: str
    frame: int
    side: str

    @property
    def camera(self) -> int:
        """KITTI camera index: 2 for ``l``, 3 for ``r``."""
        return _SIDE_TO_CAMERA[self.side]


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


# --------------------------------------------------------------------------- helpers


def _listing(stems: Iterable[str]) -> str:
    stems = sorted(stems)
    shown = ", ".join(stems[:_MAX_LISTED])
    more = f" (+{len(stems) - _MAX_LISTED} more)" if len(stems) > _MAX_LISTED else ""
    return f"[{shown}{more}]" if stems else "[none]"


def _files_by_stem(folder: Path, suffixes: Sequence[str]) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(folder, "folder not found (object format needs image_2/, velodyne/, calib/)")
    files = [
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
    ]
    return {p.stem: p for p in sorted(files, key=lambda p: _stem_order(p.stem))}


def _stem_order(stem: str) -> tuple[int, int, str]:
    """Numeric stems in numeric order (``7`` before ``000010``), then the others."""
    return (0, int(stem), stem) if stem.isdigit() else (1, 0, stem)


def _numeric_index(files: dict[str, Path], folder: Path) -> dict[int, Path]:
    index: dict[int, Path] = {}
    for stem, path in files.items():
        if stem.isdigit():
            value = int(stem)
            if value in index:
                raise DataError(
                    folder, f"stems {index[value].stem!r} and {stem!r} have the same number; "
                    "cannot match files by number"
                )
            index[value] = path
    return index


class _StemMatcher:
    """Looks a stem up exactly, then by the integer value of numeric stems."""

    def __init__(self, files: dict[str, Path], folder: Path) -> None:
        self.files = files
        self.folder = folder
        self._numeric: dict[int, Path] | None = None

    def get(self, stem: str) -> Path | None:
        if stem in self.files:
            return self.files[stem]
        if not stem.isdigit():
            return None
        if self._numeric is None:
            self._numeric = _numeric_index(self.files, self.folder)
        return self._numeric.get(int(stem))


# --------------------------------------------------------------------------- object format


def find_object_frames(
    root: str | Path, camera: int = 2, stems: Sequence[str] | None = None
) -> list[ObjectFrame]:
    """Match ``image_{camera}/``, ``velodyne/`` and ``calib/`` files of an object-format folder.

    Args:
        root: folder holding ``image_2/`` (or ``image_3/``), ``velodyne/`` and ``calib/``.
        camera: 2 (left colour) or 3 (right colour).
        stems: only these frames, in this order (each must match); default all image stems
            with both a scan and a calibration, sorted.

    Raises:
        DataError: a folder is missing, a requested stem has no files, or no frame matches
            (the message lists the stems found in each folder).
    """
    root = Path(root)
    return _match_frames(root, camera, stems, root / "calib", (".txt",))


def find_matrix_frames(
    root: str | Path, projection: str | Path, camera: int = 2, stems: Sequence[str] | None = None
) -> list[ObjectFrame]:
    """Match ``image_{camera}/`` and ``velodyne/`` of ``root`` with projection matrices.

    Args:
        root: folder holding ``image_2/`` (or ``image_3/``) and ``velodyne/``.
        projection: one matrix file for every frame, or a folder of one ``.txt``/``.json``/``.npy``
            per frame stem (matched like the object layout's ``calib/``).
        camera, stems: as :func:`find_object_frames`.

    Returns:
        frames whose ``calib`` is the frame's projection matrix file.

    Raises:
        DataError: a missing folder or file, a requested stem without files, no frame matched.
    """
    projection = Path(projection)
    if not projection.exists():
        raise DataError(projection, "projection matrix file or folder not found")
    return _match_frames(Path(root), camera, stems, projection, _MATRIX_SUFFIXES)


def _match_frames(
    root: Path, camera: int, stems: Sequence[str] | None, calib_path: Path, calib_suffixes: Sequence[str]
) -> list[ObjectFrame]:
    """Frames of ``root``'s image and Velodyne folders with the calibration in ``calib_path``:
    a folder of per-stem files, or one file shared by every frame."""
    if camera not in _SIDE_TO_CAMERA.values():
        raise ConfigError(f"camera must be 2 or 3, not {camera!r}")
    image_dir, velo_dir = root / f"image_{camera}", root / "velodyne"
    images = _files_by_stem(image_dir, _IMAGE_SUFFIXES)
    velos = _files_by_stem(velo_dir, (".bin",))
    shared = calib_path if calib_path.is_file() else None
    calibs = {} if shared else _files_by_stem(calib_path, calib_suffixes)
    image_m = _StemMatcher(images, image_dir)
    velo_m = _StemMatcher(velos, velo_dir)
    calib_m = _StemMatcher(calibs, calib_path)
    calib_name = shared.name if shared else f"{calib_path.name}/"

    def calib_for(stem: str) -> Path | None:
        return shared or calib_m.get(stem)

    def describe() -> str:
        calib_part = f"{calib_name} for every frame" if shared else f"{calib_name} stems {_listing(calibs)}"
        return f"{image_dir.name}/ stems {_listing(images)}, velodyne/ stems {_listing(velos)}, {calib_part}"

    frames: list[ObjectFrame] = []
    if stems is not None:
        for stem in stems:
            image = image_m.get(stem)
            velo = velo_m.get(image.stem if image else stem) or velo_m.get(stem)
            calib = calib_for(image.stem if image else stem) or calib_for(stem)
            missing = [n for n, p in ((image_dir.name, image), ("velodyne", velo),
                                      (calib_name.rstrip("/"), calib)) if p is None]
            if missing:
                raise DataError(
                    root, f"split frame {stem!r} has no file in {', '.join(missing)}; {describe()}"
                )
            assert image is not None and velo is not None and calib is not None
            frames.append(ObjectFrame(image.stem, image, velo, calib))
        return frames

    unmatched: list[str] = []
    for stem, image in images.items():
        velo, calib = velo_m.get(stem), calib_for(stem)
        if velo is None or calib is None:
            unmatched.append(stem)
            continue
        frames.append(ObjectFrame(stem, image, velo, calib))
    if not frames:
        raise DataError(
            root, "no frame has an image, a Velodyne scan and a calibration with matching "
            f"stems (exact, or equal as numbers): {describe()}"
        )
    if unmatched:
        logger.warning(
            "%s: %d image(s) without a matching scan or calibration skipped: %s",
            root, len(unmatched), _listing(unmatched),
        )
    return frames


def object_frame_depth(
    frame: ObjectFrame,
    camera: int = 2,
    camz: bool = False,
    monodepth2_index_quirk: bool = False,
) -> np.ndarray:
    """Sparse GT depth of one object-format frame: ``float32 (H, W)`` metres, 0 = no point.

    ``H, W`` come from the image header; depth is the Velodyne forward ``x`` (Eigen protocol),
    or the camera ``z`` when ``camz``.
    """
    size = read_image_size(frame.image)
    calib = load_object_calib(frame.calib, camera=camera, image_size=size)
    points = read_velodyne(frame.velodyne)
    return velodyne_to_depth(
        points, calib, size, vel_depth=not camz, monodepth2_index_quirk=monodepth2_index_quirk
    )


def matrix_frame_depth(
    frame: ObjectFrame,
    camera: int = 2,
    camz: bool = False,
    monodepth2_index_quirk: bool = False,
) -> np.ndarray:
    """Sparse GT depth of a frame whose ``calib`` is a projection matrix file: ``float32 (H, W)``
    metres, 0 = no point (``H, W`` from the image header; depth = Velodyne ``x``, or the
    projection's third row, the camera ``z``, with ``camz``)."""
    size = read_image_size(frame.image)
    calib = VeloToImage.from_projection(load_projection_matrix(frame.calib), size, camera, (frame.calib,))
    return velodyne_to_depth(
        read_velodyne(frame.velodyne), calib, size, vel_depth=not camz, monodepth2_index_quirk=monodepth2_index_quirk
    )


def read_stem_list(path: str | Path) -> list[str]:
    """Frame stems of an object-format split file: the first token of each non-blank line."""
    path = Path(path)
    lines = _read_lines(path)
    stems = [line.split()[0] for line in lines if line.strip()]
    if not stems:
        raise DataError(path, "split file lists no frames")
    return stems


# --------------------------------------------------------------------------- raw format


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(path, "split file not found" if not path.exists() else "not a file")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read split file ({exc})") from None


def read_split_file(path: str | Path) -> list[SplitEntry]:
    """Parse a Monodepth2 split file (``2011_09_26/2011_09_26_drive_0002_sync 0000000069 l``).

    Returns the entries in file order; blank lines are skipped.

    Raises:
        DataError: unreadable file, or a line that is not ``folder frame side`` with an integer
            frame and side ``l``/``r`` (the message gives the line number).
    """
    path = Path(path)
    entries: list[SplitEntry] = []
    for number, line in enumerate(_read_lines(path), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 3:
            raise DataError(
                path, f"line {number}: expected '<date>/<drive> <frame> <l|r>', got {line.strip()!r}"
            )
        folder, frame, side = tokens
        if not re.fullmatch(r"\d+", frame):
            raise DataError(path, f"line {number}: frame index {frame!r} is not an integer")
        if side not in _SIDE_TO_CAMERA:
            raise DataError(path, f"line {number}: side {side!r} must be 'l' or 'r'")
        folder = folder.strip("/")
        if len(Path(folder).parts) != 2 or ".." in Path(folder).parts:
            raise DataError(path, f"line {number}: folder {folder!r} is not '<date>/<drive>'")
        entries.append(SplitEntry(folder, int(frame), side))
    if not entries:
        raise DataError(path, "split file lists no frames")
    return entries


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


# --------------------------------------------------------------------------- export


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
        logger.info("%s exists; not rewritten (use overwrite to redo it)", npz_path)
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


def export_object_gt(
    root: str | Path,
    out: str | Path,
    *,
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
    """Export GT depth PNGs (and ``gt_depths.npz`` with a split) for an object-format folder.

    Args:
        root: folder with ``image_{camera}/``, ``velodyne/``, ``calib/`` (no ``calib/`` with
            ``projection``).
        out: output folder; ``out/<image stem>.png`` (uint16, metres * 256, 0 = none).
        split: optional text file, one frame stem per line (first token); with it only those
            frames are exported, in order, and ``out/gt_depths.npz`` is written.
        camera: 2 (left) or 3 (right).
        camz: depth = camera z instead of Velodyne x.
        overwrite: rewrite existing outputs (default: keep them, so a killed run resumes).
        monodepth2_index_quirk: see :func:`litedepth.geometry.velodyne.velodyne_to_depth`.
        progress: show a rich progress bar on stderr.
        npz_layout: ``"maps"`` (default; pickle-free, one array per frame) or
            ``"monodepth2"`` (Monodepth2's pickled object array under ``data``).
        projection: the matrix layout: Velodyne-to-image matrices instead of ``calib/``
            (:func:`find_matrix_frames`).
        skip_empty_scans: leave out frames whose Velodyne file is empty (0 bytes), counted in
            :attr:`ExportSummary.empty_scans`; default: such a file is an error naming it.
            Not with ``split`` (``gt_depths.npz`` holds one map per split line).

    Raises:
        EmptyScanError: an empty scan without ``skip_empty_scans``.
    """
    out = Path(out)
    stems = read_stem_list(split) if split is not None else None
    if projection is None:
        frames, depth_of = find_object_frames(root, camera=camera, stems=stems), object_frame_depth
    else:
        frames, depth_of = find_matrix_frames(root, projection, camera=camera, stems=stems), matrix_frame_depth

    def compute(frame: ObjectFrame) -> Callable[[], np.ndarray]:
        return lambda: depth_of(frame, camera, camz, monodepth2_index_quirk)

    items = [(f.stem, out / f"{f.stem}.png", f.velodyne, compute(f)) for f in frames]
    return _export(items, out, split is not None, overwrite, progress, npz_layout, skip_empty_scans)


def export_matrix_gt(root: str | Path, out: str | Path, projection: str | Path, **options: Any) -> ExportSummary:
    """Export GT depth PNGs (and ``gt_depths.npz`` with a split) with projection matrices:
    :func:`export_object_gt` with ``projection`` (one 3x4 / 4x4 matrix file for every frame, or
    a folder of one per frame stem, :func:`find_matrix_frames`) instead of ``root/calib/``."""
    return export_object_gt(root, out, projection=projection, **options)


def export_raw_gt(
    root: str | Path,
    out: str | Path,
    *,
    split: str | Path | None = None,
    camera: int = 2,
    camz: bool = False,
    overwrite: bool = False,
    monodepth2_index_quirk: bool = False,
    progress: bool = False,
    npz_layout: str = "maps",
    skip_empty_scans: bool = False,
) -> ExportSummary:
    """Export GT depth PNGs (and ``gt_depths.npz`` with a split) for a KITTI raw root.

    Args:
        root: KITTI raw root (``<date>/calib_*.txt``, ``<date>/<drive>/velodyne_points/data``).
        out: output folder; ``out/<date>/<drive>/image_0X/<frame:010d>.png`` (uint16,
            metres * 256, 0 = none).
        split: optional Monodepth2 split file; only its frames are exported, in order, with
            the camera of each line's side, and ``out/gt_depths.npz`` is written. (Monodepth2's
            own export always projects into camera 2; the Eigen test files are all ``l``.)
        camera: camera when there is no split (2 = left, 3 = right).
        camz, overwrite, monodepth2_index_quirk, progress, npz_layout, skip_empty_scans: as
            :func:`export_object_gt`.
    """
    root, out = Path(root), Path(out)
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
        return lambda: raw_frame_depth(frame, calib_for(frame), camz, monodepth2_index_quirk)

    items = [
        (f"{Path(f.folder).name}_{f.frame:010d}_{'l' if f.camera == 2 else 'r'}", f.output_path(out), f.velodyne,
         compute(f))
        for f in frames
    ]
    return _export(items, out, split is not None, overwrite, progress, npz_layout, skip_empty_scans)
