"""Tests of litedepth.losses.distillation: teacher normalisation and pixel distillation L1."""

from __future__ import annotations

import doctest

import pytest
import torch

import litedepth.losses.distillation as distillation_mod
from litedepth.losses.distillation import (
    PixelDistillationLoss,
    normalise_teacher_disparity,
    pixel_distillation_loss,
)


def as_map(values: list[float], h: int = 1) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).view(1, 1, h, -1)


def test_doctests() -> None:
    assert doctest.testmod(distillation_mod).failed == 0


def test_median_normalisation_known_values() -> None:
    # valid 30, 60, 90, 150 (0 = sky): lower median 60, farthest from it 150 (90 away)
    t = as_map([0.0, 30.0, 60.0, 90.0, 150.0])
    n, valid = normalise_teacher_disparity(t)
    expected = [0.0, 0.5 - 30 / 180, 0.5, 0.5 + 30 / 180, 1.0]
    assert n.flatten().tolist() == pytest.approx(expected, abs=1e-12)
    assert valid.flatten().tolist() == [False, True, True, True, True]
    # without the zero mask the sky pixel joins the statistics: median 60, spread 90
    n, valid = normalise_teacher_disparity(t, mask_zero=False)
    assert valid.all()
    assert n.flatten().tolist() == pytest.approx([0.5 - 60 / 180, 0.5 - 30 / 180, 0.5,
                                                  0.5 + 30 / 180, 1.0], abs=1e-12)


def test_minmax_normalisation_and_explicit_mask() -> None:
    t = as_map([0.0, 30.0, 60.0, 90.0, 150.0])
    n, _ = normalise_teacher_disparity(t, method="minmax")
    assert n.flatten().tolist() == pytest.approx([0.0, 0.0, 0.25, 0.5, 1.0], abs=1e-12)
    valid = torch.tensor([True, True, True, True, False]).view_as(t)
    n, used = normalise_teacher_disparity(t, valid)
    # valid 30, 60, 90: median 60, spread 30
    assert n.flatten().tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 0.0], abs=1e-12)
    assert used.flatten().tolist() == [False, True, True, True, False]
    with pytest.raises(ValueError, match="method"):
        normalise_teacher_disparity(t, method="mean")
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        normalise_teacher_disparity(t[0])


def test_mad_normalisation_known_values_and_invariance() -> None:
    # valid 30, 60, 90, 150: lower median 60, mean |t - 60| = (30 + 0 + 30 + 90) / 4 = 37.5,
    # spread 4 x 37.5 = 150 -> n = 0.5 + (t - 60) / 300
    t = as_map([0.0, 30.0, 60.0, 90.0, 150.0])
    n, valid = normalise_teacher_disparity(t, method="mad")
    assert n.flatten().tolist() == pytest.approx([0.0, 0.4, 0.5, 0.6, 0.8], abs=1e-12)
    assert valid.flatten().tolist() == [False, True, True, True, True]
    n3, _ = normalise_teacher_disparity(2.5 * t + 1.0, valid, mask_zero=False, method="mad")
    assert torch.allclose(n3, n)


def test_per_frame_and_invariant_to_scale_and_shift() -> None:
    g = torch.Generator().manual_seed(0)
    t = torch.rand(3, 1, 5, 6, generator=g, dtype=torch.float64) * 150
    t[:, :, :2] = 0.0  # sky rows
    n, valid = normalise_teacher_disparity(t)
    for i in range(3):  # each frame alone gives the same result
        ni, _ = normalise_teacher_disparity(t[i : i + 1])
        assert torch.allclose(ni, n[i : i + 1])
        v = n[i][valid[i]]
        assert v.min() >= 0 and v.max() <= 1 and (v.min() == 0 or v.max() == 1)
        assert torch.quantile(v, 0.5, interpolation="lower") == pytest.approx(0.5)
    n2, _ = normalise_teacher_disparity(3.0 * t + 7.0, valid, mask_zero=False)
    assert torch.allclose(n2, n)
    const, _ = normalise_teacher_disparity(torch.full((1, 1, 2, 2), 4.0))
    assert torch.all(const == 0.5)
    empty, used = normalise_teacher_disparity(torch.zeros(1, 1, 2, 2))
    assert torch.all(empty == 0) and not used.any()


def test_loss_known_value_and_sky_mask() -> None:
    teacher = as_map([0.0, 30.0, 60.0, 90.0, 150.0])  # normalised 0.5 + (t - 60) / 180
    student = as_map([0.9, 0.2, 0.4, 0.8, 0.8])  # median 0.4, spread 0.4 over valid pixels
    n_s = [0.5 - 0.2 / 0.8, 0.5, 0.5 + 0.4 / 0.8, 0.5 + 0.4 / 0.8]
    n_t = [0.5 - 30 / 180, 0.5, 0.5 + 30 / 180, 1.0]
    expected = sum(abs(a - b) for a, b in zip(n_s, n_t)) / 4
    assert pixel_distillation_loss(student, teacher).item() == pytest.approx(expected)
    assert pixel_distillation_loss(student, teacher, 0.5).item() == pytest.approx(expected / 2)
    # the sky pixel's student value does not matter
    student2 = student.clone()
    student2[..., 0] = 0.01
    assert pixel_distillation_loss(student2, teacher).item() == pytest.approx(expected)
    # a student that is an affine copy of the teacher on valid pixels has zero loss
    assert pixel_distillation_loss(0.002 * teacher + 0.1, teacher).item() == pytest.approx(0)
    loss = PixelDistillationLoss(weight=2.0)
    assert loss(student, teacher).item() == pytest.approx(2 * expected)


def test_teacher_is_resized_and_sky_edges_stay_masked() -> None:
    g = torch.Generator().manual_seed(1)
    teacher = 10 + 140 * torch.rand(2, 1, 8, 12, generator=g)
    teacher[:, :, :3] = 0.0  # sky rows at the top
    student = torch.rand(2, 1, 4, 6, generator=g, requires_grad=True)
    loss = pixel_distillation_loss(student, teacher)
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    # rows 0-1 of the student see sky (row 1 blends sky and ground): no gradient there
    assert torch.all(student.grad[:, :, :2] == 0)
    assert torch.any(student.grad[:, :, 2:] != 0)
    small = torch.nn.functional.interpolate(teacher, (4, 6), mode="bilinear")
    same = pixel_distillation_loss(0.005 * small, teacher)
    assert same.item() == pytest.approx(0.0, abs=1e-6)
    # all sky: zero loss, still differentiable
    zero = pixel_distillation_loss(student, torch.zeros(2, 1, 8, 12))
    assert zero.item() == 0.0
    zero.backward()
    with pytest.raises(ValueError, match="batch"):
        pixel_distillation_loss(student, teacher[:1])


def test_gradcheck() -> None:
    teacher = as_map([0.0, 30.0, 60.0, 90.0, 150.0, 80.0], h=2)
    student = torch.tensor([0.3, 0.2, 0.45, 0.7, 0.95, 0.55], dtype=torch.float64).view(1, 1, 2, 3)
    assert torch.autograd.gradcheck(lambda s: pixel_distillation_loss(s, teacher),
                                    (student.requires_grad_(),))
