"""Image/depth folder datasets (seed 000 layout) and their Lightning data module.

Layout::

    root/images/NYU0001.jpg   (or .jpeg, .png, .bmp, .ppm)
    root/depth/NYU0001.png    (any encoding of :mod:`litedepth.io.depth_encodings`, named by
                               ``depth_encoding``: uint16 PNG/PGM/TIFF, SUN RGB-D, NYU raw .pgm,
                               .pfm, float .tif)
    root/depth/NYU0002.npy    (float32 metres, 0 = invalid; needs no encoding)

Images and depth maps are matched by file stem; unmatched files are an error that lists
them. The split into train/val/test is a deterministic permutation of the sorted stems
drawn from ``split_seed`` (seed 000: 80/10/10 with seed 42).

Invalid depth pixels stay 0 through resizing (nearest neighbour for depth) and are masked
out by every loss and metric: the seed's ``replace <= 0 with 0.01`` never reaches a metric.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from litedepth.io.images import IMAGE_SUFFIXES, read_depth, read_rgb
from litedepth.data.loaders import make_loader
from litedepth.errors import ConfigError, DataError
from litedepth.io.depth_encodings import DepthEncoding, encoding_for_file, parse_encoding

log = logging.getLogger(__name__)

IMAGE_EXTS = IMAGE_SUFFIXES  # alias of the one list of image suffixes (litedepth.io.images)
DEPTH_EXTS = (".png", ".npy", ".pgm", ".tif", ".tiff", ".pfm")
SPLITS = ("train", "val", "test", "all")


@dataclass(frozen=True)
class DepthPair:
    """One matched image/depth file pair."""

    name: str
    image: Path
    depth: Path


def _index(folder: Path, exts: Sequence[str]) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(folder, "folder not found")
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in exts and p.is_file():
            if p.stem in files:
                raise DataError(p, f"two files share the stem {p.stem!r} ({files[p.stem].name}, {p.name})")
            files[p.stem] = p
    return files


def match_pairs(root: str | Path, images_dir: str = "images", depth_dir: str = "depth") -> list[DepthPair]:
    """Match ``root/images/*`` with ``root/depth/*`` by file stem.

    Raises:
        DataError: a folder is missing or empty, or some stems have no partner (listed).
    """
    root = Path(root)
    images = _index(root / images_dir, IMAGE_EXTS)
    depths = _index(root / depth_dir, DEPTH_EXTS)
    if not images:
        raise DataError(root / images_dir, f"no image files ({', '.join(IMAGE_EXTS)})")
    if not depths:
        raise DataError(root / depth_dir, f"no depth files ({', '.join(DEPTH_EXTS)})")
    only_img = sorted(set(images) - set(depths))
    only_depth = sorted(set(depths) - set(images))
    if only_img or only_depth:
        parts = []
        if only_img:
            parts.append(f"{len(only_img)} image(s) without depth: {', '.join(images[s].name for s in only_img[:5])}")
        if only_depth:
            parts.append(f"{len(only_depth)} depth file(s) without image: {', '.join(depths[s].name for s in only_depth[:5])}")
        raise DataError(root, "unmatched stems; " + "; ".join(parts))
    return [DepthPair(s, images[s], depths[s]) for s in sorted(images)]


def split_indices(n: int, split: str, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 42) -> list[int]:
    """Indices of ``split`` in a deterministic permutation of ``range(n)``.

    ``train`` takes the first ``floor(fractions[0] * n)`` permuted items, ``val`` the next
    ``floor(fractions[1] * n)`` (at least one when ``n >= 3``), ``test`` the rest; ``all``
    returns every index in order.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {SPLITS}")
    if split == "all":
        return list(range(n))
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must be three numbers summing to 1, got {tuple(fractions)}")
    sizes = split_sizes(n, fractions)
    perm = np.random.default_rng(seed).permutation(n).tolist()
    lo = {"train": 0, "val": sizes["train"], "test": sizes["train"] + sizes["val"]}[split]
    return sorted(perm[lo:lo + sizes[split]])


def split_sizes(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> dict[str, int]:
    """``{"train", "val", "test"}`` sizes :func:`split_indices` gives ``n`` items (the seed
    only decides which items)."""
    n_train = int(fractions[0] * n)
    n_val = int(fractions[1] * n)
    if n >= 3:
        n_val = max(n_val, 1)
        n_train = min(n_train, n - n_val - 1)
    return {"train": n_train, "val": n_val, "test": n - n_train - n_val}


def resolve_depth_encoding(
    depth_encoding: str | float | DepthEncoding | None, depth_scale: str | float | None = None
) -> DepthEncoding | None:
    """The depth encoding of a folder from ``depth_encoding`` or its deprecated alias ``depth_scale``.

    Args:
        depth_encoding: a name, alias or number (:func:`litedepth.io.depth_encodings.parse_encoding`),
            or ``None`` when the folder holds only ``.npy`` metres.
        depth_scale: the former name of the option (numbers and names ``kitti``, ``nyu``,
            ``kinect``, ``mm``, ``tum`` keep working); a DeprecationWarning says to rename it.

    Raises:
        ConfigError: both given, or an unknown / invalid encoding.
    """
    if depth_scale is not None:
        if depth_encoding is not None:
            raise ConfigError("give depth_encoding only (depth_scale is its deprecated former name), not both")
        warnings.warn("depth_scale is deprecated: name the depth files' encoding with depth_encoding "
                      "(same values: a number, kitti, nyu, tum, ...)", DeprecationWarning, stacklevel=3)
        depth_encoding = depth_scale
    return None if depth_encoding is None else parse_encoding(depth_encoding)


def resize_pair(image: np.ndarray, depth: np.ndarray | None, size: tuple[int, int] | None) -> tuple[Tensor, Tensor | None]:
    """Convert to tensors and resize.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        depth: ``(H', W')`` float32 metres, 0 = invalid (may differ in size from the image).
        size: ``(height, width)`` output size, or ``None`` to keep the image size.

    Returns:
        image ``(3, h, w)`` float in ``[0, 1]`` (bilinear, antialiased) and depth ``(1, h, w)``
        metres (nearest neighbour, so invalid pixels stay exactly 0 and no depth is invented).
    """
    img = torch.tensor(np.asarray(image), dtype=torch.float32).permute(2, 0, 1).div_(255.0)
    h, w = size if size is not None else img.shape[-2:]
    if img.shape[-2:] != (h, w):
        img = F.interpolate(img[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0]
    img = img.clamp_(0.0, 1.0)
    if depth is None:
        return img, None
    dep = torch.from_numpy(np.ascontiguousarray(depth, dtype=np.float32))[None]
    if dep.shape[-2:] != (h, w):
        dep = F.interpolate(dep[None], size=(h, w), mode="nearest-exact")[0]
    return img, dep


class FolderDepthDataset(Dataset):
    """Supervised RGB + depth pairs from an ``images/`` + ``depth/`` folder.

    Args:
        root: dataset folder.
        split: ``train`` / ``val`` / ``test`` / ``all``.
        size: ``(height, width)`` to resize to (seed 000: ``(256, 512)``), ``None`` = native.
        depth_encoding: how the depth files store metres: a name or alias of
            :mod:`litedepth.io.depth_encodings` (``"nyu"`` = uint16 mm, ``"kitti"`` = /256,
            ``"tum"`` = /5000, ``"sunrgbd"``, ``"nyu-raw"``, ...) or a number (integer units per
            metre). Required unless every depth file is ``.npy`` (float metres): there is no
            default scale.
        depth_scale: deprecated former name of ``depth_encoding``.
        split_seed: seed of the deterministic split; ``fractions``: train/val/test shares.
        hflip: random horizontal flip with probability 0.5 (training augmentation).

    Each item is a dict: ``image`` ``(3, H, W)`` float in ``[0, 1]``; ``depth`` ``(1, H, W)``
    metres with 0 = invalid; ``name`` (file stem).
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        size: tuple[int, int] | None = (256, 512),
        depth_encoding: str | float | DepthEncoding | None = None,
        split_seed: int = 42,
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        hflip: bool = False,
        depth_scale: str | float | None = None,
    ) -> None:
        self.root = Path(root)
        pairs = match_pairs(self.root)
        self.pairs = [pairs[i] for i in split_indices(len(pairs), split, fractions, split_seed)]
        if not self.pairs:
            need = next((n for n in range(len(pairs) + 1, 10_000) if split_sizes(n, fractions)[split]), None)
            sizes = ", ".join(f"{k} {v}" for k, v in split_sizes(len(pairs), fractions).items())
            raise DataError(self.root, f"split {split!r} is empty: {len(pairs)} pairs in total, fractions "
                                       f"{tuple(fractions)} give {sizes}; "
                                       + (f"it needs at least {need} pairs" if need else
                                          "no number of pairs fills it with these fractions"))
        self.depth_encoding = resolve_depth_encoding(depth_encoding, depth_scale)
        self.size = tuple(size) if size is not None else None
        self.hflip = hflip
        self.split = split

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        pair = self.pairs[index]
        image = read_rgb(pair.image)
        depth = read_depth(pair.depth, self.depth_encoding)
        if depth.ndim != 2:
            raise DataError(pair.depth, f"depth must be a 2-D map, got shape {depth.shape}")
        ih, iw = image.shape[:2]
        dh, dw = depth.shape
        if abs(ih / iw - dh / dw) > 0.02:
            raise DataError(pair.depth, f"depth map {dw}x{dh} does not match the aspect of image {pair.image.name} ({iw}x{ih})")
        img, dep = resize_pair(image, depth, self.size)
        if self.hflip and torch.rand(()) < 0.5:
            img, dep = img.flip(-1), dep.flip(-1)
        return {"image": img, "depth": dep, "name": pair.name}

    def check_encoding(self) -> None:
        """Fail now, not at the first batch, when a depth file's encoding is missing or mismatched.

        Raises:
            ConfigError: a depth file other than ``.npy`` and no encoding named (one line naming
                the file and the choices).
            DataError: the encoding does not read a file's format.
        """
        for pair in self.pairs:
            encoding_for_file(pair.depth, self.depth_encoding)


class DepthDataModule(L.LightningDataModule):
    """Lightning data module over a :class:`FolderDepthDataset` folder.

    Args:
        root: dataset folder (``images/`` + ``depth/``).
        size: ``(height, width)`` of network inputs.
        batch_size, num_workers: loader options.
        depth_encoding: see :class:`FolderDepthDataset` (recorded in the checkpoint's data
            module hyper-parameters by its canonical name).
        depth_scale: deprecated former name of ``depth_encoding``.
        split_seed, fractions: deterministic split.
        hflip: training-time horizontal flip.
        train_split: the split trained on (``all`` for overfitting tests).
    """

    def __init__(
        self,
        root: str,
        size: tuple[int, int] = (256, 512),
        batch_size: int = 4,
        num_workers: int = 2,
        depth_encoding: str | float | None = None,
        split_seed: int = 42,
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        hflip: bool = True,
        train_split: str = "train",
        val_split: str = "val",
        depth_scale: str | float | None = None,
    ) -> None:
        super().__init__()
        encoding = resolve_depth_encoding(depth_encoding, depth_scale)
        # the checkpoint records the canonical encoding name, whichever spelling was passed
        self.save_hyperparameters(ignore=["depth_scale"])
        self.hparams["depth_encoding"] = None if encoding is None else encoding.name
        self.root = root
        self.size = tuple(size)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.depth_encoding = encoding
        self.kw = dict(size=self.size, depth_encoding=encoding, split_seed=split_seed, fractions=fractions)
        self.hflip = hflip
        self.train_split = train_split
        self.val_split = val_split

    def dataset(self, split: str, train: bool = False) -> FolderDepthDataset:
        return FolderDepthDataset(self.root, split=split, hflip=train and self.hflip, **self.kw)

    def setup(self, stage: str | None = None) -> None:
        self.train_set = self.dataset(self.train_split, train=True)
        self.val_set = self.dataset(self.val_split)
        for ds in (self.train_set, self.val_set):
            ds.check_encoding()

    def _loader(self, ds: Dataset, train: bool) -> DataLoader:
        return make_loader(ds, self.batch_size, self.num_workers, train=train, source=self.root)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test"), train=False)
