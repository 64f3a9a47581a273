"""Fixtures for training tests: a tiny random image/depth folder and a config writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_tiny_depth_folder


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    return write_tiny_depth_folder(tmp_path_factory.mktemp("tiny_folder"))
