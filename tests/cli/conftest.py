"""Fixtures of the command-line tests: a tiny image/depth folder and a tiny teacher."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_tiny_depth_folder


@pytest.fixture(scope="session")
def tiny_depth_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``images/`` + ``depth/`` (10 random 32x48 pairs, uint16 mm) for ``litedepth train``."""
    return write_tiny_depth_folder(tmp_path_factory.mktemp("tiny_depth"))


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Depth Anything checkpoint folder (Hugging Face format, offline)."""
    from tests.teachers.conftest import write_tiny_depth_anything

    return write_tiny_depth_anything(tmp_path_factory.mktemp("tiny-teacher"))
