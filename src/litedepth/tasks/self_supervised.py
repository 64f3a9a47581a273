"""Self-supervised depth + pose from video (Monodepth2 / Lite-Mono) as a thin LightningModule.

Loss (REFERENCE section 2), for each decoder scale ``s``:

* the scale's disparity is bilinearly upsampled to the input resolution, converted with
  ``disp_to_depth(min_depth, max_depth)``, and every source frame is inverse-warped into the
  target (border padding, ``align_corners=True``);
* photometric error ``0.85 * SSIM + 0.15 * L1`` (3x3 average-pool SSIM), per-pixel minimum
  over sources, auto-masking with the identity errors (+ 1e-5 noise) in the same minimum;
* edge-aware smoothness of the mean-normalised disparity at the scale's own resolution,
  weight ``smoothness_weight / 2**s``.

The total is averaged over scales. The depth network sees the colour-augmented target; the
losses compare un-augmented frames. Poses come from the pose network for temporal sources
(frames fed in temporal order, the transform inverted for negative offsets) and from the
known stereo transform for ``"s"``.

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
import torch.nn.functional as F
from torch import Tensor

from litedepth.errors import ConfigError
from litedepth.geometry.depth import disp_to_depth
from litedepth.geometry.warp import inverse_warp
from litedepth.losses.photometric import min_reprojection_loss, photometric_error
from litedepth.losses.smoothness import edge_aware_smoothness
from litedepth.losses.terms import resolve_loss_terms
from litedepth.models import create_model
from litedepth.models.spec import OutputSpec
from litedepth.tasks.card import CardMixin
from litedepth.tasks.optim import build_optimizer
from litedepth.tasks.schedules import cosine_restarts_schedule, step_schedule

log = logging.getLogger(__name__)

FrameId = int | str
#: names of the losses :meth:`SelfSupervisedDepthTask.compute_losses` computes itself
BUILTIN_TERMS = ("loss", "photometric", "smoothness", "distillation", "chamfer")


class SelfSupervisedDepthTask(CardMixin, L.LightningModule):
    """Train a disparity network and a pose network by view synthesis.

    Args:
        network: registered depth network with a disparity output (e.g. ``lite-mono``,
            ``monodepth2-resnet18``, ``hybrid-resnet18-transformer``).
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
        distillation_weight: w1 of seed 001: L1 between the student's finest disparity and the
            batch's cached teacher disparity (``batch["teacher"]``), both median-centred and
            0..1-normalised per frame, zero-disparity teacher pixels masked.
        chamfer_weight: w2 of seed 001: Chamfer distance between the bin centres of a network
            built with ``bins=...`` and ``chamfer_points`` points sampled from the normalised
            teacher disparity (zero-disparity pixels excluded).
        loss_terms: more terms by name with their weights, ``{"name": weight}``: registered
            names (:func:`litedepth.losses.terms.register_loss_term`) or
            ``"package.module:function"``; each adds ``weight * term(batch, outputs)`` to the
            total and is logged as ``train/<name>``.
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
    ) -> None:
        super().__init__()
        ids = [f if f == "s" else int(f) for f in frame_ids]
        if not ids or ids[0] != 0 or len(ids) < 2:
            raise ValueError(f"frame_ids must start with 0 and name at least one source, got {frame_ids}")
        self.save_hyperparameters()
        self.loss_terms = resolve_loss_terms(loss_terms)  # unknown names fail here, before training
        clash = sorted(set(self.loss_terms) & set(BUILTIN_TERMS))
        if clash:
            raise ConfigError(f"loss_terms: {', '.join(map(repr, clash))} is a built-in term of this task; "
                              "use another name")
        self.frame_ids = ids
        self.net = create_model(network, **(network_options or {}))
        self.temporal = [f for f in frame_ids[1:] if f != "s"]
        self.pose_net = create_model(pose_network, **(pose_options or {})) if self.temporal else None
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

    # ------------------------------------------------------------------ inference
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

    # ------------------------------------------------------------------ loss
    def compute_losses(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Named losses of one batch: ``loss`` (total), ``photometric``, ``smoothness``."""
        frames, raw, K = batch["frames"], batch["frames_raw"], batch["K"].float()
        h, w = raw.shape[-2:]
        target = raw[:, 0]
        outputs = self.net(frames[:, 0])
        transforms = self.poses(frames) if self.pose_net is not None else {}
        if "s" in self.frame_ids:
            transforms["s"] = batch["stereo_T"].float()
        sources = [(i, fid) for i, fid in enumerate(self.frame_ids) if fid != 0]
        identity = None
        if self.hparams.automask:
            identity = [photometric_error(raw[:, i], target, self.hparams.ssim_weight) for i, _ in sources]
        photo_total = smooth_total = torch.zeros((), device=raw.device)
        for s, disp in enumerate(outputs.scales):
            disp_full = disp if disp.shape[-2:] == (h, w) else F.interpolate(disp, (h, w), mode="bilinear", align_corners=False)
            _, depth = disp_to_depth(disp_full, self.hparams.min_depth, self.hparams.max_depth)
            reproj = [
                photometric_error(inverse_warp(raw[:, i], depth, transforms[fid], K)[0], target, self.hparams.ssim_weight)
                for i, fid in sources
            ]
            photo = min_reprojection_loss(reproj, identity, automask=self.hparams.automask).loss
            target_s = target if disp.shape[-2:] == (h, w) else F.interpolate(
                target, disp.shape[-2:], mode="bilinear", align_corners=False, antialias=True
            )
            smooth = edge_aware_smoothness(disp, target_s) * self.hparams.smoothness_weight / (2**s)
            photo_total = photo_total + photo
            smooth_total = smooth_total + smooth
        n = len(outputs.scales)
        losses = {"loss": (photo_total + smooth_total) / n, "photometric": photo_total / n,
                  "smoothness": smooth_total / n}
        if "teacher" in batch and (self.hparams.distillation_weight > 0 or self.hparams.chamfer_weight > 0):
            losses.update(self._teacher_losses(outputs, batch["teacher"].float()))
            losses["loss"] = losses["loss"] + losses.get("distillation", 0.0) + losses.get("chamfer", 0.0)
        for name, (weight, term) in self.loss_terms.items():
            losses[name] = weight * term(batch, outputs)
            losses["loss"] = losses["loss"] + losses[name]
        return losses

    def _teacher_losses(self, outputs: Any, teacher: Tensor) -> dict[str, Tensor]:
        """Seed 001's weighted distillation and Chamfer terms (already multiplied by their weights)."""
        from litedepth.losses.chamfer import chamfer_bins_loss, sample_teacher_points
        from litedepth.losses.distillation import normalise_teacher_disparity, pixel_distillation_loss

        out: dict[str, Tensor] = {}
        hp = self.hparams
        if hp.distillation_weight > 0:
            out["distillation"] = pixel_distillation_loss(outputs.pred, teacher, hp.distillation_weight,
                                                        method=hp.distillation_normalisation)
        centres = outputs.extras.get("bin_centres")
        if hp.chamfer_weight > 0 and centres is not None:
            t = teacher if teacher.shape[-2:] == outputs.pred.shape[-2:] else F.interpolate(
                teacher, outputs.pred.shape[-2:], mode="nearest-exact")
            normalised, valid = normalise_teacher_disparity(t)
            points, ok = sample_teacher_points(normalised, hp.chamfer_points, valid)
            out["chamfer"] = hp.chamfer_weight * chamfer_bins_loss(centres, points, ok)
        return out

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        losses = self.compute_losses(batch)
        bs = batch["frames"].shape[0]
        self.log("train/loss", losses["loss"], prog_bar=True, on_step=True, on_epoch=True, batch_size=bs)
        for key, value in losses.items():  # every term by its name, weighted as it enters the total
            if key != "loss":
                self.log(f"train/{key}", value, on_step=False, on_epoch=True, batch_size=bs)
        return losses["loss"]

    # ------------------------------------------------------------------ validation
    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        bs = batch["frames"].shape[0]
        losses = self.compute_losses(batch)
        self.log("val/loss", losses["loss"], prog_bar=True, sync_dist=True, batch_size=bs)
        if "depth_gt" in batch:
            self._log_depth_metrics(batch)
        if "pose_gt" in batch and self.pose_net is not None:
            self._log_pose_metrics(batch)

    def _log_depth_metrics(self, batch: dict[str, Any]) -> None:
        from litedepth.metrics.evaluate import evaluate_arrays

        depth = self.predict_depth(batch["frames_raw"][:, 0]).float()
        gt = batch["depth_gt"].float()
        items = []
        for i in range(depth.shape[0]):
            g = gt[i, 0].clone()
            g[g >= self.hparams.val_max_depth] = 0
            if (g > 0).any():
                items.append((str(i), depth[i, 0].cpu().numpy(), g.cpu().numpy()))
        if not items:
            return
        res = evaluate_arrays(items, "none", pred_kind="depth", median_scaling=self.hparams.val_median_scaling)
        for key in ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1"):
            self.log(f"val/{key}", res.metrics[key], sync_dist=True, batch_size=len(items))

    def _log_pose_metrics(self, batch: dict[str, Any]) -> None:
        pred = self.poses(batch["frames_raw"])
        temporal = [f for f in self.frame_ids[1:] if f != "s"]
        cos = []
        for j, fid in enumerate(temporal):
            t_pred = pred[fid][:, :3, 3]
            t_gt = batch["pose_gt"][:, j, :3, 3].float()
            cos.append(F.cosine_similarity(t_pred, t_gt, dim=-1))
        self.log("val/pose_direction_cos", torch.cat(cos).mean(), sync_dist=True, batch_size=batch["frames"].shape[0])

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        groups = [{"params": [p for p in self.net.parameters() if p.requires_grad], "lr": hp.lr, "name": "depth"}]
        pose_lr = hp.pose_lr if hp.pose_lr is not None else hp.lr
        if self.pose_net is not None:
            groups.append({"params": list(self.pose_net.parameters()), "lr": pose_lr, "name": "pose"})
        opt = build_optimizer(groups, hp.optimizer, hp.lr, hp.weight_decay, fused=hp.fused_optimizer)
        if hp.scheduler == "none":
            return {"optimizer": opt}
        if hp.scheduler == "step":
            lambdas = [step_schedule(hp.step_size, hp.gamma)] * len(groups)
        else:
            lambdas = [cosine_restarts_schedule(hp.lr, hp.min_lr, hp.period, hp.restart_decay)]
            if self.pose_net is not None:
                lambdas.append(cosine_restarts_schedule(pose_lr, hp.pose_min_lr, hp.period, hp.restart_decay))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambdas)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


def numpy_depth(task: SelfSupervisedDepthTask, image: Tensor) -> np.ndarray:
    """Convenience: depth ``(B, H, W)`` float32 numpy for an image batch, in eval mode."""
    with torch.inference_mode():
        return task.eval().predict_depth(image)[:, 0].float().cpu().numpy()
