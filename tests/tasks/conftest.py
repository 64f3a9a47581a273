"""Fixtures for training tests: a tiny random image/depth folder and a config writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_folder")
    (root / "images").mkdir()
    (root / "depth").mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(root / "images" / f"f{i:02d}.png")
        Image.fromarray(rng.integers(500, 4000, (32, 48)).astype(np.uint16)).save(root / "depth" / f"f{i:02d}.png")
    return root


