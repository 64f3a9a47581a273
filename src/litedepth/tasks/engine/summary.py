"""What a finished fit trained (complete and partial epochs, steps, time) and why it stopped."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping

from litedepth.tasks.engine.csv_logs import EpochCSVLogger, StepCSVLogger, _batches_per_epoch


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
