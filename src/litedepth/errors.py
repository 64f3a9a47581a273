"""User-facing error types.

Every error a user can cause (bad files, wrong shapes, missing weights, a checkpoint
from another model) is raised as a subclass of :class:`LitedepthError` with a message
that names the file and the problem. The command-line entry point prints such errors as
one line and exits with status 2, without a traceback; programming errors keep their
traceback.
"""

from __future__ import annotations

from pathlib import Path


class LitedepthError(Exception):
    """Base class of all errors caused by user input or configuration."""


class DataError(LitedepthError):
    """A data file or folder is missing, unreadable, or has the wrong content."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        msg = problem if path is None else f"{path}: {problem}"
        super().__init__(msg)


class ConfigError(LitedepthError):
    """An option or configuration value is invalid."""


class CheckpointError(LitedepthError):
    """A checkpoint or weights file cannot be loaded into the requested model."""


class OutputError(OSError, LitedepthError):
    """An output file or folder cannot be written: disk full, read-only, not a folder...

    An ``OSError`` too (same ``errno``, ``filename`` = the output path), so code that catches
    ``OSError`` around optional writes keeps working. The message names the path and the cause::

        runs/x/checkpoints/last.ckpt: cannot write (No space left on device)
    """

    def __init__(self, path: str | Path, cause: OSError | str, errno: int | None = None) -> None:
        if isinstance(cause, OSError):
            errno = cause.errno if errno is None else errno
            cause = cause.strerror or str(cause) or type(cause).__name__
        super().__init__(errno, str(cause), str(path))
        self.path = Path(path)
        self.cause = str(cause)

    def __str__(self) -> str:
        return f"{self.path}: cannot write ({self.cause})"

    def __reduce__(self):  # noqa: ANN204 - picklable across processes (DDP, DataLoader workers)
        return type(self), (str(self.path), self.cause, self.errno)
