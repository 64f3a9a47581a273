"""The ``lightning.Trainer`` every regime trains with: run folder, checkpoints, logs, callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from litedepth.tasks.engine.callbacks import ValidatedEarlyStopping, ValidationReport
from litedepth.tasks.engine.checkpoints import AtomicCheckpointIO, checkpoint_dir
from litedepth.tasks.engine.csv_logs import EpochCSVLogger, StepCSVLogger


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
