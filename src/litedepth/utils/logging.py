"""Logging set-up for the command line: rich handler, library loggers under ``litedepth``."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterable, Iterator


def setup_logging(verbose: bool = False) -> None:
    """Route ``litedepth`` log records to a rich console handler (idempotent)."""
    from rich.logging import RichHandler

    root = logging.getLogger("litedepth")
    if any(isinstance(h, RichHandler) for h in root.handlers):
        root.setLevel(logging.DEBUG if verbose else logging.INFO)
        return
    handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


@contextlib.contextmanager
def quieter(loggers: Iterable[str], level: int = logging.WARNING,
            ignore_warnings: Iterable[tuple[str, type[Warning]]] = ()) -> Iterator[None]:
    """Raise the level of some loggers (and ignore some warnings) for the duration of a block.

    For screens that show a progress bar instead of per-item log lines (e.g. ``litedepth
    demo``): the records below ``level`` are dropped, warnings and errors still show.

    Args:
        loggers: logger names (``"lightning.pytorch"``, ``"litedepth.data.synthetic"``...).
        level: the level set during the block (restored after it).
        ignore_warnings: ``(message regex, category)`` pairs of ``warnings`` to ignore, for
            third-party warnings that a user cannot act on.
    """
    saved = [(lg, lg.level) for lg in (logging.getLogger(name) for name in loggers)]
    with warnings.catch_warnings():
        for message, category in ignore_warnings:
            warnings.filterwarnings("ignore", message=message, category=category)
        try:
            for lg, _ in saved:
                lg.setLevel(max(level, lg.getEffectiveLevel()))
            yield
        finally:
            for lg, before in saved:
                lg.setLevel(before)
