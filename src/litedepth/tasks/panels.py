"""Validation panels as a Lightning callback (seed 000): input | ground truth | prediction of the
first validation image, one PNG per validation epoch.

A task's ``validation_step`` returns its forward results, ``{"pred": (B, 1, H, W)}``; the callback
keeps the first image of the first validation batch (``batch["image"]`` ``(B, 3, H, W)`` in
``[0, 1]``, ``batch["depth"]`` ``(B, 1, H, W)``) with its prediction and, at the end of the
validation epoch, writes ``<folder>/epoch_<NNN>.png`` (default folder: ``<run dir>/panels``;
plasma colours over the shared min-max range of ground truth and prediction,
:func:`litedepth.utils.visualize.depth_panel`). Sanity-check validations write nothing; with
several processes only rank 0 writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.callbacks import Callback
from torch import Tensor

__all__ = ["DepthPanels"]


class DepthPanels(Callback):
    """Write a validation panel per epoch.

    Args:
        folder: where the PNGs go (default ``<trainer.default_root_dir>/panels``).
        image_key, depth_key: the batch entries of the input image and the ground truth.
        pred_key: the entry of ``validation_step``'s returned dict holding the prediction.
    """

    def __init__(self, folder: str | Path | None = None, image_key: str = "image", depth_key: str = "depth",
                 pred_key: str = "pred") -> None:
        self.folder = folder
        self.keys = (image_key, depth_key, pred_key)
        self._first: dict[str, Tensor] | None = None

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        image_key, depth_key, pred_key = self.keys
        if batch_idx == 0 and dataloader_idx == 0 and isinstance(outputs, Mapping) and pred_key in outputs:
            self._first = {"image": batch[image_key][:1].detach(), "depth": batch[depth_key][:1].detach(),
                           "pred": outputs[pred_key][:1].detach()}

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        first, self._first = self._first, None
        if first is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        from litedepth.utils.visualize import depth_panel, save_png

        image = (first["image"][0].permute(1, 2, 0).float().cpu().numpy() * 255).round().astype(np.uint8)
        panel = depth_panel(image, first["depth"][0, 0].float().cpu().numpy(), first["pred"][0, 0].float().cpu().numpy())
        folder = Path(self.folder or Path(trainer.default_root_dir) / "panels")
        save_png(folder / f"epoch_{trainer.current_epoch:03d}.png", panel)
