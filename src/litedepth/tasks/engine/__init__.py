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

The package is split by concept: :mod:`.trainer` (:func:`build_trainer`), :mod:`.checkpoints`
(atomic writes, resume, reading), :mod:`.csv_logs` (``metrics.csv``, ``steps.csv``),
:mod:`.callbacks` (early stopping, the monitored-metric check) and :mod:`.summary`
(:func:`training_summary`). Every name imports from ``litedepth.tasks.engine`` as before.
"""

from litedepth.tasks.engine.callbacks import ValidatedEarlyStopping, ValidationReport
from litedepth.tasks.engine.checkpoints import (
    AtomicCheckpointIO, best_checkpoint_callback, check_checkpoint_matches, checkpoint_dir, find_resume_checkpoint,
    read_checkpoint,
)
from litedepth.tasks.engine.csv_logs import EpochCSVLogger, StepCSVLogger, read_csv_rows
from litedepth.tasks.engine.summary import training_summary
from litedepth.tasks.engine.trainer import build_trainer

__all__ = [
    "AtomicCheckpointIO", "EpochCSVLogger", "StepCSVLogger", "ValidatedEarlyStopping", "ValidationReport",
    "best_checkpoint_callback", "build_trainer", "check_checkpoint_matches", "checkpoint_dir",
    "find_resume_checkpoint", "read_checkpoint", "read_csv_rows", "training_summary",
]
