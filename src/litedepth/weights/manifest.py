"""The manifest of published checkpoints: what each name is, where it comes from, what it fits.

The built-in manifest is ``manifest.json`` next to this module. Sites can add or replace
entries with their own manifest files (same format) named in ``$LITEDEPTH_WEIGHTS_MANIFEST``
(several separated by ``os.pathsep``); an entry of a later file replaces a built-in entry of
the same name. A mirror for every downloadable file (an offline site's web server, a
company cache) is set with ``$LITEDEPTH_WEIGHTS_MIRROR``: a file entry is then fetched from
``<mirror>/<file name>`` instead of its publisher's URL, and checked against the same checksum.

Entry fields (``null`` = not published):

=================  ==========================================================================
name               the name users type (``litedepth weights download NAME``, ``--weights NAME``)
network            the registered litedepth network it loads into (``litedepth models``), or
                   ``detector:<name>`` (``litedepth assist --detector``) or
                   ``teacher:hf-depth-estimation`` (a transformers depth model)
also_fits          other registered networks the file initialises
format             ``official-folder`` (Lite-Mono / Monodepth2 ``encoder.pth`` + ``depth.pth``
                   or pose files), ``torchvision-file`` (one ``.pth``), ``hf-folder`` (a Hugging
                   Face model folder, fetched with ``huggingface_hub``)
url / archive      download URL; ``archive: "zip"`` when the download is a zip to unpack
file               the downloaded file's name (also the name looked up on a mirror)
files              the files the local folder must hold to count as present
same_download_as   another entry whose download holds this one's files (PoseNet in the
                   Monodepth2 zips)
hf_repo            Hugging Face repository id (``hf-folder``)
checksum           ``{"md5": hex}`` or ``{"sha256": hex}`` of the whole download, or
                   ``{"sha256_prefix": hex}`` (torchvision's file-name convention); ``null``
                   when none is published: the sha256 of the first download is then recorded
                   in the cache and later downloads must match it
size_mb            download size in megabytes (10^6 bytes), where published
licence            licence text; ``non_commercial``: true / false / null (not confirmed)
input_size         ``[height, width]`` the weights were trained at (null: any size, see
                   ``input_note``)
output             what the network's output means (units, relative or metric)
metrics            published results, each with its ``protocol`` and ``source``
=================  ==========================================================================
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from litedepth.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["MANIFEST_ENV", "MIRROR_ENV", "Manifest", "WeightsEntry", "load_manifest"]

#: extra manifest files (``os.pathsep``-separated), entries replace built-in ones by name
MANIFEST_ENV = "LITEDEPTH_WEIGHTS_MANIFEST"
#: base URL serving every downloadable file under its ``file`` name
MIRROR_ENV = "LITEDEPTH_WEIGHTS_MIRROR"

FORMATS = ("official-folder", "torchvision-file", "hf-folder")
_CHECKSUMS = ("md5", "sha256", "sha256_prefix")
_FIELDS = {
    "name", "network", "also_fits", "format", "url", "page", "archive", "file", "files", "same_download_as",
    "hf_repo", "revision", "checksum", "checksum_note", "size_mb", "size_note", "licence", "non_commercial",
    "input_size", "input_note", "output", "metrics", "notes",
}


@dataclass(frozen=True)
class WeightsEntry:
    """One published checkpoint (field meanings in the module docstring)."""

    name: str
    network: str
    format: str
    licence: str
    files: tuple[str, ...] = ()
    url: str | None = None
    page: str | None = None
    archive: str | None = None
    file: str | None = None
    same_download_as: str | None = None
    hf_repo: str | None = None
    revision: str | None = None
    checksum: Mapping[str, str] | None = None
    checksum_note: str | None = None
    size_mb: float | None = None
    size_note: str | None = None
    non_commercial: bool | None = None
    input_size: tuple[int, int] | None = None
    input_note: str | None = None
    output: str | None = None
    metrics: tuple[Mapping[str, Any], ...] = ()
    notes: str | None = None
    also_fits: tuple[str, ...] = ()
    source: str = field(default="built-in", compare=False)

    @property
    def networks(self) -> tuple[str, ...]:
        """Every network these weights load into (``network`` first)."""
        return (self.network, *self.also_fits)

    @property
    def is_hf(self) -> bool:
        return self.format == "hf-folder"

    @property
    def is_folder(self) -> bool:
        """Whether the local copy is a folder (an unpacked archive or a Hub snapshot)."""
        return self.is_hf or self.archive is not None or self.same_download_as is not None

    def licence_flag(self) -> str:
        """``"NON-COMMERCIAL"``, ``"unconfirmed"`` or ``""`` for tables."""
        if self.non_commercial:
            return "NON-COMMERCIAL"
        return "unconfirmed" if self.non_commercial is None else ""

    def headline_metric(self) -> str:
        """The first published metric in a few characters (``"KITTI abs_rel 0.107"``), or ``"-"``."""
        if not self.metrics:
            return "-"
        m = self.metrics[0]
        proto = str(m.get("protocol", ""))
        where = "KITTI " if proto.startswith("KITTI") else "COCO " if proto.startswith("COCO") else ""
        for key, fmt in (("abs_rel", ".3f"), ("miou", ".1f"), ("box_map", ".1f")):
            if key in m:
                return f"{where}{key} {m[key]:{fmt}}"
        return "-"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in sorted(_FIELDS):
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else (dict(v) if isinstance(v, Mapping) else v)
        out["metrics"] = [dict(m) for m in self.metrics]
        out["source"] = self.source
        return out


def _entry(raw: Any, source: str) -> WeightsEntry:
    where = f"{source}: weights entry {raw.get('name', '?') if isinstance(raw, dict) else raw!r}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: each entry must be a JSON object")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
    for key in ("name", "network", "format", "licence"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{where}: needs a non-empty {key!r}")
    fmt = raw["format"]
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "hf-folder":
        if not raw.get("hf_repo"):
            raise ConfigError(f"{where}: an hf-folder entry needs 'hf_repo'")
    elif not raw.get("same_download_as"):
        if not raw.get("url") or not raw.get("file"):
            raise ConfigError(f"{where}: needs 'url' and 'file' (or 'same_download_as')")
        name = str(raw["file"])
        if "/" in name or "\\" in name or name in (".", ".."):
            raise ConfigError(f"{where}: 'file' must be a plain file name, got {name!r}")
    if raw.get("archive") not in (None, "zip"):
        raise ConfigError(f"{where}: archive must be 'zip' or null, not {raw['archive']!r}")
    checksum = raw.get("checksum")
    if checksum is not None:
        if not isinstance(checksum, dict) or len(checksum) != 1 or next(iter(checksum)) not in _CHECKSUMS:
            raise ConfigError(f"{where}: checksum must be one of {{'md5'|'sha256'|'sha256_prefix': hex}} or null")
        value = str(next(iter(checksum.values()))).lower()
        if not value or any(c not in "0123456789abcdef" for c in value):
            raise ConfigError(f"{where}: checksum {value!r} is not hexadecimal")
        checksum = {next(iter(checksum)): value}
    files = tuple(raw.get("files") or ())
    if fmt != "torchvision-file" and not files:
        raise ConfigError(f"{where}: needs 'files' (what the folder must hold)")
    size = raw.get("input_size")
    return WeightsEntry(
        name=raw["name"], network=raw["network"], format=fmt, licence=raw["licence"], files=files,
        url=raw.get("url"), page=raw.get("page"), archive=raw.get("archive"), file=raw.get("file"),
        same_download_as=raw.get("same_download_as"), hf_repo=raw.get("hf_repo"), revision=raw.get("revision"),
        checksum=checksum, checksum_note=raw.get("checksum_note"), size_mb=raw.get("size_mb"),
        size_note=raw.get("size_note"), non_commercial=raw.get("non_commercial"),
        input_size=(int(size[0]), int(size[1])) if size else None, input_note=raw.get("input_note"),
        output=raw.get("output"), metrics=tuple(raw.get("metrics") or ()), notes=raw.get("notes"),
        also_fits=tuple(raw.get("also_fits") or ()), source=source,
    )


def _read(path: Path | Any, source: str) -> list[WeightsEntry]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: weights manifest not found (named in ${MANIFEST_ENV})") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{source}: unreadable weights manifest ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise ConfigError(f"{source}: a weights manifest is {{\"format_version\": 1, \"entries\": [...]}}")
    return [_entry(raw, source) for raw in data["entries"]]


class Manifest:
    """Named :class:`WeightsEntry` objects, built-in first, then user manifests.

    Args:
        entries: the entries; a later entry replaces an earlier one of the same name.
        mirror: base URL for every file download (``$LITEDEPTH_WEIGHTS_MIRROR``), or ``None``.
    """

    def __init__(self, entries: list[WeightsEntry], mirror: str | None = None) -> None:
        self.entries: dict[str, WeightsEntry] = {}
        for e in entries:
            if e.name in self.entries:
                log.info("weights %r from %s replaces the entry from %s", e.name, e.source, self.entries[e.name].source)
            self.entries[e.name] = e
        for e in self.entries.values():
            if e.same_download_as is not None:
                other = self.entries.get(e.same_download_as)
                if other is None or other.same_download_as is not None or other.is_hf:
                    raise ConfigError(f"{e.source}: weights {e.name!r}: same_download_as names "
                                      f"{e.same_download_as!r}, which is not a downloadable entry")
        self.mirror = mirror.rstrip("/") if mirror else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.entries

    def __iter__(self) -> Iterator[WeightsEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, name: str) -> WeightsEntry:
        """The entry called ``name``.

        Raises:
            ConfigError: unknown name (the message suggests close names).
        """
        if name in self.entries:
            return self.entries[name]
        raise ConfigError(f"{name!r} is not a published weights name (see `litedepth weights list`)"
                          f"{self.suggest(name)}")

    def suggest(self, name: str) -> str:
        """``"; did you mean a, b?"`` with the closest names, or ``""``."""
        close = difflib.get_close_matches(name, list(self.entries), n=3)
        return f"; did you mean {', '.join(close)}?" if close else ""

    def download_entry(self, entry: WeightsEntry) -> WeightsEntry:
        """The entry whose download provides ``entry``'s files (itself, or its ``same_download_as``)."""
        return self.entries[entry.same_download_as] if entry.same_download_as else entry

    def url_of(self, entry: WeightsEntry) -> str:
        """Where ``entry``'s file is fetched from: the mirror when one is set, else its URL."""
        src = self.download_entry(entry)
        if src.url is None or src.file is None:
            raise ConfigError(f"weights {entry.name!r} have no download URL")
        return f"{self.mirror}/{src.file}" if self.mirror else src.url


def load_manifest(extra: str | os.PathLike[str] | list[str | os.PathLike[str]] | None = None,
                  mirror: str | None = None) -> Manifest:
    """The built-in manifest plus the user manifests (``extra``, else ``$LITEDEPTH_WEIGHTS_MANIFEST``).

    Args:
        extra: manifest file(s) whose entries add to / replace the built-in ones.
        mirror: base URL for downloads (default ``$LITEDEPTH_WEIGHTS_MIRROR``).

    Raises:
        ConfigError: a manifest file is missing, not JSON, or has an invalid entry (named).
    """
    builtin = resources.files("litedepth.weights").joinpath("manifest.json")
    entries = _read(builtin, "built-in manifest")
    if extra is None:
        env = os.environ.get(MANIFEST_ENV, "")
        paths: list[Any] = [p for p in env.split(os.pathsep) if p.strip()]
    else:
        paths = list(extra) if isinstance(extra, list) else [extra]
    for p in paths:
        entries.extend(_read(Path(p), str(p)))
    return Manifest(entries, mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None)
