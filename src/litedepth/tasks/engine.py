"""Trainer assembly shared by every regime: run folder, checkpoints, logs, resume.

A run folder holds::

    run_dir/config.yaml            resolved configuration of the run
    run_dir/checkpoints/last.ckpt  written at the end of every epoch (atomic), after that
                                   epoch's validation has updated best.ckpt and early stopping
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
``last.ckpt`` holds the state after validation (the best score so far, early stopping's
patience count), so a resumed run compares the next epoch against the true best.

A run too short to validate once (e.g. ``--trainer.max_steps 2``) trains, writes
``last.ckpt`` and says that no validation ran; there is then no ``best.ckpt``.
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

from litedepth.errors import CheckpointError, ConfigError
from litedepth.utils.atomic import atomic_torch_save, atomic_write_bytes
from litedepth.utils.torch_files import load_torch_file

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


class ValidatedEarlyStopping(EarlyStopping):
    """``EarlyStopping`` that waits for the first validation before it needs the metric.

    Lightning's check raises "Early stopping conditioned on metric ... which is not available"
    when training ends (``max_steps``) before any validation ran. Once a validation has run,
    a missing metric is still an error (a misspelt ``monitor``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validations = 0

    @property
    def state_key(self) -> str:
        # EarlyStopping's key, so checkpoints of earlier versions restore the patience count
        return f"EarlyStopping{ {'monitor': self.monitor, 'mode': self.mode}!r}"

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.validations += 1
        super().on_validation_end(trainer, pl_module)

    def _run_early_stopping_check(self, trainer: L.Trainer) -> None:
        if self.validations == 0 and self.monitor not in trainer.callback_metrics:
            return
        super()._run_early_stopping_check(trainer)


class ValidationReport(Callback):
    """Checks that validation logs the monitored metric, and says at the end of training when
    no validation ran (then no best checkpoint exists).

    A ``monitor`` that validation does not log (misspelt) is a :class:`ConfigError` listing
    the metrics it does log, raised at the sanity check before training when there is one.
    """

    def __init__(self, monitor: str | None = None) -> None:
        self.monitor = monitor
        self.validations = 0

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.validations += 1
        logged = [k for k in trainer.callback_metrics if k.startswith("val")]
        if self.monitor and self.monitor not in trainer.callback_metrics and (logged or not trainer.sanity_checking):
            raise ConfigError(f"--monitor {self.monitor!r}: validation does not log this metric; it logs "
                              f"{', '.join(sorted(logged)) or 'nothing'}")

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.validations == 0 and trainer.is_global_zero:
            log.warning("no validation ran: training stopped after %d step(s), before the first validation "
                        "(max_steps / limit_train_batches / check_val_every_n_epoch); no best.ckpt was "
                        "written, last.ckpt holds the trained weights", trainer.global_step)


def best_checkpoint_callback(trainer: L.Trainer) -> ModelCheckpoint | None:
    """The callback writing ``best.ckpt`` (the monitored one), if any."""
    for cb in trainer.checkpoint_callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.monitor is not None:
            return cb
    return None


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
    looking at ``hyper_parameters`` costs next to nothing. Empty, truncated, foreign files and
    files holding objects beyond weights are one-line :class:`CheckpointError` s
    (:func:`litedepth.utils.torch_files.load_torch_file`).
    """
    ckpt = load_torch_file(path, "checkpoint", mmap=mmap)
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a checkpoint (a {type(ckpt).__name__}, not a dict)")
    return ckpt


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

    Raises:
        ConfigError: no ``monitor``, an unknown ``mode`` or a negative patience.
    """
    from litedepth.tasks.preflight import check_monitor

    check_monitor(monitor, mode, early_stop_patience)
    run_dir = Path(run_dir)
    opts = dict(trainer_options or {})
    ckpt_dir = checkpoint_dir(run_dir)
    callbacks: list[Callback] = [
        # The monitored callback comes first: Lightning runs checkpoint callbacks last and in
        # this order, so when last.ckpt is written the epoch's validation has already updated
        # the best score (and early stopping, a non-checkpoint callback, its patience count).
        ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode, save_top_k=1,
                        enable_version_counter=False, auto_insert_metric_name=False),
        # `save_last` with a monitor does not write every epoch: a second, unmonitored
        # checkpoint callback writes last.ckpt at the end of every epoch.
        ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
                        every_n_epochs=1, enable_version_counter=False, save_on_train_epoch_end=True),
        EpochCSVLogger(run_dir / "metrics.csv"),
        StepCSVLogger(run_dir / "steps.csv"),
        ValidationReport(monitor),
    ]
    if early_stop_patience is not None:
        callbacks.append(ValidatedEarlyStopping(monitor=monitor, mode=mode, patience=early_stop_patience))
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
