"""The folder dataset names its depth encoding (issue 11, finding 4): .ppm images, .pgm depth
with an explicit encoding, no default scale, and ``depth_scale`` kept as a deprecated alias."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from litedepth.data.folder import DepthDataModule, FolderDepthDataset
from litedepth.errors import ConfigError


def _folder(root, depth_name, raw, order="<"):
    (root / "images").mkdir(parents=True)
    (root / "depth").mkdir()
    Image.fromarray(np.full((4, 6, 3), 90, np.uint8)).save(root / "images" / "a.ppm")
    arr = np.asarray(raw, dtype=f"{order}u2")
    path = root / "depth" / depth_name
    if depth_name.endswith(".pgm"):
        path.write_bytes(f"P5\n{arr.shape[1]} {arr.shape[0]}\n65535\n".encode() + arr.tobytes())
    else:
        Image.fromarray(arr.astype(np.uint16)).save(path)
    return root


def test_ppm_image_and_nyu_raw_pgm_depth(tmp_path):
    raw = np.full((4, 6), 800)
    raw[0] = 2047
    root = _folder(tmp_path, "a.pgm", raw)
    ds = FolderDepthDataset(root, split="all", size=None, depth_encoding="nyu-raw")
    item = ds[0]
    assert item["image"].shape == (3, 4, 6)
    d = item["depth"][0].numpy()
    assert (d[0] == 0).all()
    np.testing.assert_allclose(d[1:], 351.3 / 292.5, rtol=1e-6)


def test_no_encoding_for_a_pgm_is_refused_in_one_line(tmp_path):
    root = _folder(tmp_path, "a.pgm", np.full((4, 6), 1500), ">")
    ds = FolderDepthDataset(root, split="all", size=None)
    with pytest.raises(ConfigError, match=r"a\.pgm: no depth encoding given; a \.pgm is not self-describing"):
        ds[0]
    dm = DepthDataModule(str(root), size=(4, 6), num_workers=0, train_split="all", val_split="all")
    with pytest.raises(ConfigError, match="not self-describing.*'nyu'.*'nyu-raw'"):
        dm.setup()


def test_sunrgbd_png_in_a_folder(tmp_path):
    root = _folder(tmp_path, "a.png", np.full((4, 6), 6465))  # 9000 mm rotated left by 3 bits
    ds = FolderDepthDataset(root, split="all", size=None, depth_encoding="sunrgbd")
    np.testing.assert_allclose(ds[0]["depth"].numpy(), 9.0)


def test_depth_scale_still_works_with_a_deprecation_warning(tmp_path):
    root = _folder(tmp_path, "a.png", np.full((4, 6), 2560))
    with pytest.warns(DeprecationWarning, match="depth_scale is deprecated"):
        old = FolderDepthDataset(root, split="all", size=None, depth_scale="kitti")
    with pytest.warns(DeprecationWarning):
        number = FolderDepthDataset(root, split="all", size=None, depth_scale=256.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = FolderDepthDataset(root, split="all", size=None, depth_encoding="kitti")
    for ds in (old, number, new):
        np.testing.assert_allclose(ds[0]["depth"].numpy(), 10.0)
    with pytest.raises(ConfigError, match="not both"):
        FolderDepthDataset(root, split="all", size=None, depth_encoding="kitti", depth_scale=256)


def test_data_module_records_the_canonical_encoding(tmp_path):
    root = _folder(tmp_path, "a.png", np.full((4, 6), 5000))
    with pytest.warns(DeprecationWarning):
        dm = DepthDataModule(str(root), size=(4, 6), num_workers=0, depth_scale="nyu",
                             train_split="all", val_split="all")
    assert dm.hparams["depth_encoding"] == "mm" and "depth_scale" not in dm.hparams
    dm.setup()
    np.testing.assert_allclose(dm.val_set[0]["depth"].numpy(), 5.0)
    tum = DepthDataModule(str(root), size=(4, 6), num_workers=0, depth_encoding="TUM")
    assert tum.hparams["depth_encoding"] == "tum"
