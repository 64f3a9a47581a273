"""Camera trajectories through a synthetic scene and the rendered sequences along them.

See :mod:`litedepth.data.synthetic` for the pose conventions (camera-to-world, x right, y down,
z forward) and :func:`relative_transform` for the transform between two frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from litedepth.data.synthetic.raycast import Frame, render
from litedepth.data.synthetic.scene import SceneConfig, SyntheticScene, _rot_x, _rot_y, _rot_z, normalise_intrinsics
from litedepth.errors import ConfigError

__all__ = ["DEFAULT_STEP_M", "SyntheticSequence", "make_sequence", "make_trajectory", "relative_transform"]

#: Default distance travelled per frame (metres) by scene kind.
DEFAULT_STEP_M: dict[str, float] = {"room": 0.15, "corridor": 0.4}


def relative_transform(pose_c2w_a: np.ndarray, pose_c2w_b: np.ndarray) -> np.ndarray:
    """Rigid transform from camera ``a`` to camera ``b`` coordinates.

    Args:
        pose_c2w_a, pose_c2w_b: ``(4, 4)`` camera-to-world poses of cameras ``a`` and ``b``.

    Returns:
        ``(4, 4)`` float64 ``T_b_from_a = inv(pose_c2w_b) @ pose_c2w_a``, so that
        ``X_b = T_b_from_a @ X_a`` for homogeneous points ``X_a`` in camera ``a`` coordinates.
        To inverse-warp a source frame into a target frame (Monodepth2), call it with
        ``a = target, b = source``: the result is ``T_source_from_target``.
    """
    A = np.asarray(pose_c2w_a, np.float64)
    B = np.asarray(pose_c2w_b, np.float64)
    Rb, tb = B[:3, :3], B[:3, 3]
    B_inv = np.eye(4)
    B_inv[:3, :3] = Rb.T
    B_inv[:3, 3] = -Rb.T @ tb
    return B_inv @ A


def make_trajectory(scene: SyntheticScene, n_frames: int, step_m: float | None = None) -> np.ndarray:
    """A smooth forward camera trajectory along the scene's lane (deterministic in its seed).

    The camera starts at ``z = scene.start_z``, ``x = 0``, ``camera_height`` above the floor,
    and moves along +z by ``step_m`` per frame on average (speed varies by
    ``config.speed_variation``), with lateral sway inside the clear lane and small yaw
    (about 2.5 deg), pitch (1 deg) and roll (0.5 deg) oscillations and a 2 cm vertical bob,
    all scaled by ``config.wiggle``. Rotation ``R_c2w = Ry(yaw) @ Rx(pitch) @ Rz(roll)``:
    positive yaw turns right, positive pitch looks up, positive roll lowers the right side.

    Args:
        scene: the scene (its length must fit the travel; :func:`make_sequence` ensures it).
        n_frames: number of poses, >= 1.
        step_m: mean forward distance between frames in metres; ``None`` =
            :data:`DEFAULT_STEP_M` of the scene kind.

    Returns:
        ``(n_frames, 4, 4)`` float64 camera-to-world poses.
    """
    if int(n_frames) < 1:
        raise ConfigError(f"n_frames must be >= 1, got {n_frames}")
    step = DEFAULT_STEP_M[scene.kind] if step_m is None else float(step_m)
    if step < 0:
        raise ConfigError(f"step_m must be >= 0, got {step_m}")
    cfg = scene.config
    rng = np.random.default_rng([int(scene.seed) & 0xFFFFFFFF, 1])
    n = int(n_frames)
    i = np.arange(n, dtype=np.float64)

    def wave(amp: float, p_lo: float, p_hi: float) -> np.ndarray:
        p1, p2 = rng.uniform(p_lo, p_hi), rng.uniform(p_lo / 2.5, p_hi / 2.5)
        f1, f2 = rng.uniform(0, 2 * math.pi, 2)
        return amp * (0.65 * np.sin(2 * math.pi * i / p1 + f1) + 0.35 * np.sin(2 * math.pi * i / p2 + f2))

    wig = float(cfg.wiggle)
    speed = step * (1.0 + wave(float(cfg.speed_variation), 40.0, 90.0))
    z = scene.start_z + np.concatenate([[0.0], np.cumsum(speed[:-1])])
    x = wave(wig * 0.8 * scene.lane_half_width, 50.0, 120.0)
    y = -scene.camera_height + wave(wig * 0.02, 20.0, 40.0)
    yaw = wave(wig * math.radians(2.5), 30.0, 80.0)
    pitch = wave(wig * math.radians(1.0), 25.0, 60.0)
    roll = wave(wig * math.radians(0.5), 25.0, 60.0)
    if z[-1] > scene.z_max - 1.0:
        raise ConfigError(
            f"trajectory of {n} frames x {step} m reaches z={z[-1]:.1f} m beyond the scene "
            f"(length {scene.z_max:.1f} m); generate the scene with travel_m >= {z[-1] - scene.start_z:.1f}"
        )
    poses = np.tile(np.eye(4), (n, 1, 1))
    for k in range(n):
        poses[k, :3, :3] = _rot_y(yaw[k]) @ _rot_x(pitch[k]) @ _rot_z(roll[k])
        poses[k, :3, 3] = (x[k], y[k], z[k])
    return poses


def _max_travel(cfg: SceneConfig, n_frames: int, step: float) -> float:
    return max(0, int(n_frames) - 1) * step * (1.0 + float(cfg.speed_variation))


@dataclass(frozen=True, eq=False)
class SyntheticSequence:
    """A rendered camera sequence through one scene.

    Attributes:
        scene: the scene.
        frames: the rendered :class:`Frame` objects, in time order.
        poses_c2w: ``(N, 4, 4)`` float64 camera-to-world poses (see the module docstring).
        K: ``(3, 3)`` float64 pixel intrinsics for the frames' size.
    """

    scene: SyntheticScene
    frames: tuple[Frame, ...]
    poses_c2w: np.ndarray
    K: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` in pixels."""
        h, w = self.frames[0].depth.shape
        return int(h), int(w)

    @property
    def K_normalised(self) -> np.ndarray:
        """``(3, 3)`` normalised intrinsics (row 0 of ``K`` / W, row 1 / H)."""
        h, w = self.size
        return normalise_intrinsics(self.K, w, h)

    def _stacked(self, field: str) -> np.ndarray:
        return np.stack([getattr(f, field) for f in self.frames])

    rgb = property(lambda self: self._stacked("rgb"), doc="``(N, H, W, 3)`` uint8 images.")
    depth = property(
        lambda self: self._stacked("depth"), doc="``(N, H, W)`` float32 depth in metres, 0 = invalid (sky)."
    )
    labels = property(lambda self: self._stacked("labels"), doc="``(N, H, W)`` uint8 class ids.")
    instances = property(lambda self: self._stacked("instances"), doc="``(N, H, W)`` uint16 instance ids.")

    def T_b_from_a(self, a: int, b: int) -> np.ndarray:
        """``(4, 4)`` transform with ``X_b = T @ X_a`` between frames ``a`` and ``b``
        (:func:`relative_transform`). Monodepth2's ``T_source_from_target`` is
        ``T_b_from_a(target, source)``."""
        return relative_transform(self.poses_c2w[a], self.poses_c2w[b])


def make_sequence(cfg: SceneConfig, n_frames: int, step_m: float | None = None) -> SyntheticSequence:
    """Generate a scene from ``cfg`` and render ``n_frames`` along a trajectory through it.

    Args:
        cfg: generator options (image size, camera, scene kind, seed).
        n_frames: number of frames, >= 1.
        step_m: mean forward motion per frame in metres (``None``: :data:`DEFAULT_STEP_M`).

    Returns:
        The in-memory :class:`SyntheticSequence` (nothing is written to disk).
    """
    scene, poses = _scene_and_poses(cfg, n_frames, step_m)
    K = cfg.intrinsics()
    frames = tuple(render(scene, p, K, cfg.size) for p in poses)
    return SyntheticSequence(scene=scene, frames=frames, poses_c2w=poses, K=K)


def _scene_and_poses(
    cfg: SceneConfig, n_frames: int, step_m: float | None
) -> tuple[SyntheticScene, np.ndarray]:
    if int(n_frames) < 1:
        raise ConfigError(f"n_frames must be >= 1, got {n_frames}")
    # The kind (for 'mixed') is resolved inside generate; size the travel for the largest step.
    probe = SyntheticScene.generate(cfg) if step_m is None else None
    step = float(step_m) if step_m is not None else DEFAULT_STEP_M[probe.kind]  # type: ignore[union-attr]
    scene = SyntheticScene.generate(cfg, travel_m=_max_travel(cfg, n_frames, step))
    return scene, make_trajectory(scene, n_frames, step)
