"""Reading prediction and ground-truth files and pairing them (:func:`load_pairs`).

Predictions: a folder of ``.npy`` maps or one stacked ``(N, H, W)`` array; ground truth: a
folder of depth PNGs (decoded by :mod:`litedepth.io.depth_encodings`) and/or ``.npy`` maps in
metres, or a ``gt_depths.npz``. Split files (:func:`read_split`) fix which samples are read and
in which order. Nothing here scores: :mod:`litedepth.metrics.evaluate` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import DataError
from litedepth.io.depth_encodings import decode_depth, parse_encoding
from litedepth.io.kitti_splits import read_split, split_key
from litedepth.utils.arrays import is_map_archive, load_npy, npz_entry, open_npz, read_map_archive

logger = logging.getLogger("litedepth.metrics.evaluate")

# read_split and split_key live in litedepth.io.kitti_splits (the one split-file parser) and are
# re-exported here, where evaluation has always imported them.
__all__ = ["PairSource", "load_pairs", "read_depth_png", "read_split", "split_key"]

_MAX_LISTED = 5


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f", ... ({more} more)" if more > 0 else "")


def _load_npy(path: Path, mmap: bool = False, allow_pickle: bool = False) -> np.ndarray:
    return load_npy(path, allow_pickle=allow_pickle, mmap=mmap)


def _check_float_map(arr: Any, path: Path | str, what: str) -> np.ndarray:
    """A finite floating-point ``(H, W)`` array (leading size-1 dims dropped)."""
    arr = np.asarray(arr)
    if arr.dtype.kind != "f":
        raise DataError(path, f"{what} has dtype {arr.dtype}; expected floating point")
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise DataError(path, f"{what} must be a 2-D (H, W) map, got shape {arr.shape}")
    if arr.size and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):  # reductions, no temporary
        n_nan = int(np.isnan(arr).sum())
        raise DataError(
            path, f"{what} contains {n_nan} NaN and {int((~np.isfinite(arr)).sum()) - n_nan} Inf values"
        )
    return arr


def read_depth_png(path: str | Path, gt_scale: float = 256.0) -> np.ndarray:
    """Read a 16-bit depth PNG as metres: ``value / gt_scale``, 0 stays 0 (invalid).

    The linear encoding of :mod:`litedepth.io.depth_encodings` (``decode_depth(path, gt_scale)``).

    Returns:
        ``(H, W)`` float32 depth in metres.

    Raises:
        DataError: unreadable file, or not a single-channel 16-bit image.
    """
    return decode_depth(path, gt_scale)


@dataclass
class _Side:
    """One side (predictions or ground truth): files keyed by stem, or a stacked array."""

    path: Path
    what: str
    files: dict[str, Path] | None = None
    stack: Any = None  # (N, H, W) array or object array of N maps
    fmt: str = ""

    def __len__(self) -> int:
        return len(self.files) if self.files is not None else len(self.stack)


def _array_from_file(path: Path, what: str, preferred_keys: Sequence[str], allow_pickle: bool = False) -> Any:
    """An ``(N, H, W)`` array, or a 1-D object array of ``(H, W)`` maps, from a ``.npy`` or ``.npz``.

    A ``.npz`` is either a litedepth map archive (one float array per frame, written by
    ``litedepth kitti-gt``) or an archive with one stacked entry. Pickled (object) entries,
    such as Monodepth2's own ``gt_depths.npz``, are refused unless ``allow_pickle``.
    """
    if path.suffix == ".npy":
        # (N, H, W) stacks can be large: read entries on demand
        arr = _load_npy(path, mmap=True, allow_pickle=allow_pickle)
    else:
        with open_npz(path, what=what) as z:
            keys = list(z.keys())
            if is_map_archive(z):
                maps, _ = read_map_archive(path)
                arr = np.empty(len(maps), dtype=object)  # in memory only: nothing is unpickled
                for i, m in enumerate(maps):
                    arr[i] = m
            else:
                only = keys[0] if len(keys) == 1 else None
                key = next((k for k in preferred_keys if k in keys), only)
                if key is None:
                    raise DataError(
                        path,
                        f"cannot tell which array holds the {what}: keys {keys}; "
                        f"expected {preferred_keys[0]!r}",
                    )
                arr = npz_entry(z, key, path, allow_pickle=allow_pickle)
    if arr.dtype == object:
        if arr.ndim != 1:
            raise DataError(
                path, f"object array of {what} must be 1-D (one map per entry), got shape {arr.shape}"
            )
    elif arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim != 3:
        raise DataError(
            path, f"{what} array must have shape (N, H, W) or (N, 1, H, W), got {arr.shape}"
        )
    if len(arr) == 0:
        raise DataError(path, f"{what} array is empty")
    return arr


def _open_side(
    path: str | Path, what: str, suffixes: tuple[str, ...], keys: Sequence[str], allow_pickle: bool = False
) -> _Side:
    path = Path(path)
    if path.is_dir():
        files: dict[str, Path] = {}
        for f in sorted(path.iterdir()):
            if f.is_file() and f.suffix.lower() in suffixes:
                if f.stem in files:
                    raise DataError(
                        path, f"two {what} files share the stem {f.stem!r}: {files[f.stem].name}, {f.name}"
                    )
                files[f.stem] = f
        if not files:
            raise DataError(path, f"folder has no {what} files ({' or '.join(suffixes)})")
        kinds = {f.suffix.lower() for f in files.values()}
        fmt = kinds.pop().lstrip(".") if len(kinds) == 1 else "mixed"
        return _Side(path, what, files=files, fmt=fmt)
    if not path.exists():
        raise DataError(path, f"{what} path does not exist")
    if path.suffix not in (".npy", ".npz"):
        raise DataError(path, f"{what} must be a folder or a .npy/.npz array file")
    return _Side(
        path, what, stack=_array_from_file(path, what, keys, allow_pickle), fmt=path.suffix.lstrip(".")
    )


class PairSource:
    """A sized iterable of ``(name, pred, gt)`` read lazily from files (see :func:`load_pairs`).

    Attributes:
        names: sample names in evaluation order.
        gt_format: ``"png"``, ``"npy"``, ``"npz"`` or ``"mixed"``.
    """

    def __init__(
        self,
        names: list[str],
        load: Callable[[int], tuple[np.ndarray, np.ndarray]],
        gt_format: str,
        label: Callable[[int], str] | None = None,
    ):
        self.names = names
        self._load = load
        self._label = label
        self.gt_format = gt_format

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for i, name in enumerate(self.names):
            pred, gt = self.load(i)
            yield name, pred, gt

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Read sample ``i``: ``(prediction (H', W'), ground truth (H, W) metres)``, checked
        (safe to call from several threads at once)."""
        return self._load(i)

    def label(self, i: int) -> str:
        """The files of sample ``i``, for error messages."""
        return self._label(i) if self._label is not None else self.names[i]


def load_pairs(
    pred_path: str | Path,
    gt_path: str | Path,
    *,
    gt_scale: Any = 256.0,
    split: str | Path | None = None,
    allow_pickle: bool = False,
) -> PairSource:
    """Pair prediction and ground-truth files.

    Args:
        pred_path: a folder of ``.npy`` maps ``(H', W')`` (depth or disparity), or one
            ``.npy``/``.npz`` array ``(N, H', W')`` such as Monodepth2's ``disps`` export.
        gt_path: a folder of ``.png`` (uint16, metres = value / ``gt_scale``, 0 = invalid)
            and/or ``.npy`` (float metres) maps, or a ``gt_depths.npz`` (key ``data``: an
            object array of ``(H, W)`` float maps in metres, or an ``(N, H, W)`` array).
        gt_scale: the ground-truth files' depth encoding: a divisor of the PNG values (256 for
            KITTI, 1000 for NYU, 5000 for TUM) or any name of the depth-encoding registry
            (:func:`litedepth.io.parse_encoding`: ``kitti``, ``nyu``, ``tum``, ``sunrgbd``,
            ``nyu-raw``, ...). ``.npy`` files are metres whatever it says.
        split: optional split file (:func:`read_split`) fixing which samples and their order.
        allow_pickle: read pickled (object) arrays such as Monodepth2's own ``gt_depths.npz``;
            unpickling executes any code stored in the file, so only an explicit user
            opt-in (``--allow-pickle``) sets this. Without it such files are refused.

    Pairing: two folders are matched by file stem, and every stem must be on both sides
    (or, with ``split``, every split key). A stacked array is positional: entry ``i``
    belongs to the ``i``-th name, the names being the split keys, else the sorted stems of
    the folder on the other side, else ``000000``, ``000001``, ...

    Raises:
        DataError: missing or empty inputs, unmatched stems (listed), count mismatches.
    """
    gt_encoding = parse_encoding(gt_scale)
    pred = _open_side(pred_path, "prediction", (".npy",), ("disps", "pred", "data"), allow_pickle)
    gt = _open_side(gt_path, "ground-truth", (".png", ".pgm", ".npy"), ("data", "gt", "depth"), allow_pickle)
    keys = read_split(split) if split is not None else None

    if pred.files is not None and gt.files is not None:
        if keys is None:
            no_gt = [s for s in pred.files if s not in gt.files]
            no_pred = [s for s in gt.files if s not in pred.files]
            if no_gt or no_pred:
                parts = []
                if no_gt:
                    parts.append(
                        f"{len(no_gt)} predictions in {pred.path} have no ground truth: {_listing(no_gt)}"
                    )
                if no_pred:
                    parts.append(
                        f"{len(no_pred)} ground-truth files have no prediction: {_listing(no_pred)}"
                    )
                raise DataError(gt.path, "unmatched file stems; " + "; ".join(parts))
            names = list(pred.files)
        else:
            names = keys
    else:
        keyed = pred if pred.files is not None else gt if gt.files is not None else None
        if keys is not None:
            names, source = keys, f"entries in the split {split}"
        elif keyed is not None:
            names, source = list(keyed.files or {}), f"{keyed.what} files in {keyed.path}"
        else:
            if len(pred.stack) != len(gt.stack):
                raise DataError(
                    gt.path,
                    f"holds {len(gt.stack)} ground-truth maps but {pred.path} holds "
                    f"{len(pred.stack)} predictions",
                )
            names, source = [f"{i:06d}" for i in range(len(pred.stack))], ""
        for side in (pred, gt):
            if side.stack is not None and len(side.stack) != len(names):
                raise DataError(
                    side.path, f"holds {len(side.stack)} {side.what} maps but there are {len(names)} {source}"
                )
    for side in (pred, gt):
        if side.files is not None and keys is not None:
            missing = [k for k in keys if k not in side.files]
            if missing:
                raise DataError(
                    side.path, f"{len(missing)} split entries have no {side.what} file: {_listing(missing)}"
                )
            extra = len(side.files) - len(keys)
            if extra > 0:
                logger.warning(
                    "%s: %d %s files are not in the split and are ignored", side.path, extra, side.what
                )

    def load(i: int) -> tuple[np.ndarray, np.ndarray]:
        name = names[i]
        if pred.files is not None:
            p_path: Path | str = pred.files[name]
            p = _load_npy(pred.files[name])
        else:
            p_path, p = f"{pred.path}[{i}]", np.array(pred.stack[i])
        p = _check_float_map(p, p_path, "prediction")
        if gt.files is not None:
            g_path: Path | str = gt.files[name]
            if g_path.suffix.lower() in (".png", ".pgm"):
                g = decode_depth(g_path, gt_encoding)  # the one depth-encoding registry (uint16 / gt_scale)
            else:
                g = _check_float_map(_load_npy(g_path), g_path, "ground truth")
        else:
            g_path, g = f"{gt.path}[{i}]", np.array(gt.stack[i])
            g = _check_float_map(g, g_path, "ground truth")
        return p, g

    def label(i: int) -> str:
        def where(side: _Side) -> str:
            return str(side.files[names[i]]) if side.files is not None else f"{side.path}[{i}]"

        return f"{where(gt)} (prediction {where(pred)})"

    logger.debug("paired %d samples: predictions %s, ground truth %s", len(names), pred.path, gt.path)
    return PairSource(names, load, gt.fmt, label)
