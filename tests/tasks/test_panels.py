"""Validation panels are a Lightning callback drawing the forward results a task's
validation_step returns: one PNG per validation epoch, none for the sanity check."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from litedepth.tasks.panels import DepthPanels


class _Tiny(L.LightningModule):
    def __init__(self, returns: bool = True) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, 1)
        self.returns = returns

    def training_step(self, batch, batch_idx):
        return (self.conv(batch["image"]) - batch["depth"]).abs().mean()

    def validation_step(self, batch, batch_idx):
        pred = self.conv(batch["image"]).abs() + 1.0
        return {"pred": pred} if self.returns else None

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader():
    g = torch.Generator().manual_seed(0)
    samples = [{"image": torch.rand(3, 16, 24, generator=g), "depth": 1 + 4 * torch.rand(1, 16, 24, generator=g)}
               for _ in range(4)]
    return DataLoader(samples, batch_size=2)


def _fit(module, folder, epochs=2):
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=1,
                        callbacks=[DepthPanels(folder)])
    trainer.fit(module, _loader(), _loader())


def test_one_panel_per_validation_epoch_from_the_returned_prediction(tmp_path):
    _fit(_Tiny(), tmp_path / "panels")
    files = sorted(p.name for p in (tmp_path / "panels").glob("*.png"))
    assert files == ["epoch_000.png", "epoch_001.png"]  # the sanity check wrote none
    panel = np.asarray(Image.open(tmp_path / "panels" / "epoch_001.png"))
    assert panel.shape[0] == 16 and panel.shape[1] >= 3 * 24  # input | ground truth | prediction
    assert np.array_equal(panel[:, :24, :3], (_loader().dataset[0]["image"].permute(1, 2, 0).numpy() * 255).round()
                          .astype(np.uint8))  # the first validation image, unchanged


def test_no_prediction_returned_no_panel(tmp_path):
    _fit(_Tiny(returns=False), tmp_path / "panels", epochs=1)
    assert not (tmp_path / "panels").exists()


def test_the_supervised_task_brings_its_panels():
    from litedepth.tasks import SupervisedDepthTask

    task = SupervisedDepthTask.__new__(SupervisedDepthTask)  # the callback list only needs panel_dir
    task.panel_dir = "somewhere"
    (cb,) = SupervisedDepthTask.configure_callbacks(task)
    assert isinstance(cb, DepthPanels) and cb.folder == "somewhere"
