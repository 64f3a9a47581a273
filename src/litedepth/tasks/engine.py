"""Trainer assembly shared by every regime: run folder, checkpoints, logs, resume.

A run folder holds::

    run_dir/config.yaml            resolved configuration of the run
    run_dir/checkpoints/last.ckpt  written at the end of every epoch (atomic), after that
                                   epoch's validation has updated best.ckpt and early stopping
    run_dir/checkpoints/best.ckpt  best value of the monitored validation metric (atomic)
    run_dir/metrics.csv            epoch, train_loss, val_loss, lr
    run_dir/tensorboard/           TensorBoard event files
    run_dir/panels/                visual panels per validation epoch

Checkpoints are written to a temporary file and renamed into place, so a run killed at
any moment (SIGKILL included) leaves the previous complete checkpoint and resumes from it.
``last.ckpt`` holds the state after validation (the best score so far, early stopping's
patience count), so a resumed run compares the next epoch against the true best.

A run too short to validate once (e.g. ``--trainer.max_steps 2``) trains, writes
``last.ckpt`` and says that no validation ran; there is then no ``best.ckpt``.
"""

from __future__ import annotations

import csv
import io
import logging
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


class EpochCSVLogger(Callback):
    """Write ``metrics.csv`` with one row per epoch: epoch, train_loss, val_loss, lr.

    The file is rewritten atomically each epoch; on resume, rows of epochs at or after the
    resumed epoch are replaced.
    """

    FIELDS = ("epoch", "train_loss", "val_loss", "lr")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._sum = 0.0
        self._count = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._sum, self._count = 0.0, 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):
            self._sum += float(loss.detach())
            self._count += 1

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        rows = []
        if self.path.exists():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["epoch"]) < trainer.current_epoch]
        val = trainer.callback_metrics.get("val/loss")
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
        rows.append(
            {
                "epoch": trainer.current_epoch,
                "train_loss": self._sum / max(self._count, 1),
                "val_loss": float(val) if val is not None else "",
                "lr": lr,
            }
        )
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(self.path, buf.getvalue().encode())


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
