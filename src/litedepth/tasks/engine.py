"""Trainer assembly shared by every regime: run folder, checkpoints, logs, resume.

A run folder holds::

    run_dir/config.yaml            resolved configuration of the run
    run_dir/checkpoints/last.ckpt  written at the end of every epoch (atomic)
    run_dir/checkpoints/best.ckpt  best value of the monitored validation metric (atomic)
    run_dir/metrics.csv            epoch, train_loss, val_loss, lr, batches, batches_per_epoch
    run_dir/steps.csv              step, epoch, batch, train_loss, seconds (one row per training batch)
    run_dir/tensorboard/           TensorBoard event files
    run_dir/panels/                visual panels per validation epoch

Checkpoints are written to a temporary file and renamed into place, so a run killed at
any moment (SIGKILL included) leaves the previous complete checkpoint and resumes from it.

An epoch row of ``metrics.csv`` with ``batches < batches_per_epoch`` is a partial epoch
(training stopped inside it, e.g. by ``max_time``); :func:`training_summary` counts complete
epochs, the fraction of the partial one and why the fit stopped.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from litedepth.errors import CheckpointError
from litedepth.utils.atomic import atomic_torch_save, atomic_write_bytes

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose writes are atomic (temporary file + ``os.replace``)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        atomic_torch_save(checkpoint, path)


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


def training_summary(trainer: L.Trainer) -> dict[str, Any]:
    """What a finished ``trainer.fit`` of :func:`build_trainer` actually trained, and why it stopped.

    A partial epoch is not a trained epoch: Lightning's ``current_epoch`` counts an epoch cut
    short by ``max_time`` as done, so the epochs are counted from the batches run instead.

    Returns:
        ``{"steps": optimiser steps, "batches": training batches run, "batches_per_epoch":
        int or None, "epochs_completed": full epochs, "epochs": full epochs plus the run
        fraction of a partial one (e.g. 0.11), "stopped_by": "max_epochs" | "max_steps" |
        "time limit" | "early stopping" | "interrupted" | "other", "time_limit_s": the
        ``max_time`` in seconds or None, "train_seconds": time spent in fitting (with
        ``max_time``) or None, "seconds_per_batch": wall-clock seconds per training batch of
        this fit, validation between epochs included, or None}``.
    """
    from lightning.pytorch.callbacks import Timer

    record = next((c for c in trainer.callbacks if isinstance(c, EpochCSVLogger)), None)
    per_epoch = _batches_per_epoch(trainer)
    rows = list(record.rows) if record is not None else []
    batches = [int(r["batches"]) if str(r.get("batches") or "").strip() else per_epoch for r in rows]
    in_flight = record.batches_in_epoch if record is not None else 0  # an epoch left without its end hook (Ctrl+C)
    if in_flight:
        batches.append(in_flight)
    complete = sum(1 for b in batches if per_epoch is not None and b is not None and b >= per_epoch)
    partial = sum(b for b in batches if per_epoch is not None and b is not None and b < per_epoch)
    epochs = complete + (partial / per_epoch if per_epoch else 0.0)
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    limit = timer._duration if timer is not None else None
    remaining = timer.time_remaining() if timer is not None else None
    early = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
    steps_log = next((c for c in trainer.callbacks if isinstance(c, StepCSVLogger)), None)
    per_batch = (steps_log.seconds_this_fit / steps_log.steps_this_fit
                 if steps_log is not None and steps_log.steps_this_fit else None)
    if trainer.interrupted:
        stopped_by = "interrupted"
    elif trainer.max_epochs is not None and trainer.max_epochs > 0 and complete >= trainer.max_epochs:
        stopped_by = "max_epochs"
    elif trainer.max_steps is not None and trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
        stopped_by = "max_steps"
    elif remaining is not None and remaining <= 0:
        stopped_by = "time limit"
    elif early is not None and early.stopped_epoch > 0:
        stopped_by = "early stopping"
    else:
        stopped_by = "other"
    return {
        "steps": int(trainer.global_step),
        "batches": int(sum(b for b in batches if b is not None)),
        "batches_per_epoch": per_epoch,
        "epochs_completed": complete,
        "epochs": round(epochs, 4),
        "stopped_by": stopped_by,
        "time_limit_s": limit,
        "train_seconds": round(timer.time_elapsed(), 3) if timer is not None else None,
        "seconds_per_batch": None if per_batch is None else round(per_batch, 4),
    }


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def find_resume_checkpoint(run_dir: str | Path) -> Path | None:
    """``run_dir/checkpoints/last.ckpt`` if present (leftover temporary files are removed)."""
    folder = checkpoint_dir(run_dir)
    for tmp in folder.glob(".*.tmp"):
        log.info("removing an unfinished checkpoint write %s", tmp)
        tmp.unlink(missing_ok=True)
    last = folder / "last.ckpt"
    return last if last.is_file() else None


def read_checkpoint(path: str | Path, *, mmap: bool = False) -> dict[str, Any]:
    """Load a Lightning checkpoint on CPU, with a clear error for unreadable files.

    ``mmap=True`` maps the file instead of reading it: tensors are only read when used, so
    looking at ``hyper_parameters`` costs next to nothing.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc


def check_checkpoint_matches(path: str | Path, network: str, task_class: str | None = None) -> None:
    """Raise :class:`CheckpointError` if the checkpoint at ``path`` was made for another network."""
    ckpt = read_checkpoint(path)
    hp = ckpt.get("hyper_parameters", {})
    other = hp.get("network")
    if other is not None and other != network:
        raise CheckpointError(f"{path}: checkpoint is of network {other!r}, but this run builds {network!r}")
    if "state_dict" not in ckpt:
        raise CheckpointError(f"{path}: no state_dict in checkpoint")


def build_trainer(
    run_dir: str | Path,
    trainer_options: dict[str, Any] | None = None,
    monitor: str = "val/loss",
    mode: str = "min",
    early_stop_patience: int | None = 5,
    extra_callbacks: list[Callback] | None = None,
) -> L.Trainer:
    """A ``lightning.Trainer`` writing into ``run_dir`` with the project's callbacks.

    Args:
        run_dir: the run folder (see module docstring).
        trainer_options: any ``lightning.Trainer`` keyword (``max_epochs``, ``accelerator``,
            ``devices``, ``strategy``, ``num_nodes``, ``precision`` ...); DDP on several GPUs
            or nodes needs no code change.
        monitor, mode: validation metric selecting ``best.ckpt`` and driving early stopping.
        early_stop_patience: epochs without improvement before stopping (``None`` = off).
    """
    run_dir = Path(run_dir)
    opts = dict(trainer_options or {})
    ckpt_dir = checkpoint_dir(run_dir)
    callbacks: list[Callback] = [
        # `save_last` with a monitor does not write every epoch: a second, unmonitored
        # checkpoint callback writes last.ckpt at the end of every epoch.
        ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
                        every_n_epochs=1, enable_version_counter=False, save_on_train_epoch_end=True),
        ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode, save_top_k=1,
                        enable_version_counter=False, auto_insert_metric_name=False),
        EpochCSVLogger(run_dir / "metrics.csv"),
        StepCSVLogger(run_dir / "steps.csv"),
    ]
    if early_stop_patience is not None:
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=early_stop_patience))
    if opts.pop("enable_progress_bar", True):
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar(leave=True))
    else:
        opts["enable_progress_bar"] = False
    callbacks.extend(extra_callbacks or [])
    callbacks.extend(opts.pop("callbacks", None) or [])
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="")
    opts.setdefault("log_every_n_steps", 10)
    return L.Trainer(
        default_root_dir=str(run_dir),
        callbacks=callbacks,
        logger=logger,
        plugins=[AtomicCheckpointIO()],
        **opts,
    )
