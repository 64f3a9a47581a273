"""Start ``litedepth serve`` in a subprocess on a free local port, and stop it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

#: the demo's network and input size in tests: the smallest registered network at 32x48; uploads
#: capped at 1 MB and 4 megapixels
SERVE_ARGS = ("--models", "lite-mono-tiny,deeplabv3-mobilenet-v3-large", "--size", "32", "48", "--device", "cpu",
              "--max-upload-mb", "1", "--max-upload-mp", "4")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(log_path: Path, *args: str, timeout: float = 120.0) -> Iterator[str]:
    """Run ``litedepth serve *args`` on a free port; yields its URL once it answers HTTP.

    The server is terminated (then killed) on exit; its output goes to ``log_path``.
    """
    with running_server_process(log_path, *args, timeout=timeout) as (url, _):
        yield url


@contextlib.contextmanager
def running_server_process(log_path: Path, *args: str,
                           timeout: float = 120.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """:func:`running_server` that also yields the server's process (SIGTERM on exit, then SIGKILL)."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
           "COLUMNS": "400"}  # log lines unwrapped
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "litedepth", "serve", *args, "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"litedepth serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(url, timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"litedepth serve did not answer within {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)
