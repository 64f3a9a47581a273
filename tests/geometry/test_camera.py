"""Tests of litedepth.geometry.camera: intrinsics scaling, back-projection, projection."""

from __future__ import annotations

import doctest

import pytest
import torch
import torch.nn.functional as F

import litedepth.geometry.camera as camera_mod
from litedepth.geometry.camera import (
    backproject,
    normalised_to_pixel,
    pixel_grid,
    pixel_to_grid,
    pixel_to_normalised,
    project,
    scale_intrinsics,
)

KITTI_NORMALISED = torch.tensor(
    [[0.58, 0.0, 0.5, 0.0], [0.0, 1.92, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
    dtype=torch.float64,
)


def random_K(batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """Random plausible pixel intrinsics, (batch, 3, 3), float64, with a little skew."""
    r = torch.rand(batch, 5, generator=generator, dtype=torch.float64)
    K = torch.zeros(batch, 3, 3, dtype=torch.float64)
    K[:, 0, 0] = width * (0.4 + r[:, 0])
    K[:, 1, 1] = height * (0.4 + r[:, 1]) * 2
    K[:, 0, 2] = width * (0.3 + 0.4 * r[:, 2])
    K[:, 1, 2] = height * (0.3 + 0.4 * r[:, 3])
    K[:, 0, 1] = 0.5 * (r[:, 4] - 0.5)
    K[:, 2, 2] = 1.0
    return K


def test_kitti_intrinsics_scaled_to_640x192_and_pyramid():
    K = normalised_to_pixel(KITTI_NORMALISED, 192, 640)
    assert K.shape == (4, 4)
    assert K[0, 0].item() == pytest.approx(0.58 * 640)
    assert K[1, 1].item() == pytest.approx(1.92 * 192)
    assert K[0, 2].item() == pytest.approx(320.0)  # cx_norm * W, Monodepth2's convention
    assert K[1, 2].item() == pytest.approx(96.0)
    torch.testing.assert_close(K[2:], KITTI_NORMALISED[2:])
    K3 = scale_intrinsics(KITTI_NORMALISED, 192 // 8, 640 // 8)
    assert K3[0, 0].item() == pytest.approx(0.58 * 80)
    assert K3[1, 2].item() == pytest.approx(12.0)


def test_normalised_pixel_round_trip_batched():
    g = torch.Generator().manual_seed(1)
    K = random_K(4, 192, 640, g)
    norm = pixel_to_normalised(K, 192, 640)
    torch.testing.assert_close(norm[:, 0, 0], K[:, 0, 0] / 640)
    torch.testing.assert_close(norm[:, 1, 2], K[:, 1, 2] / 192)
    torch.testing.assert_close(normalised_to_pixel(norm, 192, 640), K)
    assert not torch.equal(norm, K)  # a new tensor, input untouched


@pytest.mark.parametrize(
    "bad", [torch.eye(2), torch.eye(3)[:, :2], torch.zeros(2, 2, 3, 3), torch.zeros(5, 3, 4)]
)
def test_intrinsics_bad_shape_raises(bad):
    with pytest.raises(ValueError, match="shape"):
        normalised_to_pixel(bad, 10, 10)


def test_intrinsics_bad_size_raises():
    with pytest.raises(ValueError, match="positive"):
        normalised_to_pixel(torch.eye(3), 0, 10)


def test_pixel_grid_order_matches_view():
    grid = pixel_grid(2, 3, dtype=torch.float64)
    expected = torch.tensor(
        [[0, 1, 2, 0, 1, 2], [0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=torch.float64
    )
    torch.testing.assert_close(grid, expected)


def test_backproject_known_value_and_depth_is_z():
    K = torch.tensor([[[10.0, 0, 2], [0, 20, 1], [0, 0, 1]]], dtype=torch.float64)
    depth = torch.arange(1.0, 13.0, dtype=torch.float64).view(1, 1, 3, 4)
    pts = backproject(depth, torch.linalg.inv(K))
    assert pts.shape == (1, 3, 12)
    torch.testing.assert_close(pts[:, 2], depth.view(1, 12))
    # pixel (u=3, v=2) -> index 2*4+3 = 11, depth 12: X = (3-2)*12/10, Y = (2-1)*12/20
    torch.testing.assert_close(
        pts[0, :, 11], torch.tensor([1.2, 0.6, 12.0], dtype=torch.float64)
    )


def test_backproject_4x4_gives_homogeneous_points():
    K4 = normalised_to_pixel(KITTI_NORMALISED, 6, 8).expand(2, 4, 4)
    depth = torch.rand(2, 1, 6, 8, dtype=torch.float64) + 1
    pts4 = backproject(depth, torch.linalg.inv(K4))
    pts3 = backproject(depth, torch.linalg.inv(K4[:, :3, :3]))
    assert pts4.shape == (2, 4, 48)
    torch.testing.assert_close(pts4[:, :3], pts3)
    torch.testing.assert_close(pts4[:, 3], torch.ones(2, 48, dtype=torch.float64))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_backproject_then_project_returns_pixel_grid(seed):
    g = torch.Generator().manual_seed(seed)
    b, h, w = 3, 5 + seed, 7 + 2 * seed
    K = random_K(b, h, w, g)
    depth = 0.5 + 50 * torch.rand(b, 1, h, w, generator=g, dtype=torch.float64)
    pts = backproject(depth, torch.linalg.inv(K))
    eye = torch.eye(4, dtype=torch.float64).expand(b, 4, 4)
    pix, grid = project(pts, K, eye, h, w)
    assert pix.shape == grid.shape == (b, h, w, 2)
    v, u = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    expected = torch.stack([u, v], dim=-1).expand(b, h, w, 2)
    torch.testing.assert_close(pix, expected, atol=1e-9, rtol=0)
    lin_x = torch.linspace(-1, 1, w, dtype=torch.float64)
    lin_y = torch.linspace(-1, 1, h, dtype=torch.float64)
    torch.testing.assert_close(grid[0, 0, :, 0], lin_x, atol=1e-9, rtol=0)
    torch.testing.assert_close(grid[0, :, 0, 1], lin_y, atol=1e-9, rtol=0)
    # T=None means identity; homogeneous input gives the same as Euclidean input
    pix_none, _ = project(pts, K, None, h, w)
    torch.testing.assert_close(pix_none, pix)
    pts_h = torch.cat([pts, torch.ones_like(pts[:, :1])], dim=1)
    torch.testing.assert_close(project(pts_h, K, eye, h, w)[0], pix)


def test_grid_matches_grid_sample_align_corners_true():
    # the grid of the identity projection, fed to grid_sample, reproduces the image exactly
    g = torch.Generator().manual_seed(7)
    h, w = 6, 9
    K = random_K(2, h, w, g)
    img = torch.rand(2, 3, h, w, generator=g, dtype=torch.float64)
    pts = backproject(torch.full((2, 1, h, w), 3.0, dtype=torch.float64), torch.linalg.inv(K))
    _, grid = project(pts, K, None, h, w)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)
    torch.testing.assert_close(out, img, atol=1e-9, rtol=0)


def test_project_translation_and_rotation_round_trip():
    # a point moved by T and projected, then lifted in the new frame and moved back by T^-1
    g = torch.Generator().manual_seed(3)
    h, w = 4, 6
    K = random_K(1, h, w, g)
    angle = torch.tensor(0.1, dtype=torch.float64)
    T = torch.eye(4, dtype=torch.float64)
    T[0, 0], T[0, 2], T[2, 0], T[2, 2] = angle.cos(), angle.sin(), -angle.sin(), angle.cos()
    T[:3, 3] = torch.tensor([0.2, -0.1, 0.3], dtype=torch.float64)
    depth = 5 + torch.rand(1, 1, h, w, generator=g, dtype=torch.float64)
    pts = backproject(depth, torch.linalg.inv(K))
    pix, _ = project(pts, K, T[None], h, w)
    moved = T[:3, :3] @ pts + T[:3, 3:]
    expected_u = (K[0, 0, 0] * moved[:, 0] + K[0, 0, 1] * moved[:, 1]) / moved[:, 2] + K[0, 0, 2]
    expected_v = K[0, 1, 1] * moved[:, 1] / moved[:, 2] + K[0, 1, 2]
    torch.testing.assert_close(pix[..., 0].reshape(1, -1), expected_u)
    torch.testing.assert_close(pix[..., 1].reshape(1, -1), expected_v)


def test_points_behind_camera_are_finite_and_outside():
    K = torch.tensor([[10.0, 0, 2], [0, 10, 2], [0, 0, 1]])
    # behind the camera, on the camera plane, and two in front (2x2 layout)
    pts = torch.tensor([[[0.5, 0.0, 0.0, 0.1], [0.5, 0.0, 0.0, 0.1], [-1.0, 0.0, 1.0, 2.0]]])
    pix, grid = project(pts, K, None, 2, 2)
    assert torch.isfinite(pix).all() and torch.isfinite(grid).all()
    assert (grid[0, 0, 0].abs() > 1).all()  # not mirrored into the image
    torch.testing.assert_close(pix[0, 1, 0], torch.tensor([2.0, 2.0]))
    torch.testing.assert_close(pix[0, 1, 1], torch.tensor([2.5, 2.5]))


def test_project_errors():
    K = torch.eye(3)
    with pytest.raises(ValueError, match="height \\* width"):
        project(torch.rand(1, 4, 12), K, None, 3, 5)
    with pytest.raises(ValueError, match="points"):
        project(torch.rand(1, 2, 12), K, None, 3, 4)
    with pytest.raises(ValueError, match="T must"):
        project(torch.rand(1, 4, 12), K, torch.eye(3), 3, 4)
    with pytest.raises(ValueError, match="batch"):
        project(torch.rand(2, 4, 12), K, torch.eye(4).expand(3, 4, 4), 3, 4)
    with pytest.raises(ValueError, match=">= 2"):
        pixel_to_grid(torch.zeros(1, 1, 3, 2), 1, 3)
    with pytest.raises(ValueError, match="depth"):
        backproject(torch.rand(1, 2, 3, 3), torch.eye(3))
    with pytest.raises(ValueError, match="batch"):
        backproject(torch.rand(2, 1, 3, 3), torch.eye(3).expand(3, 3, 3))


def test_gradcheck_backproject_project():
    g = torch.Generator().manual_seed(5)
    K = random_K(1, 3, 4, g)
    depth = (2 + torch.rand(1, 1, 3, 4, generator=g, dtype=torch.float64)).requires_grad_()
    T = torch.eye(4, dtype=torch.float64)[None].clone()
    T[0, :3, 3] = torch.tensor([0.1, 0.0, -0.2], dtype=torch.float64)
    T.requires_grad_()

    def fn(d, t):
        return project(backproject(d, torch.linalg.inv(K)), K, t, 3, 4)[1]

    assert torch.autograd.gradcheck(fn, (depth, T))


def test_docstring_examples():
    result = doctest.testmod(camera_mod, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0
