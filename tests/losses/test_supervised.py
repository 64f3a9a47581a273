"""Tests of litedepth.losses.supervised: scale-invariant log loss and masked MSE / L1."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
import torch.nn.functional as F

import litedepth.losses.supervised as supervised_mod
from litedepth.errors import ConfigError
from litedepth.losses import (
    MaskedL1,
    MaskedMSE,
    ScaleInvariantLogLoss,
    masked_l1,
    masked_mse,
    scale_invariant_log_loss,
)


def seed000_reference(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Seed 000's loss, restated: valid = target > 0, clamp at 1e-3, variance of log ratio."""
    valid = target > 0
    d = torch.log(pred[valid].clamp(min=1e-3)) - torch.log(target[valid].clamp(min=1e-3))
    return float((d**2).mean() - d.mean() ** 2)


def depth_batch(seed: int = 0, b: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.5 + 9.5 * torch.rand(b, 1, 6, 8, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("c", [0.5, 2.0, 7.3])
def test_global_scale_is_free_for_lam_1_and_costs_for_lam_below_1(c):
    target = depth_batch()
    pred = c * target
    assert abs(scale_invariant_log_loss(pred, target).item()) < 1e-12
    for lam in (0.85, 0.5, 0.0):
        expected = (1 - lam) * math.log(c) ** 2
        assert scale_invariant_log_loss(pred, target, lam=lam).item() == pytest.approx(expected)


def test_known_value_two_pixels():
    target = torch.tensor([1.0, 1.0], dtype=torch.float64).view(1, 1, 1, 2)
    pred = torch.tensor([math.e, 1.0], dtype=torch.float64).view(1, 1, 1, 2)
    # d = (1, 0): mean(d^2) = 0.5, mean(d)^2 = 0.25
    assert scale_invariant_log_loss(pred, target).item() == pytest.approx(0.25)
    assert scale_invariant_log_loss(pred, target, lam=0.85).item() == pytest.approx(
        0.5 - 0.85 * 0.25
    )


def test_matches_seed_000_and_pools_the_batch():
    g = torch.Generator().manual_seed(1)
    target = depth_batch(1, b=3)
    target[0, :, :3] = 0.0  # image 0 has half its labels missing
    pred = target * (1 + 0.3 * torch.rand(target.shape, generator=g, dtype=torch.float64))
    loss = scale_invariant_log_loss(pred, target).item()
    assert loss == pytest.approx(seed000_reference(pred, target), rel=1e-10)
    per_image = sum(seed000_reference(pred[i : i + 1], target[i : i + 1]) for i in range(3)) / 3
    assert loss != pytest.approx(per_image, rel=1e-6)


def test_invalid_pixels_are_ignored():
    target = depth_batch(2)
    pred = 1.7 * target
    garbage_target = target.clone()
    garbage_target[:, :, :2] = 0.0
    garbage_pred = pred.clone()
    garbage_pred[:, :, :2] = 123.0
    assert abs(scale_invariant_log_loss(garbage_pred, garbage_target).item()) < 1e-12
    # an explicit mask excludes pixels too (target stays positive there)
    bad = pred.clone()
    bad[:, :, -1] = 0.01
    mask = torch.ones_like(target, dtype=torch.bool)
    mask[:, :, -1] = False
    assert scale_invariant_log_loss(bad, target).item() > 0.1
    assert abs(scale_invariant_log_loss(bad, target, mask=mask).item()) < 1e-12
    # 0/1 float masks and broadcasting masks are accepted
    assert abs(scale_invariant_log_loss(bad, target, mask=mask.double()).item()) < 1e-12
    assert abs(scale_invariant_log_loss(bad, target, mask=mask[:1]).item()) < 1e-12


def test_eps_clamps_tiny_predictions():
    target = torch.ones(1, 1, 1, 2, dtype=torch.float64)
    pred = torch.tensor([1e-9, 1.0], dtype=torch.float64).view(1, 1, 1, 2)
    d0 = math.log(1e-3)
    expected = (d0**2) / 2 - (d0 / 2) ** 2
    assert scale_invariant_log_loss(pred, target).item() == pytest.approx(expected)


def test_module_twin():
    target = depth_batch(3)
    pred = target * 1.1 + 0.05
    for lam in (1.0, 0.85):
        expected = scale_invariant_log_loss(pred, target, lam=lam)
        torch.testing.assert_close(ScaleInvariantLogLoss(lam=lam)(pred, target), expected)
    assert "lam=0.85" in repr(ScaleInvariantLogLoss(lam=0.85))


def test_errors():
    t = depth_batch()
    with pytest.raises(ValueError, match="no valid pixel"):
        scale_invariant_log_loss(t, torch.zeros_like(t))
    with pytest.raises(ValueError, match="no valid pixel"):
        scale_invariant_log_loss(t, t, mask=torch.zeros_like(t, dtype=torch.bool))
    with pytest.raises(ValueError, match="same shape"):
        scale_invariant_log_loss(t, t[..., :4])
    with pytest.raises(ValueError, match="broadcast"):
        scale_invariant_log_loss(t, t, mask=torch.ones(3, 3, dtype=torch.bool))
    for lam in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="lam"):
            scale_invariant_log_loss(t, t, lam=lam)
        with pytest.raises(ConfigError, match="lam"):
            ScaleInvariantLogLoss(lam=lam)
    with pytest.raises(ConfigError, match="eps"):
        scale_invariant_log_loss(t, t, eps=0.0)


def test_gradcheck_scale_invariant():
    target = depth_batch(4)
    target[0, 0, 0] = 0.0
    pred = (depth_batch(5) + 0.1).requires_grad_()
    for lam in (1.0, 0.85):
        assert torch.autograd.gradcheck(
            lambda p: scale_invariant_log_loss(p, target, lam=lam), (pred,)
        )


def test_masked_mse_and_l1_known_values():
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    target = torch.tensor([1.0, 0.0, 5.0, 100.0]).view(1, 1, 2, 2)
    mask = torch.tensor([True, True, True, False]).view(1, 1, 2, 2)
    # diffs over the mask: 0, 2, -2
    assert masked_mse(pred, target, mask).item() == pytest.approx(8 / 3)
    assert masked_l1(pred, target, mask).item() == pytest.approx(4 / 3)
    torch.testing.assert_close(masked_mse(pred, target), F.mse_loss(pred, target))
    torch.testing.assert_close(masked_l1(pred, target), F.l1_loss(pred, target))
    torch.testing.assert_close(MaskedMSE()(pred, target, mask), masked_mse(pred, target, mask))
    torch.testing.assert_close(MaskedL1()(pred, target, mask), masked_l1(pred, target, mask))


def test_masked_losses_broadcast_mask_over_channels_and_reject_empty():
    pred = torch.zeros(2, 3, 2, 2)
    target = torch.ones(2, 3, 2, 2)
    target[1] = 10.0
    mask = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    mask[0] = True  # only image 0: 12 elements with error 1
    assert masked_mse(pred, target, mask).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no valid pixel"):
        masked_l1(pred, target, torch.zeros_like(mask))
    with pytest.raises(ValueError, match="same shape"):
        masked_mse(pred, target[:1])


def test_masked_gradcheck():
    g = torch.Generator().manual_seed(6)
    pred = torch.rand(1, 2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.rand(1, 2, 3, 3, generator=g, dtype=torch.float64)
    mask = torch.rand(1, 1, 3, 3, generator=g) > 0.3
    assert torch.autograd.gradcheck(lambda p: masked_mse(p, target, mask), (pred,))
    assert torch.autograd.gradcheck(lambda p: masked_l1(p, target, mask), (pred,))


def test_docstring_examples():
    result = doctest.testmod(supervised_mod, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0
