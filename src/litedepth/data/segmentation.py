"""Segmentation (+ depth) datasets: PASCAL VOC 2012 or any folder of images and masks.

Two layouts:

* ``layout="voc"`` — PASCAL VOC 2012 (:mod:`litedepth.data.voc`): ``JPEGImages/``,
  ``SegmentationClass/`` palette PNGs, splits from ``ImageSets/Segmentation/<split>.txt``.
* ``layout="folder"`` — ``root/<images_dir>/NAME<image_suffix>.jpg|png`` and
  ``root/<masks_dir>/NAME<mask_suffix>.png``, matched by ``NAME``; the split is the seeded
  80/10/10 permutation of :func:`litedepth.data.folder.split_indices`. The synthetic
  generator's output (``images/``, ``labels/``, ``depth/``) is such a folder, and so is a
  folder of ``sample_000_image.png`` + ``sample_000_SegmentationClass.png`` files
  (``images_dir=masks_dir="."``, ``image_suffix="_image"``, ``mask_suffix="_SegmentationClass"``).

Masks are palette (mode ``"P"``) or single-channel PNGs whose pixel values are class ids in
``[0, num_classes)`` or ``ignore_index`` (255 = void). An RGB colour mask, a mask whose size
differs from its image, or unknown class ids raise :class:`~litedepth.errors.DataError`
naming the file.

Depth targets (optional, for the multi-task model), one of:

* ``pseudo_labels``: a teacher cache written by ``litedepth pseudo-label`` (seed 002: depth
  from a DINOv2 + DPT teacher, e.g. Depth Anything V2). The key of an image is its path
  relative to the image folder (``JPEGImages/`` for VOC), exactly the keys of
  ``litedepth pseudo-label --dataset images --root <image folder>``. Relative-disparity maps
  are min-max normalised per image to ``[0, 1]`` (``teacher_normalisation="auto"``), so the
  depth head learns a relative map in the units of the seed's pseudo depth images;
* ``depth_dir``: ground-truth depth files ``NAME.png|npy`` in metres (``depth_encoding`` as in
  :func:`litedepth.io.images.read_depth`), e.g. the synthetic generator's ``depth/``.

Augmentation (training only) is joint (:mod:`litedepth.data.joint_transforms`), so image, mask and depth stay aligned: a random scale
``s`` from ``scale_range`` of the image resized to cover ``size`` (aspect kept; bilinear for
the image, nearest for mask and depth), padding where smaller (image 0, mask void, depth
invalid), a random ``size`` crop, and a horizontal flip with probability 0.5. Validation
images are resized to ``size`` (aspect not kept), masks and depth with nearest neighbour.

A sample is a dict: ``image`` ``(3, H, W)`` float in ``[0, 1]``; ``mask`` ``(H, W)`` int64
class ids (``ignore_index`` = void); ``depth`` ``(1, H, W)`` float32 (relative map or metres,
0 where invalid); ``depth_valid`` ``(1, H, W)`` bool (all false without a depth source);
``name``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from litedepth.data.joint_transforms import joint_hflip, joint_resize, random_scale_crop
from litedepth.io.images import IMAGE_SUFFIXES, read_depth, read_rgb
from litedepth.data.loaders import make_loader
from litedepth.errors import ConfigError, DataError

log = logging.getLogger(__name__)

__all__ = [
    "SegItem",
    "SegmentationDataModule",
    "SegmentationDataset",
    "folder_items",
    "joint_hflip",
    "joint_resize",
    "random_scale_crop",
    "read_mask",
    "voc_items",
]

IMAGE_EXTS = IMAGE_SUFFIXES  # alias of the one list of image suffixes (litedepth.io.images)
MASK_EXTS = (".png", ".bmp", ".tif", ".tiff")
DEPTH_EXTS = (".png", ".npy", ".pgm", ".tif", ".tiff")
TeacherNorm = Literal["auto", "minmax", "median", "none"]


@dataclass(frozen=True)
class SegItem:
    """One sample's files: ``name``, ``image``, ``mask``, the pseudo-label ``key`` (image path
    relative to the image folder) and an optional ground-truth ``depth`` file."""

    name: str
    image: Path
    mask: Path
    key: str
    depth: Path | None = None


# ---------------------------------------------------------------------------- reading


def read_mask(path: str | Path, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Read a class-index mask: ``(H, W)`` uint8 class ids (``ignore_index`` = void).

    Accepts palette PNGs (mode ``"P"``, VOC's ``SegmentationClass``: the stored indices are
    the class ids) and single-channel 8/16-bit images of class ids.

    Raises:
        DataError: unreadable file, colour (RGB/RGBA) mask, or values outside
            ``[0, num_classes)`` other than ``ignore_index`` (the unknown values are listed).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "mask file not found")
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LA", "PA", "HSV", "LAB"):
                raise DataError(path, f"mask is a colour image (mode {mode}); expected a palette PNG (mode P) "
                                      "or a single-channel image of class ids")
            arr = np.asarray(im)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as exc:
        raise DataError(path, f"cannot read mask ({exc})") from None
    if arr.ndim != 2:
        raise DataError(path, f"mask must be a 2-D image of class ids, got shape {arr.shape}")
    values = np.unique(arr)
    bad = [int(v) for v in values if not (0 <= v < num_classes or v == ignore_index)]
    if bad:
        raise DataError(path, f"unknown class indices {bad[:10]} (expected 0..{num_classes - 1}, "
                              f"or {ignore_index} = void)")
    return arr.astype(np.uint8) if arr.dtype != np.uint8 else arr


def _normalise_teacher(values: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Teacher map -> ``(target, valid)``; see :class:`SegmentationDataset`."""
    v = np.asarray(values, dtype=np.float32)
    valid = np.isfinite(v)
    if how == "none" or not valid.any():
        return np.where(valid, v, 0.0).astype(np.float32), valid
    good = v[valid]
    if how == "minmax":
        lo, hi = float(good.min()), float(good.max())
        out = (v - lo) / max(hi - lo, 1e-12)
    elif how == "median":
        pos = good[good > 0]
        med = float(np.median(pos)) if pos.size else 1.0
        out = v / max(med, 1e-12)
    else:
        raise ConfigError(f"unknown teacher_normalisation {how!r}; choose auto, minmax, median or none")
    return np.where(valid, out, 0.0).astype(np.float32), valid


# ---------------------------------------------------------------------------- listing


def _index(folder: Path, exts: Sequence[str], suffix: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(folder, "folder not found")
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if not (p.is_file() and p.suffix.lower() in exts):
            continue
        if suffix and not p.stem.endswith(suffix):
            continue
        name = p.stem[: len(p.stem) - len(suffix)] if suffix else p.stem
        if name in files:
            raise DataError(p, f"two files share the name {name!r} ({files[name].name}, {p.name})")
        files[name] = p
    return files


def _attach_depth(items: list[SegItem], depth_dir: Path | None) -> list[SegItem]:
    if depth_dir is None:
        return items
    depths = _index(depth_dir, DEPTH_EXTS, "")
    missing = [it.name for it in items if it.name not in depths]
    if missing:
        raise DataError(depth_dir, f"{len(missing)} image(s) without a depth file: {', '.join(missing[:5])}")
    return [SegItem(it.name, it.image, it.mask, it.key, depths[it.name]) for it in items]


def folder_items(
    root: str | Path,
    images_dir: str = "images",
    masks_dir: str = "masks",
    image_suffix: str = "",
    mask_suffix: str = "",
    depth_dir: str | None = None,
) -> list[SegItem]:
    """Images and masks of a folder layout matched by name (module docstring), sorted.

    Raises:
        DataError: missing folders, no images, or names without a partner (listed).
    """
    root = Path(root)
    image_root = root / images_dir
    images = _index(image_root, IMAGE_EXTS, image_suffix)
    masks = _index(root / masks_dir, MASK_EXTS, mask_suffix)
    if image_root.resolve() == (root / masks_dir).resolve() and not (image_suffix or mask_suffix):
        raise ConfigError("images and masks share one folder: give image_suffix / mask_suffix to tell them apart")
    if not images:
        raise DataError(image_root, f"no image files ({', '.join(IMAGE_EXTS)}) named *{image_suffix}")
    only_img = sorted(set(images) - set(masks))
    if only_img:
        raise DataError(root / masks_dir, f"{len(only_img)} image(s) without a mask: {', '.join(only_img[:5])}")
    items = [SegItem(n, images[n], masks[n], images[n].relative_to(image_root).as_posix()) for n in sorted(images)]
    return _attach_depth(items, root / depth_dir if depth_dir else None)


def voc_items(root: str | Path, split: str, depth_dir: str | None = None) -> list[SegItem]:
    """The images of a PASCAL VOC 2012 segmentation split (keys relative to ``JPEGImages/``)."""
    from litedepth.data.voc import list_voc_split, resolve_voc_root

    voc = resolve_voc_root(root)
    items = [SegItem(i, img, mask, img.relative_to(voc / "JPEGImages").as_posix()) for i, img, mask in list_voc_split(voc, split)]
    return _attach_depth(items, Path(root) / depth_dir if depth_dir else None)


# ---------------------------------------------------------------------------- dataset


class SegmentationDataset(Dataset):
    """Images, class masks and optional depth targets (module docstring for the sample dict).

    Args:
        items: the files (:func:`voc_items`, :func:`folder_items`).
        num_classes: ``C``; mask values must be in ``[0, C)`` or ``ignore_index``.
        size: ``(height, width)`` of the samples.
        train: random scale / crop / flip (else resize to ``size``).
        hflip, scale_range: training augmentation.
        pseudo_labels: teacher cache folder (``litedepth pseudo-label``), or ``None``.
        teacher_normalisation: ``"auto"`` (min-max for relative disparity, ``"none"`` for
            metric teachers), ``"minmax"`` (per image to ``[0, 1]``), ``"median"`` (divide
            by the median of positive values) or ``"none"``.
        depth_encoding: encoding of the ground-truth depth files (items with ``depth``): a name,
            alias or number of :mod:`litedepth.io.depth_encodings`; required unless they are
            ``.npy`` metres.
        depth_scale: deprecated former name of ``depth_encoding``.
    """

    def __init__(
        self,
        items: Sequence[SegItem],
        num_classes: int = 21,
        ignore_index: int = 255,
        size: tuple[int, int] = (512, 512),
        train: bool = False,
        hflip: bool = True,
        scale_range: tuple[float, float] = (0.5, 2.0),
        pseudo_labels: str | Path | None = None,
        teacher_normalisation: TeacherNorm = "auto",
        depth_encoding: Any = None,
        depth_scale: float | str | None = None,
    ) -> None:
        from litedepth.data.folder import resolve_depth_encoding

        self.items = list(items)
        if not self.items:
            raise DataError(None, "the segmentation dataset is empty")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.size = (int(size[0]), int(size[1]))
        self.train = train
        self.hflip = hflip
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.depth_encoding = resolve_depth_encoding(depth_encoding, depth_scale)
        self.cache = None
        self.teacher_normalisation = "none"
        if pseudo_labels is not None:
            from litedepth.io.pseudo_labels import MANIFEST_NAME, PseudoLabelCache

            cache_root = Path(pseudo_labels)
            if not (cache_root / MANIFEST_NAME).is_file():
                raise DataError(cache_root, "no pseudo-label cache here (manifest.json missing); create it with "
                                            "`litedepth pseudo-label --dataset images --root <image folder> --out ...`")
            self.cache = PseudoLabelCache(cache_root)
            kind = self.cache.manifest.get("output_kind") or "relative_disparity"
            if teacher_normalisation == "auto":
                teacher_normalisation = "minmax" if kind == "relative_disparity" else "none"
            if teacher_normalisation not in ("minmax", "median", "none"):
                raise ConfigError(f"unknown teacher_normalisation {teacher_normalisation!r}")
            self.teacher_normalisation = teacher_normalisation
            missing = [it.key for it in self.items if it.key not in self.cache.manifest["frames"] and not self.cache.has(it.key)]
            if missing:
                raise DataError(cache_root, f"{len(missing)} image(s) have no pseudo-label (keys are paths relative "
                                            f"to the image folder): {', '.join(missing[:5])}")
        if self.cache is not None and any(it.depth is not None for it in self.items):
            raise ConfigError("give either pseudo_labels or depth_dir, not both")

    @property
    def has_depth(self) -> bool:
        """Whether samples carry depth targets."""
        return self.cache is not None or any(it.depth is not None for it in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def _depth(self, item: SegItem, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is not None:
            path = self.cache.path(item.key)
            d, valid = _normalise_teacher(self.cache.get(item.key), self.teacher_normalisation)
            if self.teacher_normalisation == "none" and self.cache.manifest.get("output_kind") == "metric_depth":
                valid &= d > 0
        elif item.depth is not None:
            path = item.depth
            d = read_depth(item.depth, self.depth_encoding)
            valid = d > 0
        else:
            return np.zeros(shape, np.float32), np.zeros(shape, bool)
        if d.ndim != 2:
            raise DataError(path, f"depth must be a 2-D map, got shape {d.shape}")
        if d.shape != shape:
            if abs(d.shape[0] / d.shape[1] - shape[0] / shape[1]) > 0.02:
                raise DataError(path, f"depth map {d.shape[1]}x{d.shape[0]} does not match the aspect of image "
                                      f"{item.image.name} ({shape[1]}x{shape[0]})")
            dt = torch.from_numpy(np.ascontiguousarray(d))[None, None]
            vt = torch.from_numpy(valid)[None, None].float()
            d = F.interpolate(dt, size=shape, mode="nearest-exact")[0, 0].numpy()
            valid = F.interpolate(vt, size=shape, mode="nearest-exact")[0, 0].numpy() > 0.5
        return d.astype(np.float32), valid

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.items[index]
        rgb = read_rgb(item.image)
        mask = read_mask(item.mask, self.num_classes, self.ignore_index)
        if mask.shape != rgb.shape[:2]:
            raise DataError(item.mask, f"mask is {mask.shape[1]}x{mask.shape[0]} but image {item.image.name} is "
                                       f"{rgb.shape[1]}x{rgb.shape[0]}")
        d, v = self._depth(item, mask.shape)
        image = torch.tensor(rgb).permute(2, 0, 1).float().div_(255.0)
        m = torch.from_numpy(mask.astype(np.int64))
        depth = torch.from_numpy(d)[None]
        valid = torch.from_numpy(v)[None]
        if self.train:
            image, m, depth, valid = random_scale_crop(image, m, depth, valid, self.size, self.scale_range, self.ignore_index)
            if self.hflip and torch.rand(()) < 0.5:
                image, m, depth, valid = joint_hflip(image, m, depth, valid)
        else:
            image, m, depth, valid = joint_resize(image, m, depth, valid, self.size)
        depth = torch.where(valid, depth, torch.zeros_like(depth))
        return {"image": image.contiguous(), "mask": m.contiguous(), "depth": depth.contiguous(),
                "depth_valid": valid.contiguous(), "name": item.name}


# ---------------------------------------------------------------------------- data module


class SegmentationDataModule(L.LightningDataModule):
    """Lightning data module over PASCAL VOC 2012 or a folder of images + masks.

    Args:
        root: the VOC 2012 folder (or ``VOCdevkit``), or the folder layout's root.
        layout: ``"voc"`` or ``"folder"`` (module docstring).
        size: ``(height, width)`` of training crops and validation images.
        batch_size, num_workers: loader options.
        train_split, val_split: VOC: names of ``ImageSets/Segmentation/*.txt``; folder:
            ``train`` / ``val`` / ``test`` / ``all`` of the seeded permutation.
        num_classes, ignore_index: mask values (VOC: 21 and 255).
        class_names: names of the classes (VOC: :data:`~litedepth.data.voc.VOC_CLASSES`).
        images_dir, masks_dir, image_suffix, mask_suffix: folder layout names.
        split_seed, fractions: folder layout split.
        pseudo_labels, teacher_normalisation: teacher depth targets (see
            :class:`SegmentationDataset`).
        depth_dir, depth_encoding: ground-truth depth files (folder relative to ``root``) and
            their encoding (:class:`SegmentationDataset`); ``depth_scale`` is its deprecated
            former name.
        hflip, scale_range: training augmentation.
    """

    def __init__(
        self,
        root: str,
        layout: Literal["voc", "folder"] = "voc",
        size: tuple[int, int] = (512, 512),
        batch_size: int = 8,
        num_workers: int = 4,
        train_split: str = "train",
        val_split: str = "val",
        num_classes: int = 21,
        ignore_index: int = 255,
        class_names: list[str] | None = None,
        images_dir: str = "images",
        masks_dir: str = "masks",
        image_suffix: str = "",
        mask_suffix: str = "",
        split_seed: int = 42,
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        pseudo_labels: str | None = None,
        teacher_normalisation: TeacherNorm = "auto",
        depth_dir: str | None = None,
        depth_encoding: str | float | None = None,
        hflip: bool = True,
        scale_range: tuple[float, float] = (0.5, 2.0),
        depth_scale: str | float | None = None,
    ) -> None:
        from litedepth.data.folder import resolve_depth_encoding

        super().__init__()
        if layout not in ("voc", "folder"):
            raise ConfigError(f"layout must be 'voc' or 'folder', got {layout!r}")
        encoding = resolve_depth_encoding(depth_encoding, depth_scale)
        self.save_hyperparameters(ignore=["depth_scale"])
        self.hparams["depth_encoding"] = None if encoding is None else encoding.name
        self.root = root
        self.layout = layout
        self.size = (int(size[0]), int(size[1]))
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.num_classes = num_classes
        if class_names is None and layout == "voc" and num_classes == 21:
            from litedepth.data.voc import VOC_CLASSES

            class_names = list(VOC_CLASSES)
        if class_names is not None and len(class_names) != num_classes:
            raise ConfigError(f"class_names has {len(class_names)} names for {num_classes} classes")
        self.class_names = class_names
        self.ignore_index = ignore_index

    @property
    def has_depth(self) -> bool:
        """Whether the samples carry depth targets (a teacher cache or depth files)."""
        return self.hparams.pseudo_labels is not None or self.hparams.depth_dir is not None

    def items(self, split: str) -> list[SegItem]:
        """The files of ``split``."""
        hp = self.hparams
        if self.layout == "voc":
            return voc_items(self.root, split, hp.depth_dir)
        from litedepth.data.folder import split_indices

        items = folder_items(self.root, hp.images_dir, hp.masks_dir, hp.image_suffix, hp.mask_suffix, hp.depth_dir)
        chosen = [items[i] for i in split_indices(len(items), split, hp.fractions, hp.split_seed)]
        if not chosen:
            raise DataError(self.root, f"split {split!r} is empty ({len(items)} images in total)")
        return chosen

    def dataset(self, split: str, train: bool = False) -> SegmentationDataset:
        hp = self.hparams
        return SegmentationDataset(self.items(split), self.num_classes, self.ignore_index, self.size, train=train,
                                   hflip=hp.hflip, scale_range=tuple(hp.scale_range), pseudo_labels=hp.pseudo_labels,
                                   teacher_normalisation=hp.teacher_normalisation, depth_encoding=hp.depth_encoding)

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self.train_set = self.dataset(self.hparams.train_split, train=True)
        if stage in (None, "fit", "validate"):
            self.val_set = self.dataset(self.hparams.val_split)

    def _loader(self, ds: Dataset, train: bool) -> DataLoader:
        return make_loader(ds, self.batch_size, self.num_workers, train=train, source=self.root)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)
