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
