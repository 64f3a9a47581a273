"""Atomic file writes: a reader never sees a half-written file.

Each writer writes to a temporary file in the destination folder, flushes and fsyncs it,
then renames it over the destination with :func:`os.replace` (atomic on POSIX and
Windows). A process killed at any moment leaves either the old file or the new one.

A write that fails (disk full, read-only file system, a file where a folder should be...)
removes its temporary file and raises :class:`litedepth.errors.OutputError` naming the
destination and the cause (an ``OSError`` too), which the command line prints as one line.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from litedepth.errors import OutputError


def _current_umask() -> int:
    """The process umask, read without changing it where the system says it (Linux
    ``/proc/self/status``): setting it to read it, as :func:`os.umask` must, would give files
    that other threads create meanwhile the permissions of umask 0."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # the most private mask while it is read
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """Permission bits a plain ``open()`` would give a new file (``0o666`` minus the umask)."""
    return 0o666 & ~_current_umask()


def make_dirs(folder: str | Path) -> Path:
    """``folder.mkdir(parents=True, exist_ok=True)``; failures raise :class:`OutputError`."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # a file where the folder should be
        raise OutputError(folder, "it is a file, not a folder", exc.errno) from exc
    except OSError as exc:
        raise OutputError(exc.filename or folder, exc) from exc
    return folder


def check_writable(path: str | Path) -> Path:
    """Create ``path``'s folder and try a temporary file in it, before long work whose result
    goes to ``path``; returns the folder.

    Raises:
        OutputError: naming ``path`` (read-only file system, a file in the way, no permission...).
    """
    folder = make_dirs(Path(path).parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(path, exc) from exc
    os.close(fd)
    os.unlink(tmp)
    return folder


def first_missing(folder: str | Path) -> Path | None:
    """The top-most folder that :func:`make_dirs` (``folder``) would create (``None``: it exists),
    so that a command failing before its first result can remove exactly what it created."""
    folder = Path(folder).absolute()
    if folder.exists():
        return None
    while not folder.parent.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


@contextlib.contextmanager
def atomic_path(path: str | Path, permissions: int | None = None, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file name beside ``path``, for writers that take a file name rather than a
    file object (``safetensors``, ``onnx.save`` ...): what the block writes there replaces
    ``path`` when the block ends, fsynced, with the permissions of a plain ``open()``.

    Args:
        path: destination file; its parent folders are created.
        permissions: permission bits of the new file (default: what a plain ``open()`` gives,
            ``0o666`` minus the umask - not the ``0o600`` of the temporary file; ``0o600``
            keeps it private).
        suffix: ending of the temporary name (for writers that look at the extension).

    Raises:
        OutputError: the folder or file cannot be created or written (nothing is left behind;
            an existing ``path`` is unchanged, also when the block raises).

    Example:
        >>> with atomic_path("/tmp/model.safetensors", suffix=".safetensors") as tmp:  # doctest: +SKIP
        ...     safetensors.torch.save_model(net, str(tmp))
    """
    path = Path(path)
    make_dirs(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(path, exc) from exc
    try:
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        # mkstemp creates 0600; give the usual permissions unless asked otherwise
        os.chmod(tmp, default_file_mode() if permissions is None else permissions)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        # an OSError about our own file (writes carry no file name): the write failed
        ours = isinstance(exc, OSError) and exc.filename in (None, tmp, str(path))
        if ours and not isinstance(exc, OutputError):
            raise OutputError(path, exc) from exc
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb", permissions: int | None = None) -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it appears only once complete (see :func:`atomic_path`).

    Args:
        path: destination file; its parent folders are created.
        mode: ``"wb"`` or ``"w"``.
        permissions: permission bits of the new file (default: what a plain ``open()`` gives,
            ``0o666`` minus the umask; ``0o600`` keeps it private).

    Raises:
        OutputError: the folder or file cannot be created or written (nothing is left behind;
            an existing ``path`` is unchanged).

    Example:
        >>> with atomic_open("/tmp/x.txt", "w") as f:  # doctest: +SKIP
        ...     f.write("hello")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', not {mode!r}")
    with atomic_path(path, permissions) as tmp, open(tmp, mode) as f:
        yield f


def atomic_write_bytes(path: str | Path, data: bytes, permissions: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically (``permissions``: as :func:`atomic_open`)."""
    with atomic_open(path, "wb", permissions) as f:
        f.write(data)


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` atomically (serialised in memory first)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def atomic_save_npz(path: str | Path, compressed: bool = True, **arrays: Any) -> None:
    """``numpy.savez(_compressed)`` to ``path`` atomically. ``path`` should end in ``.npz``."""
    import numpy as np

    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
