"""Procedural synthetic scenes with exact depth, labels and camera poses: the built-in dataset.

Scenes are textured indoor **rooms** (closed boxes) and street-like **corridors** (a road
between building facades of varying height under an open sky, or an indoor corridor with a
ceiling), with box-shaped obstacles (crates, pillars, parked vehicles; optionally rotated
about the vertical axis). Everything is deterministic given a seed. Frames are rendered by
vectorised analytic ray casting in numpy (ray-plane and ray-box slab tests over all pixels at
once), so depth is exact and a few hundred low-resolution frames take seconds.

Conventions
-----------
* **World frame**: x right, y *down* (along gravity), z forward along the room / corridor.
  The floor is the plane ``y = 0``, so points above the floor have *negative* ``y``; a ceiling
  of height ``h`` is the plane ``y = -h``. Side walls are ``x = +-half_width``, end walls
  ``z = z_min`` (behind the start) and ``z = z_max``.
* **Camera frame** (OpenCV / KITTI): x right, y down, z forward (optical axis).
* **Poses**: ``pose_c2w`` is the 4x4 **camera-to-world** transform: a point ``X_c`` in camera
  coordinates is at ``X_w = pose_c2w @ X_c`` (homogeneous); its translation column is the
  camera centre in the world. The identity pose looks down the corridor (+z), level.
* **Relative transforms**: ``T_b_from_a`` maps points in camera ``a`` coordinates to camera
  ``b`` coordinates, ``X_b = T_b_from_a @ X_a``, and equals ``inv(pose_c2w_b) @ pose_c2w_a``
  (:func:`relative_transform`). To inverse-warp a *source* frame into a *target* frame
  (Monodepth2-style view synthesis: back-project the target depth, move the points into the
  source camera, project, sample the source image) use
  ``T_source_from_target = relative_transform(pose_c2w[target], pose_c2w[source])`` - the
  ``cam_T_cam`` of Monodepth2 and the ``T_source_from_target`` of
  :mod:`litedepth.geometry.warp`.
* **Intrinsics**: pixel ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` for the output size,
  pixel centres at integer coordinates (column ``u``, row ``v``); normalised intrinsics are
  ``(fx/W, fy/H, cx/W, cy/H)`` and convert back by plain multiplication (as Monodepth2 and
  :mod:`litedepth.geometry.camera` do). By default ``fx = fy`` (square pixels) from a
  horizontal field of view (:attr:`SceneConfig.hfov_deg`), principal point ``(W/2, H/2)``.
* **Depth**: float32 metres, the camera ``z`` of the first surface hit (not the Euclidean
  ray length). **0 means invalid**: the pixel sees open sky (no surface). In depth PNGs
  (:func:`encode_depth_png`) depth is uint16 millimetres, 0 = invalid (sky, or farther than
  65.535 m).
* **Labels**: uint8 class ids indexing :data:`CLASS_NAMES` (0 = background / sky, 1 floor,
  2 wall, 3 ceiling, 4 crate, 5 pillar, 6 vehicle); :data:`IGNORE_LABEL` (255) is reserved and
  never produced. **Instances**: uint16, 0 = sky / nothing, 1 floor, 2 ceiling, 3 left wall,
  4 right wall, 5 back wall, 6 front wall, then one id per box from
  :data:`FIRST_BOX_INSTANCE`; :meth:`SyntheticScene.instance_classes` maps ids to classes.
* **Appearance**: albedo is a function of the 3D surface point only (procedural patterns of
  surface coordinates, :mod:`litedepth.data.synthetic_texture`), shaded by a fixed Lambertian
  light, so the same point has the same colour in every frame - photometric consistency holds
  up to resampling. Two mild exceptions: texture detail finer than about two pixels is faded
  to its mean (anti-aliasing, so it depends on distance; between neighbouring frames this
  changes matched colours by well under one grey level on average), and optional distance
  fog (:attr:`SceneConfig.fog_m`, off by default). Sky colour depends on the world ray
  direction only (a backdrop at infinity).

Modules: :mod:`~litedepth.data.synthetic_scene` (configuration, layout, obstacles),
:mod:`~litedepth.data.synthetic_render` (ray casting, shading),
:mod:`~litedepth.data.synthetic_texture` (procedural textures); this module re-exports their
public names and adds trajectories, sequences and dataset writing.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.data.synthetic_render import Frame, render
from litedepth.data.synthetic_scene import (
    CLASS_BACKGROUND,
    CLASS_CEILING,
    CLASS_CRATE,
    CLASS_FLOOR,
    CLASS_NAMES,
    CLASS_PILLAR,
    CLASS_VEHICLE,
    CLASS_WALL,
    FIRST_BOX_INSTANCE,
    IGNORE_LABEL,
    INST_BACK_WALL,
    INST_CEILING,
    INST_FLOOR,
    INST_FRONT_WALL,
    INST_LEFT_WALL,
    INST_RIGHT_WALL,
    KITTI_NORMALISED_INTRINSICS,
    Box,
    SceneConfig,
    SyntheticScene,
    _rot_x,
    _rot_y,
    _rot_z,
    intrinsics_from_fov,
    normalise_intrinsics,
)
from litedepth.errors import ConfigError, DataError
from litedepth.utils.atomic import atomic_write_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "CLASS_BACKGROUND",
    "CLASS_CEILING",
    "CLASS_CRATE",
    "CLASS_FLOOR",
    "CLASS_NAMES",
    "CLASS_PILLAR",
    "CLASS_VEHICLE",
    "CLASS_WALL",
    "DEFAULT_STEP_M",
    "FIRST_BOX_INSTANCE",
    "GENERATOR_VERSION",
    "IGNORE_LABEL",
    "INST_BACK_WALL",
    "INST_CEILING",
    "INST_FLOOR",
    "INST_FRONT_WALL",
    "INST_LEFT_WALL",
    "INST_RIGHT_WALL",
    "KITTI_NORMALISED_INTRINSICS",
    "Box",
    "Frame",
    "SceneConfig",
    "SyntheticScene",
    "SyntheticSequence",
    "encode_depth_png",
    "intrinsics_from_fov",
    "make_dataset",
    "make_sequence",
    "make_trajectory",
    "normalise_intrinsics",
    "read_poses_txt",
    "relative_transform",
    "render",
]

#: Version of the generator; bump when the same seed would produce different images.
GENERATOR_VERSION = "1.0"

#: Default distance travelled per frame (metres) by scene kind.
DEFAULT_STEP_M: dict[str, float] = {"room": 0.15, "corridor": 0.4}


# --------------------------------------------------------------------------------------------
# trajectories and sequences
# --------------------------------------------------------------------------------------------


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

    @property
    def rgb(self) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 images."""
        return np.stack([f.rgb for f in self.frames])

    @property
    def depth(self) -> np.ndarray:
        """``(N, H, W)`` float32 depth in metres, 0 = invalid (sky)."""
        return np.stack([f.depth for f in self.frames])

    @property
    def labels(self) -> np.ndarray:
        """``(N, H, W)`` uint8 class ids."""
        return np.stack([f.labels for f in self.frames])

    @property
    def instances(self) -> np.ndarray:
        """``(N, H, W)`` uint16 instance ids."""
        return np.stack([f.instances for f in self.frames])

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


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def encode_depth_png(depth: np.ndarray) -> np.ndarray:
    """Depth in metres -> uint16 millimetres for PNG: ``round(1000 * depth)``.

    Args:
        depth: ``(H, W)`` float depth in metres, 0 (or non-finite, or negative) = invalid.

    Returns:
        ``(H, W)`` uint16 millimetres; 0 = invalid, including depths beyond 65.535 m.
    """
    d = np.asarray(depth, np.float64)
    mm = np.rint(np.where(np.isfinite(d) & (d > 0), d, 0.0) * 1000.0)
    mm[mm > 65535] = 0
    return mm.astype(np.uint16)


def _png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _poses_text(poses: np.ndarray) -> str:
    return "".join(" ".join(f"{v:.9g}" for v in p.reshape(-1)) + "\n" for p in poses)


def read_poses_txt(path: str | Path) -> np.ndarray:
    """Read a poses file written by :func:`make_dataset`.

    Args:
        path: text file with one pose per line: 16 numbers, the 4x4 camera-to-world matrix in
            row-major order.

    Returns:
        ``(N, 4, 4)`` float64 camera-to-world poses.
    """
    path = Path(path)
    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    except OSError as e:
        raise DataError(path, f"cannot read poses file ({e.strerror or e})") from e
    poses = np.empty((len(lines), 4, 4))
    for k, ln in enumerate(lines):
        try:
            vals = [float(v) for v in ln.split()]
        except ValueError:
            raise DataError(path, f"line {k + 1}: not a list of numbers") from None
        if len(vals) != 16:
            raise DataError(path, f"line {k + 1}: expected 16 numbers (4x4 row-major), got {len(vals)}")
        poses[k] = np.asarray(vals).reshape(4, 4)
    return poses


_FRAME_FILE = re.compile(r"seq\d{4}_\d{6}\.png")
_POSES_FILE = re.compile(r"seq\d{4}\.txt")


def _remove_previous(root: Path) -> None:
    """Delete a previous generator output in ``root`` (manifest first, so that a reader never
    sees a manifest describing half-replaced files); other files are left alone."""
    (root / "manifest.json").unlink()
    subfolders = {"images": _FRAME_FILE, "depth": _FRAME_FILE, "labels": _FRAME_FILE}
    subfolders.update(instances=_FRAME_FILE, poses=_POSES_FILE)
    for sub, pattern in subfolders.items():
        folder = root / sub
        if folder.is_dir():
            for f in folder.iterdir():
                if pattern.fullmatch(f.name) and f.is_file():
                    f.unlink()
    logger.info("synthetic: removed the previous dataset files in %s", root)


def make_dataset(
    root: str | Path,
    n_sequences: int,
    frames_per_sequence: int,
    cfg: SceneConfig | None = None,
    seed: int | None = None,
    step_m: float | None = None,
    overwrite: bool = False,
    sequence_seeds: Sequence[int] | None = None,
    on_sequence: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Render ``n_sequences`` sequences and write them to ``root`` (every file atomically).

    Layout (``<seq>`` = ``seq0000``, ``seq0001``...; ``<idx>`` = 6-digit frame index)::

        root/images/<seq>_<idx>.png     RGB uint8
        root/depth/<seq>_<idx>.png      uint16 depth in millimetres, 0 = invalid (sky / > 65.5 m)
        root/labels/<seq>_<idx>.png     uint8 class ids (CLASS_NAMES)
        root/instances/<seq>_<idx>.png  uint16 instance ids
        root/poses/<seq>.txt            one camera-to-world 4x4 per line, 16 numbers row-major
        root/intrinsics.json            {"width", "height", "K" (pixels), "K_normalised", ...}
        root/manifest.json              generator version, seed, config, sequences (written last)

    ``images`` + ``depth`` is the supervised folder layout (``FolderDepthDataset``).

    Args:
        root: output folder (created).
        n_sequences: number of sequences (each its own scene), >= 1.
        frames_per_sequence: frames per sequence, >= 1.
        cfg: generator options (default :class:`SceneConfig`); ``cfg.seed`` is replaced per
            sequence by a seed derived from ``seed``.
        seed: master seed (default ``cfg.seed``).
        step_m: mean forward motion per frame (``None``: :data:`DEFAULT_STEP_M`).
        overwrite: replace a dataset already in ``root`` (one with a ``manifest.json``): its
            manifest and generator-named files are deleted first; other files are kept.
        on_sequence: called as ``on_sequence(done, n_sequences)`` after each sequence is
            written (e.g. to advance a progress bar).

    Returns:
        The manifest (also written to ``root/manifest.json``).
    """
    cfg = SceneConfig() if cfg is None else cfg
    root = Path(root)
    if sequence_seeds is not None and len(sequence_seeds) != int(n_sequences):
        raise ConfigError(f"sequence_seeds has {len(sequence_seeds)} seeds for {n_sequences} sequences")
    if int(n_sequences) < 1 or int(frames_per_sequence) < 1:
        raise ConfigError(
            f"n_sequences and frames_per_sequence must be >= 1, got {n_sequences}, {frames_per_sequence}"
        )
    if root.exists() and not root.is_dir():
        raise DataError(root, "exists and is not a folder")
    if (root / "manifest.json").exists():
        if not overwrite:
            raise DataError(
                root, "already contains a dataset (manifest.json); pass overwrite=True to replace it"
            )
        _remove_previous(root)
    master = int(cfg.seed if seed is None else seed)
    K = cfg.intrinsics()
    H, W = cfg.size
    t0 = time.perf_counter()
    sequences = []
    for si in range(int(n_sequences)):
        name = f"seq{si:04d}"
        if sequence_seeds is not None:
            seq_seed = int(sequence_seeds[si])
        else:
            seq_seed = int(np.random.SeedSequence([master & 0xFFFFFFFF, si]).generate_state(1)[0])
        scfg = dataclasses.replace(cfg, seed=seq_seed)
        scene, poses = _scene_and_poses(scfg, frames_per_sequence, step_m)
        for fi, pose in enumerate(poses):
            fr = render(scene, pose, K, (H, W))
            stem = f"{name}_{fi:06d}.png"
            atomic_write_bytes(root / "images" / stem, _png_bytes(fr.rgb))
            atomic_write_bytes(root / "depth" / stem, _png_bytes(encode_depth_png(fr.depth)))
            atomic_write_bytes(root / "labels" / stem, _png_bytes(fr.labels))
            atomic_write_bytes(root / "instances" / stem, _png_bytes(fr.instances))
        atomic_write_bytes(root / "poses" / f"{name}.txt", _poses_text(poses).encode())
        sequences.append(
            {
                "name": name,
                "seed": seq_seed,
                "kind": scene.kind,
                "n_frames": len(poses),
                "step_m": DEFAULT_STEP_M[scene.kind] if step_m is None else float(step_m),
                "length_m": scene.z_max,
            }
        )
        logger.debug("synthetic: wrote %s (%s, %d frames)", name, scene.kind, len(poses))
        if on_sequence is not None:
            on_sequence(si + 1, int(n_sequences))
    intr = {
        "width": W,
        "height": H,
        "K": K.tolist(),
        "K_normalised": normalise_intrinsics(K, W, H).tolist(),
        "fx_norm": K[0, 0] / W,
        "fy_norm": K[1, 1] / H,
        "cx_norm": K[0, 2] / W,
        "cy_norm": K[1, 2] / H,
        "pixel_centres": "integer coordinates (u = column, v = row)",
    }
    atomic_write_bytes(root / "intrinsics.json", json.dumps(intr, indent=2).encode())
    manifest: dict[str, Any] = {
        "generator": "litedepth.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": master,
        "config": dataclasses.asdict(cfg),
        "n_sequences": int(n_sequences),
        "frames_per_sequence": int(frames_per_sequence),
        "step_m": step_m,
        "classes": list(CLASS_NAMES),
        "depth_png": {"dtype": "uint16", "unit": "mm", "scale": 1000.0, "invalid": 0, "encoding": "mm"},
        "pose_convention": "camera-to-world 4x4, row-major, camera x right / y down / z forward; "
        "world y down, floor y = 0",
        "sequences": sequences,
    }
    atomic_write_bytes(root / "manifest.json", json.dumps(manifest, indent=2).encode())
    logger.info(
        "synthetic: %d sequences x %d frames written to %s in %.1f s",
        n_sequences,
        frames_per_sequence,
        root,
        time.perf_counter() - t0,
    )
    return manifest

