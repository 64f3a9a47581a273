"""Tests of litedepth.geometry.depth: sigmoid disparity <-> depth."""

from __future__ import annotations

import doctest

import pytest
import torch

import litedepth.geometry.depth as depth_mod
from litedepth.errors import ConfigError
from litedepth.geometry.depth import DispToDepth, depth_to_disp, disp_to_depth


def test_known_values_default_range():
    disp = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    scaled, depth = disp_to_depth(disp)
    expected_scaled = torch.tensor([0.01, 0.01 + 9.99 * 0.5, 10.0], dtype=torch.float64)
    torch.testing.assert_close(scaled, expected_scaled)
    torch.testing.assert_close(depth, 1.0 / expected_scaled)
    assert depth[0].item() == pytest.approx(100.0)
    assert depth[2].item() == pytest.approx(0.1)


def test_known_values_custom_range():
    scaled, depth = disp_to_depth(torch.tensor([0.25]), min_depth=1.0, max_depth=2.0)
    # scaled = 0.5 + (1 - 0.5) * 0.25
    assert scaled.item() == pytest.approx(0.625)
    assert depth.item() == pytest.approx(1.6)


def test_round_trip_both_ways():
    g = torch.Generator().manual_seed(0)
    disp = torch.rand(2, 1, 5, 7, generator=g, dtype=torch.float64)
    _, depth = disp_to_depth(disp, 0.5, 80.0)
    torch.testing.assert_close(depth_to_disp(depth, 0.5, 80.0), disp)
    d = 0.5 + 79.5 * torch.rand(3, 1, 4, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(disp_to_depth(depth_to_disp(d, 0.5, 80.0), 0.5, 80.0)[1], d)


def test_shapes_and_monotonic():
    disp = torch.linspace(0, 1, 11).view(1, 1, 1, 11)
    scaled, depth = disp_to_depth(disp)
    assert scaled.shape == depth.shape == disp.shape
    assert torch.all(depth[..., 1:] < depth[..., :-1])  # larger disparity = nearer
    torch.testing.assert_close(scaled * depth, torch.ones_like(depth))


@pytest.mark.parametrize("lo,hi", [(0.0, 10.0), (-1.0, 10.0), (5.0, 5.0), (10.0, 1.0)])
def test_bad_range_raises(lo, hi):
    with pytest.raises(ConfigError, match="min_depth"):
        disp_to_depth(torch.rand(3), lo, hi)
    with pytest.raises(ConfigError, match="min_depth"):
        depth_to_disp(torch.rand(3) + 1, lo, hi)
    with pytest.raises(ConfigError):
        DispToDepth(lo, hi)


def test_module_twin_matches_function():
    disp = torch.rand(2, 1, 3, 3)
    m = DispToDepth(0.2, 50.0)
    for a, b in zip(m(disp), disp_to_depth(disp, 0.2, 50.0)):
        torch.testing.assert_close(a, b)
    assert "max_depth=50.0" in repr(m)


def test_gradcheck_disp_to_depth():
    disp = torch.rand(1, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d: disp_to_depth(d, 0.1, 100.0)[1], (disp,))


def test_docstring_examples():
    result = doctest.testmod(depth_mod, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0
