"""A tiny randomly initialised Depth Anything model saved in the Hugging Face format."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hf_tiny import write_tiny_depth_anything

__all__ = ["write_tiny_depth_anything"]


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Depth Anything checkpoint (offline, HF format)."""
    return write_tiny_depth_anything(tmp_path_factory.mktemp("tiny-depth-anything"))
