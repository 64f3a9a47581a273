"""The user's own videos as a self-supervised training set (:class:`VideoFolderDataset`).

Layout (described for users in ``docs/video_folder_format.md``)::

    root/
      intrinsics.json            optional: applies to every sequence without its own file
      drive_a/                   one folder per continuous video (a "sequence")
        intrinsics.json          or intrinsics.txt
        000000.jpg 000001.jpg ...  frames, sorted by name (digit runs compared as numbers)
      drive_b/ ...

Intrinsics files, read by :func:`litedepth.geometry.intrinsics.read_intrinsics` (pixel
intrinsics are in the pixel-centre convention of :mod:`litedepth.geometry.camera`):

* ``intrinsics.json`` with pixel values ``{"fx", "fy", "cx", "cy"}`` plus optional
  ``"width", "height"`` (the image size they were calibrated at; when it differs from the
  frames' size, ``K`` is rescaled with :func:`~litedepth.geometry.intrinsics.resize_matrix`; the
  aspect ratio must match), or normalised values ``{"fx", "fy", "cx", "cy", "normalised": true}``
  (``fx/W, fy/H, cx/W, cy/H``; converted by multiplying with the frames' width and height, as
  Monodepth2 does). ``"K"`` (a 3x3 matrix) may replace the four numbers. A JSON object that
  does not say ``"normalised": true`` holds **pixels**, and is checked against the frames:
  normalised values taken for pixels (``fx = 0.58``) are an error naming the file and the fix.
* ``intrinsics.json`` holding a bare 3x3 list (the Monodepth2 / ManyDepth file): it does not
  say its convention, so the dataset's ``intrinsics_convention`` must (``"normalised"``).
* ``intrinsics.txt``: pixel intrinsics (unless ``intrinsics_convention`` says otherwise),
  either nine numbers (the 3x3 ``K`` row by row, for the frames' size, like SfMLearner's
  ``cam.txt``), or ``fx fy cx cy`` or ``fx fy cx cy width height``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from litedepth.io.images import IMAGE_SUFFIXES, read_image_size, read_rgb
from litedepth.data.video import FrameId, TargetRef, frames_needed
from litedepth.data.video_split import SequenceOptions, SplitSequenceDataset
from litedepth.errors import ConfigError, DataError
from litedepth.geometry.intrinsics import PIXELS, parse_convention, read_intrinsics
from litedepth.utils.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

__all__ = ["FRAME_EXTS", "INTRINSICS_FILES", "VideoFolderDataset", "list_frames", "read_video_intrinsics"]

#: File suffixes read as frames (case-insensitive): an alias of the one list of image suffixes,
#: :data:`litedepth.io.images.IMAGE_SUFFIXES`.
FRAME_EXTS = IMAGE_SUFFIXES
#: Intrinsics file names looked up in a sequence folder, then in the root (first found wins).
INTRINSICS_FILES = ("intrinsics.json", "intrinsics.txt")
_CACHE_VERSION = 1


def _natural_key(name: str) -> list[Any]:
    return [(0, int(tok), tok) if tok.isdigit() else (1, 0, tok) for tok in re.split(r"(\d+)", name) if tok]


def list_frames(folder: Path) -> list[Path]:
    """Frame files of a sequence folder, sorted by name with digit runs compared as numbers
    (``f2.png`` before ``f10.png``; zero-padded names sort the same either way)."""
    files = [
        p for p in folder.iterdir()
        if p.suffix.lower() in FRAME_EXTS and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=lambda p: _natural_key(p.name))


# ------------------------------------------------------------------------------ intrinsics


def read_video_intrinsics(path: str | Path, frame_size: Sequence[int], convention: str | None = None) -> np.ndarray:
    """Pixel intrinsics for frames of ``frame_size = (H, W)`` from an intrinsics file.

    See the module docstring for the accepted JSON and text forms.

    Args:
        path: ``intrinsics.json`` or ``intrinsics.txt``.
        frame_size: ``(H, W)`` of the frames, pixels.
        convention: ``"pixels"`` / ``"normalised"`` for files that do not state theirs (a bare
            3x3 list; text files default to pixels).

    Returns:
        ``(3, 3)`` float64 pixel ``K`` for ``(H, W)``.

    Raises:
        DataError: unreadable file, missing or non-numeric values, non-positive focal lengths,
            implausible values for the frames (e.g. normalised values without
            ``"normalised": true``: the message says so), or a calibration size whose aspect
            ratio differs from the frames'.
    """
    path = Path(path)
    if convention is None and path.suffix.lower() != ".json":
        convention = PIXELS  # intrinsics.txt holds pixels by definition (module docstring)
    intr = read_intrinsics(path, convention)
    return intr.to_pixels(int(frame_size[0]), int(frame_size[1])).K


# ------------------------------------------------------------------------------ static filter


def _signature(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _grey_small(path: Path, width: int) -> np.ndarray:
    """Grey frame in ``[0, 1]``, box-downsampled to ``width`` pixels (for the static filter)."""
    try:
        with Image.open(path) as im:
            im.draft("L", (width, max(1, width * im.height // max(im.width, 1))))  # JPEG: fast DCT scaling
            grey = im.convert("L")
            h = max(1, round(grey.height * width / grey.width))
            grey = grey.resize((width, h), Image.Resampling.BOX)
            return np.asarray(grey, dtype=np.float32) / 255.0
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as exc:
        raise DataError(path, f"cannot read image ({type(exc).__name__}: {exc})") from None


class _StaticCache:
    """Mean absolute grey differences of frame pairs, persisted in a JSON file."""

    def __init__(self, file: Path | None, width: int) -> None:
        self.file = file
        self.width = width
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        if file is not None and file.is_file():
            try:
                data = json.loads(file.read_text())
                if data.get("version") == _CACHE_VERSION and data.get("width") == width:
                    self.entries = dict(data["entries"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                log.warning("%s: unreadable static-filter cache, recomputing", file)

    def mad(self, root: Path, a: Path, b: Path, greys: dict[Path, np.ndarray]) -> float:
        key = f"{a.relative_to(root).as_posix()}|{b.relative_to(root).as_posix()}"
        sig = f"{_signature(a)}|{_signature(b)}"
        hit = self.entries.get(key)
        if hit is not None and hit.get("sig") == sig:
            return float(hit["mad"])
        for p in (a, b):
            if p not in greys:
                greys[p] = _grey_small(p, self.width)
        ga, gb = greys[a], greys[b]
        if ga.shape != gb.shape:
            raise DataError(b, f"frame size differs from {a.name}")
        value = float(np.abs(ga - gb).mean())
        self.entries[key] = {"sig": sig, "mad": value}
        self.dirty = True
        return value

    def save(self) -> None:
        if self.file is None or not self.dirty:
            return
        data = {"version": _CACHE_VERSION, "width": self.width, "entries": self.entries}
        try:
            atomic_write_bytes(self.file, json.dumps(data).encode())
            log.info("static-filter cache written to %s", self.file)
        except OSError as exc:
            log.warning("cannot write the static-filter cache %s (%s); it is kept in memory only", self.file, exc)


# ------------------------------------------------------------------------------ dataset


class VideoFolderDataset(SplitSequenceDataset):
    """Self-supervised samples from folders of video frames (the user's own footage).

    See the module docstring for the layout and intrinsics files. Names are
    ``"<sequence>/<frame stem>"``. No ground truth is provided.

    Args:
        root: folder of sequence folders.
        split: ``train`` / ``val`` / ``test`` / ``all``: a deterministic split by whole
            sequences (``fractions``, ``split_seed``); ignored when ``sequences`` is given.
            With a single sequence use ``"all"``.
        frame_ids, size: see :class:`~litedepth.data.video.SequenceDataset` (no ``"s"``).
        static_threshold: drop targets for which the mean absolute difference between the
            target and *any* of its temporal neighbours (grey levels in ``[0, 1]``, frames
            box-downsampled to ``static_width`` pixels wide) is below this value; 0 = keep all.
            About 0.01 removes stationary or duplicated frames of typical footage.
        static_width: width of the downsampled frames compared by the filter.
        intrinsics_convention: ``"pixels"`` / ``"normalised"`` for intrinsics files that do not
            state theirs (a bare 3x3 list in ``intrinsics.json``, e.g. Monodepth2's normalised K).
        cache_dir: where the filter's per-pair differences are cached (``static_mad.json``),
            keyed by file size and modification time, so each pair is compared only once;
            default ``root/.litedepth_cache``. An unwritable folder only logs a warning.
        options, option_values: the :class:`~litedepth.data.video_split.SequenceOptions`
            (``sequences``: explicit sequence folder names; ``frame_step``: temporal id ``i`` is
            ``i * frame_step`` frames away, e.g. 3 to train at 10 fps on 30 fps footage;
            ``target_stride``: keep every n-th valid target, e.g. ``= frame_step`` for one target
            per subsampled frame; ``fractions``, ``split_seed``, ``color_jitter``, ``hflip_p``,
            ``augment_on_device``), as an object and/or by name.

    Raises:
        DataError: missing root, no sequences, a sequence without intrinsics, a sequence too
            short for ``frame_ids`` x ``frame_step``, unreadable frames or frames of different
            sizes in one sequence (each message names the file or folder).
    """

    sequences_are = "video folders"

    def __init__(
        self, root: str | Path, split: str = "all", frame_ids: Sequence[FrameId] = (0, -1, 1),
        size: Sequence[int] | None = None, *, static_threshold: float = 0.0, static_width: int = 64,
        cache_dir: str | Path | None = None, intrinsics_convention: str | None = None,
        options: SequenceOptions | None = None, **option_values: Any,
    ) -> None:
        super().__init__(root, split, frame_ids, size, SequenceOptions.of(options, **option_values))
        if not math.isfinite(float(static_threshold)) or float(static_threshold) < 0:
            raise ConfigError(f"static_threshold must be >= 0, got {static_threshold}")
        if int(static_width) < 4:
            raise ConfigError(f"static_width must be >= 4, got {static_width}")
        self.intrinsics_convention = parse_convention(intrinsics_convention)
        if not self.root.is_dir():
            raise DataError(self.root, "video folder root not found")
        seq_dirs = {p.name: p for p in sorted(self.root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
        seq_dirs = {name: p for name, p in seq_dirs.items() if list_frames(p)}
        if not seq_dirs:
            loose = list_frames(self.root)
            hint = (f"; the {len(loose)} frames directly in it must go into a sub-folder "
                    "root/<sequence>/") if loose else ""
            raise DataError(self.root, f"no sequence folders with frames ({', '.join(FRAME_EXTS)}){hint}")
        chosen = self.choose_sequences(list(seq_dirs))
        need = frames_needed(self.frame_ids, self.frame_step)

        self.frames: dict[str, list[Path]] = {}
        self.K: dict[str, np.ndarray] = {}
        self.frame_size: dict[str, tuple[int, int]] = {}
        candidates: list[TargetRef] = []
        for seq in chosen:
            folder = seq_dirs[seq]
            files = list_frames(folder)
            if len(files) < need:
                raise DataError(
                    folder, f"{len(files)} frame(s), but frame_ids {list(self.frame_ids)} with frame_step "
                    f"{self.frame_step} need at least {need} (remove the folder or lower frame_step)",
                )
            size0 = read_image_size(files[0])
            for f in files[1:]:
                hf, wf = read_image_size(f)
                if (hf, wf) != size0:
                    raise DataError(f, f"frame is {wf}x{hf} but {files[0].name} is {size0[1]}x{size0[0]}; "
                                       "frames of a sequence must share one size")
            self.frames[seq] = files
            self.frame_size[seq] = size0
            self.K[seq] = read_video_intrinsics(self._intrinsics_file(folder), size0, self.intrinsics_convention)
            positions = self.target_positions(len(files))
            candidates.extend(TargetRef(seq, t, f"{seq}/{files[t].stem}") for t in positions)

        self.static_threshold = float(static_threshold)
        self.dropped_static: list[str] = []
        if self.static_threshold > 0 and self.temporal_ids:
            cache_root = Path(cache_dir) if cache_dir is not None else self.root / ".litedepth_cache"
            candidates = self._drop_static(candidates, _StaticCache(cache_root / "static_mad.json", int(static_width)))
        self.targets = candidates
        if not self.targets:
            raise DataError(self.root, f"no targets left in sequences {chosen} "
                                       f"({len(self.dropped_static)} dropped as static)")
        log.info("%s (%d dropped as static)", self.describe(), len(self.dropped_static))

    def _intrinsics_file(self, folder: Path) -> Path:
        for base in (folder, self.root):
            for name in INTRINSICS_FILES:
                if (base / name).is_file():
                    return base / name
        raise DataError(
            folder, f"no intrinsics: put {' or '.join(INTRINSICS_FILES)} in this folder or in {self.root} "
            "(see docs/video_folder_format.md)",
        )

    def _drop_static(self, candidates: list[TargetRef], cache: _StaticCache) -> list[TargetRef]:
        greys: dict[Path, np.ndarray] = {}
        kept = []
        for ref in candidates:
            files = self.frames[ref.sequence]
            mads = []
            for i in self.temporal_ids:
                pair = sorted((ref.frame, self.position(ref, i)))  # one cache entry per unordered pair
                mads.append(cache.mad(self.root, files[pair[0]], files[pair[1]], greys))
            if min(mads) < self.static_threshold:
                self.dropped_static.append(ref.name)
            else:
                kept.append(ref)
        cache.save()
        if self.dropped_static:
            log.info("static filter (threshold %.4g): dropped %d of %d targets, e.g. %s",
                     self.static_threshold, len(self.dropped_static), len(candidates), self.dropped_static[:3])
        return kept

    def load_frame(self, ref: TargetRef, frame_id: FrameId) -> np.ndarray:
        return read_rgb(self.frames[ref.sequence][self.position(ref, int(frame_id))])

    def native_intrinsics(self, ref: TargetRef, native_size: tuple[int, int]) -> np.ndarray:
        return self.K[ref.sequence]
