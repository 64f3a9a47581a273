"""Photos with cached teacher maps, for distilling a relative-depth teacher into a small network.

Layout: any folder of images (searched recursively, keys = relative POSIX paths, as
``litedepth pseudo-label --dataset images`` writes them) and a pseudo-label cache folder
(:class:`~litedepth.io.pseudo_labels.PseudoLabelCache`) holding one teacher map per image at the
image's own size. No video, no depth sensor.

Teacher maps become *disparity* targets: a relative teacher's output is used as is (affine-
invariant disparity, 0 = sky); a metric teacher's depth ``z`` becomes ``1 / z`` (0 stays
invalid). Only the shape of the map matters to the affine-invariant loss, so either works.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from litedepth.data.folder import resize_pair
from litedepth.io.images import read_rgb
from litedepth.data.loaders import make_loader
from litedepth.errors import ConfigError, DataError
from litedepth.io.pseudo_labels import PseudoLabelCache
from litedepth.data.frames import ImageFolderFrames

log = logging.getLogger(__name__)

__all__ = ["DistillDataModule", "TeacherLabelDataset", "split_keys", "teacher_disparity"]

#: teacher output kinds a cache can hold (``PseudoLabelCache`` manifest ``output_kind``)
TEACHER_KINDS = ("relative_disparity", "metric_depth")


def teacher_disparity(values: np.ndarray, kind: str) -> np.ndarray:
    """A cached teacher map as a disparity target ``(H, W)`` float32, 0 where invalid.

    Args:
        values: the stored map (relative disparity, or metric depth in metres).
        kind: ``"relative_disparity"`` or ``"metric_depth"`` (then ``1 / depth``).
    """
    if kind not in TEACHER_KINDS:
        raise DataError(None, f"unknown teacher output kind {kind!r} (expected one of {TEACHER_KINDS})")
    v = np.asarray(values, dtype=np.float32)
    good = np.isfinite(v) & (v > 0)
    if kind == "metric_depth":
        return np.where(good, 1.0 / np.where(good, v, 1.0), 0.0).astype(np.float32)
    return np.where(good, v, 0.0).astype(np.float32)


def split_keys(keys: Sequence[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic train / held-out split: ``max(1, round(val_fraction * n))`` held out.

    Raises:
        DataError: fewer than two images.
        ConfigError: ``val_fraction`` outside ``(0, 1)``.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction}")
    keys = sorted(keys)
    if len(keys) < 2:
        raise DataError(None, f"distillation needs at least 2 images (one is held out), got {len(keys)}")
    n_val = min(len(keys) - 1, max(1, round(val_fraction * len(keys))))
    perm = np.random.default_rng(seed).permutation(len(keys))
    val = sorted(keys[i] for i in perm[:n_val])
    return sorted(set(keys) - set(val)), val


class TeacherLabelDataset(Dataset):
    """Images with their teacher disparity, resized to the network's input size.

    Args:
        images: the image folder.
        labels: the teacher's pseudo-label cache (a folder or a :class:`PseudoLabelCache`).
        keys: image keys (relative paths) to use; every one needs a cached map.
        size: ``(height, width)`` of the network input.
        hflip: random horizontal flip (p = 0.5) of image and map together.

    Each item: ``image`` ``(3, H, W)`` float in ``[0, 1]`` (bilinear, antialiased); ``teacher``
    ``(1, H, W)`` float32 disparity (bilinear, antialiased; 0 where invalid); ``valid``
    ``(1, H, W)`` bool (only pixels whose whole footprint was valid); ``name`` the key.
    """

    def __init__(self, images: str | Path, labels: str | Path | PseudoLabelCache, keys: Sequence[str],
                 size: tuple[int, int], hflip: bool = False) -> None:
        self.images = Path(images)
        self.cache = labels if isinstance(labels, PseudoLabelCache) else PseudoLabelCache(labels)
        self.kind = self.cache.manifest.get("output_kind") or "relative_disparity"
        if self.kind not in TEACHER_KINDS:
            raise DataError(self.cache.manifest_path, f"teacher output kind {self.kind!r} cannot be distilled "
                                                      f"(expected one of {TEACHER_KINDS})")
        self.keys = list(keys)
        missing = [k for k in self.keys if not self.cache.has(k)]
        if missing:
            raise DataError(self.cache.root, f"no teacher map for {len(missing)} image(s), e.g. {missing[:3]}; "
                                             f"run the teacher on {self.images} first")
        self.size = (int(size[0]), int(size[1]))
        self.hflip = hflip

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> dict[str, Any]:
        key = self.keys[index]
        path = self.images / key
        rgb = read_rgb(path)
        target = teacher_disparity(self.cache.get(key), self.kind)
        if target.shape != rgb.shape[:2]:
            raise DataError(self.cache.path(key), f"teacher map {target.shape[1]}x{target.shape[0]} does not match "
                                                  f"the image {path} ({rgb.shape[1]}x{rgb.shape[0]})")
        image, _ = resize_pair(rgb, None, self.size)
        teacher, valid = resize_target(torch.from_numpy(target), self.size)
        if self.hflip and torch.rand(()) < 0.5:
            image, teacher, valid = image.flip(-1), teacher.flip(-1), valid.flip(-1)
        return {"image": image, "teacher": teacher, "valid": valid, "name": key}


def resize_target(target: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Resize an ``(H, W)`` disparity target (0 = invalid) to ``size``.

    Returns:
        ``(1, h, w)`` float32 (bilinear, antialiased, invalid pixels not blended in) and a
        ``(1, h, w)`` bool mask of the pixels whose whole footprint was valid.
    """
    valid = (target > 0).to(torch.float32)[None, None]
    t = target.to(torch.float32)[None, None]
    if tuple(t.shape[-2:]) == tuple(size):
        return t[0], valid[0] > 0.5
    num = F.interpolate(t * valid, size=size, mode="bilinear", align_corners=False, antialias=True)
    den = F.interpolate(valid, size=size, mode="bilinear", align_corners=False, antialias=True)
    ok = den > 1 - 1e-4
    out = torch.where(ok, num / den.clamp_min(1e-6), torch.zeros_like(num))
    return out[0], ok[0]


class DistillDataModule(L.LightningDataModule):
    """Train / held-out split of an image folder with its teacher pseudo-labels.

    Args:
        images: image folder (any photos; searched recursively).
        labels: pseudo-label cache folder of those images (``litedepth pseudo-label
            --dataset images --root IMAGES --out LABELS``, or ``litedepth distill``).
        size: ``(height, width)`` of network inputs (multiples of 32 suit every network).
        batch_size, num_workers: loader options.
        val_fraction, split_seed: held-out share (at least one image) and the split's seed.
        hflip: training-time horizontal flip.
        val_keys: explicit held-out keys instead of a random split.
    """

    def __init__(
        self,
        images: str,
        labels: str,
        size: tuple[int, int] = (192, 640),
        batch_size: int = 8,
        num_workers: int = 2,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        hflip: bool = True,
        val_keys: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.size = (int(size[0]), int(size[1]))
        self.train_keys: list[str] = []
        self.val_keys: list[str] = []

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        keys = ImageFolderFrames(hp.images).keys
        if hp.val_keys:
            unknown = sorted(set(hp.val_keys) - set(keys))
            if unknown:
                raise ConfigError(f"val_keys not in {hp.images}: {unknown[:3]}")
            self.val_keys = sorted(hp.val_keys)
            self.train_keys = sorted(set(keys) - set(self.val_keys))
        else:
            self.train_keys, self.val_keys = split_keys(keys, hp.val_fraction, hp.split_seed)
        self.train_set = TeacherLabelDataset(hp.images, hp.labels, self.train_keys, self.size, hflip=hp.hflip)
        self.val_set = TeacherLabelDataset(hp.images, hp.labels, self.val_keys, self.size)
        log.info("distillation data: %d training, %d held-out image(s) at %dx%d", len(self.train_set),
                 len(self.val_set), *self.size)

    def _loader(self, ds: Dataset, train: bool) -> DataLoader:
        hp = self.hparams
        return make_loader(ds, hp.batch_size, hp.num_workers, train=train, source=hp.images)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)
