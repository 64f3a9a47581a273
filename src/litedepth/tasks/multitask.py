"""Segmentation + depth training with seed 002's schedules, as a thin LightningModule.

Seed 002 trains a shared encoder with a semantic and a depth decoder. Joint training with
``0.85 * L_seg + 0.15 * L_depth`` from the start works poorly; its schedule trains one decoder
first, optionally copies that decoder's weights into the other, trains the other, then
fine-tunes both jointly. Every such recipe is a list of :class:`Phase` entries in the
configuration, not a code path::

    phases:                                   # seed 002 table 3, best row
      - {train: depth, length: 20}            # depth decoder (and encoder), depth loss only
      - {train: seg, length: 20, copy_from: depth}   # copy depth -> seg decoder, then seg only
      - {train: both, length: 20}             # joint fine-tuning, 0.85 / 0.15

Per phase: ``train`` selects the decoder(s) that learn and the loss(es) that count (``both``:
``seg_weight * L_seg + depth_weight * L_depth``); the rest of a phase's meaning and the callback
that switches phases are in :mod:`litedepth.tasks.phase_schedule`.

Segmentation-only networks (torchvision DeepLabV3, DeepLabV3+, the single-decoder UNet) train
with the same task and the default single ``seg`` phase.

Batches follow :mod:`litedepth.data.segmentation`: ``image`` ``(B, 3, H, W)`` in ``[0, 1]``,
``mask`` ``(B, H, W)`` class ids (``ignore_index`` = void), ``depth`` ``(B, 1, H, W)`` and
``depth_valid`` ``(B, 1, H, W)``. Logged: ``train/loss``, ``train/seg_loss``,
``train/depth_loss``, ``train/phase``; ``val/loss`` (for networks with a depth head always
``seg_weight * seg + depth_weight * depth``, the depth term 0 for batches without valid depth,
so every batch is scored the same way; for segmentation-only networks the seg loss),
``val/seg_loss``, ``val/depth_loss``, ``val/miou``, ``val/pixel_acc``, ``val/iiou``,
``val/iou/<class>`` (:mod:`litedepth.metrics.segmentation`), and for metric depth heads
``val/abs_rel``, ``val/rmse``, ``val/a1``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from litedepth.errors import ConfigError
from litedepth.losses.segmentation import focal_loss
from litedepth.losses.supervised import masked_mse, scale_invariant_log_loss
from litedepth.metrics.segmentation import SegmentationMetrics
from litedepth.models.spec import OutputSpec
from litedepth.tasks.card import CardMixin
from litedepth.tasks.config import OptimizerConfig, flatten_into
from litedepth.tasks.network import build_network
from litedepth.tasks.optim import build_optimizer
from litedepth.tasks.phase_schedule import HEADS_OF, Phase, PhaseSchedule, phase_at, sequential_phases, validate_phases

log = logging.getLogger(__name__)

__all__ = ["MultiTaskSegDepthTask", "Phase", "PhaseSchedule", "phase_at", "sequential_phases", "validate_phases"]

class MultiTaskSegDepthTask(CardMixin, L.LightningModule):
    """Train a segmentation or multi-task (segmentation + depth) network with phases.

    Args:
        network: registered segmentation or multi-task network (``multitask-unet-resnet50``,
            ``unet-resnet50-seg``, ``deeplabv3-resnet50-seg``, ``deeplabv3plus-resnet50`` ...) or a
            built ``nn.Module`` (:mod:`litedepth.tasks.network`).
        network_options: options for :func:`litedepth.models.create_model` (``encoder``,
            ``num_classes``, ``depth_output``, ``encoder_weights`` ...).
        phases: the schedule (module docstring); default one ``both`` phase for multi-task
            networks, one ``seg`` phase for segmentation networks.
        phase_unit: ``"epoch"`` or ``"step"``: what :attr:`Phase.length` counts.
        phase_length_override: if set, every phase lasts this many units (quick runs and CI
            keep a preset's phase structure with 1-step phases).
        seg_weight, depth_weight: loss weights of ``both`` phases (seed 002: 0.85 / 0.15).
        focal_alpha, focal_gamma: focal loss ``alpha * (1 - exp(-CE))^gamma * CE``
            (seed 002: gamma 2; it gives no alpha, 1 keeps the CE scale).
        ignore_index: void label of the masks (VOC: 255).
        depth_loss: ``"mse"`` (seed 002: mean squared error over valid pixels) or ``"silog"``
            (scale-invariant log loss with ``si_lambda``; targets ``<= 0`` excluded).
        optimizer, lr, weight_decay: seed 002: Adam, 1e-4 (weight decay for AdamW only); or
            ``optim`` (:class:`~litedepth.tasks.config.OptimizerConfig`, recorded under these names).
        class_names: names for ``val/iou/<class>`` (default: the data module's, else ids).
        background_classes: classes excluded from iIoU (VOC: 0).
    """

    def __init__(
        self,
        network: str = "multitask-unet-resnet50",
        network_options: dict[str, Any] | None = None,
        phases: list[Phase] | None = None,
        phase_unit: Literal["epoch", "step"] = "epoch",
        phase_length_override: int | None = None,
        seg_weight: float = 0.85,
        depth_weight: float = 0.15,
        focal_alpha: float = 1.0,
        focal_gamma: float = 2.0,
        ignore_index: int = 255,
        depth_loss: Literal["mse", "silog"] = "mse",
        si_lambda: float = 1.0,
        optimizer: Literal["adam", "adamw"] = "adam",
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        class_names: list[str] | None = None,
        background_classes: Sequence[int] = (0,),
        optim: OptimizerConfig | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["phases", "network", "optim"])
        flatten_into(self.hparams, optim)  # checkpoints keep the flat names
        self.net = build_network(network, network_options, self.hparams)
        heads = tuple(getattr(self.net, "heads", ("seg",)))
        self.has_depth_head = "depth" in heads
        if phases is None:
            phases = [Phase("both" if self.has_depth_head else "seg", 1)]
        phases = [Phase(**p) if isinstance(p, dict) else p for p in phases]
        # plain dicts in the checkpoint: it stays loadable with torch.load(weights_only=True)
        self.hparams["phases"] = [asdict(p) for p in phases]
        if phase_length_override is not None:
            if phase_length_override < 1:
                raise ConfigError(f"phase_length_override must be >= 1, got {phase_length_override}")
            phases = [replace(p, length=int(phase_length_override)) for p in phases]
        validate_phases(phases, heads)
        if depth_loss not in ("mse", "silog"):
            raise ConfigError(f"depth_loss must be 'mse' or 'silog', got {depth_loss!r}")
        self.schedule = PhaseSchedule(phases, phase_unit)
        self.num_classes = int(self.net.num_classes)
        self.class_names = list(class_names) if class_names is not None else None
        self.val_metrics = SegmentationMetrics(self.num_classes, ignore_index, tuple(background_classes))
        self._val_depth: list[dict[str, float]] = []

    def configure_callbacks(self) -> list[Callback]:
        """The :class:`~litedepth.tasks.phase_schedule.PhaseSchedule` switching phases (Lightning
        adds it to the trainer's callbacks)."""
        return [self.schedule]

    @property
    def phase(self) -> int | None:
        """Index of the current phase (``None`` before training starts)."""
        return self.schedule.phase

    @property
    def phase_history(self) -> list[dict[str, Any]]:
        """The phases entered so far (:attr:`PhaseSchedule.history`), those of resumed runs included."""
        return self.schedule.history

    @property
    def phases(self) -> list[Phase]:
        """The schedule's phases (:attr:`PhaseSchedule.phases`)."""
        return self.schedule.phases

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if self.class_names is None and dm is not None and getattr(dm, "class_names", None):
            self.class_names = list(dm.class_names)
        uses_depth = any(p.train in ("depth", "both") for p in self.phases)
        if uses_depth and dm is not None and getattr(dm, "has_depth", True) is False:
            raise ConfigError("the schedule trains the depth decoder, but the data has no depth targets "
                              "(set data.init_args.pseudo_labels or data.init_args.depth_dir)")

    @property
    def output_spec(self) -> OutputSpec:
        """The network's spec: segmentation logits, or the depth head's meaning for multi-task networks."""
        return self.net.output_spec

    def forward(self, image: Tensor) -> Any:
        """The network's :class:`~litedepth.models.segmentation_outputs.SegmentationOutput`."""
        return self.net(image)

    def _seg_loss(self, logits: Tensor, mask: Tensor) -> Tensor:
        hp = self.hparams
        return focal_loss(logits, mask, hp.focal_alpha, hp.focal_gamma, hp.ignore_index)

    def _depth_loss(self, pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        if self.hparams.depth_loss == "silog":
            valid = valid & (target > 0)
        if not bool(valid.any()):
            return pred.sum() * 0.0
        if self.hparams.depth_loss == "mse":
            return masked_mse(pred, target, valid)
        return scale_invariant_log_loss(pred, target, mask=valid, lam=self.hparams.si_lambda)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        # the schedule switched phases at the batch start; outside a Trainer loop it does so here
        phase = self.schedule.update(self)
        heads = HEADS_OF[phase.train]
        out = self.net(batch["image"], heads=heads)
        bs = batch["image"].shape[0]
        losses: dict[str, Tensor] = {}
        if "seg" in heads:
            losses["seg_loss"] = self._seg_loss(out.logits, batch["mask"])
        if "depth" in heads:
            losses["depth_loss"] = self._depth_loss(out.depth.pred, batch["depth"], batch["depth_valid"])
        if phase.train == "both":
            loss = self.hparams.seg_weight * losses["seg_loss"] + self.hparams.depth_weight * losses["depth_loss"]
        else:
            loss = next(iter(losses.values()))
        for k, v in losses.items():
            self.log(f"train/{k}", v, on_step=True, on_epoch=True, batch_size=bs)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=bs)
        self.log("train/phase", float(self.schedule.phase), on_step=True, on_epoch=False, batch_size=bs)  # type: ignore[arg-type]
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self.net(batch["image"])
        bs = batch["image"].shape[0]
        seg = self._seg_loss(out.logits, batch["mask"])
        self.val_metrics.update(out.logits.argmax(1), batch["mask"])
        self.log("val/seg_loss", seg, sync_dist=True, batch_size=bs)
        total = seg
        valid = batch["depth_valid"]
        if out.depth is not None:
            total = self.hparams.seg_weight * seg
        if out.depth is not None and bool(valid.any()):
            dl = self._depth_loss(out.depth.pred, batch["depth"], valid)
            self.log("val/depth_loss", dl, sync_dist=True, batch_size=bs)
            total = total + self.hparams.depth_weight * dl
            if out.depth.kind == "depth":
                from litedepth.metrics.depth import compute_depth_metrics

                gt = batch["depth"]
                for i in range(bs):
                    v = valid[i] & (gt[i] > 0)
                    if v.any():
                        m = compute_depth_metrics(out.depth.pred[i][v], gt[i][v])
                        self._val_depth.append({k: float(m[k]) for k in ("abs_rel", "rmse", "a1")})
        self.log("val/loss", total, prog_bar=True, sync_dist=True, batch_size=bs)

    def on_validation_epoch_end(self) -> None:
        scores = self.val_metrics.compute()
        self.val_metrics.reset()
        for key in ("miou", "pixel_acc", "iiou"):
            value = float(scores[key])
            if np.isfinite(value):
                self.log(f"val/{key}", value, prog_bar=key == "miou")
        names = self.class_names or [str(i) for i in range(self.num_classes)]
        for name, value in zip(names, scores["iou"].tolist()):
            if np.isfinite(value):
                self.log(f"val/iou/{name}", value)
        if self._val_depth:
            for key in ("abs_rel", "rmse", "a1"):
                self.log(f"val/{key}", float(np.mean([d[key] for d in self._val_depth])), sync_dist=True)
        self._val_depth = []

    def configure_optimizers(self) -> torch.optim.Optimizer:
        hp = self.hparams
        # every parameter, frozen ones included: later phases unfreeze them, and Adam skips
        # parameters without a gradient; weight decay applies to AdamW only (seed 002)
        return build_optimizer(self.net.parameters(), hp.optimizer, hp.lr,
                               hp.weight_decay if hp.optimizer == "adamw" else 0.0, fused=hp.get("fused_optimizer"))
