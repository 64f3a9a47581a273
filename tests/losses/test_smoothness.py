"""Tests of litedepth.losses.smoothness.edge_aware_smoothness."""

from __future__ import annotations

import doctest
import math

import pytest
import torch

import litedepth.losses.smoothness as smoothness_mod
from litedepth.losses import EdgeAwareSmoothness, edge_aware_smoothness


def ramp_x(slope: float, h: int = 4, w: int = 6, offset: float = 1.0) -> torch.Tensor:
    return (offset + slope * torch.arange(w, dtype=torch.float64)).expand(1, 1, h, w).clone()


def test_constant_disparity_is_zero():
    img = torch.rand(2, 3, 5, 7)
    assert edge_aware_smoothness(torch.full((2, 1, 5, 7), 0.3), img).item() == 0.0


def test_known_gradient_without_image_edges():
    disp = ramp_x(0.5)
    img = torch.zeros(1, 3, 4, 6, dtype=torch.float64)
    # x: |dx d| = 0.5 everywhere, weight exp(0) = 1; y: 0
    assert edge_aware_smoothness(disp, img, normalise=False).item() == pytest.approx(0.5)
    # normalised: divided by the mean disparity 1 + 0.5 * 2.5
    mean = 1 + 0.5 * 2.5
    assert edge_aware_smoothness(disp, img).item() == pytest.approx(0.5 / (mean + 1e-7))


def test_known_gradient_with_image_edges_and_y_direction():
    c = 0.3
    img = (c * torch.arange(6, dtype=torch.float64)).expand(1, 3, 4, 6)
    disp = ramp_x(0.5)
    assert edge_aware_smoothness(disp, img, normalise=False).item() == pytest.approx(
        0.5 * math.exp(-c)
    )
    # a y ramp in disparity sees no image edge along y: weight 1
    disp_y = (1 + 0.25 * torch.arange(4, dtype=torch.float64)).view(1, 1, 4, 1).expand(1, 1, 4, 6)
    assert edge_aware_smoothness(disp_y, img, normalise=False).item() == pytest.approx(0.25)


def test_image_edge_discounts_a_matching_disparity_edge():
    disp = torch.ones(1, 1, 6, 6, dtype=torch.float64)
    disp[..., 3:] = 2.0
    flat = torch.zeros(1, 3, 6, 6, dtype=torch.float64)
    edge = flat.clone()
    edge[..., 3:] = 1.0
    assert edge_aware_smoothness(disp, edge) < 0.5 * edge_aware_smoothness(disp, flat)


def test_normalised_loss_is_scale_invariant_and_mean_is_per_image():
    g = torch.Generator().manual_seed(0)
    disp = torch.rand(2, 1, 5, 5, generator=g, dtype=torch.float64) + 0.1
    img = torch.rand(2, 3, 5, 5, generator=g, dtype=torch.float64)
    base = edge_aware_smoothness(disp, img)
    scaled = disp * torch.tensor([3.0, 0.2], dtype=torch.float64).view(2, 1, 1, 1)
    # invariant up to the 1e-7 added to the mean
    torch.testing.assert_close(edge_aware_smoothness(scaled, img), base, rtol=1e-5, atol=0)
    assert not torch.isclose(edge_aware_smoothness(scaled, img, normalise=False),
                             edge_aware_smoothness(disp, img, normalise=False))
    torch.testing.assert_close(EdgeAwareSmoothness()(disp, img), base)


def test_errors():
    with pytest.raises(ValueError, match="disp"):
        edge_aware_smoothness(torch.rand(1, 2, 4, 4), torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="img"):
        edge_aware_smoothness(torch.rand(1, 1, 4, 4), torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match="resize"):
        edge_aware_smoothness(torch.rand(1, 1, 4, 4), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="2x2"):
        edge_aware_smoothness(torch.rand(1, 1, 1, 4), torch.rand(1, 3, 1, 4))


def test_gradcheck():
    g = torch.Generator().manual_seed(1)
    disp = (torch.rand(2, 1, 4, 5, generator=g, dtype=torch.float64) + 0.1).requires_grad_()
    img = torch.rand(2, 3, 4, 5, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(edge_aware_smoothness, (disp, img))


def test_docstring_examples():
    result = doctest.testmod(smoothness_mod, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0
