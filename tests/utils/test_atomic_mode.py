"""Atomic writes give new files the permissions a plain ``open()`` would (not mkstemp's 0600)."""

from __future__ import annotations

import os
import stat

from litedepth.utils.atomic import atomic_write_bytes, default_file_mode


def test_atomic_write_uses_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "out.bin"
        atomic_write_bytes(target, b"abc")
        assert target.read_bytes() == b"abc"
        assert stat.S_IMODE(target.stat().st_mode) == 0o644 == default_file_mode()
        assert not [p for p in tmp_path.iterdir() if p.name != "out.bin"]  # no temporary left
    finally:
        os.umask(old)


def test_reading_the_umask_never_changes_it_for_other_threads(tmp_path):
    """Files that other threads create while a writer asks for the default mode keep the
    process's private umask (the web demo writes results while uploads arrive)."""
    import threading

    old = os.umask(0o077)
    stop = threading.Event()
    try:
        def ask() -> None:
            while not stop.is_set():
                assert default_file_mode() == 0o600

        asker = threading.Thread(target=ask)
        asker.start()
        for i in range(300):
            with open(tmp_path / f"f{i}", "w"):
                pass
        stop.set()
        asker.join()
        assert {stat.S_IMODE((tmp_path / f"f{i}").stat().st_mode) for i in range(300)} == {0o600}
    finally:
        stop.set()
        os.umask(old)


def test_writers_that_need_a_file_name_get_the_same_permissions(tmp_path):
    """``atomic_path`` (for writers that take a file name: safetensors, onnx.save...) gives the
    file a plain open()'s mode too, and leaves nothing behind when the writer fails."""
    import pytest

    from litedepth.utils.atomic import atomic_path

    old = os.umask(0o027)
    try:
        target = tmp_path / "w.safetensors"
        with atomic_path(target, suffix=".safetensors") as tmp:
            assert tmp.parent == tmp_path and tmp.name.endswith(".safetensors") and not target.exists()
            tmp.write_bytes(b"weights")
        assert target.read_bytes() == b"weights"
        assert stat.S_IMODE(target.stat().st_mode) == 0o640 == default_file_mode()
        with pytest.raises(RuntimeError), atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer failed")
        assert target.read_bytes() == b"weights"  # unchanged
        with atomic_path(tmp_path / "private.key", permissions=0o600) as tmp:
            tmp.write_bytes(b"k")
        assert stat.S_IMODE((tmp_path / "private.key").stat().st_mode) == 0o600
        assert sorted(p.name for p in tmp_path.iterdir()) == ["private.key", "w.safetensors"]
    finally:
        os.umask(old)
