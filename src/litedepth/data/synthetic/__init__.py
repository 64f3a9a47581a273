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
  surface coordinates, :mod:`litedepth.data.synthetic.texture`), shaded by a fixed Lambertian
  light, so the same point has the same colour in every frame - photometric consistency holds
  up to resampling. Two mild exceptions: texture detail finer than about two pixels is faded
  to its mean (anti-aliasing, so it depends on distance; between neighbouring frames this
  changes matched colours by well under one grey level on average), and optional distance
  fog (:attr:`SceneConfig.fog_m`, off by default). Sky colour depends on the world ray
  direction only (a backdrop at infinity).

Modules, by concept:

* :mod:`~litedepth.data.synthetic.scene` - generator options (:class:`SceneConfig`), class and
  instance ids, obstacles (:class:`Box`), the room / street layout (:class:`SyntheticScene`);
* :mod:`~litedepth.data.synthetic.texture` - procedural, view-independent surface textures;
* :mod:`~litedepth.data.synthetic.raycast` - analytic ray casting and shading of one view
  (:func:`render`, :class:`Frame`);
* :mod:`~litedepth.data.synthetic.sequence` - camera trajectories and rendered sequences
  (:func:`make_trajectory`, :func:`make_sequence`, :func:`relative_transform`);
* :mod:`~litedepth.data.synthetic.dataset` - the dataset on disk (:func:`make_dataset`,
  :func:`read_poses_txt`, :func:`encode_depth_png`).

This package re-exports their public names; the old modules ``litedepth.data.synthetic_scene``,
``synthetic_render`` and ``synthetic_texture`` are deprecated aliases of the new ones.
"""

from __future__ import annotations

from litedepth.data.synthetic import scene as _scene
from litedepth.data.synthetic.dataset import GENERATOR_VERSION, encode_depth_png, make_dataset, read_poses_txt
from litedepth.data.synthetic.raycast import Frame, render
from litedepth.data.synthetic.scene import (
    CLASS_BACKGROUND, CLASS_CEILING, CLASS_CRATE, CLASS_FLOOR, CLASS_NAMES, CLASS_PILLAR, CLASS_VEHICLE, CLASS_WALL,
    FIRST_BOX_INSTANCE, IGNORE_LABEL, KITTI_NORMALISED_INTRINSICS,
    INST_BACK_WALL, INST_CEILING, INST_FLOOR, INST_FRONT_WALL, INST_LEFT_WALL, INST_RIGHT_WALL,
    Box, SceneConfig, SyntheticScene, intrinsics_from_fov, normalise_intrinsics,
)
from litedepth.data.synthetic.sequence import (
    DEFAULT_STEP_M, SyntheticSequence, make_sequence, make_trajectory, relative_transform,
)

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

# private helpers that tests use to build poses
_rot_x, _rot_y, _rot_z = _scene._rot_x, _scene._rot_y, _scene._rot_z
