"""PASCAL VOC / image+mask folders: palette, layout, mask checks, teacher depth, joint augmentation."""

from __future__ import annotations

import doctest
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import litedepth.data.voc as voc_mod
from litedepth.data.segmentation import (
    SegmentationDataModule,
    SegmentationDataset,
    folder_items,
    joint_hflip,
    random_scale_crop,
    read_mask,
    voc_items,
)
from litedepth.data.voc import VOC_CLASSES, list_voc_split, voc_palette
from litedepth.errors import ConfigError, DataError
from litedepth.io.pseudo_labels import PseudoLabelCache
from tests.conftest import real_subdir


def test_doctests_and_palette():
    assert doctest.testmod(voc_mod, raise_on_error=False).failed == 0
    pal = voc_palette()
    assert len(VOC_CLASSES) == 21 and pal.shape == (256, 3)
    assert len({tuple(c) for c in pal[:21]}) == 21
    assert pal[20].tolist() == [0, 64, 128]  # tvmonitor


def save_palette(path, arr):
    im = Image.fromarray(arr.astype(np.uint8), mode="P")
    im.putpalette(voc_palette().reshape(-1).tolist())
    im.save(path)


def make_voc(root, n=4, size=(30, 40), seed=0):
    rng = np.random.default_rng(seed)
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ids = [f"2007_{i:06d}" for i in range(n)]
    for i in ids:
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(root / "JPEGImages" / f"{i}.jpg")
        mask = rng.integers(0, 21, size)
        mask[0] = 255
        save_palette(root / "SegmentationClass" / f"{i}.png", mask)
    (root / "ImageSets/Segmentation/train.txt").write_text("\n".join(ids[:3]) + "\n")
    (root / "ImageSets/Segmentation/val.txt").write_text(ids[3] + "\n")
    return ids


def test_voc_layout(tmp_path):
    ids = make_voc(tmp_path / "VOCdevkit" / "VOC2012")
    items = list_voc_split(tmp_path / "VOCdevkit", "train")  # the devkit folder works too
    assert [i for i, _, _ in items] == ids[:3]
    with pytest.raises(DataError, match="present: train, val"):
        list_voc_split(tmp_path / "VOCdevkit", "trainval")
    (tmp_path / "VOCdevkit/VOC2012/SegmentationClass" / f"{ids[1]}.png").unlink()
    with pytest.raises(DataError, match=rf"{ids[1]} \(mask\)"):
        voc_items(tmp_path / "VOCdevkit", "train")
    with pytest.raises(DataError, match="not a PASCAL VOC"):
        list_voc_split(tmp_path / "VOCdevkit" / "VOC2012" / "JPEGImages", "train")


def test_read_mask_errors_name_the_file(tmp_path):
    good = tmp_path / "good.png"
    save_palette(good, np.array([[0, 20], [255, 3]]))
    assert read_mask(good, 21).tolist() == [[0, 20], [255, 3]]
    grey = tmp_path / "grey.png"
    Image.fromarray(np.array([[0, 6]], np.uint8), mode="L").save(grey)
    assert read_mask(grey, 7).tolist() == [[0, 6]]
    rgb = tmp_path / "colour.png"
    Image.fromarray(voc_palette()[np.array([[0, 1]])]).save(rgb)
    with pytest.raises(DataError, match=r"colour.png: mask is a colour image \(mode RGB\)"):
        read_mask(rgb, 21)
    unknown = tmp_path / "unknown.png"
    save_palette(unknown, np.array([[0, 21], [40, 255]]))
    with pytest.raises(DataError, match=r"unknown.png: unknown class indices \[21, 40\]"):
        read_mask(unknown, 21)
    with pytest.raises(DataError, match="not found"):
        read_mask(tmp_path / "none.png", 21)


def test_mask_of_another_size_is_an_error(tmp_path):
    make_voc(tmp_path)
    save_palette(tmp_path / "SegmentationClass" / "2007_000003.png", np.zeros((10, 10)))
    ds = SegmentationDataset(voc_items(tmp_path, "val"), size=(16, 16))
    with pytest.raises(DataError, match=r"2007_000003.png: mask is 10x10 but image 2007_000003.jpg is 40x30"):
        ds[0]


def test_joint_augmentation_keeps_image_mask_and_depth_aligned():
    h, w = 48, 64
    ramp = torch.linspace(0, 1, w).expand(h, w)
    image = torch.stack([ramp, 1 - ramp, torch.zeros(h, w)])
    mask = (ramp * 3.999).long()  # 4 vertical stripes
    depth = (1.0 + ramp)[None]
    valid = torch.ones(1, h, w, dtype=torch.bool)
    gen = torch.Generator().manual_seed(0)
    for trial in range(20):
        im, m, d, v = random_scale_crop(image, mask, depth, valid, (32, 32), (0.3, 2.0), generator=gen)
        if trial % 2:
            im, m, d, v = joint_hflip(im, m, d, v)
        assert im.shape == (3, 32, 32) and m.shape == (32, 32) and d.shape == v.shape == (1, 32, 32)
        assert torch.equal(m == 255, ~v[0]), "padding is void in the mask and invalid in depth"
        inside = v[0]
        # mask and depth are both nearest-neighbour samples of the same pixel
        assert torch.equal(m[inside], ((d[0][inside] - 1.0) * 3.999).long())
        # the image (bilinear) agrees with depth within the ramp's slope over a pixel
        assert (im[0][inside] - (d[0][inside] - 1.0)).abs().max() < 3.0 / min(w, 32 * 0.3)
        assert torch.allclose(im[1][inside], 1 - im[0][inside], atol=1e-5)


def test_teacher_depth_from_the_pseudo_label_cache(tmp_path):
    ids = make_voc(tmp_path)
    cache = PseudoLabelCache(tmp_path / "cache")
    cache.set_teacher({"id": "test", "output_kind": "relative_disparity"})
    ramps = {}
    for k, i in enumerate(ids):
        ramps[i] = np.tile(np.linspace(2.0, 10.0 + k, 40, dtype=np.float32), (30, 1))
        cache.put(f"{i}.jpg", ramps[i])  # keys: paths relative to JPEGImages/
    cache.flush()
    dm = SegmentationDataModule(str(tmp_path), size=(30, 40), num_workers=0, pseudo_labels=str(tmp_path / "cache"))
    dm.setup()
    s = dm.val_set[0]
    assert dm.has_depth and dm.class_names == list(VOC_CLASSES)
    assert s["depth_valid"].all()
    assert float(s["depth"].min()) == pytest.approx(0.0) and float(s["depth"].max()) == pytest.approx(1.0, abs=1e-3)
    assert s["depth"][0, 5].tolist() == pytest.approx(np.linspace(0, 1, 40).tolist(), abs=2e-3)  # float16 storage
    t = dm.train_set[0]
    assert t["image"].shape == (3, 30, 40) and t["mask"].dtype == torch.int64
    assert torch.equal(t["mask"] == 255, ~t["depth_valid"][0] | (t["mask"] == 255))
    # a missing key is named
    (cache.path(f"{ids[3]}.jpg")).unlink()
    del cache.manifest["frames"][f"{ids[3]}.jpg"]
    cache.flush()
    with pytest.raises(DataError, match=f"{ids[3]}.jpg"):
        SegmentationDataModule(str(tmp_path), size=(30, 40), pseudo_labels=str(tmp_path / "cache")).dataset("val")
    with pytest.raises(DataError, match="manifest.json missing"):
        SegmentationDataModule(str(tmp_path), pseudo_labels=str(tmp_path)).dataset("val")


def test_folder_layout_with_metric_depth(tmp_path):
    from litedepth.data.synthetic import CLASS_NAMES, SceneConfig, make_dataset

    make_dataset(tmp_path, n_sequences=1, frames_per_sequence=3, cfg=SceneConfig(kind="room", height=24, width=32), seed=1)
    dm = SegmentationDataModule(str(tmp_path), layout="folder", masks_dir="labels", depth_dir="depth",
                                depth_scale="mm", num_classes=len(CLASS_NAMES), class_names=list(CLASS_NAMES),
                                size=(24, 32), train_split="all", val_split="all", num_workers=0)
    dm.setup()
    s = dm.val_set[1]
    assert len(dm.val_set) == 3 and s["mask"].max() < len(CLASS_NAMES)
    d = s["depth"][s["depth_valid"]]
    assert 0.2 < float(d.min()) and float(d.max()) < 30.0  # metres
    with pytest.raises(ConfigError, match="class_names"):
        SegmentationDataModule(str(tmp_path), layout="folder", num_classes=7, class_names=["a"])
    with pytest.raises(DataError, match="without a mask"):
        folder_items(tmp_path, masks_dir="poses")


def test_real_voc_samples(real_data, tmp_path):
    folder = real_subdir(real_data, "voc2012_val_samples")
    items = folder_items(folder, ".", ".", "_image", "_SegmentationClass")
    assert len(items) == 10
    seen = set()
    for it in items:
        mask = read_mask(it.mask, 21)
        with Image.open(it.mask) as im:
            assert im.mode == "P"
            assert im.getpalette()[: 21 * 3] == voc_palette()[:21].reshape(-1).tolist()
        seen |= set(np.unique(mask).tolist())
    assert 255 in seen and 0 in seen and len(seen - {0, 255}) >= 5
    # the same files in the VOC layout
    voc = tmp_path / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    for it in items:
        Image.open(it.image).convert("RGB").save(voc / "JPEGImages" / f"{it.name}.jpg", quality=95)
        shutil.copy(it.mask, voc / "SegmentationClass" / f"{it.name}.png")
    (voc / "ImageSets/Segmentation/val.txt").write_text("\n".join(it.name for it in items) + "\n")
    ds = SegmentationDataset(voc_items(tmp_path, "val"), size=(64, 64))
    s = ds[0]
    assert s["image"].shape == (3, 64, 64) and not s["depth_valid"].any()
