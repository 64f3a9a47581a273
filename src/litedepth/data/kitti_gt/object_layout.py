"""KITTI object and matrix layouts: match ``image_X/``, ``velodyne/`` and the calibration files
(``calib/``, or projection matrices) by stem, and project one frame's scan to a depth map.

Stems are matched exactly, falling back to the integer value of numeric stems
(``0000000001.png`` <-> ``000001.txt``). See :mod:`litedepth.data.kitti_gt` for the layouts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.geometry.calibration import VeloToImage, load_object_calib, load_projection_matrix
from litedepth.geometry.velodyne import read_velodyne, velodyne_to_depth
from litedepth.io.images import IMAGE_SUFFIXES, read_image_size
from litedepth.io.kitti_splits import SIDE_TO_CAMERA

logger = logging.getLogger(__name__)

__all__ = ["ObjectFrame", "find_matrix_frames", "find_object_frames", "matrix_frame_depth", "object_frame_depth"]

_MATRIX_SUFFIXES = (".txt", ".json", ".npy")
_MAX_LISTED = 10


@dataclass(frozen=True)
class ObjectFrame:
    """One object-format frame: its image stem and the three matched files."""

    stem: str
    image: Path
    velodyne: Path
    calib: Path



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
    if camera not in SIDE_TO_CAMERA.values():
        raise ConfigError(f"camera must be 2 or 3, not {camera!r}")
    image_dir, velo_dir = root / f"image_{camera}", root / "velodyne"
    images = _files_by_stem(image_dir, IMAGE_SUFFIXES)
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

