"""Supervised depth regression regime (seed 000) as a thin LightningModule.

The network is built from the registry by name; the task owns only the loss, the
optimiser / scheduler and the logging of named losses and metrics (``train/loss``,
``val/loss``, ``val/abs_rel`` ...).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from litedepth.losses.supervised import scale_invariant_log_loss
from litedepth.metrics.depth import compute_depth_metrics
from litedepth.models.spec import OutputSpec
from litedepth.tasks.card import CardMixin
from litedepth.tasks.config import OptimizerConfig, flatten_into
from litedepth.tasks.network import build_network
from litedepth.tasks.optim import build_optimizer
from litedepth.tasks.panels import DepthPanels

log = logging.getLogger(__name__)

#: metrics logged on the validation set (per-image means)
VAL_METRICS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3")


class SupervisedDepthTask(CardMixin, L.LightningModule):
    """Train a registered depth network on RGB + metric depth pairs.

    Args:
        network: registered model name (see ``litedepth.models.list_models()``) or a built
            ``nn.Module`` (:mod:`litedepth.tasks.network`); its output must be depth in metres
            (``kind="depth"``).
        network_options: keyword options for :func:`litedepth.models.create_model`
            (e.g. ``{"weights": "/path/to/resnet50.pth"}``).
        si_lambda: λ of the scale-invariant log loss ``mean(d²) - λ·mean(d)²``,
            ``d = log pred - log gt`` over valid pixels. ``1.0`` is seed 000's exact loss
            (fully scale-invariant: the absolute scale is not learned, evaluate with
            median scaling); ``0.85`` (Eigen et al.) also learns the scale.
        optimizer: ``"adamw"`` (seed 000's final choice) or ``"adam"``.
        lr, weight_decay: optimiser settings (weight decay applies to AdamW only).
        plateau_factor, plateau_patience: ``ReduceLROnPlateau`` on ``val/loss``.
        max_depth: if set, ground truth beyond it is ignored by loss and metrics (metres).
        panel_dir: where validation panels are written (default ``<run dir>/panels``).
        optim: typed alternative to ``optimizer``/``lr``/``weight_decay``
            (:class:`~litedepth.tasks.config.OptimizerConfig`; recorded under the flat names).

    Batches are dicts with ``image`` ``(B, 3, H, W)`` in ``[0, 1]`` and ``depth``
    ``(B, 1, H, W)`` metres, 0 = invalid.
    """

    def __init__(
        self,
        network: str = "deeplabv3-resnet50",
        network_options: dict[str, Any] | None = None,
        si_lambda: float = 1.0,
        optimizer: Literal["adamw", "adam"] = "adamw",
        lr: float = 1e-4,
        weight_decay: float = 1e-2,
        plateau_factor: float = 0.5,
        plateau_patience: int = 3,
        max_depth: float | None = None,
        panel_dir: str | None = None,
        optim: OptimizerConfig | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network", "optim"])
        flatten_into(self.hparams, optim)  # checkpoints keep the flat names
        self.net = build_network(network, network_options, self.hparams)
        self.si_lambda = si_lambda
        self.max_depth = max_depth
        self.panel_dir = panel_dir

    def configure_callbacks(self) -> list[Callback]:
        """The validation panels (:class:`~litedepth.tasks.panels.DepthPanels`), one per epoch."""
        return [DepthPanels(self.panel_dir)]

    @property
    def output_spec(self) -> OutputSpec:
        """The network's spec as trained: with ``si_lambda == 1`` the loss ignores the global
        scale, so the depth is relative (evaluate with median scaling), not metres."""
        spec = self.net.output_spec
        if spec.kind == "depth" and self.si_lambda == 1.0:
            spec = spec.replace(scale="relative", note="scale-invariant loss (SILog λ = 1): depth up to scale")
        return spec

    def forward(self, image: Tensor) -> Tensor:
        """Depth ``(B, 1, H, W)`` for RGB ``(B, 3, H, W)`` in ``[0, 1]``: metres, or relative
        units when trained scale-invariantly (:attr:`output_spec`)."""
        return self.net(image).pred

    def _valid(self, gt: Tensor) -> Tensor:
        valid = gt > 0
        if self.max_depth is not None:
            valid &= gt < self.max_depth
        return valid

    def _loss(self, pred: Tensor, gt: Tensor) -> Tensor:
        return scale_invariant_log_loss(pred, gt, mask=self._valid(gt), lam=self.si_lambda)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        pred = self(batch["image"])
        loss = self._loss(pred, batch["depth"])
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=pred.shape[0])
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        """Logs ``val/loss`` and the metrics; returns ``{"pred": (B, 1, H, W)}`` (the panels draw it)."""
        pred = self(batch["image"])
        gt = batch["depth"]
        bs = pred.shape[0]
        self.log("val/loss", self._loss(pred, gt), prog_bar=True, sync_dist=True, batch_size=bs)
        valid = self._valid(gt)
        per_image = [
            compute_depth_metrics(pred[i][valid[i]], gt[i][valid[i]]) for i in range(bs) if valid[i].any()
        ]
        for key in VAL_METRICS:
            vals = [float(m[key]) for m in per_image]
            if vals:
                self.log(f"val/{key}", float(np.mean(vals)), sync_dist=True, batch_size=len(vals))
        return {"pred": pred.detach()}

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        # weight decay applies to AdamW only (seed 000)
        opt = build_optimizer(params, hp.optimizer, hp.lr, hp.weight_decay if hp.optimizer == "adamw" else 0.0,
                              fused=hp.get("fused_optimizer"))
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=self.hparams.plateau_factor, patience=self.hparams.plateau_patience
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val/loss", "interval": "epoch", "strict": False}}
