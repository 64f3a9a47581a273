"""Tests of litedepth.losses.photometric: SSIM, photometric error, minimum reprojection."""

from __future__ import annotations

import doctest

import pytest
import torch

import litedepth.losses.photometric as photometric_mod
from litedepth.errors import ConfigError
from litedepth.geometry.warp import inverse_warp
from litedepth.losses import (
    SSIM,
    MinReprojectionLoss,
    PhotometricError,
    min_reprojection_loss,
    photometric_error,
    ssim,
)

C1, C2 = 0.01**2, 0.03**2


def ssim_at(x: torch.Tensor, y: torch.Tensor, rows: list[int], cols: list[int]) -> float:
    """Hand SSIM loss of one pixel from an explicit 3x3 window (given its row/col indices)."""
    wx = x[rows][:, cols].flatten()
    wy = y[rows][:, cols].flatten()
    mx, my = wx.mean(), wy.mean()
    vx = (wx * wx).mean() - mx * mx
    vy = (wy * wy).mean() - my * my
    cxy = (wx * wy).mean() - mx * my
    s = (2 * mx * my + C1) * (2 * cxy + C2) / ((mx**2 + my**2 + C1) * (vx + vy + C2))
    return float(((1 - s) / 2).clamp(0, 1))


def test_ssim_identical_images_is_zero():
    x = torch.rand(2, 3, 8, 9, dtype=torch.float64)
    out = ssim(x, x)
    assert out.shape == x.shape
    assert out.abs().max().item() < 1e-12


@pytest.mark.parametrize("a,b", [(0.2, 0.7), (0.0, 1.0), (0.5, 0.5), (0.9, 0.1)])
def test_ssim_constant_images_hand_formula(a, b):
    x = torch.full((1, 3, 5, 6), a, dtype=torch.float64)
    y = torch.full((1, 3, 5, 6), b, dtype=torch.float64)
    # variances and covariance vanish, so SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    expected = (1 - (2 * a * b + C1) / (a * a + b * b + C1)) / 2
    torch.testing.assert_close(ssim(x, y), torch.full_like(x, expected))


def test_ssim_matches_explicit_window_with_reflection_padding():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 5, 6, generator=g, dtype=torch.float64)
    y = torch.rand(1, 1, 5, 6, generator=g, dtype=torch.float64)
    out = ssim(x, y)[0, 0]
    x2, y2 = x[0, 0], y[0, 0]
    # interior pixel (2, 3): rows 1..3, cols 2..4
    assert out[2, 3].item() == pytest.approx(ssim_at(x2, y2, [1, 2, 3], [2, 3, 4]), abs=1e-12)
    # corner (0, 0): reflection padding mirrors row/col 1 (not a replicated row/col 0)
    assert out[0, 0].item() == pytest.approx(ssim_at(x2, y2, [1, 0, 1], [1, 0, 1]), abs=1e-12)
    # last corner (4, 5): mirrors row 3 and col 4
    assert out[4, 5].item() == pytest.approx(ssim_at(x2, y2, [3, 4, 3], [4, 5, 4]), abs=1e-12)


def test_ssim_symmetric_and_bounded():
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 2, 3, 7, 7, generator=g)
    out = ssim(x, y)
    torch.testing.assert_close(out, ssim(y, x))
    assert out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(SSIM()(x, y), out)


def test_ssim_differs_from_kornia_gaussian_ssim():
    # kornia's ssim_loss uses a Gaussian window (sigma 1.5) and zero "same" padding; Monodepth2
    # and Lite-Mono were trained with a 3x3 box window and reflection padding. They disagree,
    # which is why litedepth has its own ssim.
    kornia_losses = pytest.importorskip("kornia.losses")
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 3, 16, 16, generator=g)
    y = (x + 0.2 * torch.rand(1, 3, 16, 16, generator=g)).clamp(0, 1)
    ours = ssim(x, y)
    theirs = kornia_losses.ssim_loss(x, y, window_size=3, reduction="none")
    assert theirs.shape == ours.shape
    assert (ours - theirs).abs().max().item() > 1e-2


def test_ssim_errors():
    with pytest.raises(ValueError, match="same shape"):
        ssim(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))
    with pytest.raises(ValueError, match="B, C, H, W"):
        ssim(torch.rand(3, 4, 4), torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match="2x2"):
        ssim(torch.rand(1, 3, 1, 4), torch.rand(1, 3, 1, 4))


def test_ssim_gradcheck():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ssim, (x, y))


def test_photometric_error_known_value():
    a, b = 0.2, 0.6
    pred = torch.full((2, 3, 4, 5), a, dtype=torch.float64)
    target = torch.full((2, 3, 4, 5), b, dtype=torch.float64)
    ssim_loss = (1 - (2 * a * b + C1) / (a * a + b * b + C1)) / 2
    expected = 0.85 * ssim_loss + 0.15 * abs(a - b)
    out = photometric_error(pred, target)
    assert out.shape == (2, 1, 4, 5)
    torch.testing.assert_close(out, torch.full_like(out, expected))
    torch.testing.assert_close(PhotometricError()(pred, target), out)
    # channel mean of the L1 term: only one channel differs
    target2 = pred.clone()
    target2[:, 1] = b
    l1_only = photometric_error(pred, target2, alpha=0.0)
    torch.testing.assert_close(l1_only, torch.full_like(out, abs(a - b) / 3))
    ssim_only = photometric_error(pred, target, alpha=1.0)
    torch.testing.assert_close(ssim_only, torch.full_like(out, ssim_loss))


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_photometric_bad_alpha(alpha):
    with pytest.raises(ConfigError, match="alpha"):
        photometric_error(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), alpha)
    with pytest.raises(ConfigError, match="alpha"):
        PhotometricError(alpha)


def test_min_reprojection_picks_per_pixel_minimum():
    g = torch.Generator().manual_seed(4)
    errs = torch.rand(2, 3, 4, 5, generator=g)
    r = min_reprojection_loss(errs, automask=False)
    torch.testing.assert_close(r.per_pixel, errs.min(dim=1, keepdim=True).values)
    torch.testing.assert_close(r.index, errs.argmin(dim=1, keepdim=True))
    torch.testing.assert_close(r.loss, errs.min(dim=1).values.mean())
    assert r.automask.dtype == torch.bool and r.automask.all()
    # a list of (B, 1, H, W) maps gives the same result
    r_list = min_reprojection_loss(list(errs.split(1, dim=1)), automask=False)
    torch.testing.assert_close(r_list.loss, r.loss)


def test_min_reprojection_gradient_only_to_winner():
    errs = torch.tensor([[[[0.3]], [[0.1]]]], requires_grad=True)
    min_reprojection_loss(errs, automask=False).loss.backward()
    torch.testing.assert_close(errs.grad.flatten(), torch.tensor([0.0, 1.0]))


def test_automask_selects_identity_where_scene_is_static():
    # per pixel: left half static (identity error ~0 beats warped), right half moving
    warped = torch.full((1, 2, 2, 4), 0.2)
    identity = torch.full((1, 2, 2, 4), 0.5)
    identity[..., :2] = 0.0
    r = min_reprojection_loss(warped, identity, generator=torch.Generator().manual_seed(0))
    expected_mask = torch.tensor([[False, False, True, True]]).expand(2, 4)
    assert torch.equal(r.automask[0, 0], expected_mask)
    assert torch.all(r.index[0, 0, :, :2] < 2) and torch.all(r.index[0, 0, :, 2:] >= 2)
    assert abs(r.per_pixel[0, 0, 0, 0].item()) < 1e-4  # identity + noise of std 1e-5
    torch.testing.assert_close(r.per_pixel[0, 0, :, 2:], torch.full((2, 2), 0.2))


def test_automask_end_to_end_static_camera():
    # camera did not move: source == target, but a wrong pose is predicted. The identity error
    # is zero everywhere, so auto-masking removes every pixel from the warped-source set.
    g = torch.Generator().manual_seed(5)
    target = torch.rand(1, 3, 12, 16, generator=g)
    source = target.clone()
    K = torch.tensor([[[10.0, 0, 7.5], [0, 10, 5.5], [0, 0, 1]]])
    T = torch.eye(4)[None].clone()
    T[0, 0, 3] = 0.4
    warped, _ = inverse_warp(source, torch.full((1, 1, 12, 16), 4.0), T, K)
    reproj = photometric_error(warped, target)
    ident = photometric_error(source, target)
    r = min_reprojection_loss([reproj], [ident], generator=torch.Generator().manual_seed(1))
    assert not r.automask.any()
    assert r.loss.abs().item() < 1e-4
    unmasked = min_reprojection_loss([reproj], automask=False)
    assert unmasked.loss.item() > 0.05


def test_noise_is_reproducible_with_generator_and_zero_noise_is_exact():
    warped = torch.rand(1, 2, 3, 3)
    ident = torch.rand(1, 2, 3, 3)
    a = min_reprojection_loss(warped, ident, generator=torch.Generator().manual_seed(9))
    b = min_reprojection_loss(warped, ident, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(a.per_pixel, b.per_pixel)
    exact = min_reprojection_loss(warped, ident, noise=0.0)
    torch.testing.assert_close(exact.per_pixel, torch.cat([ident, warped], 1).min(1, True).values)
    torch.testing.assert_close(a.per_pixel, exact.per_pixel, atol=1e-4, rtol=0)
    assert not torch.equal(a.per_pixel, exact.per_pixel)
    m = MinReprojectionLoss(noise=0.0)
    torch.testing.assert_close(m(warped, ident).loss, exact.loss)


def test_averaged_identity_single_channel_is_accepted():
    warped = torch.rand(2, 2, 3, 3)
    ident = torch.zeros(2, 1, 3, 3)
    r = min_reprojection_loss(warped, ident, noise=0.0)
    assert not r.automask.any()


def test_min_reprojection_errors():
    with pytest.raises(ValueError, match="identity_errors"):
        min_reprojection_loss(torch.rand(1, 2, 3, 3))
    with pytest.raises(ValueError, match="empty"):
        min_reprojection_loss([], automask=False)
    with pytest.raises(ValueError, match="differ"):
        min_reprojection_loss(torch.rand(1, 2, 3, 3), torch.rand(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        min_reprojection_loss([torch.rand(1, 2, 3, 3)], automask=False)
    with pytest.raises(ValueError, match="differ in shape"):
        min_reprojection_loss([torch.rand(1, 1, 3, 3), torch.rand(1, 1, 3, 4)], automask=False)
    with pytest.raises(ConfigError, match="noise"):
        min_reprojection_loss(torch.rand(1, 2, 3, 3), torch.rand(1, 2, 3, 3), noise=-1.0)
    with pytest.raises(ConfigError, match="noise"):
        MinReprojectionLoss(noise=-1.0)


def test_docstring_examples():
    result = doctest.testmod(photometric_mod, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------ the fast SSIM equals the pooling formula


def reference_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Monodepth2's formula as written there: reflection padding, then 3x3 avg_pool2d of x, y,
    x^2, y^2 and xy (differentiated by autograd)."""
    import torch.nn.functional as F

    xp, yp = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(xp, 3, 1), F.avg_pool2d(yp, 3, 1)
    sigma_x = F.avg_pool2d(xp * xp, 3, 1) - mu_x**2
    sigma_y = F.avg_pool2d(yp * yp, 3, 1) - mu_y**2
    sigma_xy = F.avg_pool2d(xp * yp, 3, 1) - mu_x * mu_y
    n = (2 * mu_x * mu_y + C1) * (2 * sigma_xy + C2)
    d = (mu_x**2 + mu_y**2 + C1) * (sigma_x + sigma_y + C2)
    return torch.clamp((1 - n / d) / 2, 0, 1)


def reference_photometric(pred: torch.Tensor, target: torch.Tensor, alpha: float = 0.85) -> torch.Tensor:
    l1 = (pred - target).abs().mean(1, True)
    return alpha * reference_ssim(pred, target).mean(1, True) + (1 - alpha) * l1


@pytest.mark.parametrize("shape", [(2, 3, 9, 13), (1, 2, 2, 2), (1, 3, 2, 5), (3, 1, 6, 2)])
def test_ssim_equals_pooling_formula_values_and_gradients(shape):
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.rand(shape, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(shape, generator=g, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(shape, generator=g, dtype=torch.float64)
    ours, ref = ssim(x, y), reference_ssim(x, y)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)
    g_ours = torch.autograd.grad((ours * weights).sum(), (x, y))
    g_ref = torch.autograd.grad((ref * weights).sum(), (x, y))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_photometric_error_equals_reference_values_and_gradients():
    g = torch.Generator().manual_seed(11)
    pred = torch.rand(2, 3, 12, 17, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 3, 12, 17, generator=g, dtype=torch.float64, requires_grad=True)
    target_fixed = target.detach()
    weights = torch.rand(2, 1, 12, 17, generator=g, dtype=torch.float64)
    for alpha in (0.85, 1.0, 0.3):
        ours, ref = photometric_error(pred, target, alpha), reference_photometric(pred, target, alpha)
        torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)
        for a, b in zip(torch.autograd.grad((ours * weights).sum(), (pred, target)),
                        torch.autograd.grad((ref * weights).sum(), (pred, target))):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    # the training case: the target is a data tensor without gradient
    (gp,) = torch.autograd.grad((photometric_error(pred, target_fixed) * weights).sum(), (pred,))
    (gr,) = torch.autograd.grad((reference_photometric(pred, target_fixed) * weights).sum(), (pred,))
    torch.testing.assert_close(gp, gr, atol=1e-12, rtol=0)


def test_photometric_error_float32_matches_reference_and_gradcheck():
    g = torch.Generator().manual_seed(12)
    pred = torch.rand(2, 3, 24, 40, generator=g, requires_grad=True)
    target = torch.rand(2, 3, 24, 40, generator=g)
    ours, ref = photometric_error(pred, target), reference_photometric(pred, target)
    torch.testing.assert_close(ours, ref, atol=2e-6, rtol=0)
    torch.testing.assert_close(torch.autograd.grad(ours.sum(), pred)[0],
                               torch.autograd.grad(ref.sum(), pred)[0], atol=1e-6, rtol=1e-4)
    p64 = torch.rand(1, 2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    t64 = torch.rand(1, 2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: photometric_error(a, b, 0.85), (p64, t64))


def test_ssim_half_precision_inputs_are_computed_in_float32():
    g = torch.Generator().manual_seed(13)
    x = torch.rand(1, 3, 8, 8, generator=g)
    y = torch.rand(1, 3, 8, 8, generator=g)
    out = ssim(x.bfloat16(), y.bfloat16())
    assert out.dtype == torch.bfloat16
    # only the inputs' rounding to bfloat16 differs (statistics accumulate in float32)
    torch.testing.assert_close(out.float(), reference_ssim(x.bfloat16().float(), y.bfloat16().float()),
                               atol=1e-2, rtol=0)
