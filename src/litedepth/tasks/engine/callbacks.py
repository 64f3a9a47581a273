"""Validation-aware callbacks of every run: early stopping that waits for the first validation,
and the check that validation logs the monitored metric."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping

from litedepth.errors import ConfigError

log = logging.getLogger(__name__)


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
