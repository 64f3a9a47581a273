"""Tests of the frame-stack augmentations (litedepth.data.augment)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from litedepth.data.augment import (
    ColorJitter,
    ColorJitterParams,
    apply_color_jitter,
    hflip_intrinsics,
    mirror_pose,
    resize_frames,
    resize_intrinsics,
)
from litedepth.errors import ConfigError

M = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0]))


def _frames(n: int = 3, h: int = 12, w: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _rotation(yaw: float, pitch: float, roll: float) -> torch.Tensor:
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    Rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return torch.tensor(Ry @ Rx @ Rz, dtype=torch.float64)


# ------------------------------------------------------------------------------ colour jitter


def test_jitter_of_a_stack_equals_jitter_of_each_frame():
    frames = _frames()
    params = ColorJitter(p=1.0).sample(torch.Generator().manual_seed(3))
    assert params is not None and not params.is_identity
    stacked = apply_color_jitter(frames, params)
    separate = torch.stack([apply_color_jitter(f[None], params)[0] for f in frames])
    torch.testing.assert_close(stacked, separate, atol=1e-6, rtol=0)
    assert not torch.allclose(stacked, frames, atol=1e-3)  # it did change the frames


def test_identical_frames_stay_identical():
    frame = _frames(1)[0]
    frames = torch.stack([frame, frame, frame])
    for seed in range(5):
        out = apply_color_jitter(frames, ColorJitter(p=1.0).sample(torch.Generator().manual_seed(seed)))
        assert torch.equal(out[0], out[1]) and torch.equal(out[0], out[2])


def test_p0_and_identity_leave_frames_unchanged():
    frames = _frames()
    jitter = ColorJitter(p=0.0)
    assert all(jitter.sample(torch.Generator().manual_seed(s)) is None for s in range(20))
    assert torch.equal(apply_color_jitter(frames, None), frames)
    assert torch.equal(apply_color_jitter(frames, ColorJitterParams()), frames)


def test_sampling_ranges_probability_and_generators():
    jitter = ColorJitter()  # Monodepth2: p = 0.5, (0.8, 1.2) x 3, hue (-0.1, 0.1)
    g = torch.Generator().manual_seed(0)
    draws = [jitter.sample(g) for _ in range(400)]
    params = [d for d in draws if d is not None]
    assert 0.4 < len(params) / len(draws) < 0.6
    for p in params:
        assert 0.8 <= p.brightness <= 1.2 and 0.8 <= p.contrast <= 1.2 and 0.8 <= p.saturation <= 1.2
        assert -0.1 <= p.hue <= 0.1
        assert sorted(p.order) == [0, 1, 2, 3]
    assert len({p.order for p in params}) > 5  # random order, drawn per sample
    # reproducible from a seed, with a torch or a numpy generator
    a = [ColorJitter(p=1.0).sample(torch.Generator().manual_seed(7)) for _ in range(2)]
    b = [ColorJitter(p=1.0).sample(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1] and b[0] == b[1]
    assert ColorJitter(p=1.0, random_order=False).sample(np.random.default_rng(1)).order == (0, 1, 2, 3)


def test_order_is_applied():
    frames = _frames(1)
    p1 = ColorJitterParams(1.2, 0.8, 1.2, 0.08, order=(0, 1, 2, 3))
    p2 = ColorJitterParams(1.2, 0.8, 1.2, 0.08, order=(3, 2, 1, 0))
    out1, out2 = apply_color_jitter(frames, p1), apply_color_jitter(frames, p2)
    assert out1.min() >= 0 and out1.max() <= 1
    assert not torch.allclose(out1, out2, atol=1e-4)


def test_brightness_known_value():
    frames = torch.full((2, 3, 4, 4), 0.5)
    out = apply_color_jitter(frames, ColorJitterParams(brightness=1.2))
    torch.testing.assert_close(out, torch.full_like(frames, 0.6))


@pytest.mark.parametrize(
    "kwargs", [{"p": 1.5}, {"brightness": (1.2, 0.8)}, {"hue": (-0.7, 0.1)}, {"contrast": (-0.1, 1.0)}]
)
def test_invalid_jitter_options(kwargs):
    with pytest.raises(ConfigError):
        ColorJitter(**kwargs)


def test_invalid_params_and_frames():
    with pytest.raises(ConfigError, match="permutation"):
        ColorJitterParams(order=(0, 0, 1, 2))
    with pytest.raises(ValueError, match="3, H, W"):
        apply_color_jitter(torch.rand(2, 4, 5, 5), ColorJitterParams(brightness=1.1))


# ------------------------------------------------------------------------------ geometry


def test_hflip_intrinsics_pixel_centre_convention():
    K = torch.tensor([[50.0, 0.0, 30.25], [0.0, 48.0, 11.0], [0.0, 0.0, 1.0]])
    Kf = hflip_intrinsics(K, 64)
    assert Kf[0, 2] == 64 - 1 - 30.25 and Kf[1, 2] == 11.0 and Kf[0, 0] == 50.0
    torch.testing.assert_close(hflip_intrinsics(Kf, 64), K)
    # a mirrored point projects to the mirrored pixel u' = W - 1 - u
    X = torch.tensor([1.3, -0.4, 5.0])
    u = (K @ X)[:2] / X[2]
    Xm = M[:3, :3] @ X
    um = (Kf @ Xm)[:2] / Xm[2]
    torch.testing.assert_close(um, torch.stack([63 - u[0], u[1]]))


def test_mirror_pose_maps_mirrored_points():
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3] = _rotation(0.1, -0.05, 0.03)
    T[:3, 3] = torch.tensor([0.3, -0.1, 1.2], dtype=torch.float64)
    Tm = mirror_pose(T)
    torch.testing.assert_close(Tm, M.double() @ T @ M.double())
    torch.testing.assert_close(mirror_pose(Tm), T)
    X = torch.tensor([0.7, 0.2, 4.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(Tm @ (M.double() @ X), M.double() @ (T @ X))
    assert Tm[0, 3] == -T[0, 3] and Tm[2, 3] == T[2, 3]
    batch = torch.stack([T, T.inverse()])
    torch.testing.assert_close(mirror_pose(batch)[1], mirror_pose(T.inverse()))


def test_resize_intrinsics_known_value_and_round_trip():
    K = torch.tensor([[100.0, 0, 49.5], [0, 100, 24.5], [0, 0, 1]])
    K2 = resize_intrinsics(K, (50, 100), (25, 50))
    torch.testing.assert_close(K2, torch.tensor([[50.0, 0, 24.5], [0, 50, 12.0], [0, 0, 1]]))
    back = resize_intrinsics(K2, (25, 50), (50, 100))
    torch.testing.assert_close(back, K)
    K4 = torch.eye(4)
    K4[:3, :3] = K
    torch.testing.assert_close(resize_intrinsics(K4.numpy(), (50, 100), (25, 50)), K2)
    with pytest.raises(ConfigError):
        resize_intrinsics(K, (0, 100), (25, 50))


def test_resize_frames_agrees_with_resize_intrinsics():
    """A horizontal ramp I(u) = u resampled by resize_frames takes, at new pixel u', the old
    coordinate (u' + 0.5) / s - 0.5: the mapping resize_intrinsics applies to cx."""
    h, w, H, W = 8, 100, 4, 40
    ramp = torch.arange(w, dtype=torch.float32).expand(1, 3, h, w) / 100.0
    out = resize_frames(ramp, (H, W)) * 100.0
    assert out.shape == (1, 3, H, W)
    u_new = torch.arange(W, dtype=torch.float32)
    expected = (u_new + 0.5) * (w / W) - 0.5
    interior = slice(2, W - 2)  # the antialias kernel is renormalised at the borders
    # 0.02 px: torch samples the triangle kernel at discrete taps (+-0.01 px here)
    torch.testing.assert_close(out[0, 0, 0, interior], expected[interior], atol=0.02, rtol=0)
    naive = u_new * (w / W)  # Monodepth2-style scaling without the half pixel: 0.75 px off
    assert (out[0, 0, 0, interior] - naive[interior]).abs().min() > 0.7
    for cx in (0.0, 37.25, 99.0):
        K = torch.tensor([[80.0, 0, cx], [0, 80, 3.5], [0, 0, 1]])
        cx_new = resize_intrinsics(K, (h, w), (H, W))[0, 2]
        assert abs(((cx_new + 0.5) * (w / W) - 0.5) - cx) < 1e-4
    same = torch.rand(2, 3, 5, 6)
    assert resize_frames(same, (5, 6)) is same
