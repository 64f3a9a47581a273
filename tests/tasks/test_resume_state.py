"""Resume restores the true state after validation: the best score (so a worse epoch after a
resume does not replace best.ckpt), early stopping's patience count, and a run too short to
validate once trains and says so.

The runs use :func:`litedepth.tasks.engine.build_trainer` (what ``litedepth train`` uses) with a
one-weight model whose validation loss follows a script, so which epoch is best is known.
A callback raising at the start of an epoch stands in for a SIGKILL after the previous
epoch's checkpoints were written (``test_train.py`` kills a real run with SIGKILL).
"""

from __future__ import annotations

import logging

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from litedepth.errors import ConfigError
from litedepth.tasks.engine import build_trainer, read_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

BEST_KEY = "ModelCheckpoint{'monitor': 'val/loss', 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, " \
           "'train_time_interval': None}"
ES_KEY = "EarlyStopping{'monitor': 'val/loss', 'mode': 'min'}"


class Scripted(L.LightningModule):
    """One weight; ``val/loss`` of epoch ``e`` is ``script[e]``."""

    def __init__(self, script: list[float]) -> None:
        super().__init__()
        self.script = list(script)
        self.w = torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch, batch_idx):
        (x,) = batch
        return ((self.w * x - 1.0) ** 2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", torch.tensor(self.script[self.current_epoch]), batch_size=1)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.ones(4, 1)), batch_size=2)

    def val_dataloader(self):
        return DataLoader(TensorDataset(torch.ones(1, 1)), batch_size=1)


class Killed(Exception):
    pass


class KillAtEpochStart(L.Callback):
    """Raise when epoch ``epoch`` starts: the previous epoch and its checkpoints are complete."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise Killed(f"killed at the start of epoch {self.epoch}")


def _trainer(run, max_epochs, patience=None, kill_at=None, **opts):
    options = {"max_epochs": max_epochs, "accelerator": "cpu", "devices": 1, "enable_progress_bar": False,
               "enable_model_summary": False, "num_sanity_val_steps": 0, **opts}
    extra = [KillAtEpochStart(kill_at)] if kill_at is not None else []
    trainer = build_trainer(run, options, early_stop_patience=patience, extra_callbacks=extra)
    return trainer


def _kill_then_resume(run, script, kill_at, max_epochs, patience=None):
    with pytest.raises(Killed):
        _trainer(run, max_epochs, patience, kill_at=kill_at).fit(Scripted(script))
    last = run / "checkpoints" / "last.ckpt"
    killed = read_checkpoint(last)
    resumed = _trainer(run, max_epochs, patience)
    resumed.fit(Scripted(script), ckpt_path=str(last), weights_only=True)
    return killed, resumed


def test_resume_after_an_improving_epoch_keeps_the_true_best(tmp_path):
    run = tmp_path / "run"
    # epoch 1 improves (0.5 < 1.0); the run dies before epoch 2; epochs 2 and 3 are worse than 0.5
    # but better than 1.0, so a stale best score (1.0) would let epoch 2 replace best.ckpt.
    killed, resumed = _kill_then_resume(run, [1.0, 0.5, 0.8, 0.7], kill_at=2, max_epochs=4)
    best_path = run / "checkpoints" / "best.ckpt"
    assert killed["epoch"] == 1
    assert float(killed["callbacks"][BEST_KEY]["best_model_score"]) == pytest.approx(0.5)
    best = read_checkpoint(best_path)
    assert best["epoch"] == 1, "a worse epoch after the resume replaced best.ckpt"
    assert float(best["callbacks"][BEST_KEY]["best_model_score"]) == pytest.approx(0.5)
    callback = next(cb for cb in resumed.checkpoint_callbacks if cb.monitor == "val/loss")
    assert float(callback.best_model_score) == pytest.approx(0.5)
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 3


def test_resume_keeps_early_stopping_patience(tmp_path):
    run = tmp_path / "run"
    # best at epoch 0; epoch 1 is worse (wait 1 of 2); killed; epoch 2 is worse again: stop there.
    killed, resumed = _kill_then_resume(run, [1.0, 1.2, 1.3, 1.4, 1.5], kill_at=2, max_epochs=5, patience=2)
    assert killed["callbacks"][ES_KEY]["wait_count"] == 1
    assert resumed.should_stop and resumed.current_epoch == 3  # epochs 0..2 ran; stopped after epoch 2
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 2
    assert read_checkpoint(run / "checkpoints" / "best.ckpt")["epoch"] == 0


def test_a_run_too_short_to_validate_trains_and_says_so(tmp_path, caplog):
    run = tmp_path / "run"
    trainer = _trainer(run, 3, patience=5, max_steps=1)
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        trainer.fit(Scripted([1.0, 1.0, 1.0]))
    assert trainer.global_step == 1
    assert (run / "checkpoints" / "last.ckpt").is_file() and not (run / "checkpoints" / "best.ckpt").exists()
    assert any("no validation ran" in r.getMessage() for r in caplog.records)


def test_monitor_null_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="--monitor"):
        build_trainer(tmp_path / "run", {"accelerator": "cpu"}, monitor=None)
