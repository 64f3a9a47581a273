"""Frames of a dataset one by one, at their stored size, for offline labelling (teachers, distillation).

:class:`FrameSource` is the interface (``keys`` + ``load``); :class:`ImageFolderFrames` is every
image of a folder. The teachers' runner (:func:`litedepth.teachers.hf.run_pseudo_labels`) and
the distillation data (:mod:`litedepth.data.distill`) read images through them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from litedepth.errors import DataError
from litedepth.io.images import IMAGE_SUFFIXES, read_rgb

__all__ = ["IMAGE_EXTS", "FrameSource", "ImageFolderFrames"]

#: image files an :class:`ImageFolderFrames` picks up (case-insensitive): an alias of the one
#: list, :data:`litedepth.io.images.IMAGE_SUFFIXES`
IMAGE_EXTS = IMAGE_SUFFIXES


class FrameSource(Dataset):
    """Every frame of a dataset as ``{"key", "image"}`` (native-size uint8 RGB)."""

    keys: list[str]

    def load(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"key": self.keys[index], "image": self.load(index)}


class ImageFolderFrames(FrameSource):
    """Every image under ``root`` (recursively, :data:`IMAGE_EXTS`); keys are the relative
    POSIX paths with extension (e.g. ``"color/000001.png"``); hidden entries are skipped."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(self.root, "image folder not found")
        files = sorted(
            p for p in self.root.rglob("*")
            if p.suffix.lower() in IMAGE_EXTS and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
        )
        if not files:
            raise DataError(self.root, f"no images ({', '.join(IMAGE_EXTS)}) under this folder")
        self.files = files
        self.keys = [p.relative_to(self.root).as_posix() for p in files]

    def load(self, index: int) -> np.ndarray:
        return read_rgb(self.files[index])
