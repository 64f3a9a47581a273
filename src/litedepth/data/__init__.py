"""Datasets, readers and data modules.

Names are imported lazily so that ``import litedepth.io.images`` does not pull in Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DepthDataModule": "litedepth.data.folder",
    "DistillDataModule": "litedepth.data.distill",
    "TeacherLabelDataset": "litedepth.data.distill",
    "FolderDepthDataset": "litedepth.data.folder",
    "match_pairs": "litedepth.data.folder",
    "split_indices": "litedepth.data.folder",
    "read_rgb": "litedepth.io.images",
    "read_depth": "litedepth.io.images",
    "write_depth_png": "litedepth.io.images",
    "DEPTH_ENCODINGS": "litedepth.io.images",
    "VideoDataModule": "litedepth.data.video_module",
    "SequenceDataset": "litedepth.data.video",
    "SyntheticSequenceDataset": "litedepth.data.video_synthetic",
    "SequenceOptions": "litedepth.data.video_split",
    "VideoSample": "litedepth.data.video",
    "validate_sample": "litedepth.data.video",
    "VideoFolderDataset": "litedepth.data.video_folder",
    "KittiRawDataset": "litedepth.data.kitti_raw",
    "ColorJitter": "litedepth.data.augment",
    "ColorJitterParams": "litedepth.data.augment",
    "SegmentationDataModule": "litedepth.data.segmentation",
    "SegmentationDataset": "litedepth.data.segmentation",
    "read_mask": "litedepth.data.segmentation",
    "VOC_CLASSES": "litedepth.data.voc",
    "voc_palette": "litedepth.data.voc",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'litedepth.data' has no attribute {name!r}")
