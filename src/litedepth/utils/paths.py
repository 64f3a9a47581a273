"""Small path checks shared by commands that write one output per input."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litedepth.errors import DataError

__all__ = ["check_unique_stems"]


def check_unique_stems(paths: Sequence[str | Path], shown: int = 6) -> None:
    """Raise when two inputs share a file stem (``a/x.png`` and ``b/x.jpg``): outputs are named
    after the stem, so one would overwrite the other.

    Raises:
        DataError: naming the clashing files (the first ``shown`` of them).
    """
    paths = [Path(p) for p in paths]
    clashes = [str(p) for p in paths if sum(q.stem == p.stem for q in paths) > 1]
    if clashes:
        more = f" (+{len(clashes) - shown} more)" if len(clashes) > shown else ""
        raise DataError(None, "inputs share a file stem, so their outputs would overwrite each other: "
                              f"{', '.join(clashes[:shown])}{more}")
