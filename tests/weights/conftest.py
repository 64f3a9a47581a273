"""A local HTTP file server (127.0.0.1, HTTP Range support, scripted connection drops) and a
throw-away weights cache for every test of this package."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class FileServer:
    """Files served from memory at ``http://127.0.0.1:<port>/<name>``.

    ``drops[name] = n``: the next request of ``name`` sends its headers (full length) and only
    ``n`` bytes, then closes the connection (a dropped transfer); one drop per entry.
    ``requests``: ``(name, Range header or None)`` of every request.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


def _handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            name = self.path.lstrip("/")
            rng = self.headers.get("Range")
            state.requests.append((name, rng))
            data = state.files.get(name)
            if data is None:
                self.send_error(404)
                return
            start = 0
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[len("bytes="):-1])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = state.drops.pop(name, None)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state = FileServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def weights_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$LITEDEPTH_CACHE``; no user manifest or mirror from the environment."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("LITEDEPTH_CACHE", str(cache))
    monkeypatch.delenv("LITEDEPTH_WEIGHTS_MANIFEST", raising=False)
    monkeypatch.delenv("LITEDEPTH_WEIGHTS_MIRROR", raising=False)
    return cache


def write_manifest(path: Path, *entries: dict) -> Path:
    """A user manifest file holding ``entries`` (each completed with a test licence)."""
    full = [{"licence": "test data", **e} for e in entries]
    path.write_text(json.dumps({"format_version": 1, "entries": full}))
    return path


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
