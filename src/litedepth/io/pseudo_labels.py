"""On-disk cache of teacher pseudo-labels: one compressed float16 map per frame.

Layout of a cache folder ``root``::

    root/frames/<safe key>.npz   one file per frame: "map" float16 (H, W) at the frame's
                                 original size, "stats" float64 [median, min, max, valid],
                                 "key" (the dataset-relative frame key)
    root/manifest.json           teacher description, input size, pre-processing, output kind,
                                 and per-frame stats {key: {file, height, width, median, min,
                                 max, valid_fraction}}

``<safe key>`` keeps the ``/`` of a key as folders; each path component keeps only
``[A-Za-z0-9._-]`` and, when anything had to be replaced (spaces, ``..``), gets a short hash of
the whole key appended so that distinct keys never share a file.

Every file is written atomically (:mod:`litedepth.utils.atomic`), so a killed run never
leaves a half-written file. The per-frame ``.npz`` files are the source of truth: the manifest
is an index rewritten every ``flush_every`` frames and at the end, and frames written after the
last flush are picked up (their stats read back from their file) by the next run.

Values: ``valid`` pixels are finite and ``> 0`` (a Depth Anything disparity of 0 is sky /
infinity); ``median``/``min``/``max`` are over valid pixels (``None`` when there are none),
computed on the stored float16 values so they match :meth:`PseudoLabelCache.get` exactly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import DataError
from litedepth.utils.arrays import npz_entry, open_npz
from litedepth.utils.atomic import atomic_open, atomic_save_npz

log = logging.getLogger(__name__)

__all__ = ["MANIFEST_NAME", "PseudoLabelCache", "frame_stats", "key_to_relpath"]

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def key_to_relpath(key: str) -> str:
    """File path (relative to ``root/frames``) of a frame key, ``"/"`` kept as folders.

    Example:
        >>> key_to_relpath("seq0000/000012")
        'seq0000/000012.npz'
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"a frame key must be a non-empty string, got {key!r}")
    parts = key.replace("\\", "/").split("/")
    safe = [_SAFE.sub("_", p) for p in parts]
    changed = any(s != p or p in ("", ".", "..") for s, p in zip(safe, parts))
    safe = [s if s not in ("", ".", "..") else "_" for s in safe]
    if changed:
        safe[-1] = f"{safe[-1]}~{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    return "/".join(safe) + ".npz"


def frame_stats(values: np.ndarray) -> dict[str, Any]:
    """Stats of one map: ``median``, ``min``, ``max`` over valid (finite, > 0) pixels and
    ``valid_fraction`` in ``[0, 1]``. Stats are ``None`` when no pixel is valid."""
    v = np.asarray(values, dtype=np.float32)
    valid = np.isfinite(v) & (v > 0)
    n = int(valid.sum())
    if n == 0:
        return {"median": None, "min": None, "max": None, "valid_fraction": 0.0}
    good = v[valid]
    return {
        "median": float(np.median(good)),
        "min": float(good.min()),
        "max": float(good.max()),
        "valid_fraction": n / v.size,
    }


def _stats_array(stats: Mapping[str, Any]) -> np.ndarray:
    return np.array([np.nan if stats[k] is None else stats[k] for k in ("median", "min", "max", "valid_fraction")])


def _stats_dict(arr: np.ndarray) -> dict[str, Any]:
    vals = [None if not np.isfinite(x) else float(x) for x in np.asarray(arr, dtype=np.float64)]
    return dict(zip(("median", "min", "max", "valid_fraction"), vals))


class PseudoLabelCache:
    """Per-frame teacher maps in ``root`` (see the module docstring for the layout).

    Args:
        root: cache folder (created on the first write).
        flush_every: rewrite ``manifest.json`` every this many :meth:`put` calls (and at
            :meth:`flush`).
        write_manifest: ``False`` on non-zero ranks of a multi-process run (only rank 0 writes
            the manifest; every rank writes its own frame files).

    Example:
        >>> cache = PseudoLabelCache("/tmp/pl")  # doctest: +SKIP
        >>> cache.put("seq0000/000000", disparity)  # doctest: +SKIP
        >>> cache.get("seq0000/000000").shape  # doctest: +SKIP
        (96, 320)
    """

    def __init__(self, root: str | Path, flush_every: int = 50, write_manifest: bool = True) -> None:
        self.root = Path(root)
        self.flush_every = max(1, int(flush_every))
        self.write_manifest = bool(write_manifest)
        self.manifest: dict[str, Any] = self._read_manifest()
        self._since_flush = 0

    # ------------------------------------------------------------------ manifest

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    def _read_manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST_NAME
        if not path.is_file():
            return {"format_version": FORMAT_VERSION, "teacher": None, "frames": {}}
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(path, f"unreadable pseudo-label manifest ({exc}); delete it to rebuild") from None
        if not isinstance(data, dict) or not isinstance(data.get("frames"), dict):
            raise DataError(path, "not a pseudo-label manifest (no 'frames' mapping)")
        return data

    def set_teacher(self, description: Mapping[str, Any]) -> None:
        """Record the teacher description; refuses a cache made by a different teacher setup.

        Raises:
            DataError: the manifest names another teacher, input size, pre-processing or
                output kind (mixing them would make the labels inconsistent).
        """
        desc = json.loads(json.dumps(dict(description)))
        old = self.manifest.get("teacher")
        if old and self.manifest["frames"]:
            keys = ("id", "input_size", "preprocessing", "output_kind")
            diff = [k for k in keys if old.get(k) != desc.get(k)]
            if diff:
                raise DataError(
                    self.manifest_path,
                    f"cache was made with a different teacher setup ({', '.join(diff)} differ: "
                    f"{ {k: old.get(k) for k in diff} } vs { {k: desc.get(k) for k in diff} }); "
                    "use another --out folder",
                )
        self.manifest["teacher"] = desc
        for k in ("input_size", "preprocessing", "output_kind"):
            self.manifest[k] = desc.get(k)

    def flush(self, **extra: Any) -> None:
        """Rewrite ``manifest.json`` atomically (``extra`` keys are stored at top level)."""
        self.manifest.update(extra)
        self._since_flush = 0
        if not self.write_manifest:
            return
        self.manifest["format_version"] = FORMAT_VERSION
        self.manifest["n_frames"] = len(self.manifest["frames"])
        with atomic_open(self.manifest_path, "w") as f:
            json.dump(self.manifest, f, indent=1, sort_keys=True)

    # ------------------------------------------------------------------ frames

    def path(self, key: str) -> Path:
        """The ``.npz`` file of frame ``key``."""
        return self.root / "frames" / key_to_relpath(key)

    def has(self, key: str) -> bool:
        """Whether frame ``key`` has a complete, readable file (the zip directory and the
        ``map`` and ``stats`` members are checked; the map is not decompressed)."""
        p = self.path(key)
        if not p.is_file():
            return False
        try:
            with zipfile.ZipFile(p) as z:
                names = set(z.namelist())
            return {"map.npy", "stats.npy", "key.npy"} <= names
        except (OSError, zipfile.BadZipFile):
            return False

    def put(self, key: str, values: np.ndarray) -> dict[str, Any]:
        """Store one ``(H, W)`` map as float16 (atomically) and record its stats.

        Values beyond the float16 range are clipped to it. Returns the frame's manifest entry.
        """
        v = np.asarray(values)
        if v.ndim != 2:
            raise ValueError(f"a pseudo-label map must be (H, W), got shape {v.shape}")
        half = np.clip(np.nan_to_num(v.astype(np.float32), nan=0.0), -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float16)
        stats = frame_stats(half)
        atomic_save_npz(self.path(key), map=half, stats=_stats_array(stats), key=np.array(key))
        entry = self._entry(key, half.shape, stats)
        self.manifest["frames"][key] = entry
        self._since_flush += 1
        if self._since_flush >= self.flush_every:
            self.flush()
        return entry

    def _entry(self, key: str, shape: tuple[int, ...], stats: Mapping[str, Any]) -> dict[str, Any]:
        return {"file": key_to_relpath(key), "height": int(shape[0]), "width": int(shape[1]), **stats}

    def get(self, key: str) -> np.ndarray:
        """The map of frame ``key`` as float32 ``(H, W)`` (relative disparity or metric depth
        as the manifest's ``output_kind`` says).

        Raises:
            KeyError: no file for ``key``.
            DataError: the file is unreadable.
        """
        p = self.path(key)
        if not p.is_file():
            raise KeyError(f"no pseudo-label for {key!r} in {self.root}")
        with open_npz(p, what="pseudo-label") as z:
            if "map" not in z.files:
                raise DataError(p, f"unreadable pseudo-label file (no 'map' entry; entries {z.files})")
            return npz_entry(z, "map", p).astype(np.float32)

    def stats(self, key: str) -> dict[str, Any]:
        """Manifest entry of ``key``; read back from its file when the manifest lacks it."""
        entry = self.manifest["frames"].get(key)
        if entry is not None:
            return entry
        p = self.path(key)
        with open_npz(p, what="pseudo-label") as z:
            missing = [k for k in ("map", "stats") if k not in z.files]
            if missing:
                raise DataError(p, f"unreadable pseudo-label file (no {missing} entries)")
            stats = _stats_dict(npz_entry(z, "stats", p))
            shape = npz_entry(z, "map", p).shape
        entry = self._entry(key, shape, stats)
        self.manifest["frames"][key] = entry
        return entry

    def reconcile(self, keys: list[str]) -> int:
        """Add manifest entries for files of ``keys`` written after the last flush (a killed run).

        Returns:
            The number of entries added.
        """
        added = 0
        for key in keys:
            if key not in self.manifest["frames"] and self.has(key):
                self.stats(key)
                added += 1
        return added

    def keys(self) -> list[str]:
        """Keys recorded in the manifest."""
        return sorted(self.manifest["frames"])

    def __len__(self) -> int:
        return len(self.manifest["frames"])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.has(key)
