"""Scale-and-shift-invariant disparity loss (MiDaS): known values, invariances, masks, gradients."""

from __future__ import annotations

import doctest

import pytest
import torch

import litedepth.losses.affine_invariant as ai
from litedepth.losses.affine_invariant import (
    AffineInvariantLoss,
    affine_invariant_loss,
    affine_invariant_terms,
    align_least_squares,
    gradient_matching_loss,
    normalise_median_mad,
)


def as_map(values, h: int = 1) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).view(1, 1, h, -1)


def test_doctests():
    assert doctest.testmod(ai).failed == 0


def test_known_value_by_hand():
    """Target [1, 2, 4, 9] (median 2, MAD 2.5) and prediction [0, 1, 1, 3] (median 1, MAD 0.75)."""
    t = as_map([1.0, 2.0, 4.0, 9.0])
    p = as_map([0.0, 1.0, 1.0, 3.0])
    t_hat = [-0.4, 0.0, 0.8, 2.8]
    p_hat = [-4 / 3, 0.0, 0.0, 8 / 3]
    r = [a - b for a, b in zip(p_hat, t_hat)]
    data = sum(abs(v) for v in r) / (2 * 4)
    grad = sum(abs(r[i + 1] - r[i]) for i in range(3)) / 4  # one row: x differences only; scale 2 ...
    grad += (abs(r[2] - r[0])) / 4                            # ... keeps columns 0 and 2
    d, g, has = affine_invariant_terms(p, t, scales=2)
    assert float(d) == pytest.approx(data, abs=1e-12)
    assert float(g) == pytest.approx(grad, abs=1e-12)
    assert has.tolist() == [True]
    total = affine_invariant_loss(p, t, scales=2, grad_weight=0.5)
    assert float(total) == pytest.approx(data + 0.5 * grad, abs=1e-12)


def test_trimming_drops_the_largest_residuals():
    t = as_map([1.0, 2.0, 3.0, 4.0, 5.0])
    p = as_map([1.0, 2.0, 3.0, 4.0, 50.0])  # one outlier
    full, _, _ = affine_invariant_terms(p, t, alignment="least-squares", scales=1)
    trimmed, _, _ = affine_invariant_terms(p, t, alignment="least-squares", trim=0.2, scales=1)
    # trim 0.2 of 5 pixels keeps ceil(0.8 * 5) = 4 residuals: the outlier's is left out
    _, a, b = align_least_squares(p, normalise_median_mad(t, t > 0), t > 0)
    res = (a * p + b - normalise_median_mad(t, t > 0)).abs().flatten()
    assert float(trimmed) == pytest.approx(float(res.sort().values[:4].sum() / 10), abs=1e-12)
    assert float(full) == pytest.approx(float(res.sum() / 10), abs=1e-12)
    assert float(trimmed) < float(full)


@pytest.mark.parametrize("alignment", ["median-mad", "least-squares"])
def test_invariant_to_affine_changes_of_the_target(alignment):
    torch.manual_seed(0)
    p = torch.rand(3, 1, 16, 20, dtype=torch.float64)
    t = torch.rand(3, 1, 16, 20, dtype=torch.float64) + 0.05
    base = affine_invariant_loss(p, t, alignment=alignment)
    assert float(base) > 0.1
    scale = torch.tensor([0.01, 7.0, 150.0], dtype=torch.float64).view(3, 1, 1, 1)
    shift = torch.tensor([0.3, 0.0, 20.0], dtype=torch.float64).view(3, 1, 1, 1)
    assert float(affine_invariant_loss(p, scale * t + shift, alignment=alignment)) == pytest.approx(float(base), rel=1e-9)


@pytest.mark.parametrize("alignment", ["median-mad", "least-squares"])
def test_an_affine_copy_of_the_target_costs_nothing(alignment):
    torch.manual_seed(1)
    t = torch.rand(2, 1, 12, 12, dtype=torch.float64) + 0.1
    assert float(affine_invariant_loss(0.02 * t + 5.0, t, alignment=alignment)) < 1e-12
    # a negative scale: only least squares can undo it
    flipped = float(affine_invariant_loss(-t, t, alignment=alignment))
    assert (flipped < 1e-12) == (alignment == "least-squares")


def test_prediction_affine_invariance_and_sensitivity_to_shape():
    torch.manual_seed(2)
    t = torch.rand(2, 1, 10, 14, dtype=torch.float64) + 0.1
    p = torch.rand(2, 1, 10, 14, dtype=torch.float64)
    for alignment in ("median-mad", "least-squares"):
        base = float(affine_invariant_loss(p, t, alignment=alignment))
        assert float(affine_invariant_loss(4.0 * p - 3.0, t, alignment=alignment)) == pytest.approx(base, rel=1e-9)
    closer = 0.7 * t + 0.3 * p  # moving the prediction's shape towards the target lowers the loss
    assert float(affine_invariant_loss(closer, t)) < float(affine_invariant_loss(p, t))


def test_masks_zero_and_invalid_target_pixels():
    t = as_map([0.0, 1.0, 2.0, float("nan"), 4.0, 9.0])
    p = as_map([100.0, 1.0, 2.0, -50.0, 4.0, 9.0])
    assert float(affine_invariant_loss(p, t)) < 1e-12  # sky (0) and NaN pixels are left out
    valid = torch.tensor([True, True, True, True, True, False]).view_as(t)
    p2 = p.clone()
    p2[..., 5] = -1000.0
    assert float(affine_invariant_loss(p2, t, valid)) < 1e-12
    empty = torch.zeros_like(t)
    assert float(affine_invariant_loss(p, empty)) == 0.0
    d, g, has = affine_invariant_terms(torch.cat([p, p]), torch.cat([t, empty]))
    assert has.tolist() == [True, False] and float(d[1]) == 0.0 and float(g[1]) == 0.0


def test_gradient_term_counts_only_pairs_of_valid_pixels():
    r = as_map([0.0, 1.0, 10.0, 11.0])
    valid = torch.tensor([True, True, False, True]).view_as(r)
    assert gradient_matching_loss(r, valid, scales=1).tolist() == [pytest.approx(1.0 / 3)]
    r2 = torch.tensor([[0.0, 2.0], [1.0, 4.0]], dtype=torch.float64).view(1, 1, 2, 2)
    # x: |2 - 0| + |4 - 1|, y: |1 - 0| + |4 - 2|; scale 2 has a single pixel
    assert gradient_matching_loss(r2, r2 > -1, scales=2).tolist() == [pytest.approx(8 / 4)]


@pytest.mark.parametrize("alignment", ["median-mad", "least-squares"])
def test_gradcheck(alignment):
    torch.manual_seed(3)
    p = torch.rand(2, 1, 6, 7, dtype=torch.float64, requires_grad=True)
    t = torch.rand(2, 1, 6, 7, dtype=torch.float64) + 0.1
    assert torch.autograd.gradcheck(lambda x: affine_invariant_loss(x, t, alignment=alignment, scales=2), (p,))


def test_training_signal_recovers_the_target_shape():
    """Plain gradient descent on a free map reaches an affine copy of the target."""
    torch.manual_seed(4)
    t = torch.rand(1, 1, 16, 16) * 5 + 1
    p = torch.rand(1, 1, 16, 16, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.05)
    start = float(affine_invariant_loss(p.detach(), t))
    for _ in range(300):
        opt.zero_grad()
        affine_invariant_loss(p, t).backward()
        opt.step()
    _, a, b = align_least_squares(p.detach(), t, t > 0)
    aligned = a.view(1, 1, 1, 1) * p.detach() + b.view(1, 1, 1, 1)
    assert float(affine_invariant_loss(p.detach(), t)) < 0.05 * start
    assert float((aligned - t).abs().mean() / t.mean()) < 0.02


def test_errors_and_module_twin():
    t = as_map([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        affine_invariant_loss(t[0], t)
    with pytest.raises(ValueError, match="differ in shape"):
        affine_invariant_loss(as_map([1.0, 2.0]), t)
    with pytest.raises(ValueError, match="alignment"):
        affine_invariant_loss(t, t, alignment="ols")
    with pytest.raises(ValueError, match="trim"):
        affine_invariant_loss(t, t, trim=1.0)
    loss = AffineInvariantLoss(alignment="least-squares", trim=0.1, grad_weight=0.25, scales=2)
    p = as_map([3.0, 1.0, 2.0])
    assert float(loss(p, t)) == float(affine_invariant_loss(p, t, alignment="least-squares", trim=0.1,
                                                            grad_weight=0.25, scales=2))
    assert "least-squares" in repr(loss) and "grad_weight=0.25" in repr(loss)
    with pytest.raises(TypeError, match="ols"):
        AffineInvariantLoss(ols=True)
