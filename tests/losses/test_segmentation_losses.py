"""Tests of litedepth.losses.segmentation: seed 002's focal loss with a void label."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
import torch.nn.functional as F

import litedepth.losses.segmentation as seg_mod
from litedepth.errors import ConfigError
from litedepth.losses.segmentation import FocalLoss, focal_loss


def test_doctests():
    assert doctest.testmod(seg_mod, raise_on_error=False).failed == 0


def test_known_value_by_hand():
    # two valid pixels with p_true = 0.5 and p_true = e^2 / (e^2 + 1), one void pixel
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0], [9.0, -9.0]], dtype=torch.float64).T.reshape(1, 2, 1, 3)
    target = torch.tensor([[[1, 0, 255]]])
    p = [0.5, math.exp(2) / (math.exp(2) + 1)]
    terms = [0.5 * (1 - pi) ** 2 * -math.log(pi) for pi in p]
    assert focal_loss(logits, target, alpha=0.5, gamma=2.0).item() == pytest.approx(sum(terms) / 2)


def test_gamma_zero_is_alpha_times_cross_entropy_and_void_is_ignored():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 6, 7, generator=g)
    target = torch.randint(0, 5, (2, 6, 7), generator=g)
    target[0, :2] = 255
    ce = F.cross_entropy(logits, target, ignore_index=255)
    assert focal_loss(logits, target, alpha=0.3, gamma=0.0).item() == pytest.approx(0.3 * ce.item(), rel=1e-6)
    # void pixels: changing their logits changes nothing
    logits2 = logits.clone()
    logits2[0, :, :2] = 100.0
    assert focal_loss(logits2, target).item() == pytest.approx(focal_loss(logits, target).item())


def test_focusing_down_weights_easy_pixels():
    target = torch.zeros(1, 1, 2, dtype=torch.long)
    easy = torch.tensor([[[[4.0, 4.0]], [[0.0, 0.0]]]])  # p_true ~ 0.98
    ce = F.cross_entropy(easy, target)
    assert focal_loss(easy, target).item() < 0.001 * ce.item()


def test_gradients_and_module_twin():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.randint(0, 3, (2, 4, 4))
    loss = FocalLoss(alpha=1.0, gamma=2.0)(logits, target)
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    assert "gamma=2.0" in repr(FocalLoss())


def test_all_void_batch_is_zero_with_a_graph():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    loss = focal_loss(logits, torch.full((1, 2, 2), 255))
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None


def test_errors():
    with pytest.raises(ValueError, match="expects logits"):
        focal_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))
    with pytest.raises(ConfigError, match="alpha"):
        focal_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long), alpha=0.0)
    with pytest.raises(ConfigError, match="gamma"):
        FocalLoss(gamma=-1.0)
