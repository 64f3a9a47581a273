"""Logging set-up for the command line: rich handler, library loggers under ``litedepth``."""

from __future__ import annotations

import logging


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
