"""One list of image suffixes (litedepth.io.images.IMAGE_SUFFIXES); the old names are aliases."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from PIL import Image

from litedepth.io.images import IMAGE_SUFFIXES, read_rgb


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("litedepth.data.frames", "IMAGE_EXTS"),
        ("litedepth.data.folder", "IMAGE_EXTS"),
        ("litedepth.data.segmentation", "IMAGE_EXTS"),
        ("litedepth.data.voc", "IMAGE_EXTS"),
        ("litedepth.data.video_folder", "FRAME_EXTS"),
        ("litedepth.inference.files", "IMAGE_EXTS"),
        ("litedepth.io.video", "IMAGE_EXTS"),
        ("litedepth.teachers.hf", "IMAGE_EXTS"),
    ],
)
def test_every_image_reader_uses_the_one_list(module, name):
    assert getattr(importlib.import_module(module), name) is IMAGE_SUFFIXES


@pytest.mark.parametrize("suffix", IMAGE_SUFFIXES)
def test_every_listed_suffix_is_read_as_rgb(tmp_path, suffix):
    rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    path = tmp_path / f"x{suffix}"
    if suffix == ".pgm":  # a grey format: read as three equal channels
        Image.fromarray(rgb[..., 0]).save(path)
    else:
        Image.fromarray(rgb).save(path)
    out = read_rgb(path)
    assert out.shape == (6, 8, 3) and out.dtype == np.uint8
    if suffix in (".png", ".bmp", ".ppm", ".tif", ".tiff"):  # lossless
        assert np.array_equal(out, rgb)
