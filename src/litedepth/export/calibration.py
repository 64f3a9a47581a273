"""Calibration frames of int8 quantisation: images read like the exported graph's inputs.

:func:`calibration_frames` reads a folder of images as network inputs ``(1, 3, H, W)``;
:class:`FrameReader` hands them to onnxruntime's static quantisation (its
``CalibrationDataReader`` protocol), which sets the activation ranges from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from litedepth.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "FrameReader", "calibration_frames", "image_files"]

from litedepth.io.images import IMAGE_SUFFIXES, folder_images


def image_files(folder: str | Path, option: str | None = None) -> list[Path]:
    """The images of ``folder`` (``.png/.jpg/...``, sorted by name).

    Args:
        folder: a folder of calibration (or parity) images.
        option: the command-line option that named the folder (e.g. ``"--calibration"``), which
            then starts the error messages.

    Raises:
        DataError: one line naming the folder: it does not exist, it is a file, or it holds
            no image.
    """
    root = Path(folder)
    where = f"{option} {root}" if option else f"calibration folder {root}"
    if not root.exists():
        raise DataError(None, f"{where}: the folder does not exist")
    if not root.is_dir():
        raise DataError(None, f"{where}: a file, not a folder of images")
    files = folder_images(root)
    if not files:
        raise DataError(None, f"{where}: no calibration image ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    return files


def calibration_frames(folder: str | Path, height: int, width: int, limit: int | None = 64,
                       option: str | None = None) -> list[np.ndarray]:
    """Images of ``folder`` (sorted, ``.png/.jpg/...``) as network inputs ``(1, 3, H, W)``.

    Each image is read as RGB, scaled to ``[0, 1]`` and resized to ``height x width``
    (bilinear, antialiased, the resize of the training data), like the inputs the exported
    graph receives. At most ``limit`` images are used, spread evenly over the sorted list.
    ``option``: the command-line option that named the folder, for messages (see :func:`image_files`).

    Raises:
        DataError: the folder does not exist, is a file or holds no image; an unreadable image.
    """
    import torch
    import torch.nn.functional as F

    from litedepth.io.images import read_rgb

    files = image_files(folder, option)
    if limit is not None and len(files) > limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, int(limit)).round().astype(int)]
    out = []
    for path in files:
        rgb = torch.from_numpy(read_rgb(path).copy()).permute(2, 0, 1)[None].float().div_(255.0)
        if tuple(rgb.shape[-2:]) != (height, width):
            rgb = F.interpolate(rgb, (height, width), mode="bilinear", align_corners=False, antialias=True)
        out.append(np.ascontiguousarray(rgb.clamp_(0, 1).numpy(), dtype=np.float32))
    return out


class FrameReader:
    """onnxruntime ``CalibrationDataReader`` over in-memory frames ``(1, 3, H, W)`` fed to the
    graph input ``name``."""

    def __init__(self, name: str, frames: Sequence[np.ndarray]) -> None:
        self.name, self.frames, self.i = name, list(frames), 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.i >= len(self.frames):
            return None
        self.i += 1
        return {self.name: self.frames[self.i - 1]}

    def rewind(self) -> None:
        self.i = 0
