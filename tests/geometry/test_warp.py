"""Tests of litedepth.geometry.warp.inverse_warp: identity, known shifts, pose convention."""

from __future__ import annotations

import doctest
import math

import pytest
import torch

import litedepth.geometry.warp as warp_mod
from litedepth.geometry.warp import InverseWarp, inverse_warp
from litedepth.losses import photometric_error

H, W = 24, 32
FX = FY = 20.0
CX, CY = (W - 1) / 2, (H - 1) / 2


def pinhole(batch: int = 1, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    K = torch.tensor([[FX, 0.0, CX], [0.0, FY, CY], [0.0, 0.0, 1.0]], dtype=dtype)
    return K.expand(batch, 3, 3)


def translation(tx: float = 0.0, ty: float = 0.0, tz: float = 0.0, batch: int = 1):
    T = torch.eye(4, dtype=torch.float64).repeat(batch, 1, 1)
    T[:, :3, 3] = torch.tensor([tx, ty, tz], dtype=torch.float64)
    return T


def test_identity_pose_warps_image_onto_itself():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, H, W, generator=g, dtype=torch.float64)
    depth = 1 + 20 * torch.rand(2, 1, H, W, generator=g, dtype=torch.float64)
    warped, valid = inverse_warp(img, depth, translation(batch=2), pinhole(2))
    assert warped.shape == img.shape and valid.shape == (2, 1, H, W)
    assert valid.dtype == torch.bool and valid.all()
    torch.testing.assert_close(warped, img, atol=1e-9, rtol=0)
    assert photometric_error(warped, img).max().item() < 1e-6


@pytest.mark.parametrize("Z,shift", [(5.0, 2.5), (10.0, 1.25), (4.0, -3.0)])
def test_x_translation_of_fronto_parallel_plane_gives_known_shift(Z, shift):
    # X_source = X_target + tx  =>  u_source = u_target + fx * tx / Z
    tx = shift * Z / FX
    ramp = torch.arange(W, dtype=torch.float64).expand(1, 1, H, W)  # value = column index
    img = torch.cat([ramp, 2 * ramp + 1], dim=1)
    depth = torch.full((1, 1, H, W), Z, dtype=torch.float64)
    warped, valid = inverse_warp(img, depth, translation(tx=tx), pinhole())
    u = torch.arange(W, dtype=torch.float64)
    expected = (u + shift).clamp(0, W - 1)  # border padding outside the image
    torch.testing.assert_close(warped[0, 0], expected.expand(H, W), atol=1e-9, rtol=0)
    torch.testing.assert_close(warped[0, 1], (2 * expected + 1).expand(H, W), atol=1e-9, rtol=0)
    inside = ((u + shift) >= 0) & ((u + shift) <= W - 1)
    assert torch.equal(valid[0, 0], inside.expand(H, W))


def test_y_translation_shift():
    Z, shift = 8.0, 1.5
    ramp = torch.arange(H, dtype=torch.float64).view(1, 1, H, 1).expand(1, 1, H, W)
    warped, _ = inverse_warp(
        ramp, torch.full((1, 1, H, W), Z, dtype=torch.float64),
        translation(ty=shift * Z / FY), pinhole()
    )
    expected = (torch.arange(H, dtype=torch.float64) + shift).clamp(max=H - 1)
    torch.testing.assert_close(warped[0, 0, :, 0], expected, atol=1e-9, rtol=0)


def render_plane(cam_z: float, plane_z: float) -> torch.Tensor:
    """(1, 1, H, W) image of a textured plane z = plane_z seen by a camera at (0, 0, cam_z)."""
    v, u = torch.meshgrid(
        torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij"
    )
    dist = plane_z - cam_z
    X = (u - CX) * dist / FX
    Y = (v - CY) * dist / FY
    tex = 0.5 + 0.25 * torch.sin(1.3 * X) + 0.25 * torch.cos(0.9 * Y + 0.3)
    return tex[None, None]


def test_pose_convention_camera_moved_forward():
    # The source camera is 2 m forward of the target camera: X_source = X_target - (0, 0, 2),
    # so T_source_from_target has translation (0, 0, -2). Warping the source with it must
    # reproduce the target view; the opposite sign must not.
    plane_z, forward = 10.0, 2.0
    target = render_plane(0.0, plane_z)
    source = render_plane(forward, plane_z)
    depth = torch.full((1, 1, H, W), plane_z, dtype=torch.float64)
    warped, valid = inverse_warp(source, depth, translation(tz=-forward), pinhole())
    # target pixel u projects to cx + (u - cx) * 10 / 8 in the source: the centre is valid,
    # the rim falls outside the source image
    assert valid[0, 0, H // 2, W // 2] and not valid[0, 0, 0, 0]
    assert 0.3 < valid.double().mean().item() < 0.9
    err = (warped - target).abs()[valid]
    assert err.max().item() < 0.02  # bilinear interpolation error of a smooth texture only
    wrong, wrong_valid = inverse_warp(source, depth, translation(tz=+forward), pinhole())
    assert (wrong - target).abs()[wrong_valid].mean().item() > 5 * err.mean().item()


def test_valid_mask_flags_points_behind_source_camera():
    depth = torch.full((1, 1, H, W), 1.0, dtype=torch.float64)
    _, valid = inverse_warp(torch.rand(1, 1, H, W, dtype=torch.float64), depth,
                            translation(tz=-2.0), pinhole())
    assert not valid.any()  # the plane at 1 m is 1 m behind a camera 2 m forward


def test_batch_elements_are_independent_and_float32_works():
    img = torch.rand(2, 3, H, W)
    depth = torch.full((2, 1, H, W), 5.0)
    T = translation(batch=2).float()
    T[1, 0, 3] = 2.5 * 5.0 / FX
    warped, _ = inverse_warp(img, depth, T, pinhole(2, torch.float32))
    assert warped.dtype == torch.float32
    torch.testing.assert_close(warped[0], img[0], atol=1e-5, rtol=0)
    assert not torch.allclose(warped[1], img[1], atol=1e-3)


def test_4x4_and_unbatched_intrinsics():
    img = torch.rand(1, 3, H, W, dtype=torch.float64)
    depth = torch.full((1, 1, H, W), 6.0, dtype=torch.float64)
    T = translation(tx=0.3)
    K4 = torch.eye(4, dtype=torch.float64)
    K4[:3, :3] = pinhole()[0]
    ref, _ = inverse_warp(img, depth, T, pinhole())
    torch.testing.assert_close(inverse_warp(img, depth, T, K4[None])[0], ref)
    torch.testing.assert_close(inverse_warp(img, depth, T, pinhole()[0])[0], ref)
    torch.testing.assert_close(InverseWarp()(img, depth, T, pinhole())[0], ref)


def test_errors():
    img = torch.rand(1, 3, H, W)
    depth = torch.ones(1, 1, H, W)
    K, T = pinhole(1, torch.float32), translation().float()
    with pytest.raises(ValueError, match="source_img"):
        inverse_warp(img[0], depth, T, K)
    with pytest.raises(ValueError, match="target_depth"):
        inverse_warp(img, depth.expand(1, 2, H, W), T, K)
    with pytest.raises(ValueError, match="upsample"):
        inverse_warp(img, depth[..., ::2, ::2], T, K)
    with pytest.raises(ValueError, match="K"):
        inverse_warp(img, depth, T, torch.eye(2))
    with pytest.raises(ValueError, match="T must"):
        inverse_warp(img, depth, torch.eye(3)[None], K)
    with pytest.raises(ValueError, match="2x2"):
        inverse_warp(img[..., :1, :], depth[..., :1, :], T, K)


def test_gradcheck_depth_and_pose():
    g = torch.Generator().manual_seed(2)
    h, w = 5, 6
    img = torch.rand(1, 2, h, w, generator=g, dtype=torch.float64)
    K = torch.tensor([[[4.0, 0, 2.5], [0, 4, 2.0], [0, 0, 1]]], dtype=torch.float64)
    depth = (3 + torch.rand(1, 1, h, w, generator=g, dtype=torch.float64)).requires_grad_()
    t = torch.tensor([0.113, -0.071, 0.05], dtype=torch.float64, requires_grad=True)

    def fn(d, tr):
        T = torch.eye(4, dtype=torch.float64).repeat(1, 1, 1)
        T = torch.cat([torch.cat([T[:, :3, :3], tr.view(1, 3, 1)], 2), T[:, 3:]], 1)
        return inverse_warp(img, d, T, K)[0]

    assert torch.autograd.gradcheck(fn, (depth, t))
    assert not math.isnan(fn(depth, t).sum().item())


def test_docstring_examples():
    result = doctest.testmod(warp_mod, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow  # importing litedepth.data pulls in lightning (seconds); the math is fast
def test_pose_convention_agrees_with_synthetic_renderer():
    # Cross-check with litedepth.data.synthetic, an independent ray-casting renderer: warping
    # frame s into frame t with its ground-truth T_source_from_target = T_b_from_a(t, s) must
    # reconstruct frame t far better than the inverted pose or the unwarped frame.
    synthetic = pytest.importorskip("litedepth.data.synthetic")
    cfg = synthetic.SceneConfig(kind="room", seed=3, height=48, width=96)
    seq = synthetic.make_sequence(cfg, 3)
    rgb = torch.from_numpy(seq.rgb).permute(0, 3, 1, 2).double() / 255
    depth = torch.from_numpy(seq.depth).double()[:, None]
    K = torch.from_numpy(seq.K)[None]
    t = 1
    for s in (0, 2):
        T = torch.from_numpy(seq.T_b_from_a(t, s))[None]
        warped, valid = inverse_warp(rgb[s : s + 1], depth[t : t + 1], T, K)
        mask = valid & (depth[t : t + 1] > 0)
        assert mask.double().mean().item() > 0.5
        good = photometric_error(warped, rgb[t : t + 1])[mask].mean().item()
        inverted, _ = inverse_warp(rgb[s : s + 1], depth[t : t + 1], torch.linalg.inv(T), K)
        bad = photometric_error(inverted, rgb[t : t + 1])[mask].mean().item()
        identity = photometric_error(rgb[s : s + 1], rgb[t : t + 1])[mask].mean().item()
        assert good < 0.3 * bad and good < 0.3 * identity, (good, bad, identity)


def test_low_precision_inputs_and_autocast():
    # geometry runs in float32 whatever the input precision; output keeps the image dtype
    g = torch.Generator().manual_seed(4)
    img = torch.rand(1, 3, H, W, generator=g)
    depth = 2 + torch.rand(1, 1, H, W, generator=g)
    T = translation(tx=0.17, tz=0.05).float()
    K = pinhole(1, torch.float32)
    ref, ref_valid = inverse_warp(img, depth, T, K)
    out, valid = inverse_warp(img.bfloat16(), depth.bfloat16(), T, K)
    assert out.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max().item() < 0.05  # bf16 rounding of inputs/outputs only
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_ac, valid_ac = inverse_warp(img, depth, T, K)
    assert out_ac.dtype == torch.float32 and torch.equal(valid_ac, ref_valid)
    torch.testing.assert_close(out_ac, ref)
