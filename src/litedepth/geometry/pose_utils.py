"""Rigid transforms from PoseNet outputs (axis-angle rotation + translation).

Pure functions on batched tensors. The convention is Monodepth2's: a PoseNet fed frames
``(a, b)`` in temporal order predicts ``T = [R | t]``; the trainer uses it as is for a
source frame after the target and inverts it for a source frame before the target, so that
both become ``T_source_from_target`` (see :mod:`litedepth.geometry.warp`).

Rotations use Rodrigues' formula ``R = cos(a) I + sin(a) [k]_x + (1 - cos(a)) k k^T`` with
angle ``a = |v|`` (radians) and unit axis ``k = v / max(|v|, 1e-12)``; a zero vector gives
the identity with finite gradients. (Monodepth2 divides by ``|v| + 1e-7`` instead, which
leaves ``R`` non-orthonormal by ~``1e-7 / a``; the difference is far below float32 noise
for trained weights, and here ``R`` is an exact rotation.)
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["rot_from_axisangle", "transformation_from_parameters", "translation_matrix"]

_AXIS_EPS = 1e-12


def _as_b3(vec: Tensor, name: str) -> Tensor:
    """``(B, 3)`` or ``(B, 1, 3)`` -> ``(B, 3)``."""
    if vec.dim() == 3 and vec.shape[1] == 1 and vec.shape[2] == 3:
        return vec[:, 0]
    if vec.dim() == 2 and vec.shape[1] == 3:
        return vec
    raise ValueError(f"{name} must have shape (B, 3) or (B, 1, 3), got {tuple(vec.shape)}")


def rot_from_axisangle(axisangle: Tensor) -> Tensor:
    """Homogeneous rotation matrices from axis-angle vectors.

    Args:
        axisangle: ``(B, 3)`` or ``(B, 1, 3)`` (PoseNet layout) rotation vectors; direction =
            axis, norm = angle in radians (right-handed).

    Returns:
        ``(B, 4, 4)`` matrices ``[[R, 0], [0, 1]]``.

    Example:
        >>> import math
        >>> R = rot_from_axisangle(torch.tensor([[0.0, 0.0, math.pi / 2]]))
        >>> R[0, :3, :3].round(decimals=4) + 0.0  # 90 degrees about z: x -> y
        tensor([[ 0., -1.,  0.],
                [ 1.,  0.,  0.],
                [ 0.,  0.,  1.]])
    """
    v = _as_b3(axisangle, "axisangle")
    angle = torch.linalg.vector_norm(v, dim=-1, keepdim=True)  # (B, 1)
    k = v / angle.clamp_min(_AXIS_EPS)  # (B, 3) unit axis (zero for a zero vector)
    cos = torch.cos(angle)[..., None]  # (B, 1, 1)
    sin = torch.sin(angle)[..., None]
    zero = torch.zeros_like(k[:, 0])
    kx, ky, kz = k.unbind(-1)
    skew = torch.stack(
        [zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], dim=-1
    ).view(-1, 3, 3)  # [k]_x, so that [k]_x @ p = k x p
    eye = torch.eye(3, dtype=v.dtype, device=v.device).expand_as(skew)
    rot3 = cos * eye + sin * skew + (1.0 - cos) * (k[:, :, None] * k[:, None, :])
    out = torch.zeros(v.shape[0], 4, 4, dtype=v.dtype, device=v.device)
    out[:, :3, :3] = rot3
    out[:, 3, 3] = 1.0
    return out


def translation_matrix(translation: Tensor) -> Tensor:
    """``(B, 3)`` or ``(B, 1, 3)`` translations -> ``(B, 4, 4)`` matrices ``[[I, t], [0, 1]]``."""
    t = _as_b3(translation, "translation")
    out = torch.eye(4, dtype=t.dtype, device=t.device).repeat(t.shape[0], 1, 1)
    out[:, :3, 3] = t
    return out


def transformation_from_parameters(axisangle: Tensor, translation: Tensor, invert: bool = False) -> Tensor:
    """Rigid transform ``[R | t]`` from PoseNet parameters, optionally inverted.

    Args:
        axisangle: ``(B, 3)`` or ``(B, 1, 3)`` rotation vectors (radians).
        translation: ``(B, 3)`` or ``(B, 1, 3)`` translations (PoseNet units: scale-ambiguous
            for monocular training, metres when trained with a metric stereo baseline).
        invert: return the inverse ``[R^T | -R^T t]`` instead (Monodepth2 inverts the pose
            predicted for a source frame that precedes the target).

    Returns:
        ``(B, 4, 4)`` homogeneous transforms ``M`` with ``M @ X = R X + t`` (or its inverse).

    Example:
        >>> aa, t = torch.randn(2, 1, 3) * 0.1, torch.randn(2, 1, 3)
        >>> M, M_inv = transformation_from_parameters(aa, t), transformation_from_parameters(aa, t, invert=True)
        >>> torch.allclose(M @ M_inv, torch.eye(4).expand(2, 4, 4), atol=1e-5)
        True
    """
    rot = rot_from_axisangle(axisangle)
    t = _as_b3(translation, "translation")
    if rot.shape[0] != t.shape[0]:
        raise ValueError(f"batch sizes differ: axisangle {rot.shape[0]}, translation {t.shape[0]}")
    out = rot.clone()
    if invert:
        r_t = rot[:, :3, :3].transpose(1, 2)
        out[:, :3, :3] = r_t
        out[:, :3, 3] = -(r_t @ t[:, :, None])[..., 0]
    else:
        out[:, :3, 3] = t
    return out
