"""Logging set-up for the command line: rich handler, library loggers under ``litedepth``."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterable, Iterator


def setup_logging(verbose: bool = False) -> None:
    """Route ``litedepth`` log records and Python warnings to a rich console handler (idempotent)."""
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
    # Python warnings (libraries' deprecations...) are log lines too: stderr is left to the error
    logging.captureWarnings(True)
    warnings_log = logging.getLogger("py.warnings")
    warnings_log.addHandler(handler)
    warnings_log.propagate = False


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


#: loggers of libraries whose console messages the command line shows through its own handler
LIBRARY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")
#: warnings raised inside libraries on every run that a user cannot act on: ``(message regex,
#: category)``; Lightning constructs torch's deprecated ``LeafSpec`` in its own code
LIBRARY_WARNINGS = ((r".*isinstance\(treespec, LeafSpec\)` is deprecated.*", FutureWarning),)


class _NoAdverts(logging.Filter):
    """Drops Lightning's "Tip: try installing ..." advertisement lines (not about the run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        advert = str(record.msg).lstrip().startswith("\N{ELECTRIC LIGHT BULB} Tip:")
        return not (advert and record.name.startswith("lightning"))


def route_library_logs() -> None:
    """Show Lightning's console messages through the command line's handler.

    Lightning adds its own stderr handlers when imported ("GPU available: ...", tips); with
    the command line's handler installed (:func:`setup_logging`), they are replaced by it, so
    these messages look like every other log line and stderr is left to warnings and the
    one-line error. Lightning's advertisement ("Tip: ... litlogger") is dropped, and the
    library warnings of :data:`LIBRARY_WARNINGS` (raised on every run, not actionable) are
    ignored. Without the handler (litedepth used as a library) nothing changes.
    """
    from rich.logging import RichHandler

    ours = [h for h in logging.getLogger("litedepth").handlers if isinstance(h, RichHandler)]
    if not ours:
        return
    for name in LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        for handler in list(lib.handlers):
            if type(handler) is logging.StreamHandler:  # Lightning's own; not pytest's capture handlers
                lib.removeHandler(handler)
        lib.propagate = name != "lightning"
    top = logging.getLogger("lightning")
    if ours[0] not in top.handlers:
        top.addHandler(ours[0])
    if not any(isinstance(f, _NoAdverts) for f in ours[0].filters):
        ours[0].addFilter(_NoAdverts())
    for message, category in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
