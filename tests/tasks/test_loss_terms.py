"""A new loss term is one file plus one line of configuration (issue 15).

The term below is registered from this test module (as a user's own file would) and named in
the task's ``loss_terms``; training with it must move the network where the term pulls (the
mean disparity towards 0.9) while the same training without it does not, the term must be
logged by its name, and the ``package.module:function`` form and the errors are checked too.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from litedepth.errors import ConfigError
from litedepth.losses.terms import get_loss_term, list_loss_terms, register_loss_term
from litedepth.tasks import SelfSupervisedDepthTask

from .test_self_supervised_precision import _batch

TARGET = 0.9


@register_loss_term("test-mean-disparity-prior")
def mean_disparity_prior(batch, outputs):
    """Squared distance of the mean predicted disparity to TARGET (unweighted scalar)."""
    return (outputs.pred.mean() - TARGET) ** 2


class _Batches(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 6

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in _batch(i).items()}


def _train(loss_terms) -> tuple[SelfSupervisedDepthTask, dict[str, float]]:
    L.seed_everything(0, verbose=False)
    task = SelfSupervisedDepthTask("lite-mono-tiny", network_options={"drop_path_rate": 0.0}, lr=1e-3,
                                   scheduler="none", loss_terms=loss_terms)
    trainer = L.Trainer(max_steps=12, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu")
    trainer.fit(task, DataLoader(_Batches(), batch_size=2, shuffle=False))
    return task.eval(), {k: float(v) for k, v in trainer.callback_metrics.items()}


def _mean_disparity(task: SelfSupervisedDepthTask) -> float:
    with torch.no_grad():
        return float(task(_batch(7)["frames"][:, 0]).mean())


def test_a_registered_term_is_trained_and_logged_by_its_name():
    assert "test-mean-disparity-prior" in list_loss_terms()
    plain, _ = _train(None)
    pulled, metrics = _train({"test-mean-disparity-prior": 50.0})
    before, after = _mean_disparity(plain), _mean_disparity(pulled)
    assert abs(after - TARGET) < 0.5 * abs(before - TARGET), (before, after)
    assert "train/test-mean-disparity-prior" in metrics and "train/photometric" in metrics


def test_a_term_by_module_path_and_clear_errors():
    assert get_loss_term(f"{__name__}:mean_disparity_prior") is mean_disparity_prior
    with pytest.raises(ConfigError, match="unknown loss term 'nope'"):
        SelfSupervisedDepthTask("lite-mono-tiny", loss_terms={"nope": 1.0})
    with pytest.raises(ConfigError, match="has no function"):
        get_loss_term(f"{__name__}:missing")
    with pytest.raises(ConfigError, match="must be a number"):
        SelfSupervisedDepthTask("lite-mono-tiny", loss_terms={"test-mean-disparity-prior": "heavy"})
    with pytest.raises(ConfigError, match="'photometric' is already registered"):
        register_loss_term("photometric")(mean_disparity_prior)  # a built-in term's name is taken
    with pytest.raises(ConfigError, match="'photometric' is a built-in term"):
        SelfSupervisedDepthTask("lite-mono-tiny", loss_terms={"photometric": 1.0})
    task = SelfSupervisedDepthTask("lite-mono-tiny", loss_terms={"test-mean-disparity-prior": 0.0})
    assert task.loss_terms == {}  # weight 0 switches a term off
