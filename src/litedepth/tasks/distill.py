"""Distilling a relative-depth teacher into a registered network, as a thin LightningModule.

The network learns the teacher's disparity up to a per-image scale and shift with the
affine-invariant loss of :mod:`litedepth.losses.affine_invariant` (MiDaS: median/MAD or
least-squares alignment + multi-scale gradient matching). Its output is therefore **relative
disparity** (bigger = nearer, scale and shift unknown), not metres, whatever its sigmoid range
suggests: the checkpoint records ``output: "relative-disparity"`` in its hyper-parameters.

Batches follow :class:`~litedepth.data.distill.DistillDataModule`: ``image`` ``(B, 3, H, W)`` in
``[0, 1]``, ``teacher`` ``(B, 1, H, W)`` disparity (0 = invalid), ``valid`` ``(B, 1, H, W)`` bool.
Logged: ``train/loss`` (``train/data``, ``train/grad``), ``val/loss``, and the agreement with the
teacher on held-out images at the training size, after scale-and-shift alignment
(``val/teacher_abs_rel``, ``val/teacher_a1``; :func:`litedepth.metrics.agreement.affine_agreement`).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch import Tensor

from litedepth.errors import CheckpointError, ConfigError
from litedepth.losses.affine_invariant import Alignment, affine_invariant_terms
from litedepth.metrics.agreement import affine_agreement
from litedepth.models import load_pretrained, model_info
from litedepth.models.spec import OutputSpec
from litedepth.tasks.card import CardMixin
from litedepth.tasks.config import OptimizerConfig, flatten_into
from litedepth.tasks.network import build_network
from litedepth.tasks.optim import build_optimizer

log = logging.getLogger(__name__)

__all__ = ["OUTPUT", "OUTPUT_NOTE", "AffineDistillationTask"]

#: what a distilled network's output means (recorded in its checkpoint and report)
OUTPUT = "relative-disparity"
OUTPUT_NOTE = ("affine-invariant relative disparity: bigger = nearer; the scale and shift are unknown (different "
               "per image), so it is not metres and not a Monodepth2 sigmoid disparity with a depth range")


class AffineDistillationTask(CardMixin, L.LightningModule):
    """Train a registered disparity network on a teacher's maps with an affine-invariant loss.

    Args:
        network: registered depth network with a disparity output (``lite-mono-tiny``,
            ``lite-mono``, ``monodepth2-resnet18``, ...) or a built ``nn.Module``
            (:mod:`litedepth.tasks.network`).
        network_options: options for ``create_model(network, ...)``.
        init_weights: start from these weights (a path or a published name, see
            ``litedepth weights list``) instead of a random initialisation; the training size
            they record (Lite-Mono's dilations) is kept in ``network_options``.
        alignment, trim, grad_weight, grad_scales: the loss
            (:func:`~litedepth.losses.affine_invariant.affine_invariant_loss`; MiDaS: median/MAD
            or least squares, trim 0.2, weight 0.5, 4 scales).
        optimizer: ``adamw`` or ``adam``; ``lr``, ``weight_decay`` its settings (or ``optim``, an
            :class:`~litedepth.tasks.config.OptimizerConfig`, recorded under these flat names).
        scheduler: ``cosine`` (per step, down to ``lr * min_lr_ratio``) or ``none``.
        teacher: description of the teacher (recorded in the checkpoint).
    """

    def __init__(
        self,
        network: str = "lite-mono-tiny",
        network_options: dict[str, Any] | None = None,
        init_weights: str | None = None,
        alignment: Alignment = "median-mad",
        trim: float = 0.0,
        grad_weight: float = 0.5,
        grad_scales: int = 4,
        optimizer: Literal["adamw", "adam"] = "adamw",
        lr: float = 5e-4,
        weight_decay: float = 1e-2,
        scheduler: Literal["cosine", "none"] = "cosine",
        min_lr_ratio: float = 0.05,
        teacher: dict[str, Any] | None = None,
        optim: OptimizerConfig | None = None,
    ) -> None:
        super().__init__()
        if alignment not in ("median-mad", "least-squares"):
            raise ConfigError(f"alignment must be 'median-mad' or 'least-squares', not {alignment!r}")
        if not 0.0 <= trim < 1.0 or grad_weight < 0 or grad_scales < 1:
            raise ConfigError(f"need 0 <= trim < 1, grad_weight >= 0, grad_scales >= 1; got {trim}, {grad_weight}, "
                              f"{grad_scales}")
        if init_weights and not isinstance(network, str):
            raise ConfigError("init_weights needs a registered network name; load the weights into the module instead")
        options = dict(network_options or {})
        start = None
        if init_weights:
            start, trained = load_pretrained(network, init_weights)
            if {"height", "width"} <= set(inspect.signature(model_info(network).factory).parameters):
                options.setdefault("height", trained[0])
                options.setdefault("width", trained[1])
        self.save_hyperparameters(ignore=["network", "optim"])
        flatten_into(self.hparams, optim)  # checkpoints keep the flat names
        self.hparams["network_options"] = options
        self.hparams["output"] = OUTPUT
        self.hparams["output_note"] = OUTPUT_NOTE
        self.net = build_network(network, options if isinstance(network, str) else network_options, self.hparams)
        if not self.net.output_spec.is_depth:
            raise ConfigError(f"{self.hparams.network or type(network).__name__} predicts {self.net.output_spec.kind}, not depth: distil into a depth network "
                              "(e.g. lite-mono-tiny, lite-mono, monodepth2-resnet18, deeplabv3-mobilenet-v3-large)")
        if start is not None:
            try:
                self.net.load_state_dict(start.state_dict(), strict=True)
            except RuntimeError as exc:
                raise CheckpointError(f"{init_weights}: does not fit {network} with options {options} "
                                      f"({str(exc).splitlines()[0]})") from None

    @property
    def output_spec(self) -> OutputSpec:
        """Affine-invariant relative disparity, whatever the network's head was built for (its
        checkpoint, ONNX file and predictions say so; nobody reads it as metres)."""
        base = self.net.output_spec
        teacher = (self.hparams.get("teacher") or {}).get("id")
        return OutputSpec.relative_disparity(size_multiple=base.size_multiple, normalisation=base.normalisation,
                                             note=f"distilled from {teacher}" if teacher else "distilled")

    def forward(self, image: Tensor) -> Tensor:
        """Relative disparity ``(B, 1, H, W)`` for RGB ``(B, 3, H, W)`` in ``[0, 1]``."""
        return self.net(image).pred

    def _loss(self, pred: Tensor, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor]:
        hp = self.hparams
        data, grad, has = affine_invariant_terms(pred, batch["teacher"], batch["valid"], alignment=hp.alignment,
                                                 trim=hp.trim, scales=hp.grad_scales)
        n = has.sum().clamp_min(1)
        data, grad = (data * has).sum() / n, (grad * has).sum() / n
        return data + hp.grad_weight * grad, data, grad

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        pred = self(batch["image"])
        loss, data, grad = self._loss(pred, batch)
        bs = pred.shape[0]
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=bs)
        self.log_dict({"train/data": data, "train/grad": grad}, on_step=False, on_epoch=True, batch_size=bs)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        pred = self(batch["image"])
        loss, _, _ = self._loss(pred, batch)
        bs = pred.shape[0]
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=bs)
        teacher = torch.where(batch["valid"], batch["teacher"], torch.zeros_like(batch["teacher"]))
        scores = []
        for p, t in zip(pred.float().cpu().numpy(), teacher.float().cpu().numpy()):
            if (t > 0).sum() >= 2 and float(np.ptp(p[0])) > 0:
                scores.append(affine_agreement(p[0], t[0]))
        for key in ("abs_rel", "a1"):
            if scores:
                self.log(f"val/teacher_{key}", float(np.mean([s[key] for s in scores])), sync_dist=True,
                         batch_size=len(scores))

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        # weight decay for AdamW only; the default (not fused) kernel unless asked, as this task always used
        opt = build_optimizer(params, hp.optimizer, hp.lr, hp.weight_decay if hp.optimizer == "adamw" else 0.0,
                              fused=hp.get("fused_optimizer") or False)
        if hp.scheduler == "none":
            return opt
        if hp.scheduler != "cosine":
            raise ConfigError(f"scheduler must be 'cosine' or 'none', not {hp.scheduler!r}")
        total = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=hp.lr * hp.min_lr_ratio)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
