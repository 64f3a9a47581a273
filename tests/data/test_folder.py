"""FolderDepthDataset: matching, splits, resizing that keeps invalid pixels invalid, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from litedepth.data import FolderDepthDataset, match_pairs, split_indices
from litedepth.data.folder import split_sizes
from litedepth.errors import DataError


def _write_pair(root: Path, stem: str, h: int = 20, w: int = 40, depth_ext: str = ".png") -> np.ndarray:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "depth").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(stem)) % 2**32)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / "images" / f"{stem}.jpg")
    depth_mm = rng.integers(500, 5000, (h, w)).astype(np.uint16)
    depth_mm[:2, :] = 0  # two invalid rows (nearest-exact 2x downsampling samples row 1)
    if depth_ext == ".png":
        Image.fromarray(depth_mm).save(root / "depth" / f"{stem}.png")
    else:
        np.save(root / "depth" / f"{stem}.npy", depth_mm.astype(np.float32) / 1000.0)
    return depth_mm


def test_split_is_deterministic_disjoint_and_complete():
    parts = {s: split_indices(50, s, seed=42) for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [40, 5, 5]
    for n in range(12):
        assert {s: len(split_indices(n, s, seed=3)) for s in ("train", "val", "test")} == split_sizes(n)
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == list(range(50))
    assert split_indices(50, "train", seed=42) == parts["train"]
    assert split_indices(50, "train", seed=7) != parts["train"]


def test_matching_by_stem_and_unmatched_error(tmp_path):
    for s in ("a", "b", "c"):
        _write_pair(tmp_path, s)
    assert [p.name for p in match_pairs(tmp_path)] == ["a", "b", "c"]
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "images" / "orphan.png")
    with pytest.raises(DataError, match="orphan.png"):
        match_pairs(tmp_path)


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        match_pairs(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "depth").mkdir()
    with pytest.raises(DataError, match="no image files"):
        match_pairs(tmp_path)


def test_an_empty_split_says_how_many_pairs_it_needs(tmp_path):
    for s in ("a", "b"):
        _write_pair(tmp_path, s)
    assert len(FolderDepthDataset(tmp_path, split="train", size=None)) == 1
    with pytest.raises(DataError, match=r"split 'val' is empty: 2 pairs in total, fractions \(0.8, 0.1, 0.1\) give "
                                        r"train 1, val 0, test 1; it needs at least 3 pairs"):
        FolderDepthDataset(tmp_path, split="val", size=None)
    with pytest.raises(DataError, match=r"fractions \(0.2, 0.1, 0.7\) give train 0, val 0, test 2; it needs at least 5 pairs"):
        FolderDepthDataset(tmp_path, split="train", size=None, fractions=(0.2, 0.1, 0.7))
    with pytest.raises(DataError, match="no number of pairs fills it with these fractions"):
        FolderDepthDataset(tmp_path, split="train", size=None, fractions=(0.0, 0.5, 0.5))


@pytest.mark.parametrize("ext", [".png", ".npy"])
def test_item_resizes_and_keeps_invalid_pixels_invalid(tmp_path, ext):
    raw = _write_pair(tmp_path, "x", h=20, w=40, depth_ext=ext)
    ds = FolderDepthDataset(tmp_path, split="all", size=(10, 20), depth_scale="nyu")
    item = ds[0]
    assert item["image"].shape == (3, 10, 20) and item["depth"].shape == (1, 10, 20)
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    d = item["depth"][0].numpy()
    # nearest neighbour: every output value is one of the input values (in metres), none invented
    assert set(np.unique(d)).issubset(set(np.unique(raw.astype(np.float32) / 1000.0)) | {0.0})
    assert (d[0] == 0).all()  # invalid row stays invalid, never 0.01
    assert (d[1:] > 0.4).all()


def test_corrupt_image_names_the_file(tmp_path):
    _write_pair(tmp_path, "bad")
    (tmp_path / "images" / "bad.jpg").write_bytes(b"not a jpeg")
    ds = FolderDepthDataset(tmp_path, split="all", size=(10, 20))
    with pytest.raises(DataError, match="bad.jpg"):
        ds[0]


def test_wrong_shape_depth_names_the_file(tmp_path):
    _write_pair(tmp_path, "s", h=20, w=40)
    np.save(tmp_path / "depth" / "s.npy", np.ones((40, 10), np.float32))
    (tmp_path / "depth" / "s.png").unlink()
    ds = FolderDepthDataset(tmp_path, split="all", size=(10, 20))
    with pytest.raises(DataError, match="s.npy"):
        ds[0]
