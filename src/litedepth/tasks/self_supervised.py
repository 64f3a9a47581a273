"""Self-supervised depth + pose from video (Monodepth2 / Lite-Mono) as a thin LightningModule.

Loss: ``sum(weight * term(batch, outputs))`` over named, registered loss terms
(:mod:`litedepth.losses.terms`), each logged weighted as ``train/<name>``: ``photometric``
(weight 1; minimum reprojection error with auto-masking, mean over the decoder scales,
:mod:`litedepth.losses.view_synthesis`), ``smoothness`` (``smoothness_weight``; edge-aware, halved
per scale, mean over scales, :mod:`litedepth.losses.smoothness_term`), seed 001's
``distillation`` and ``chamfer`` (``distillation_weight``, ``chamfer_weight``, on batches with a
teacher map, :mod:`litedepth.losses.teacher_terms`) and the terms named in ``loss_terms``. The
depth network sees the colour-augmented target; the losses compare un-augmented frames. Poses
come from the pose network for temporal sources (frames fed in temporal order, the transform
inverted for negative offsets) and from the known stereo transform for ``"s"``.

Batches follow the sample contract of :mod:`litedepth.data.video`: ``frames`` and
``frames_raw`` ``(B, F, 3, H, W)`` in ``[0, 1]`` ordered as ``frame_ids``; ``K`` ``(B, 3, 3)``
pixel intrinsics; optional ``stereo_T`` ``(B, 4, 4)``, ``depth_gt`` ``(B, 1, Hg, Wg)`` metres,
``pose_gt`` ``(B, F-1, 4, 4)`` (``X_source = T @ X_target``).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch import Tensor

from litedepth.errors import ConfigError
from litedepth.geometry.depth import disp_to_depth
from litedepth.losses.terms import resolve_loss_terms
from litedepth.losses.view_synthesis import ViewSynthesisOutputs
from litedepth.models.spec import OutputSpec
from litedepth.tasks.card import CardMixin
from litedepth.tasks.config import DepthRange, OptimizerConfig, SchedulerConfig, flatten_into
from litedepth.tasks.network import build_network
from litedepth.tasks.optim import build_epoch_scheduler, build_optimizer
from litedepth.tasks.video_metrics import depth_metrics, pose_direction_cosine

log = logging.getLogger(__name__)

FrameId = int | str
#: names :meth:`SelfSupervisedDepthTask.compute_losses` uses itself (``loss`` is the total)
BUILTIN_TERMS = ("loss", "photometric", "smoothness", "distillation", "chamfer")


class SelfSupervisedDepthTask(CardMixin, L.LightningModule):
    """Train a disparity network and a pose network by view synthesis.

    Args:
        network: registered depth network with a disparity output (e.g. ``lite-mono``,
            ``monodepth2-resnet18``, ``hybrid-resnet18-transformer``), or a built ``nn.Module``
            (:mod:`litedepth.tasks.network`; the same for ``pose_network``).
        network_options: options for ``create_model(network, ...)`` (e.g. ``drop_path_rate``).
        pose_network: registered pose network (``posenet-resnet18``); unused for stereo-only.
        pose_options: options for the pose network.
        frame_ids: target first, then source offsets and/or ``"s"`` (stereo), e.g. ``[0, -1, 1]``.
        min_depth, max_depth: ``disp_to_depth`` range (0.1, 100 in Monodepth2).
        ssim_weight: α of the photometric error (0.85).
        smoothness_weight: edge-aware smoothness weight at scale 0 (1e-3), halved per scale.
        automask: Monodepth2 auto-masking of static pixels.
        optimizer: ``adam`` (Monodepth2) or ``adamw`` (Lite-Mono).
        lr, pose_lr: peak learning rates of the depth and pose parameters (separate
            parameter groups: with Adam-family optimisers this equals separate optimisers).
        weight_decay: AdamW weight decay (1e-2 in Lite-Mono).
        scheduler: ``step`` (Monodepth2: x ``gamma`` every ``step_size`` epochs),
            ``cosine-restarts`` (Lite-Mono: cosine with warm restarts every ``period``
            epochs, peak x ``restart_decay`` per restart, down to ``min_lr`` / ``pose_min_lr``)
            or ``none``. Stepped per epoch.
        val_median_scaling: median-scale predictions in validation metrics (monocular).
        val_max_depth: ground truth beyond this is ignored in validation metrics (metres).
        distillation_weight, chamfer_weight: w1, w2 of seed 001: the weights of the
            ``distillation`` and ``chamfer`` terms (:mod:`litedepth.losses.teacher_terms`; with
            ``distillation_normalisation`` and ``chamfer_points``), on batches with ``teacher``.
        loss_terms: more terms by name with their weights, ``{"name": weight}``: registered
            names (:func:`litedepth.losses.terms.register_loss_term`) or
            ``"package.module:function"``; each adds ``weight * term(batch, outputs)`` to the
            total and is logged as ``train/<name>``.
        depth_range, optim, schedule: typed alternatives (:mod:`litedepth.tasks.config`) to
            ``min_depth``/``max_depth``, ``optimizer``/``lr``/``weight_decay``/``fused_optimizer``
            and ``scheduler``/``step_size``/``gamma``/``period``/``restart_decay``/``min_lr``.
    """

    def __init__(
        self,
        network: str = "lite-mono",
        network_options: dict[str, Any] | None = None,
        pose_network: str = "posenet-resnet18",
        pose_options: dict[str, Any] | None = None,
        frame_ids: tuple[int | str, ...] = (0, -1, 1),
        min_depth: float = 0.1,
        max_depth: float = 100.0,
        ssim_weight: float = 0.85,
        smoothness_weight: float = 1e-3,
        automask: bool = True,
        optimizer: Literal["adam", "adamw"] = "adam",
        lr: float = 1e-4,
        pose_lr: float | None = None,
        weight_decay: float = 0.0,
        scheduler: Literal["step", "cosine-restarts", "none"] = "step",
        step_size: int = 15,
        gamma: float = 0.1,
        period: int = 31,
        restart_decay: float = 0.9,
        min_lr: float = 5e-6,
        pose_min_lr: float = 1e-5,
        val_median_scaling: bool = True,
        val_max_depth: float = 80.0,
        distillation_weight: float = 0.0,
        chamfer_weight: float = 0.0,
        chamfer_points: int = 1024,
        distillation_normalisation: Literal["median", "minmax", "mad"] = "median",
        channels_last: bool = True,
        fused_optimizer: bool | None = None,
        compile: bool = False,
        compile_backend: str = "inductor",
        loss_terms: dict[str, float] | None = None,
        depth_range: DepthRange | None = None,
        optim: OptimizerConfig | None = None,
        schedule: SchedulerConfig | None = None,
    ) -> None:
        super().__init__()
        ids = [f if f == "s" else int(f) for f in frame_ids]
        if not ids or ids[0] != 0 or len(ids) < 2:
            raise ValueError(f"frame_ids must start with 0 and name at least one source, got {frame_ids}")
        self.save_hyperparameters(ignore=["network", "pose_network", "depth_range", "optim", "schedule"])
        flatten_into(self.hparams, depth_range, optim, schedule)  # checkpoints keep the flat names
        clash = sorted(set(loss_terms or {}) & set(BUILTIN_TERMS))
        if clash:
            raise ConfigError(f"loss_terms: {', '.join(map(repr, clash))} is a built-in term of this task (weights: "
                              "photometric 1, smoothness_weight, distillation_weight, chamfer_weight); use another name")
        self.loss_terms = resolve_loss_terms(loss_terms)  # unknown names fail here, before training
        # every term by name with its weight, the built-in ones first (distillation and Chamfer
        # only with a positive weight, as before they were terms)
        builtin = {"photometric": 1.0, "smoothness": smoothness_weight,
                   "distillation": max(distillation_weight, 0.0), "chamfer": max(chamfer_weight, 0.0)}
        self.terms = {**resolve_loss_terms(builtin), **self.loss_terms}
        self.frame_ids = ids
        self.net = build_network(network, network_options, self.hparams)
        self.temporal = [f for f in ids[1:] if f != "s"]
        self.hparams["pose_network"] = pose_network if isinstance(pose_network, str) else None
        self.pose_net = build_network(pose_network, pose_options, self.hparams, "pose_network") if self.temporal else None
        if channels_last:
            for net in (self.net, self.pose_net):
                if net is not None:
                    net.to(memory_format=torch.channels_last)

    def configure_model(self) -> None:
        """Compile the networks in place when ``compile`` is set (Lightning calls this once)."""
        if self.hparams.compile and not getattr(self, "_compiled", False):
            for net in (self.net, self.pose_net):
                if net is not None:
                    net.compile(backend=self.hparams.compile_backend)
            self._compiled = True

    @property
    def output_spec(self) -> OutputSpec:
        """Sigmoid disparity with this task's ``disp_to_depth`` range; depth up to scale
        (monocular: median scaling; stereo: in units of the 0.1 training baseline)."""
        spec = self.net.output_spec
        if spec.kind == "sigmoid-disparity":
            spec = spec.replace(min_depth=float(self.hparams.min_depth), max_depth=float(self.hparams.max_depth))
        return spec

    def forward(self, image: Tensor) -> Tensor:
        """Sigmoid disparity ``(B, 1, H, W)`` for RGB ``(B, 3, H, W)`` in ``[0, 1]``."""
        return self.net(image).pred

    def predict_depth(self, image: Tensor) -> Tensor:
        """Depth ``(B, 1, H, W)`` (scale-ambiguous for monocular training; metres x 1 for stereo)."""
        return disp_to_depth(self(image), self.hparams.min_depth, self.hparams.max_depth)[1]

    def poses(self, frames: Tensor) -> dict[FrameId, Tensor]:
        """``T_source_from_target`` ``(B, 4, 4)`` for every temporal source in ``frame_ids``.

        Args:
            frames: ``(B, F, 3, H, W)`` in ``frame_ids`` order (colour-augmented).
        """
        out: dict[FrameId, Tensor] = {}
        for i, fid in enumerate(self.frame_ids):
            if fid == 0 or fid == "s":
                continue
            pair = (frames[:, i], frames[:, 0]) if fid < 0 else (frames[:, 0], frames[:, i])
            pred = self.pose_net(torch.cat(pair, dim=1))
            out[fid] = pred.matrix(0, invert=fid < 0)
        return out

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Named losses of one batch: ``loss`` (the total), then every term of :attr:`terms`
        that applies to the batch, weighted as it enters the total (``photometric``,
        ``smoothness``, ``distillation`` and ``chamfer`` with a teacher map, the ``loss_terms``)."""
        frames, hp = batch["frames"], self.hparams
        depth = self.net(frames[:, 0])  # before the pose network: the random draws keep their order
        transforms = self.poses(frames) if self.pose_net is not None else {}
        if "s" in self.frame_ids:
            transforms["s"] = batch["stereo_T"].float()
        outputs = ViewSynthesisOutputs(depth, transforms, self.frame_ids, hp.min_depth, hp.max_depth, hp.ssim_weight,
                                       hp.automask, hp.distillation_normalisation, hp.chamfer_points)
        losses: dict[str, Tensor] = {}
        for name, (weight, term) in self.terms.items():
            value = term(batch, outputs)
            if value is not None:
                losses[name] = weight * value
        return {"loss": sum(losses.values()), **losses}  # type: ignore[dict-item]

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        losses = self.compute_losses(batch)
        bs = batch["frames"].shape[0]
        self.log("train/loss", losses["loss"], prog_bar=True, on_step=True, on_epoch=True, batch_size=bs)
        for key, value in losses.items():  # every term by its name, weighted as it enters the total
            if key != "loss":
                self.log(f"train/{key}", value, on_step=False, on_epoch=True, batch_size=bs)
        return losses["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        bs = batch["frames"].shape[0]
        losses = self.compute_losses(batch)
        self.log("val/loss", losses["loss"], prog_bar=True, sync_dist=True, batch_size=bs)
        if "depth_gt" in batch:
            depth = self.predict_depth(batch["frames_raw"][:, 0])
            scores, n = depth_metrics(depth, batch["depth_gt"], self.hparams.val_max_depth, self.hparams.val_median_scaling)
            for key, value in scores.items():
                self.log(f"val/{key}", value, sync_dist=True, batch_size=n)
        if "pose_gt" in batch and self.pose_net is not None:
            cos = pose_direction_cosine(self.poses(batch["frames_raw"]), batch["pose_gt"], self.temporal)
            self.log("val/pose_direction_cos", cos, sync_dist=True, batch_size=bs)

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        groups = [{"params": [p for p in self.net.parameters() if p.requires_grad], "lr": hp.lr, "name": "depth"}]
        min_lrs = [hp.min_lr]
        if self.pose_net is not None:
            pose_lr = hp.pose_lr if hp.pose_lr is not None else hp.lr
            groups.append({"params": list(self.pose_net.parameters()), "lr": pose_lr, "name": "pose"})
            min_lrs.append(hp.pose_min_lr)
        opt = build_optimizer(groups, hp.optimizer, hp.lr, hp.weight_decay, fused=hp.fused_optimizer)
        sched = build_epoch_scheduler(opt, hp.scheduler, min_lrs, hp.step_size, hp.gamma, hp.period, hp.restart_decay)
        return {"optimizer": opt} if sched is None else {"optimizer": opt, "lr_scheduler": sched}


def numpy_depth(task: SelfSupervisedDepthTask, image: Tensor) -> np.ndarray:
    """Convenience: depth ``(B, H, W)`` float32 numpy for an image batch, in eval mode."""
    with torch.inference_mode():
        return task.eval().predict_depth(image)[:, 0].float().cpu().numpy()
