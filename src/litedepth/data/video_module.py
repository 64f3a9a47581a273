"""Lightning data module for self-supervised training on frame sequences.

One module for the three sources of :mod:`litedepth.data.video` samples, chosen by
``dataset``: ``"synthetic"`` (:class:`~litedepth.data.video_synthetic.SyntheticSequenceDataset`),
``"video-folder"`` (:class:`~litedepth.data.video_folder.VideoFolderDataset`) and
``"kitti-raw"`` (:class:`~litedepth.data.kitti_raw.KittiRawDataset`). Training batches are
augmented (colour jitter and horizontal flip, each with probability 0.5, Monodepth2's
settings); validation and test batches are not. Every ``__init__`` argument is a plain type,
so the command line can set it, e.g. ``--data.init_args.size [96,320]``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from litedepth.data.augment import ColorJitter, augment_batch
from litedepth.data.kitti_raw import KittiRawDataset, split_file
from litedepth.data.video import STEREO, SequenceDataset, collate_native, parse_frame_ids
from litedepth.data.video_split import SequenceOptions
from litedepth.data.video_synthetic import SyntheticSequenceDataset
from litedepth.data.video_folder import VideoFolderDataset
from litedepth.data.loaders import make_loader
from litedepth.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["VideoDataModule"]

DatasetKind = Literal["synthetic", "video-folder", "kitti-raw"]
_KINDS = ("synthetic", "video-folder", "kitti-raw")


class VideoDataModule(L.LightningDataModule):
    """Sequences for Monodepth2-style training (see :mod:`litedepth.data.video` for the samples).

    Args:
        dataset: ``"synthetic"``, ``"video-folder"`` or ``"kitti-raw"``.
        root: dataset root folder.
        frame_ids: target ``0`` first, then temporal offsets and/or ``"s"``.
        size: ``(H, W)`` network input size.
        batch_size, num_workers: loader options (Monodepth2: 12 and 12).
        color_jitter, hflip: training augmentations (probability 0.5 each).
        stereo: add ``"s"`` to ``frame_ids`` (KITTI raw only).
        stereo_baseline: ``|stereo_T[0, 3]|`` (0.1, Monodepth2's units).
        frame_step: temporal id ``i`` is ``i * frame_step`` frames away.
        target_stride: keep every n-th target (synthetic, video-folder).
        train_split, val_split, test_split: split names. Synthetic / video-folder: ``train``,
            ``val``, ``test`` or ``all`` of a deterministic split by whole sequences
            (``fractions``, ``split_seed``); KITTI raw: ``split_dir/<name>_files.txt``.
            ``val_split=None`` disables validation.
        train_sequences, val_sequences: explicit sequence names (synthetic, video-folder),
            overriding the split names.
        fractions, split_seed: the sequence split.
        split_dir: KITTI raw split folder such as ``.../splits/eigen_zhou``; ``None`` trains on
            every left frame under ``root`` with no validation set.
        img_ext: KITTI raw image suffix (``.jpg`` or ``.png``).
        train_gt, val_gt: include ``depth_gt`` in training / validation samples when the
            dataset has it (synthetic depth, KITTI Velodyne).
        gt_size: KITTI raw ``depth_gt`` size ``(H, W)``.
        static_threshold: video-folder static-frame filter (0 = off; see
            :class:`~litedepth.data.video_folder.VideoFolderDataset`).
        drop_last: drop the last incomplete training batch (default; a batch of one sample
            breaks BatchNorm); a training set smaller than one batch is then refused
            (:func:`~litedepth.data.loaders.make_loader`).
        pseudo_labels: folder written by ``litedepth pseudo-label`` for the training split;
            training samples then carry ``teacher`` ``(1, H, W)`` (see
            :meth:`litedepth.data.video.SequenceDataset.use_pseudo_labels`).
        intrinsics_convention: video folders: ``"pixels"`` / ``"normalised"`` for intrinsics
            files that do not state theirs (a bare 3x3 list such as Monodepth2's normalised K).
        augment_on_device: training batches leave the loader as decoded uint8 frames at their
            stored size with the per-sample draws, and are resized, flipped and colour-jittered
            after the transfer to the training device (:func:`~litedepth.data.augment.augment_batch`
            in ``on_after_batch_transfer``): the workers only read and decode, and a quarter of
            the bytes crosses to the device. Same draws, same frames (tested on the CPU).
            Validation and test batches are prepared in the loader either way.
    """

    def __init__(
        self,
        dataset: DatasetKind = "synthetic",
        root: str = "data/synthetic",
        frame_ids: tuple[int | str, ...] = (0, -1, 1),
        size: tuple[int, int] | None = (192, 640),
        batch_size: int = 12,
        num_workers: int = 4,
        color_jitter: bool = True,
        hflip: bool = True,
        stereo: bool = False,
        stereo_baseline: float = 0.1,
        frame_step: int = 1,
        target_stride: int = 1,
        train_split: str = "train",
        val_split: str | None = "val",
        test_split: str = "test",
        train_sequences: list[str] | None = None,
        val_sequences: list[str] | None = None,
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        split_seed: int = 42,
        split_dir: str | None = None,
        img_ext: str = ".jpg",
        train_gt: bool = False,
        val_gt: bool = True,
        gt_size: tuple[int, int] | None = (375, 1242),
        static_threshold: float = 0.0,
        drop_last: bool = True,
        pseudo_labels: str | None = None,
        intrinsics_convention: str | None = None,
        augment_on_device: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if dataset not in _KINDS:
            raise ConfigError(f"dataset must be one of {_KINDS}, got {dataset!r}")
        ids = parse_frame_ids(frame_ids)
        if stereo and STEREO not in ids:
            ids = (*ids, STEREO)
        if STEREO in ids and dataset != "kitti-raw":
            raise ConfigError(f"stereo frames ('s') need dataset='kitti-raw', not {dataset!r}")
        if int(batch_size) < 1 or int(num_workers) < 0:
            raise ConfigError(f"batch_size must be >= 1 and num_workers >= 0, got {batch_size}, {num_workers}")
        self.kind = dataset
        self.root = root
        self.frame_ids = ids
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.color_jitter = color_jitter
        self.hflip = hflip
        self.drop_last = drop_last
        self.augment_on_device = bool(augment_on_device)
        if self.augment_on_device and self.size is None:
            raise ConfigError("augment_on_device needs a fixed training size (H, W)")
        self.train_set: SequenceDataset | None = None
        self.val_set: SequenceDataset | None = None
        self.test_set: SequenceDataset | None = None

    def make_dataset(self, split: str, sequences: list[str] | None = None, train: bool = False) -> SequenceDataset:
        """Build the dataset of one split (augmented when ``train``)."""
        hp = self.hparams
        aug = dict(
            color_jitter=ColorJitter(p=0.5) if train and self.color_jitter else None,
            hflip_p=0.5 if train and self.hflip else 0.0,
        )
        gt = hp.train_gt if train else hp.val_gt
        sampling = dict(frame_step=hp.frame_step, augment_on_device=train and self.augment_on_device, **aug)
        if self.kind == "kitti-raw":
            split_path = split_file(hp.split_dir, split) if hp.split_dir is not None else None
            return KittiRawDataset(
                self.root, split_path, self.frame_ids, self.size, img_ext=hp.img_ext, load_gt=gt,
                gt_size=hp.gt_size, stereo_baseline=hp.stereo_baseline, **sampling,
            )
        options = SequenceOptions(sequences=sequences, fractions=hp.fractions, split_seed=hp.split_seed,
                                  target_stride=hp.target_stride, **sampling)
        if self.kind == "synthetic":
            return SyntheticSequenceDataset(self.root, split, self.frame_ids, self.size, load_gt=gt, options=options)
        return VideoFolderDataset(
            self.root, split, self.frame_ids, self.size, static_threshold=hp.static_threshold,
            intrinsics_convention=hp.get("intrinsics_convention"), options=options,
        )

    def _has_val(self) -> bool:
        hp = self.hparams
        if hp.val_split is None and hp.val_sequences is None:
            return False
        if self.kind == "kitti-raw" and hp.split_dir is None:
            log.warning("kitti-raw without split_dir: training on every frame, no validation set")
            return False
        return True

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = self.make_dataset(hp.train_split, hp.train_sequences, train=True)
            if hp.pseudo_labels:
                self.train_set.use_pseudo_labels(hp.pseudo_labels)
        if stage in (None, "fit", "validate") and self.val_set is None and self._has_val():
            self.val_set = self.make_dataset(hp.val_split or "val", hp.val_sequences)
        if stage in (None, "test") and self.test_set is None:
            self.test_set = self.make_dataset(hp.test_split)

    def _loader(self, ds: Dataset, train: bool) -> DataLoader:
        return make_loader(
            ds, self.batch_size, self.num_workers, train=train, source=self.root, drop_last=self.drop_last,
            pin_memory=torch.cuda.is_available(),
            collate_fn=collate_native if getattr(ds, "augment_on_device", False) else None,
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Device-side augmentation of training batches (``augment_on_device``)."""
        if isinstance(batch, dict) and "frames_u8" in batch and self.size is not None:
            return augment_batch(batch, self.size)
        return batch

    def train_dataloader(self) -> DataLoader:
        if self.train_set is None:
            self.setup("fit")
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None and self._has_val():
            self.setup("validate")
        return [] if self.val_set is None else self._loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        if self.test_set is None:
            self.setup("test")
        return self._loader(self.test_set, train=False)
