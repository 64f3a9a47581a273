"""Tests of litedepth.losses.chamfer: batched Chamfer distance and teacher point sampling."""

from __future__ import annotations

import doctest

import pytest
import torch

import litedepth.losses.chamfer as chamfer_mod
from litedepth.losses.chamfer import ChamferBinsLoss, chamfer_bins_loss, sample_teacher_points


def brute_force(centres: list[float], points: list[float]) -> float:
    """Double-loop reference for one frame: both directions, squared, mean."""
    a = sum(min((c - p) ** 2 for p in points) for c in centres) / len(centres)
    b = sum(min((c - p) ** 2 for c in centres) for p in points) / len(points)
    return a + b


def test_doctests() -> None:
    assert doctest.testmod(chamfer_mod).failed == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_padded_and_list(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(3, 5, generator=g, dtype=torch.float64)
    points = torch.rand(3, 7, generator=g, dtype=torch.float64)
    ref = sum(brute_force(c.tolist(), p.tolist()) for c, p in zip(centres, points)) / 3
    assert chamfer_bins_loss(centres, points).item() == pytest.approx(ref, rel=1e-12)
    # variable-length sets, as a list and as a padded tensor with a mask
    lengths = [7, 2, 4]
    sets = [points[i, :n] for i, n in enumerate(lengths)]
    ref = sum(brute_force(c.tolist(), p.tolist()) for c, p in zip(centres, sets)) / 3
    assert chamfer_bins_loss(centres, sets).item() == pytest.approx(ref, rel=1e-12)
    mask = torch.arange(7)[None] < torch.tensor(lengths)[:, None]
    padded = torch.where(mask, points, torch.full_like(points, 123.0))
    assert chamfer_bins_loss(centres, padded, mask).item() == pytest.approx(ref, rel=1e-12)


def test_empty_frames_are_skipped_and_equal_sets_give_zero() -> None:
    c = torch.tensor([[0.1, 0.5, 0.9], [0.2, 0.3, 0.4]])
    assert chamfer_bins_loss(c, c.clone()).item() == 0.0
    assert chamfer_bins_loss(c, [c[0, [2, 0, 1, 1]], c[1]]).item() == 0.0  # order, repeats
    only_first = chamfer_bins_loss(c, [torch.tensor([0.0]), torch.tensor([])])
    assert only_first.item() == pytest.approx(brute_force([0.1, 0.5, 0.9], [0.0]))
    none = chamfer_bins_loss(c.requires_grad_(), [torch.tensor([]), torch.tensor([])])
    assert none.item() == 0.0
    none.backward()


def test_gradient_and_module_twin() -> None:
    c = torch.tensor([[0.2, 0.8]], requires_grad=True)
    loss = ChamferBinsLoss(weight=0.1)(c, torch.tensor([[0.0, 1.0]]))
    assert loss.item() == pytest.approx(0.1 * (0.04 + 0.04), rel=1e-5)  # both directions
    loss.backward()
    assert c.grad[0, 0] > 0 > c.grad[0, 1]  # pulled toward 0 and 1
    assert torch.autograd.gradcheck(
        lambda x: chamfer_bins_loss(x, torch.tensor([[0.05, 0.4, 0.95]], dtype=torch.float64)),
        (torch.tensor([[0.1, 0.3, 0.7]], dtype=torch.float64, requires_grad=True),))


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="centres"):
        chamfer_bins_loss(torch.rand(4), torch.rand(1, 4))
    with pytest.raises(ValueError, match="target_points"):
        chamfer_bins_loss(torch.rand(2, 4), torch.rand(3, 4))
    with pytest.raises(ValueError, match="point sets"):
        chamfer_bins_loss(torch.rand(2, 4), [torch.rand(3)])
    with pytest.raises(ValueError, match="n_points"):
        sample_teacher_points(torch.rand(1, 1, 2, 2), 0)


def test_sampling_excludes_zero_disparity() -> None:
    t = torch.zeros(2, 1, 4, 4)
    t[0, 0, :2] = torch.linspace(0.5, 1.0, 8).view(2, 4)  # half the frame is sky
    g = torch.Generator().manual_seed(0)
    pts, ok = sample_teacher_points(t, 200, generator=g)
    assert pts.shape == ok.shape == (2, 200)
    assert (pts[0] >= 0.5).all() and ok[0].all() and not ok[1].any()  # frame 1 is all sky
    pts, ok = sample_teacher_points(t, 400, mask_zero=False, generator=g)
    assert ok.all() and 0.3 < (pts[0] == 0).float().mean() < 0.7
    valid = torch.zeros_like(t, dtype=torch.bool)
    valid[0, 0, 0, 0] = True  # explicit mask wins (normalised maps may hold valid zeros)
    pts, ok = sample_teacher_points(t, 5, valid, generator=g)
    assert (pts[0] == 0.5).all() and not ok[1].any()


def _fit_bins(mask_zero: bool) -> torch.Tensor:
    """Seed 001's observation: free bin centres fitted to teacher points by Chamfer + Adam."""
    g = torch.Generator().manual_seed(0)
    b, h, w, k = 4, 20, 30, 64
    teacher = 0.3 + 0.7 * torch.rand(b, 1, h, w, generator=g)  # near objects: 0.3..1
    sky = torch.rand(b, 1, h, w, generator=g) < 0.4  # 40 % sky / infinity
    teacher = teacher.masked_fill(sky, 0.0)
    centres = torch.linspace(0.005, 0.995, k).repeat(b, 1).requires_grad_()
    opt = torch.optim.Adam([centres], lr=0.01)
    for _ in range(150):
        pts, ok = sample_teacher_points(teacher, 256, mask_zero=mask_zero, generator=g)
        loss = chamfer_bins_loss(centres, pts, ok)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return centres.detach()


def test_seed_observation_zero_mask_stops_bins_collapsing_to_zero() -> None:
    torch.set_num_threads(1)
    unmasked = _fit_bins(mask_zero=False)
    masked = _fit_bins(mask_zero=True)
    low_unmasked = (unmasked < 0.05).float().mean().item()
    low_masked = (masked < 0.05).float().mean().item()
    print(f"share of bin centres < 0.05: without zero mask {low_unmasked:.3f}, "
          f"with zero mask {low_masked:.3f}")
    assert low_unmasked > 0.1  # pulled toward 0
    assert (unmasked.amin(dim=1) < 0.01).all()
    assert low_masked == 0.0
    assert (masked.amin(dim=1) > 0.2).all()
