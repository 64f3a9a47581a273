"""Axis-angle rotations and rigid transforms from PoseNet parameters."""

from __future__ import annotations

import math

import pytest
import torch

from litedepth.geometry.pose_utils import rot_from_axisangle, transformation_from_parameters, translation_matrix


def skew(v: torch.Tensor) -> torch.Tensor:
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], -1).view(*v.shape[:-1], 3, 3)


@pytest.mark.parametrize(
    "vec, expected",
    [
        ([0.0, 0.0, math.pi / 2], [[0, -1, 0], [1, 0, 0], [0, 0, 1]]),  # z: x -> y
        ([math.pi / 2, 0.0, 0.0], [[1, 0, 0], [0, 0, -1], [0, 1, 0]]),  # x: y -> z
        ([0.0, math.pi / 2, 0.0], [[0, 0, 1], [0, 1, 0], [-1, 0, 0]]),  # y: z -> x
        ([math.pi, 0.0, 0.0], [[1, 0, 0], [0, -1, 0], [0, 0, -1]]),
        ([0.0, 0.0, 0.0], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    ],
)
def test_known_rotations(vec, expected):
    R = rot_from_axisangle(torch.tensor([vec], dtype=torch.float64))
    assert R.shape == (1, 4, 4)
    torch.testing.assert_close(R[0, :3, :3], torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0)
    assert R[0, 3].tolist() == [0, 0, 0, 1] and R[0, :3, 3].tolist() == [0, 0, 0]


def test_matches_matrix_exponential_and_is_a_rotation():
    torch.manual_seed(0)
    v = torch.randn(16, 3, dtype=torch.float64)
    R = rot_from_axisangle(v)[:, :3, :3]
    torch.testing.assert_close(R, torch.linalg.matrix_exp(skew(v)), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(R @ R.transpose(1, 2), torch.eye(3, dtype=v.dtype).expand(16, 3, 3))
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(16, dtype=v.dtype))
    # the axis is left unchanged
    torch.testing.assert_close((R @ v[:, :, None])[..., 0], v)


def test_posenet_layout_b13_equals_b3():
    v = torch.randn(4, 1, 3)
    t = torch.randn(4, 1, 3)
    torch.testing.assert_close(rot_from_axisangle(v), rot_from_axisangle(v[:, 0]))
    torch.testing.assert_close(transformation_from_parameters(v, t), transformation_from_parameters(v[:, 0], t[:, 0]))


def test_transform_applies_rotation_then_translation():
    torch.manual_seed(1)
    v, t = torch.randn(3, 1, 3, dtype=torch.float64), torch.randn(3, 1, 3, dtype=torch.float64)
    M = transformation_from_parameters(v, t)
    p = torch.randn(3, 3, dtype=torch.float64)
    ph = torch.cat([p, torch.ones(3, 1, dtype=p.dtype)], 1)[:, :, None]
    R = rot_from_axisangle(v)[:, :3, :3]
    torch.testing.assert_close((M @ ph)[:, :3, 0], (R @ p[:, :, None])[..., 0] + t[:, 0])
    assert torch.equal(M[:, 3], torch.tensor([0.0, 0, 0, 1], dtype=p.dtype).expand(3, 4))
    torch.testing.assert_close(translation_matrix(t)[:, :3, 3], t[:, 0])


def test_invert_gives_the_inverse():
    torch.manual_seed(2)
    v, t = torch.randn(5, 1, 3, dtype=torch.float64), torch.randn(5, 1, 3, dtype=torch.float64)
    M = transformation_from_parameters(v, t)
    M_inv = transformation_from_parameters(v, t, invert=True)
    eye = torch.eye(4, dtype=v.dtype).expand(5, 4, 4)
    torch.testing.assert_close(M @ M_inv, eye)
    torch.testing.assert_close(M_inv @ M, eye)
    torch.testing.assert_close(M_inv, torch.linalg.inv(M))
    # the inputs are not modified
    assert torch.isfinite(t).all() and not torch.equal(t, -t)


@pytest.mark.parametrize("scale", [0.0, 1e-20, 1e-9, 1e-4])
def test_tiny_rotations_are_near_identity_with_finite_gradients(scale):
    # an untrained PoseNet outputs rotations of ~1e-3 rad or less
    v = (torch.tensor([[[0.3, -0.5, 0.8]]]) * scale).repeat(2, 1, 1).requires_grad_()
    t = torch.zeros(2, 1, 3, requires_grad=True)
    M = transformation_from_parameters(v, t, invert=True)
    torch.testing.assert_close(M.detach(), torch.eye(4).expand(2, 4, 4), atol=2e-4, rtol=0)
    M.sum().backward()
    assert torch.isfinite(v.grad).all() and torch.isfinite(t.grad).all()


def test_gradcheck():
    v = (torch.randn(2, 1, 3, dtype=torch.float64) * 0.3).requires_grad_()
    t = torch.randn(2, 1, 3, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: transformation_from_parameters(a, b, invert=True), (v, t))


def test_bad_shapes():
    with pytest.raises(ValueError, match="axisangle"):
        rot_from_axisangle(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="translation"):
        transformation_from_parameters(torch.zeros(2, 3), torch.zeros(2, 2, 3))
    with pytest.raises(ValueError, match="batch sizes"):
        transformation_from_parameters(torch.zeros(2, 3), torch.zeros(3, 3))
