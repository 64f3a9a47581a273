"""What a fit actually trained: per-step losses, partial epochs and the reason it stopped."""

from __future__ import annotations

import csv
import itertools
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from litedepth.tasks.engine import build_trainer, training_summary

pytestmark = pytest.mark.usefixtures("one_thread")


class _Line(L.LightningModule):
    """Fits y = 2 x with one weight (tiny, fast)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def _loss(self, batch):
        x, y = batch
        return ((self.w * x - y) ** 2).mean()

    def training_step(self, batch, batch_idx):
        return self._loss(batch)

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self._loss(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loaders(n_batches: int = 10):
    x = torch.linspace(-1, 1, 4 * n_batches)[:, None]
    data = TensorDataset(x, 2 * x)
    return DataLoader(data, batch_size=4, shuffle=False), DataLoader(data, batch_size=8)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _trainer(run_dir, **opts):
    return build_trainer(run_dir, {"accelerator": "cpu", "devices": 1, "enable_progress_bar": False,
                                   "enable_model_summary": False, **opts},
                         early_stop_patience=None)


def test_full_epochs_are_counted_and_every_step_logged(tmp_path):
    trainer = _trainer(tmp_path / "run", max_epochs=2)
    trainer.fit(_Line(), *_loaders(10))
    summary = training_summary(trainer)
    assert summary["stopped_by"] == "max_epochs"
    assert (summary["steps"], summary["batches"], summary["batches_per_epoch"]) == (20, 20, 10)
    assert (summary["epochs_completed"], summary["epochs"]) == (2, 2.0)
    steps = _rows(tmp_path / "run" / "steps.csv")
    assert [int(r["step"]) for r in steps] == list(range(1, 21))
    assert [int(r["epoch"]) for r in steps] == [0] * 10 + [1] * 10
    losses = [float(r["train_loss"]) for r in steps]
    assert losses[-1] < 0.1 * losses[0]  # the line was learned
    epochs = _rows(tmp_path / "run" / "metrics.csv")
    assert [(r["batches"], r["batches_per_epoch"]) for r in epochs] == [("10", "10")] * 2


def test_a_time_limit_inside_the_first_epoch_is_a_partial_epoch(tmp_path, monkeypatch):
    import lightning.pytorch.callbacks.timer as timer_module

    clock = itertools.count(step=1.0)  # every reading of the Timer's clock advances it by 1 s
    monkeypatch.setattr(timer_module, "time", SimpleNamespace(monotonic=lambda: float(next(clock))))
    trainer = _trainer(tmp_path / "run", max_epochs=5, max_time={"seconds": 4})
    trainer.fit(_Line(), *_loaders(50))
    summary = training_summary(trainer)
    assert trainer.current_epoch == 1  # Lightning counts the cut epoch as done ...
    assert summary["stopped_by"] == "time limit" and summary["time_limit_s"] == 4.0
    assert summary["epochs_completed"] == 0  # ... it is not a trained epoch
    assert 1 <= summary["steps"] < 50 and summary["epochs"] == pytest.approx(summary["steps"] / 50)
    steps = _rows(tmp_path / "run" / "steps.csv")
    assert len(steps) == summary["steps"] and summary["seconds_per_batch"] > 0
    (row,) = _rows(tmp_path / "run" / "metrics.csv")
    assert int(row["batches"]) == summary["steps"] and row["batches_per_epoch"] == "50"
