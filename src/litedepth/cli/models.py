"""``litedepth models``: list the registered networks."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("models", help="list registered models")
    p.add_argument("pattern", nargs="?", default=None, help="glob filter, e.g. 'lite-mono*'")
    p.add_argument("--task", default=None, help="depth / pose / segmentation")
    return p


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from litedepth.models import list_models, model_info

    table = Table(title="registered models")
    for col in ("name", "task", "family", "default size (HxW)", "tags"):
        table.add_column(col)
    for name in list_models(args.pattern, args.task):
        info = model_info(name)
        table.add_row(name, info.task, info.family, f"{info.default_size[0]}x{info.default_size[1]}", ", ".join(info.tags))
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped output: do not truncate names
    console.print(table)
    return 0
