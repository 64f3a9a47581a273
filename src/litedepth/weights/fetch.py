"""HTTP download with resume and checksums, and safe zip extraction (no network code elsewhere).

* :func:`http_download` appends to ``<dest>.part`` and asks for the missing bytes with an HTTP
  ``Range`` request, so an interrupted transfer continues where it stopped (within the same
  call it retries ``retries`` times; a later call resumes from the partial file). The file
  gets its final name only when complete.
* :func:`file_digests` / :func:`check_digest`: md5 / sha256 of a file and the comparison with a
  published checksum (a full md5 or sha256, or torchvision's sha256 file-name prefix).
* :func:`safe_extract_zip`: unpacks member by member, refusing absolute paths, ``..``
  components, drive letters and symbolic links (nothing is written outside the target).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import stat
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from litedepth import __version__

log = logging.getLogger(__name__)

__all__ = ["DownloadFailed", "DownloadInterrupted", "UnsafeArchive", "check_digest", "file_digests",
           "http_download", "safe_extract_zip"]

CHUNK = 1 << 20
#: seconds without data before a connection counts as failed
TIMEOUT_S = 30.0


class DownloadFailed(Exception):
    """The server could not be reached or refused the request (``reason`` says why)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"{url}: {reason}")


class DownloadInterrupted(Exception):
    """The transfer stopped before the end; ``received`` of ``total`` bytes are in the part file."""

    def __init__(self, url: str, part: Path, received: int, total: int | None, reason: str) -> None:
        self.url, self.part, self.received, self.total, self.reason = url, part, received, total, reason
        super().__init__(f"{url}: interrupted after {received} of {total or '?'} bytes ({reason})")


class UnsafeArchive(Exception):
    """A zip member would be written outside the target folder, or is a link."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host name not resolved"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def _open(url: str, start: int) -> tuple[http.client.HTTPResponse, int, int | None]:
    """Open ``url`` from byte ``start``; returns ``(response, offset it starts at, total size)``."""
    headers = {"User-Agent": f"litedepth/{__version__}"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # the part file is already as long as the file (or longer)
            return _open(url, 0)
        raise DownloadFailed(url, _reason(exc)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadFailed(url, _reason(exc)) from None
    length = resp.headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else None
    if start and resp.status == 206:
        content_range = resp.headers.get("Content-Range", "")
        if not content_range.startswith(f"bytes {start}-"):
            resp.close()
            raise DownloadFailed(url, f"unexpected Content-Range {content_range!r} for a resume at byte {start}")
        total = content_range.rsplit("/", 1)[-1]
        return resp, start, int(total) if total.isdigit() else (start + size if size is not None else None)
    return resp, 0, size  # 200: the server sends the whole file (it ignored or did not get a Range)


def http_download(url: str, dest: str | Path, *, retries: int = 2,
                  on_progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Download ``url`` to ``dest``, resuming ``<dest>.part`` when it exists.

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        dest: final path; the data goes to ``<dest>.part`` first and is renamed only when the
            transfer is complete (``os.replace``).
        retries: extra attempts (each resuming from the part file) after an interrupted transfer.
        on_progress: called with ``(bytes so far, total bytes or None)`` as data arrives.

    Returns:
        ``dest``.

    Raises:
        DownloadFailed: unreachable server, HTTP error, or a wrong ``Content-Range``.
        DownloadInterrupted: the transfer kept stopping early; the part file is kept.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        start = part.stat().st_size if part.is_file() else 0
        resp, offset, total = _open(url, start)
        received = offset
        if start and offset == 0:
            log.info("%s: the server sent the whole file again (no resume)", url)
        if offset:
            log.info("%s: resuming at byte %d", url, offset)
        if on_progress:
            on_progress(received, total)
        try:
            with resp, open(part, "ab" if offset else "wb") as f:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    received += len(chunk)
                    if on_progress:
                        on_progress(received, total)
            reason = None if total is None or received >= total else "connection closed early"
        except (OSError, http.client.HTTPException) as exc:  # reset, timeout, IncompleteRead
            reason = _reason(exc)
        if reason is None:
            os.replace(part, dest)
            return dest
        if attempt >= retries:
            raise DownloadInterrupted(url, part, received, total, reason)
        attempt += 1
        log.info("%s: %s after %d bytes; resuming (attempt %d of %d)", url, reason, received, attempt, retries)


def file_digests(path: str | Path) -> dict[str, str]:
    """``{"md5": hex, "sha256": hex}`` of a file (read once)."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            md5.update(chunk)
            sha.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def check_digest(digests: Mapping[str, str], expected: Mapping[str, str]) -> str | None:
    """``None`` when ``digests`` match ``expected`` (``{"md5"|"sha256"|"sha256_prefix": hex}``),
    else a description of the mismatch (``"md5 is X, expected Y"``).

    Example:
        >>> check_digest({"md5": "ab", "sha256": "c0ffee00"}, {"sha256_prefix": "c0ffee"}) is None
        True
    """
    (kind, want), = expected.items()
    want = want.lower()
    if kind == "sha256_prefix":
        got = digests["sha256"][: len(want)]
        label = "sha256 prefix"
    else:
        got, label = digests[kind], kind
    return None if got == want else f"{label} is {got}, expected {want}"


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def safe_extract_zip(archive: str | Path, target: str | Path) -> list[Path]:
    """Extract ``archive`` into the folder ``target`` (created), refusing unsafe members.

    Returns:
        The extracted files.

    Raises:
        UnsafeArchive: an absolute path, a ``..`` component, a drive letter or a symbolic link
            (nothing of the archive is extracted past the check of that member; the caller
            removes ``target``).
        zipfile.BadZipFile: not a zip file.
    """
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    written = []
    with zipfile.ZipFile(archive) as z:
        members = z.infolist()
        for info in members:  # check every name before writing anything
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if (name.startswith("/") or ".." in parts or (parts and ":" in parts[0]) or _is_link(info)
                    or not (root / name).resolve().is_relative_to(root)):
                raise UnsafeArchive(f"unsafe member {info.filename!r}")
        for info in members:
            out = root / info.filename.replace("\\", "/")
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(out, "wb") as dst:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    dst.write(chunk)
            written.append(out)
    return written

