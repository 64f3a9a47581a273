"""Speech: non-blocking queue that keeps only the newest message, espeak-ng when installed."""

from __future__ import annotations

import logging
import sys
import time

import pytest

from litedepth.apps.assistant import speech
from litedepth.apps.assistant.speech import EspeakSpeaker, NullSpeaker, find_espeak, make_speaker


def _slow_logger_command(log_path, delay: float = 0.3) -> list[str]:
    code = (f"import sys, time; time.sleep({delay}); "
            f"open({str(log_path)!r}, 'a').write(sys.argv[1] + '\\n')")
    return [sys.executable, "-c", code]


def _wait_until_taken(sp: EspeakSpeaker) -> None:
    deadline = time.monotonic() + 5
    while sp._pending is not None and time.monotonic() < deadline:
        time.sleep(0.005)


def test_say_never_blocks_and_drops_stale(tmp_path):
    log_path = tmp_path / "spoken.txt"
    sp = EspeakSpeaker(command=_slow_logger_command(log_path, delay=0.5))
    sp.say("message 0")
    _wait_until_taken(sp)
    for i in range(1, 6):
        sp.say(f"message {i}")
    # say() returned while message 0 was still being spoken: only the newest message waits
    assert sp._pending is not None and sp._pending[0] == "message 5" and sp.dropped == 4
    sp.close(wait=True)
    spoken = log_path.read_text().split("\n")[:-1]
    # the first message was being spoken; 1-4 were replaced by newer ones; the newest is spoken
    assert spoken == ["message 0", "message 5"]
    assert sp.dropped == 4 and sp.describe()["spoken"] == 2


def test_messages_older_than_max_age_are_dropped(tmp_path):
    log_path = tmp_path / "spoken.txt"
    sp = EspeakSpeaker(command=_slow_logger_command(log_path, delay=0.4), max_age_s=0.1)
    sp.say("first")
    _wait_until_taken(sp)
    sp.say("stale by the time the first is done")
    time.sleep(0.8)
    sp.close(wait=True)
    assert log_path.read_text().split("\n")[:-1] == ["first"]
    assert sp.dropped == 1


def test_failing_command_falls_back_to_text(caplog):
    sp = EspeakSpeaker(command=[sys.executable, "-c", "import sys; sys.exit(3)"])
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        sp.say("hello")
        sp._thread.join(5)
    assert sp.describe()["speech"] == "failed"
    sp.say("ignored")  # no error after a failure
    sp.close()


def test_make_speaker_without_espeak_logs_once(monkeypatch, caplog):
    monkeypatch.setattr(speech, "find_espeak", lambda: None)
    with caplog.at_level(logging.INFO, logger="litedepth"):
        sp = make_speaker(True)
    assert isinstance(sp, NullSpeaker) and "espeak-ng not found" in caplog.text
    assert isinstance(make_speaker(False), NullSpeaker)


@pytest.mark.skipif(find_espeak() is None, reason="espeak-ng is not installed")
def test_espeak_ng_writes_speech(tmp_path):
    wav = tmp_path / "alert.wav"
    sp = EspeakSpeaker(command=[find_espeak(), "-w", str(wav)])
    sp.say("person ahead, 0.8 metres")
    sp.close(wait=True)
    assert sp.spoken == ["person ahead, 0.8 metres"]
    assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 5000


def test_close_without_wait_stops_the_utterance_being_spoken(tmp_path):
    log_path = tmp_path / "spoken.txt"
    sp = EspeakSpeaker(command=_slow_logger_command(log_path, delay=30), timeout_s=60)
    sp.say("long message")
    deadline = time.monotonic() + 5
    while sp._proc is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc = sp._proc
    assert proc is not None
    sp.close(wait=False)
    assert proc.wait(timeout=5) != 0  # terminated, not left running for its 30 s
    sp._thread.join(timeout=5)
    assert not sp._thread.is_alive()
    assert not log_path.exists() and sp.describe()["spoken"] == 0
