"""The self-supervised loss as registered, named terms gives the numbers of the loss as it was
written inside the task (issue 15).

``_reference_losses`` is the task's former ``compute_losses`` verbatim (Monodepth2 / Lite-Mono:
photometric and smoothness summed over scales and divided by the number of scales; seed 001's
distillation and Chamfer terms weighted and added once). The terms now average over scales
themselves and the task sums ``weight * term``: the same maths in another summation order, so
float64 agrees to 1e-12 and float32 to float rounding, for the default configuration and with
the teacher terms, logged values and gradients included.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from litedepth.geometry.depth import disp_to_depth
from litedepth.geometry.warp import inverse_warp
from litedepth.losses.chamfer import chamfer_bins_loss, sample_teacher_points
from litedepth.losses.distillation import normalise_teacher_disparity, pixel_distillation_loss
from litedepth.losses.photometric import min_reprojection_loss, photometric_error
from litedepth.losses.smoothness import edge_aware_smoothness
from litedepth.losses.terms import list_loss_terms
from litedepth.tasks import SelfSupervisedDepthTask



def _batch(seed: int, h: int, w: int) -> dict[str, torch.Tensor]:
    """Three views of one textured image shifted by a few pixels (test_self_supervised_precision)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(2, 3, h, w + 8, generator=g)
    frames = torch.stack([base[..., 4:w + 4], base[..., 2:w + 2], base[..., 6:w + 6]], dim=1)
    K = torch.tensor([[0.58 * w, 0, (w - 1) / 2], [0, 1.92 * h, (h - 1) / 2], [0, 0, 1]]).expand(2, 3, 3)
    return {"frames": frames, "frames_raw": frames.clone(), "K": K.clone()}


def _reference_losses(self, batch):
    """The former ``SelfSupervisedDepthTask.compute_losses`` (+ ``_teacher_losses``), unchanged."""
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
    hp = self.hparams
    if "teacher" in batch and (hp.distillation_weight > 0 or hp.chamfer_weight > 0):
        teacher = batch["teacher"].float()
        if hp.distillation_weight > 0:
            losses["distillation"] = pixel_distillation_loss(outputs.pred, teacher, hp.distillation_weight,
                                                             method=hp.distillation_normalisation)
        centres = outputs.extras.get("bin_centres")
        if hp.chamfer_weight > 0 and centres is not None:
            t = teacher if teacher.shape[-2:] == outputs.pred.shape[-2:] else F.interpolate(
                teacher, outputs.pred.shape[-2:], mode="nearest-exact")
            normalised, valid = normalise_teacher_disparity(t)
            points, ok = sample_teacher_points(normalised, hp.chamfer_points, valid)
            losses["chamfer"] = hp.chamfer_weight * chamfer_bins_loss(centres, points, ok)
        losses["loss"] = losses["loss"] + losses.get("distillation", 0.0) + losses.get("chamfer", 0.0)
    return losses


def _both(task, batch):
    """(reference losses, registered-terms losses, their gradients) from the same random state."""
    out = []
    for fn in (_reference_losses, SelfSupervisedDepthTask.compute_losses):
        task.zero_grad()
        torch.manual_seed(1)  # drop-path, auto-masking noise and Chamfer sampling draw in the same order
        losses = fn(task, batch)
        losses["loss"].backward()
        out.append((losses, [p.grad.clone() for p in task.parameters() if p.grad is not None]))
    return out


CASES = {
    "monodepth2-default": ("monodepth2-resnet18", {}, {}),
    "lite-mono-default": ("lite-mono-tiny", {}, {}),
    "lite-mono-teacher": ("lite-mono-tiny", {"bins": "adaptive"},
                          {"distillation_weight": 0.5, "chamfer_weight": 0.1, "chamfer_points": 64,
                           "smoothness_weight": 3e-3, "automask": False}),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_registered_terms_give_the_former_loss(case, dtype):
    network, options, kw = CASES[case]
    torch.manual_seed(0)
    task = SelfSupervisedDepthTask(network, network_options=options, channels_last=False, **kw).train().to(dtype)
    h, w = (64, 128) if network.startswith("monodepth2") else (48, 96)
    batch = {k: v.to(dtype) for k, v in _batch(3, h, w).items()}
    if "distillation_weight" in kw:
        batch["teacher"] = torch.rand(2, 1, h, w, generator=torch.Generator().manual_seed(2), dtype=dtype)
        batch["teacher"][:, :, :8] = 0  # sky
    (ref, ref_grads), (new, new_grads) = _both(task, batch)
    assert list(new) == list(ref)  # the same names, the total first
    if "chamfer_weight" in kw:
        assert {"distillation", "chamfer"} <= set(new)
    tol = {"rtol": 1e-12, "atol": 0} if dtype == torch.float64 else {"rtol": 2e-6, "atol": 1e-9}
    for name in ref:
        torch.testing.assert_close(new[name], ref[name].to(new[name].dtype), **tol, msg=name)
    assert len(new_grads) == len(ref_grads)
    gtol = {"rtol": 1e-9, "atol": 1e-15} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-7}
    for a, b in zip(new_grads, ref_grads):
        torch.testing.assert_close(a, b, **gtol)


def test_builtin_terms_are_registered_and_weighted_by_the_flat_options():
    assert {"photometric", "smoothness", "distillation", "chamfer"} <= set(list_loss_terms())
    task = SelfSupervisedDepthTask("lite-mono-tiny", smoothness_weight=2e-3, distillation_weight=0.5)
    assert {k: w for k, (w, _) in task.terms.items()} == {"photometric": 1.0, "smoothness": 2e-3,
                                                         "distillation": 0.5}
    plain = SelfSupervisedDepthTask("lite-mono-tiny", smoothness_weight=0.0)
    assert list(plain.terms) == ["photometric"]  # weight 0 switches a built-in term off too
