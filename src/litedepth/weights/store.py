"""The local weights cache: where each published checkpoint lives, fetching it, finding it.

Cache folder: ``$LITEDEPTH_CACHE`` when set, else ``$XDG_CACHE_HOME/litedepth``, else
``~/.cache/litedepth``. Inside it::

    weights/<name>/                 an unpacked archive (Lite-Mono / Monodepth2 folders)
    weights/<name>/<file>           a single file (torchvision ``.pth``)
    weights/<name>/.litedepth-download.json   URL, size, md5 / sha256, how it was verified
    weights/downloads/<file>.part   a transfer in progress (resumed by the next download)
    weights/downloads/<file>        a complete download waiting to be checked / unpacked
                                    (also where to put an archive fetched by hand)
    weights/sha256-recorded.json    sha256 recorded at the first download of files without a
                                    published checksum; later downloads must match it

Hugging Face entries (``format: hf-folder``) live in the Hugging Face cache
(``huggingface_hub``'s own, ``$HF_HOME`` / ``$HF_HUB_CACHE``), shared with ``transformers``.

Nothing here falls back to random weights: :func:`resolve` returns a local path or raises an
error that says how to get the files.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litedepth.errors import CheckpointError, ConfigError
from litedepth.utils.atomic import atomic_write_bytes
from litedepth.weights.fetch import (
    DownloadFailed,
    DownloadInterrupted,
    UnsafeArchive,
    check_digest,
    file_digests,
    http_download,
    safe_extract_zip,
)
from litedepth.weights.manifest import Manifest, WeightsEntry, load_manifest

log = logging.getLogger(__name__)

__all__ = ["CACHE_ENV", "DownloadResult", "cache_root", "download", "is_present", "local_path", "resolve",
           "weights_dir"]

CACHE_ENV = "LITEDEPTH_CACHE"
RECORD_NAME = ".litedepth-download.json"
RECORDED_SHA256 = "sha256-recorded.json"


def cache_root() -> Path:
    """litedepth's cache folder (``$LITEDEPTH_CACHE``, ``$XDG_CACHE_HOME/litedepth`` or ``~/.cache/litedepth``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).expanduser().is_absolute() else Path.home() / ".cache"
    return base / "litedepth"


def weights_dir() -> Path:
    """``<cache>/weights``."""
    return cache_root() / "weights"


def _hf_snapshot(entry: WeightsEntry) -> Path | None:
    """The Hub snapshot folder holding all of ``entry.files``, or ``None``."""
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(entry.hf_repo, f, revision=entry.revision) for f in entry.files]
    if all(isinstance(p, str) for p in found):
        return Path(found[0]).parent  # type: ignore[arg-type]
    return None


def _target(entry: WeightsEntry, manifest: Manifest) -> Path:
    """Where a downloadable entry's files live (folder or single file); not for Hub entries."""
    src = manifest.download_entry(entry)
    folder = weights_dir() / src.name
    return folder if src.archive is not None else folder / str(src.file)


def local_path(entry: WeightsEntry | str, manifest: Manifest | None = None) -> Path | None:
    """Where the files of ``entry`` are (or go): a folder or a file.

    Returns ``None`` for a Hugging Face entry that is not in the Hub cache (its folder is only
    known once downloaded).
    """
    manifest = manifest or load_manifest()
    entry = manifest.get(entry) if isinstance(entry, str) else entry
    if entry.is_hf:
        return _hf_snapshot(entry)
    return _target(entry, manifest)


def is_present(entry: WeightsEntry | str, manifest: Manifest | None = None) -> bool:
    """Whether every file of ``entry`` is in the cache."""
    manifest = manifest or load_manifest()
    entry = manifest.get(entry) if isinstance(entry, str) else entry
    path = local_path(entry, manifest)
    if path is None:
        return False
    if entry.is_folder:
        return all((path / f).is_file() for f in entry.files)
    return path.is_file()


def _size(entry: WeightsEntry) -> str:
    return f"{entry.size_mb:g} MB" if entry.size_mb else "size not published"


def _by_hand(entry: WeightsEntry, manifest: Manifest) -> str:
    """How to install ``entry`` without litedepth's downloader (one clause)."""
    src = manifest.download_entry(entry)
    if src.archive is not None:
        folder = _target(entry, manifest)
        return (f"save it as {weights_dir() / 'downloads' / str(src.file)} and run `litedepth weights download "
                f"{entry.name}` again (checked and unpacked), or unpack it so that {folder} holds "
                f"{', '.join(entry.files)}")
    return f"save it as {_target(entry, manifest)}"


def resolve(name_or_path: str | os.PathLike[str], *, network: str | None = None,
            manifest: Manifest | None = None) -> Path:
    """The local file or folder of a weights argument: a path, or a published name.

    Args:
        name_or_path: an existing file / folder (returned as is), or a manifest name
            (``litedepth weights list``).
        network: the registered network the weights are for; a manifest entry made for
            another network is an error.
        manifest: default :func:`~litedepth.weights.manifest.load_manifest`.

    Returns:
        The file (torchvision ``.pth``) or folder (official Lite-Mono / Monodepth2 files, a
        Hugging Face model folder) to load.

    Raises:
        CheckpointError: a manifest name whose files are not downloaded (the message gives
            the command and the URL, and where to place the files by hand), or neither a path
            nor a name.
        ConfigError: weights published for another network.

    Example:
        >>> resolve("monodepth2-mono-640x192", network="monodepth2-resnet18")  # doctest: +SKIP
        PosixPath('/home/me/.cache/litedepth/weights/monodepth2-mono-640x192')
    """
    path = Path(name_or_path)
    if path.exists():
        return path
    manifest = manifest or load_manifest()
    name = str(name_or_path)
    if name not in manifest:
        raise CheckpointError(f"{name}: weights file or folder not found, and not a published weights name "
                              f"(see `litedepth weights list`){manifest.suggest(name)}")
    entry = manifest.get(name)
    if network is not None and network not in entry.networks:
        raise ConfigError(f"weights {name!r} are for {' / '.join(entry.networks)}, not {network!r}")
    local = local_path(entry, manifest)
    if local is not None and is_present(entry, manifest):
        if entry.non_commercial:
            log.warning("%s: %s", name, entry.licence)
        return local
    if entry.is_hf:
        raise CheckpointError(f"{name}: not in the Hugging Face cache. Run `litedepth weights download {name}` "
                              f"(fetches {entry.hf_repo} with huggingface_hub, {_size(entry)}) or pass the "
                              f"model's local folder instead of the name")
    raise CheckpointError(f"{name}: published weights not downloaded. Run `litedepth weights download {name}` "
                          f"({manifest.url_of(entry)}, {_size(manifest.download_entry(entry))}), or fetch that URL "
                          f"and {_by_hand(entry, manifest)}")


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download` did.

    Attributes:
        name: the entry.
        path: its local file or folder.
        already_present: nothing was fetched.
        sha256: of the downloaded file (``None`` when nothing was fetched / Hub entries).
        verified: how the download was checked (``"md5 (published)"``, ``"sha256 prefix
            (published)"``, ``"sha256 recorded at first download"``, ``"sha256 matches the
            one recorded at the first download"``, ``"huggingface_hub"``).
        recorded: the sha256 was recorded now (no checksum is published for this file).
    """

    name: str
    path: Path
    already_present: bool
    sha256: str | None = None
    verified: str | None = None
    recorded: bool = False


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc}); delete it to start again") from None
    return data if isinstance(data, dict) else {}


def _verify(src: WeightsEntry, url: str, archive: Path, digests: dict[str, str]) -> tuple[str, bool]:
    """Check ``archive`` against the published or recorded checksum; ``(how, recorded now)``."""
    if src.checksum:
        problem = check_digest(digests, src.checksum)
        kind = next(iter(src.checksum)).replace("_", " ")
        if problem is None:
            return f"{kind} (published)", False
    else:
        records_path = weights_dir() / RECORDED_SHA256
        records = _read_json(records_path)
        old = records.get(src.name)
        if old is None:
            records[src.name] = {"url": url, "file": src.file, "sha256": digests["sha256"],
                                 "recorded_utc": datetime.datetime.now(datetime.timezone.utc).isoformat()}
            atomic_write_bytes(records_path, json.dumps(records, indent=1, sort_keys=True).encode())
            return "sha256 recorded at first download (none is published)", True
        if old.get("sha256") == digests["sha256"]:
            return "sha256 matches the one recorded at the first download", False
        problem = (f"sha256 is {digests['sha256']}, but {old.get('sha256')} was recorded at the first download "
                   f"(if the publisher changed the file, delete {src.name!r} from {records_path})")
    archive.unlink(missing_ok=True)
    raise CheckpointError(f"{src.name}: {url}: {problem}; the downloaded file was deleted (a corrupted transfer "
                          f"or a changed file: run the command again, and if it fails again do not use this source)")


def _unpack(entry: WeightsEntry, src: WeightsEntry, url: str, archive: Path, folder: Path) -> None:
    """Unpack ``archive`` into ``folder`` (atomically: a temporary folder renamed into place)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        try:
            safe_extract_zip(archive, tmp)
        except zipfile.BadZipFile:
            archive.unlink(missing_ok=True)
            raise CheckpointError(f"{src.name}: {url} did not send a zip file (deleted); the source page is "
                                  f"{src.page or url}") from None
        except UnsafeArchive as exc:
            archive.unlink(missing_ok=True)
            raise CheckpointError(f"{archive}: refusing to unpack ({exc}); the file was deleted") from None
        content = tmp
        entries = [p for p in tmp.iterdir() if p.name != "__MACOSX"]
        if not all((tmp / f).is_file() for f in src.files) and len(entries) == 1 and entries[0].is_dir():
            content = entries[0]  # a zipped folder (as share services make them)
        missing = [f for f in src.files if not (content / f).is_file()]
        if missing:
            raise CheckpointError(f"{src.name}: the archive from {url} lacks {', '.join(missing)}")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(content, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    archive.unlink(missing_ok=True)


def _download_hf(entry: WeightsEntry, force: bool) -> DownloadResult:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    cached = _hf_snapshot(entry)
    if cached is not None and not force:
        return DownloadResult(entry.name, cached, True, verified="huggingface_hub")
    try:
        folder = Path(snapshot_download(entry.hf_repo, revision=entry.revision, force_download=force))
    except (HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{entry.name}: cannot download {entry.hf_repo} from the Hugging Face Hub ({first}). "
                              f"Without internet access: run `litedepth weights download {entry.name}` on a "
                              f"connected machine and copy its Hugging Face cache here, or pass a local copy of the "
                              f"model folder instead of the name") from None
    return DownloadResult(entry.name, folder, False, verified="huggingface_hub")


def download(name: str, *, manifest: Manifest | None = None, progress: bool = False, retries: int = 2,
             force: bool = False) -> DownloadResult:
    """Fetch the published weights ``name`` into the cache (or find them there).

    Resumes a partial download, verifies the published checksum (md5 / sha256 / torchvision's
    sha256 prefix) or records the sha256 of a first download without one, unpacks zips
    safely, and moves files into place only when complete and verified.

    Args:
        name: a manifest name.
        manifest: default :func:`~litedepth.weights.manifest.load_manifest`.
        progress: show a rich progress bar.
        retries: extra resume attempts within this call after an interrupted transfer.
        force: fetch again even when present.

    Raises:
        CheckpointError: unreachable source (the message names the URL and where to place
            the file by hand), interrupted transfer (run again to resume), checksum
            mismatch (the file is deleted), an unsafe or incomplete archive.
        ConfigError: unknown name.
    """
    manifest = manifest or load_manifest()
    entry = manifest.get(name)
    if entry.non_commercial:
        log.warning("%s: %s", entry.name, entry.licence)
    if entry.is_hf:
        return _download_hf(entry, force)
    if is_present(entry, manifest) and not force:
        return DownloadResult(entry.name, _target(entry, manifest), True)
    src = manifest.download_entry(entry)
    url = manifest.url_of(entry)
    archive = weights_dir() / "downloads" / str(src.file)
    if archive.is_file():
        log.info("%s: using the complete file already at %s", name, archive)
    else:
        try:
            _fetch(url, archive, src, retries, progress)
        except DownloadFailed as exc:
            raise CheckpointError(f"{name}: cannot download {url} ({exc.reason}). Without internet access: fetch "
                                  f"that URL elsewhere and {_by_hand(entry, manifest)}") from None
        except DownloadInterrupted as exc:
            raise CheckpointError(f"{name}: download of {url} interrupted after {exc.received} of "
                                  f"{exc.total or '?'} bytes ({exc.reason}); the partial file {exc.part} is kept: "
                                  f"run the same command again to resume") from None
    digests = file_digests(archive)
    verified, recorded = _verify(src, url, archive, digests)
    size = archive.stat().st_size
    target = _target(src, manifest)
    folder = target if src.archive is not None else target.parent
    if src.archive is not None:
        _unpack(entry, src, url, archive, folder)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        os.replace(archive, target)
    record = {"name": src.name, "url": url, "file": src.file, "bytes": size, **digests, "verified": verified,
              "downloaded_utc": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    atomic_write_bytes(folder / RECORD_NAME, json.dumps(record, indent=1).encode())
    if not is_present(entry, manifest):
        raise CheckpointError(f"{name}: the download of {src.name} ({url}) holds no {', '.join(entry.files)}")
    log.info("%s: %s (%d bytes, %s)", name, _target(entry, manifest), size, verified)
    return DownloadResult(entry.name, _target(entry, manifest), False, digests["sha256"], verified, recorded)


def _fetch(url: str, dest: Path, src: WeightsEntry, retries: int, progress: bool) -> None:
    if not progress:
        http_download(url, dest, retries=retries)
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    with Progress(TextColumn(src.name), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn()) as bar:
        task = bar.add_task(src.name, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        http_download(url, dest, retries=retries, on_progress=update)
