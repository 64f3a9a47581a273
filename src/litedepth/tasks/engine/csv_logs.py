"""The CSV logs of a run folder: ``metrics.csv`` (one row per epoch) and ``steps.csv`` (one row
per training batch), written atomically by two callbacks."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from litedepth.utils.atomic import atomic_write_bytes


def _write_csv(path: Path, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header (``metrics.csv``, ``steps.csv``) as dicts of strings;
    ``[]`` when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _batch_loss(outputs: Any) -> float | None:
    loss = outputs["loss"] if isinstance(outputs, dict) else outputs
    return float(loss.detach()) if isinstance(loss, torch.Tensor) else None


def _batches_per_epoch(trainer: L.Trainer) -> int | None:
    n = trainer.num_training_batches
    return int(n) if n not in (None, float("inf")) else None


class EpochCSVLogger(Callback):
    """Write ``metrics.csv`` with one row per epoch: epoch, train_loss, val_loss, lr, batches,
    batches_per_epoch (``batches < batches_per_epoch``: training stopped inside that epoch).

    The file is rewritten atomically each epoch; on resume, rows of epochs at or after the
    resumed epoch are replaced.

    Attributes:
        rows: the rows written so far (those of a resumed run included).
        batches_in_epoch: training batches run in the current epoch so far.
    """

    FIELDS = ("epoch", "train_loss", "val_loss", "lr", "batches", "batches_per_epoch")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        self._sum = 0.0
        self._count = 0
        self.batches_in_epoch = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.rows = [r for r in read_csv_rows(self.path) if int(r["epoch"]) < trainer.current_epoch]

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._sum, self._count, self.batches_in_epoch = 0.0, 0, 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.batches_in_epoch += 1
        loss = _batch_loss(outputs)
        if loss is not None:
            self._sum += loss
            self._count += 1

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        val = trainer.callback_metrics.get("val/loss")
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
        per_epoch = _batches_per_epoch(trainer)
        self.rows = [r for r in self.rows if int(r["epoch"]) < trainer.current_epoch]
        self.rows.append(
            {
                "epoch": trainer.current_epoch,
                "train_loss": self._sum / max(self._count, 1),
                "val_loss": float(val) if val is not None else "",
                "lr": lr,
                "batches": self.batches_in_epoch,
                "batches_per_epoch": "" if per_epoch is None else per_epoch,
            }
        )
        self.batches_in_epoch = 0
        _write_csv(self.path, self.FIELDS, self.rows)


class StepCSVLogger(Callback):
    """Write ``steps.csv``: one row per training batch (step, epoch, batch, train_loss, seconds).

    ``step`` is the optimiser step count after the batch (``trainer.global_step``), ``batch``
    the batch index within its epoch, ``seconds`` the wall-clock time since this fit started
    (validation included; it restarts at 0 when a run is resumed). Rows are kept in memory and the file is rewritten
    atomically at the end of every epoch and of the fit (so a fit stopped inside its first
    epoch still has its steps); on resume, rows at or after the resumed step are replaced.
    """

    FIELDS = ("step", "epoch", "batch", "train_loss", "seconds")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        self.steps_this_fit = 0
        self.seconds_this_fit = 0.0
        self._t0 = time.monotonic()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.rows = [r for r in read_csv_rows(self.path) if int(r["step"]) <= trainer.global_step]
        self.steps_this_fit, self.seconds_this_fit = 0, 0.0
        self._t0 = time.monotonic()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = _batch_loss(outputs)
        self.steps_this_fit += 1
        self.seconds_this_fit = time.monotonic() - self._t0
        self.rows.append({"step": trainer.global_step, "epoch": trainer.current_epoch, "batch": batch_idx,
                          "train_loss": "" if loss is None else loss, "seconds": round(self.seconds_this_fit, 3)})

    def _flush(self, trainer: L.Trainer) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking:
            _write_csv(self.path, self.FIELDS, self.rows)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._flush(trainer)  # Ctrl+C: keep the steps run so far
