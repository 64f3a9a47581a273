"""Reading NumPy ``.npy`` / ``.npz`` files that a user hands us, without running their code.

A ``.npy`` or ``.npz`` entry of dtype ``object`` is a Python pickle: unpickling it can run
any code stored in the file. Every reader in litedepth goes through :func:`load_npy` /
:func:`open_npz`, which refuse pickled content with one line that says why, unless the
caller passes ``allow_pickle=True`` — which only an explicit user flag
(``litedepth evaluate --allow-pickle``) does.

The ground-truth archive litedepth writes (``gt_depths.npz`` from ``litedepth kitti-gt``) is
pickle-free: one float32 array per frame (:func:`save_map_archive`), read back by
:func:`read_map_archive`.

Example:
    >>> import io, numpy as np
    >>> buf = io.BytesIO()
    >>> save_map_archive(buf, [np.ones((2, 3), np.float32), np.zeros((4, 5), np.float32)], ["a", "b"])
    >>> _ = buf.seek(0)
    >>> maps, names = read_map_archive(buf)
    >>> [m.shape for m in maps], names
    ([(2, 3), (4, 5)], ['a', 'b'])
"""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from litedepth.errors import DataError

#: The one sentence every refusal and every opt-in flag's help uses.
PICKLE_RISK = "unpickling executes any code stored in the file"

#: ``format`` entry of a pickle-free map archive.
MAP_ARCHIVE_FORMAT = "litedepth.maps.v1"


def pickle_refusal(what: str = "file") -> str:
    """The message for a file whose content is pickled Python objects."""
    return (
        f"{what} holds pickled Python objects (an object array, e.g. Monodepth2's gt_depths.npz); "
        f"{PICKLE_RISK}, so it is not read. Re-export it without pickles (`litedepth kitti-gt` writes "
        "one float array per frame), or pass --allow-pickle if you trust the file"
    )


def _is_pickle_error(exc: BaseException) -> bool:
    return isinstance(exc, ValueError) and "allow_pickle" in str(exc)


def _starts_like_pickle(path: Path) -> bool:
    """NumPy treats any file that is neither ``.npy`` nor ``.npz`` as a pickle: tell a real
    pickle (protocol 2+ starts with byte 0x80) from a file that is simply not an array."""
    try:
        with open(path, "rb") as f:
            return f.read(1) == b"\x80"
    except OSError:
        return False


def load_npy(path: str | Path, *, allow_pickle: bool = False, mmap: bool = False, what: str = "array") -> np.ndarray:
    """Read one ``.npy`` array; pickled (object) arrays only with ``allow_pickle=True``.

    Args:
        path: the ``.npy`` file.
        allow_pickle: read object arrays too; unpickling executes any code stored in the
            file, so only an explicit user opt-in sets this.
        mmap: memory-map the array (read entries on demand).
        what: what the file holds, for error messages ("ground truth", "poses", ...).

    Raises:
        DataError: missing or unreadable file, an ``.npz`` archive where an array was
            expected, or pickled content without ``allow_pickle``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"cannot read {what}: " + ("file not found" if not path.exists() else "not a regular file"))
    try:
        arr = np.load(path, allow_pickle=allow_pickle, mmap_mode="r" if mmap and not allow_pickle else None)
    except ValueError as exc:
        object_array = "Object arrays" in str(exc) or "Python objects in dtype" in str(exc)  # (mmap)
        if object_array or (_is_pickle_error(exc) and _starts_like_pickle(path)):
            raise DataError(path, pickle_refusal()) from None
        if _is_pickle_error(exc):
            raise DataError(path, f"cannot read {what}: not a .npy array file") from None
        raise DataError(path, f"cannot read {what} as a .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DataError(path, f"cannot read {what} as a .npy array ({type(exc).__name__}: {exc})") from None
    if not isinstance(arr, np.ndarray):
        if hasattr(arr, "close"):
            arr.close()
        raise DataError(path, f"is a .npz archive; expected one .npy array of {what}")
    return arr



def open_npz(path: str | Path | IO[bytes], *, what: str = "archive") -> Any:
    """Open a ``.npz`` archive with pickles refused (``np.load(..., allow_pickle=False)``).

    Use :func:`npz_entry` to read an entry with the same refusal message.

    Raises:
        DataError: missing or unreadable archive.
    """
    name = path if isinstance(path, (str, Path)) else None
    try:
        z = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if _is_pickle_error(exc) and name is not None and _starts_like_pickle(Path(name)):
            raise DataError(name, pickle_refusal()) from None
        raise DataError(name, f"cannot read {what} as a .npz archive (not a .npz file: {exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(name, f"cannot read {what} as a .npz archive ({type(exc).__name__}: {exc})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(name, f"is a single .npy array; expected a .npz archive of {what}")
    return z


def npz_entry(z: Any, key: str, path: str | Path | None, *, allow_pickle: bool = False) -> np.ndarray:
    """Entry ``key`` of an archive opened by :func:`open_npz`.

    An object (pickled) entry is refused unless ``allow_pickle``; then the archive is opened
    again with pickles allowed and only that entry is read.
    """
    try:
        return z[key]
    except ValueError as exc:
        if not _is_pickle_error(exc):
            raise DataError(path, f"cannot read entry {key!r} ({exc})") from None
        if not allow_pickle or path is None:
            raise DataError(path, pickle_refusal(f"entry {key!r}")) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"cannot read entry {key!r} ({type(exc).__name__}: {exc})") from None
    try:
        with np.load(path, allow_pickle=True) as z2:  # explicit user opt-in (--allow-pickle)
            return z2[key]
    except Exception as exc:  # anything the pickle raises is the file's problem
        raise DataError(path, f"cannot unpickle entry {key!r} ({type(exc).__name__}: {exc})") from None


def save_map_archive(
    file: str | Path | IO[bytes],
    maps: Sequence[np.ndarray],
    names: Sequence[str],
    *,
    units: str = "metres",
    compressed: bool = True,
) -> None:
    """Write differently sized 2-D maps without pickles: one float32 array per map.

    Layout: ``format`` (= ``"litedepth.maps.v1"``), ``units``, ``names`` (unicode array),
    and ``map_000000``, ``map_000001``, ... in order. Readers that expect Monodepth2's
    pickled ``data`` entry fail with a KeyError instead of silently misreading it.

    Args:
        file: destination (a path is not written atomically: use
            :func:`litedepth.utils.atomic.atomic_save_npz` style writers for that).
        maps: ``(H_i, W_i)`` arrays.
        names: one name per map (e.g. split keys).
        units: what the values are (``"metres"``).
    """
    if len(maps) != len(names):
        raise ValueError(f"{len(maps)} maps but {len(names)} names")
    arrays: dict[str, np.ndarray] = {
        "format": np.array(MAP_ARCHIVE_FORMAT),
        "units": np.array(units),
        "names": np.array([str(n) for n in names], dtype=str) if names else np.zeros(0, dtype="<U1"),
    }
    for i, m in enumerate(maps):
        arrays[f"map_{i:06d}"] = np.asarray(m, dtype=np.float32)
    (np.savez_compressed if compressed else np.savez)(file, **arrays)


def is_map_archive(z: Any) -> bool:
    """Whether an open archive is a :func:`save_map_archive` file."""
    if "format" not in z.files:
        return False
    try:
        return str(z["format"]) == MAP_ARCHIVE_FORMAT
    except ValueError:
        return False


def read_map_archive(file: str | Path | IO[bytes]) -> tuple[list[np.ndarray], list[str]]:
    """Read a :func:`save_map_archive` file: ``(maps, names)``; never unpickles.

    Raises:
        DataError: not such an archive, or entries missing.
    """
    path = file if isinstance(file, (str, Path)) else None
    with open_npz(file, what="map archive") as z:
        if not is_map_archive(z):
            raise DataError(path, f"not a litedepth map archive (no 'format' = {MAP_ARCHIVE_FORMAT!r})")
        names = [str(n) for n in npz_entry(z, "names", path)]
        maps = []
        for i in range(len(names)):
            key = f"map_{i:06d}"
            if key not in z.files:
                raise DataError(path, f"map archive lists {len(names)} names but has no entry {key!r}")
            maps.append(npz_entry(z, key, path))
    return maps, names


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a ``torch.Tensor``, told without importing torch.

    NumPy-only paths (scoring saved predictions) accept tensors too; a tensor can only exist
    once torch is imported, so torch is looked up in ``sys.modules`` instead of imported.
    """
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)
