"""``litedepth weights``: list, download and locate published checkpoints by name.

Examples::

    litedepth weights list
    litedepth weights download lite-mono-640x192
    litedepth predict photo.jpg --model lite-mono --weights lite-mono-640x192 --output out/
    litedepth weights path monodepth2-mono-640x192

Files go to ``$LITEDEPTH_CACHE`` (default ``$XDG_CACHE_HOME/litedepth`` or
``~/.cache/litedepth``); Hugging Face models to the Hugging Face cache. Extra or replacement
entries: ``$LITEDEPTH_WEIGHTS_MANIFEST=my-manifest.json``; a mirror of every file:
``$LITEDEPTH_WEIGHTS_MIRROR=https://mirror.example/weights``. Every command that takes
``--weights`` accepts these names.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("weights", help="published weights: list, download, locate",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="table of the published weights and whether they are downloaded")
    ls.add_argument("--json", action="store_true", help="print every field as JSON instead of a table")
    dl = sub.add_parser("download", help="fetch weights into the cache (resumable, checksum-verified)")
    dl.add_argument("names", nargs="+", metavar="NAME", help="names from `litedepth weights list`")
    dl.add_argument("--force", action="store_true", help="download again even when present")
    dl.add_argument("--no-progress", action="store_true", help="no progress bar")
    path = sub.add_parser("path", help="print the local file or folder of downloaded weights")
    path.add_argument("name", metavar="NAME", help="a name from `litedepth weights list`")
    return p


def _list(as_json: bool) -> int:
    from rich.console import Console
    from rich.table import Table

    from litedepth.weights import is_present, load_manifest

    manifest = load_manifest()
    if as_json:
        rows = [{**e.to_dict(), "downloaded": is_present(e, manifest)} for e in manifest]
        print(json.dumps(rows, indent=1))
        return 0
    table = Table(title="published weights (litedepth weights download NAME)")
    for col in ("name", "network", "resolution", "licence", "size", "published metric", "cached"):
        table.add_column(col, overflow="fold")
    for e in manifest:
        res = f"{e.input_size[1]}x{e.input_size[0]}" if e.input_size else "any"
        flag = e.licence_flag()
        licence = e.licence.split(" (")[0].split(":")[0]
        licence = f"[bold red]{flag}[/] {licence}" if flag == "NON-COMMERCIAL" else (
            f"[yellow]{flag}[/]" if flag else licence)
        size = f"{e.size_mb:g} MB" if e.size_mb else ("in its depth zip" if e.same_download_as else "?")
        table.add_row(e.name, e.network, res, licence, size, e.headline_metric(),
                      "yes" if is_present(e, manifest) else "-")
    table.caption = ("NON-COMMERCIAL: the publisher allows non-commercial use only. '?': size not published. "
                     "Sources, checksums and protocols: --json")
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)
    return 0


def _download(names: list[str], force: bool, progress: bool) -> int:
    from litedepth.weights import download, load_manifest

    manifest = load_manifest()
    for name in names:
        manifest.get(name)  # unknown names fail before anything is fetched
    for name in names:
        entry = manifest.get(name)
        if entry.non_commercial:
            print(f"{name}: {entry.licence}")
        result = download(name, manifest=manifest, progress=progress, force=force)
        if result.already_present:
            print(f"{name}: already downloaded: {result.path}")
            continue
        print(f"{name}: {result.path} ({result.verified})")
        if result.recorded:
            print(f"{name}: sha256 {result.sha256} (no checksum is published for this file; recorded in the cache, "
                  f"later downloads must match it)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.weights_command == "list":
        return _list(args.json)
    if args.weights_command == "download":
        return _download(args.names, args.force, not args.no_progress)
    from litedepth.weights import resolve

    print(resolve(args.name))
    return 0
