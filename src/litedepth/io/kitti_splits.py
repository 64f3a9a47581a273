"""KITTI split files (Monodepth2 format): the one parser, for training, GT export and evaluation.

A split file lists one frame per line, ``<date>/<drive> <frame> <l|r>``, e.g.
``2011_09_26/2011_09_26_drive_0002_sync 0000000069 l`` (the frame may be zero-padded or not;
``l`` is the left colour camera ``image_02``, ``r`` the right one ``image_03``). The standard
splits are folders ``splits/<name>/{train,val,test}_files.txt`` (e.g. Monodepth2's
``splits/eigen_zhou``); they are not shipped with litedepth.

Two readings of the same lines live here:

* :func:`read_split_file` / :func:`parse_split_lines` -> :class:`SplitEntry` records (folder,
  frame, side), strict: every line must be a KITTI line. Used by the KITTI raw dataset
  (:mod:`litedepth.data.kitti_raw`) and the ground-truth exporter (:mod:`litedepth.data.kitti_gt`).
  :func:`read_stem_list` reads the object benchmark's split files (one frame stem per line).
* :func:`read_split` / :func:`split_key` -> file stems, lenient: a KITTI line gives
  ``<drive>_<frame:010d>_<side>``, any other line a stem made of its fields. Used by
  evaluation (:mod:`litedepth.metrics.pairing`) to match prediction and ground-truth files.

The module sits in :mod:`litedepth.io` (floor 1) so that both ``data`` (floor 3) and
``metrics`` (floor 2) can use it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from litedepth.errors import DataError

__all__ = [
    "OTHER_SIDE",
    "SIDE_TO_CAMERA",
    "SplitEntry",
    "parse_split_lines",
    "read_split",
    "read_split_file",
    "read_stem_list",
    "split_file",
    "split_key",
]

#: KITTI camera index of a split-file side: ``l`` = ``image_02``, ``r`` = ``image_03``.
SIDE_TO_CAMERA: dict[str, int] = {"l": 2, "r": 3}
#: The stereo partner of a side.
OTHER_SIDE: dict[str, str] = {"l": "r", "r": "l"}

_EXPECTED = "expected '<date>/<drive> <frame> <l|r>'"
_MAX_LISTED = 5


@dataclass(frozen=True)
class SplitEntry:
    """One line of a Monodepth2 split file: ``<date>/<drive> <frame index> <l|r>``."""

    folder: str
    frame: int
    side: str

    @property
    def camera(self) -> int:
        """KITTI camera index: 2 for ``l``, 3 for ``r``."""
        return SIDE_TO_CAMERA[self.side]


def _is_kitti_line(tokens: Sequence[str]) -> bool:
    """Whether split-line tokens read ``<folder> <integer frame> <l|r>``."""
    return len(tokens) == 3 and re.fullmatch(r"\d+", tokens[1]) is not None and tokens[2] in SIDE_TO_CAMERA


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(path, "split file not found" if not path.exists() else "not a file")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read split file ({exc})") from None


def parse_split_lines(lines: Sequence[str], source: str | Path | None = None) -> list[SplitEntry]:
    """Parse split lines ``<date>/<drive> <frame> <l|r>`` given as strings (blank lines skipped).

    Args:
        lines: the lines, in order.
        source: where they come from (a file), named in error messages.

    Returns:
        The entries in line order.

    Raises:
        DataError: a line that is not ``folder frame side`` with an integer frame, side ``l`` or
            ``r`` and a ``<date>/<drive>`` folder (naming ``source`` and the line number), or
            no lines at all.
    """
    entries: list[SplitEntry] = []
    for number, line in enumerate(lines, start=1):
        tokens = str(line).split()
        if not tokens:
            continue
        if not _is_kitti_line(tokens):
            if len(tokens) != 3:
                problem = f"{_EXPECTED}, got {str(line).strip()!r}"
            elif tokens[2] in SIDE_TO_CAMERA:
                problem = f"frame index {tokens[1]!r} is not an integer"
            else:
                problem = f"side {tokens[2]!r} must be 'l' or 'r'"
            raise DataError(source, f"line {number}: {problem}")
        folder = tokens[0].strip("/")
        if len(Path(folder).parts) != 2 or ".." in Path(folder).parts:
            raise DataError(source, f"line {number}: folder {folder!r} is not '<date>/<drive>'")
        entries.append(SplitEntry(folder, int(tokens[1]), tokens[2]))
    if not entries:
        raise DataError(source, "split file lists no frames")
    return entries


def read_split_file(path: str | Path) -> list[SplitEntry]:
    """Parse a Monodepth2 split file (``2011_09_26/2011_09_26_drive_0002_sync 0000000069 l``).

    Returns the entries in file order; blank lines are skipped.

    Raises:
        DataError: unreadable file, or a line that is not ``folder frame side`` with an integer
            frame and side ``l``/``r`` (the message gives the line number).
    """
    path = Path(path)
    return parse_split_lines(_read_lines(path), path)


def read_stem_list(path: str | Path) -> list[str]:
    """Frame stems of an object-format split file: the first token of each non-blank line.

    Raises:
        DataError: missing or unreadable file, or no stems.
    """
    path = Path(path)
    stems = [line.split()[0] for line in _read_lines(path) if line.strip()]
    if not stems:
        raise DataError(path, "split file lists no frames")
    return stems


def split_file(splits_dir: str | Path, subset: str) -> Path:
    """``splits_dir/<subset>_files.txt`` of a Monodepth2-style split folder.

    Args:
        splits_dir: e.g. ``monodepth2/splits/eigen_zhou``.
        subset: ``train``, ``val`` or ``test``.

    Raises:
        DataError: the file does not exist (the message lists the files present).
    """
    folder = Path(splits_dir)
    path = folder / f"{subset}_files.txt"
    if not path.is_file():
        present = sorted(p.name for p in folder.glob("*_files.txt")) if folder.is_dir() else []
        raise DataError(path, f"split file not found (present in {folder}: {present or 'none'})")
    return path


def split_key(line: str) -> str:
    """The file stem a split-file line stands for.

    * ``<date>/<drive> <frame> <side>`` (KITTI, Monodepth2 split files) ->
      ``<drive>_<frame as 10 digits>_<side>``, e.g.
      ``2011_09_26/2011_09_26_drive_0002_sync 69 l`` -> ``2011_09_26_drive_0002_sync_0000000069_l``
      (the Eigen and Eigen-benchmark files, which pad frames differently, give the same key);
    * one field -> that field (a file stem);
    * anything else -> the fields joined by ``_``, with ``/`` replaced by ``_``.
    """
    fields = line.split()
    if _is_kitti_line(fields):
        drive = fields[0].replace("\\", "/").strip("/").split("/")[-1]
        return f"{drive}_{int(fields[1]):010d}_{fields[2]}"
    return "_".join(f.replace("/", "_").replace("\\", "_") for f in fields)


def read_split(path: str | Path) -> list[str]:
    """Sample keys (:func:`split_key`) of a split file, one per non-empty line, in order.

    Prediction and ground-truth files are matched to these keys by stem; stacked arrays
    are taken to be in this order.

    Raises:
        DataError: missing/unreadable file, no lines, or duplicate keys.
    """
    path = Path(path)
    keys = [split_key(line) for line in _read_lines(path) if line.strip()]
    if not keys:
        raise DataError(path, "split file has no entries")
    seen: set[str] = set()
    dups: list[str] = []
    for k in keys:
        if k in seen:
            dups.append(k)
        seen.add(k)
    if dups:
        more = len(dups) - _MAX_LISTED
        listed = ", ".join(dups[:_MAX_LISTED]) + (f", ... ({more} more)" if more > 0 else "")
        raise DataError(path, f"split file lists {len(dups)} entries twice: {listed}")
    return keys
