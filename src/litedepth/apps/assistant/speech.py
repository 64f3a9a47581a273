"""Spoken alerts through espeak-ng, without ever blocking the frame loop.

:class:`EspeakSpeaker` speaks in a background thread. Messages wait in a queue of one: a new
message replaces one not yet started (the newest alert is the relevant one), and a message
that waited longer than ``max_age_s`` is dropped as stale. If the speech command fails (for
example no audio device) the speaker logs one warning and falls silent.

:func:`make_speaker` returns an :class:`EspeakSpeaker` when ``espeak-ng`` (or ``espeak``) is on
the ``PATH`` and a :class:`NullSpeaker` otherwise, logging once that alerts are text only.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

__all__ = ["EspeakSpeaker", "NullSpeaker", "Speaker", "find_espeak", "make_speaker"]


class Speaker:
    """Interface: :meth:`say` queues text, :meth:`close` stops (context manager)."""

    enabled = False

    def say(self, text: str) -> None:
        """Queue ``text`` to be spoken (returns at once)."""

    def close(self, wait: bool = False) -> None:
        """Stop speaking; with ``wait``, finish the queued message first."""

    def describe(self) -> dict:
        return {"speech": "off"}

    def __enter__(self) -> Speaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NullSpeaker(Speaker):
    """Text only: every message is ignored here (the app logs it anyway)."""

    def __init__(self, reason: str = "speech disabled") -> None:
        self.reason = reason

    def describe(self) -> dict:
        return {"speech": "off", "reason": self.reason}


def find_espeak() -> str | None:
    """Path of ``espeak-ng`` (or ``espeak``) on the ``PATH``, else ``None``."""
    return shutil.which("espeak-ng") or shutil.which("espeak")


class EspeakSpeaker(Speaker):
    """Speak messages with a command (default ``espeak-ng -s 170``) in a worker thread.

    Args:
        command: the program and options; the text is appended as the last argument.
        max_age_s: a message not started within this time is dropped.
        timeout_s: a single utterance is killed after this long.

    Attributes:
        spoken: messages spoken so far; dropped: messages replaced or stale.
    """

    enabled = True

    def __init__(self, command: Sequence[str] | None = None, max_age_s: float = 3.0, timeout_s: float = 15.0) -> None:
        exe = find_espeak()
        if command is None and exe is None:
            raise FileNotFoundError("espeak-ng is not installed")
        self.command = list(command) if command is not None else [exe, "-s", "170"]  # type: ignore[list-item]
        self.max_age_s, self.timeout_s = float(max_age_s), float(timeout_s)
        self.spoken: list[str] = []
        self.dropped = 0
        self._pending: tuple[str, float] | None = None
        self._cond = threading.Condition()
        self._stop = False
        self._failed = False
        self._proc: subprocess.Popen[bytes] | None = None  # the utterance being spoken
        self._abort = False  # close(wait=False): speak nothing more
        self._thread = threading.Thread(target=self._worker, name="litedepth-speech", daemon=True)
        self._thread.start()

    def say(self, text: str) -> None:
        with self._cond:
            if self._stop or self._failed:
                return
            if self._pending is not None:
                self.dropped += 1
            self._pending = (str(text), time.monotonic())
            self._cond.notify()

    def _worker(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                if self._pending is None:
                    return
                text, queued = self._pending
                self._pending = None
            if time.monotonic() - queued > self.max_age_s:
                self.dropped += 1
                continue
            try:
                with self._cond:
                    if self._abort:
                        return
                    self._proc = subprocess.Popen([*self.command, text], stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.PIPE)
                try:
                    _, err = self._proc.communicate(timeout=self.timeout_s)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.communicate()
                    raise
                finally:
                    with self._cond:
                        proc, self._proc = self._proc, None
                if proc.returncode != 0:
                    if self._abort:  # terminated by close(wait=False)
                        return
                    raise subprocess.CalledProcessError(proc.returncode, proc.args, stderr=err)
                self.spoken.append(text)
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", b"") or b""
                log.warning("speech failed (%s%s); continuing with text only", type(exc).__name__,
                            f": {detail.decode(errors='replace').strip()[:200]}" if detail else "")
                with self._cond:
                    self._failed = True
                    self._stop = True
                return

    def close(self, wait: bool = False) -> None:
        """Stop the speech thread; ``wait=False`` also drops the pending message and stops the
        utterance being spoken (no espeak-ng process outlives the call)."""
        with self._cond:
            if not wait:
                if self._pending is not None:
                    self.dropped += 1
                self._pending = None
                self._abort = True
                if self._proc is not None and self._proc.poll() is None:
                    self._proc.terminate()
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=self.timeout_s if wait else 0.5)

    def describe(self) -> dict:
        return {"speech": "failed" if self._failed else "espeak-ng", "command": self.command,
                "spoken": len(self.spoken), "dropped": self.dropped}


def make_speaker(enabled: bool = True, **kw: object) -> Speaker:
    """An :class:`EspeakSpeaker` when enabled and installed, else a :class:`NullSpeaker`.

    Logs one line when speech was asked for but ``espeak-ng`` is missing.
    """
    if not enabled:
        return NullSpeaker("speech disabled (--no-speech)")
    if find_espeak() is None:
        log.info("espeak-ng not found: alerts are text only (install espeak-ng for speech)")
        return NullSpeaker("espeak-ng not installed")
    return EspeakSpeaker(**kw)  # type: ignore[arg-type]
