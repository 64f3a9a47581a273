"""Scene description of the synthetic generator: configuration, obstacles, room / street layout.

See :mod:`litedepth.data.synthetic` (the public entry point) for the world and camera
conventions: world x right, y down, z forward along the scene; floor ``y = 0``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from dataclasses import dataclass

import numpy as np

from litedepth.data.synthetic.texture import Material, random_material
from litedepth.errors import ConfigError
from litedepth.geometry.intrinsics import Intrinsics, normalise_matrix

logger = logging.getLogger(__name__)

__all__ = [
    "CLASS_NAMES",
    "FIRST_BOX_INSTANCE",
    "IGNORE_LABEL",
    "KITTI_NORMALISED_INTRINSICS",
    "Box",
    "SceneConfig",
    "SyntheticScene",
    "intrinsics_from_fov",
    "normalise_intrinsics",
]

#: Semantic classes by uint8 id. 0 is also what sky pixels get.
CLASS_NAMES: tuple[str, ...] = ("background", "floor", "wall", "ceiling", "crate", "pillar", "vehicle")
CLASS_BACKGROUND, CLASS_FLOOR, CLASS_WALL, CLASS_CEILING, CLASS_CRATE, CLASS_PILLAR, CLASS_VEHICLE = range(7)
#: Label id reserved for "ignore" in losses; the generator never writes it.
IGNORE_LABEL = 255

# Instance ids of the structural surfaces; boxes follow from FIRST_BOX_INSTANCE.
INST_FLOOR, INST_CEILING, INST_LEFT_WALL, INST_RIGHT_WALL, INST_BACK_WALL, INST_FRONT_WALL = range(1, 7)
#: Instance id of the first box; box ``i`` has id ``FIRST_BOX_INSTANCE + i``.
FIRST_BOX_INSTANCE = 7

#: Monodepth2's normalised KITTI intrinsics ``(fx/W, fy/H, cx/W, cy/H)``.
KITTI_NORMALISED_INTRINSICS: tuple[float, float, float, float] = (0.58, 1.92, 0.5, 0.5)

_KINDS = ("room", "corridor", "mixed")
_START_Z = {"room": 1.0, "corridor": 2.0}  # camera start distance from the back wall (m)
_LOOK_AHEAD = {"room": 2.5, "corridor": 20.0}  # min distance from the last camera to the end wall
_CLEARANCE_M = 0.5  # lateral gap between the camera lane and any box


# --------------------------------------------------------------------------------------------
# configuration and camera
# --------------------------------------------------------------------------------------------


def intrinsics_from_fov(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """Pixel intrinsics of a centred pinhole camera with square pixels.

    Args:
        width, height: image size in pixels.
        hfov_deg: horizontal field of view in degrees, in ``(0, 180)``.

    Returns:
        ``(3, 3)`` float64 ``K`` in pixels with ``fx = fy = (W / 2) / tan(hfov / 2)``,
        ``cx = W / 2``, ``cy = H / 2`` (normalised principal point 0.5, as Monodepth2):
        :meth:`litedepth.geometry.intrinsics.Intrinsics.from_fov`.
    """
    return Intrinsics.from_fov(int(width), int(height), hfov_deg).K


@dataclass(frozen=True)
class SceneConfig:
    """Options of the generator (scene, camera and trajectory). Validated on construction.

    Attributes:
        kind: ``"room"`` (closed room with ceiling), ``"corridor"`` (street between facades
            under an open sky, or an indoor corridor when ``open_sky`` is false) or
            ``"mixed"`` (room or corridor, drawn from the seed).
        height, width: output image size in pixels.
        hfov_deg: horizontal field of view in degrees (square pixels, centred principal point);
            ignored when ``intrinsics_norm`` is given.
        intrinsics_norm: optional normalised intrinsics ``(fx/W, fy/H, cx/W, cy/H)``, e.g.
            :data:`KITTI_NORMALISED_INTRINSICS`.
        n_boxes: number of obstacles; ``None`` = automatic (about 2.5 per 10 m of scene
            length, at least 4).
        box_yaw: allow obstacles rotated about the vertical axis.
        open_sky: corridors only: no ceiling, facades of finite height, sky above (depth 0).
        length_m: scene length along z in metres; ``None`` = random, extended as needed to fit
            the trajectory.
        camera_height_m: camera height above the floor in metres; ``None`` = random per kind
            (1.2-1.6 m in rooms, 1.4-1.8 m in corridors).
        wiggle: scale in ``[0, 1]`` of the trajectory's lateral / yaw / pitch / roll wiggle
            (0 = straight, level motion along +z at constant height and ``x = 0``).
        speed_variation: relative speed variation in ``[0, 0.9]`` along the trajectory.
        fog_m: distance fog e-folding distance in metres; 0 disables it. Fog depends on the
            viewpoint, so leave it off for photometric self-supervision.
        seed: master seed; scene and trajectory are deterministic functions of it.
    """

    kind: str = "corridor"
    height: int = 96
    width: int = 320
    hfov_deg: float = 70.0
    intrinsics_norm: tuple[float, float, float, float] | None = None
    n_boxes: int | None = None
    box_yaw: bool = True
    open_sky: bool = True
    length_m: float | None = None
    camera_height_m: float | None = None
    wiggle: float = 1.0
    speed_variation: float = 0.3
    fog_m: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(f"SceneConfig.kind must be one of {_KINDS}, got {self.kind!r}")
        if int(self.height) < 2 or int(self.width) < 2:
            raise ConfigError(f"image size must be at least 2x2, got {self.height}x{self.width}")
        if self.intrinsics_norm is None:
            if not 1.0 <= float(self.hfov_deg) <= 170.0:
                raise ConfigError(f"hfov_deg must be in [1, 170], got {self.hfov_deg}")
        else:
            if len(self.intrinsics_norm) != 4 or min(self.intrinsics_norm[:2]) <= 0:
                raise ConfigError(
                    f"intrinsics_norm must be (fx/W, fy/H, cx/W, cy/H) with positive focal "
                    f"lengths, got {self.intrinsics_norm}"
                )
        if self.n_boxes is not None and not 0 <= int(self.n_boxes) <= 500:
            raise ConfigError(f"n_boxes must be in [0, 500] or None, got {self.n_boxes}")
        if self.length_m is not None and float(self.length_m) <= 0:
            raise ConfigError(f"length_m must be positive, got {self.length_m}")
        if self.camera_height_m is not None and not 0.2 <= float(self.camera_height_m) <= 10.0:
            raise ConfigError(f"camera_height_m must be in [0.2, 10], got {self.camera_height_m}")
        if not 0.0 <= float(self.wiggle) <= 1.0:
            raise ConfigError(f"wiggle must be in [0, 1], got {self.wiggle}")
        if not 0.0 <= float(self.speed_variation) <= 0.9:
            raise ConfigError(f"speed_variation must be in [0, 0.9], got {self.speed_variation}")
        if float(self.fog_m) < 0:
            raise ConfigError(f"fog_m must be >= 0, got {self.fog_m}")

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return int(self.height), int(self.width)

    def intrinsics(self) -> np.ndarray:
        """``(3, 3)`` float64 pixel intrinsics ``K`` for ``(height, width)``."""
        if self.intrinsics_norm is None:
            return intrinsics_from_fov(int(self.width), int(self.height), float(self.hfov_deg))
        return Intrinsics.from_normalised(*self.intrinsics_norm, source="intrinsics_norm").to_pixels(
            int(self.height), int(self.width)).K

    def intrinsics_normalised(self) -> np.ndarray:
        """``(3, 3)`` float64 normalised intrinsics: row 0 of ``K`` / W, row 1 / H."""
        return normalise_intrinsics(self.intrinsics(), int(self.width), int(self.height))


def normalise_intrinsics(K: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel ``(3, 3)`` K -> normalised ``(3, 3)`` (row 0 divided by ``width``, row 1 by ``height``)."""
    return normalise_matrix(np.asarray(K, dtype=np.float64)[:3, :3], int(height), int(width))


# --------------------------------------------------------------------------------------------
# scene
# --------------------------------------------------------------------------------------------


def _rot_y(a: float) -> np.ndarray:
    """Rotation about +y (down): positive angles turn +z towards +x (to the right)."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_x(a: float) -> np.ndarray:
    """Rotation about +x: positive angles turn +z towards -y (look up)."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_z(a: float) -> np.ndarray:
    """Rotation about +z (forward): positive angles turn +x towards +y (right side down)."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True, eq=False)
class Box:
    """An obstacle: a box resting on the floor, optionally rotated about the vertical axis.

    Attributes:
        center: ``(x, y, z)`` world position of the box centre in metres (``y < 0``: above
            the floor).
        half_size: half extents in metres along the box's own x, y, z axes.
        yaw: rotation in radians about the world y axis (box-to-world rotation
            :meth:`rotation`; positive turns the box's +z towards world +x).
        class_id: semantic class (index into :data:`CLASS_NAMES`).
        instance_id: instance id in rendered instance maps.
        material: texture of all six faces (surface coordinates are box-local, in metres).
    """

    center: tuple[float, float, float]
    half_size: tuple[float, float, float]
    yaw: float
    class_id: int
    instance_id: int
    material: Material

    def rotation(self) -> np.ndarray:
        """``(3, 3)`` box-to-world rotation: ``X_w = R @ X_box + center``."""
        return _rot_y(self.yaw)

    def x_extent(self) -> float:
        """Half extent in metres of the rotated footprint along world x."""
        hx, _, hz = self.half_size
        return abs(math.cos(self.yaw)) * hx + abs(math.sin(self.yaw)) * hz

    def corners(self) -> np.ndarray:
        """``(8, 3)`` float64 world coordinates of the corners."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
        return (signs * np.asarray(self.half_size)) @ self.rotation().T + np.asarray(self.center)

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Whether world points ``(..., 3)`` are inside the box grown by ``margin`` metres."""
        local = (np.asarray(points, float) - np.asarray(self.center)) @ self.rotation()
        return np.all(np.abs(local) <= np.asarray(self.half_size) + margin, axis=-1)


@dataclass(frozen=True, eq=False)
class SyntheticScene:
    """A static procedural scene (world frame x right, y down, z forward; see
    :mod:`litedepth.data.synthetic`).

    Build with :meth:`generate`. Surfaces: floor ``y = 0``; ceiling ``y = -ceiling_height``
    (``None`` = open sky); side walls ``x = -half_width`` (left) and ``x = +half_width``
    (right), each made of segments of length ``wall_segment_m`` along z with heights
    ``left_wall_heights`` / ``right_wall_heights`` (metres above the floor, ``inf`` = up to the
    ceiling); end walls ``z = z_min`` (back) and ``z = z_max`` (front) of heights
    ``back_wall_height`` / ``front_wall_height``; plus :attr:`boxes`. The camera lane is
    ``|x| <= lane_half_width``, kept clear of boxes by at least 0.5 m.
    """

    kind: str
    seed: int
    half_width: float
    ceiling_height: float | None
    z_min: float
    z_max: float
    wall_segment_m: float
    left_wall_heights: np.ndarray
    right_wall_heights: np.ndarray
    back_wall_height: float
    front_wall_height: float
    boxes: tuple[Box, ...]
    materials: dict[int, Material]
    lane_half_width: float
    camera_height: float
    start_z: float
    config: SceneConfig

    @classmethod
    def generate(cls, cfg: SceneConfig, travel_m: float = 0.0) -> SyntheticScene:
        """Draw a scene from ``cfg`` (deterministic in ``cfg.seed``).

        Args:
            cfg: generator options.
            travel_m: distance in metres the camera must be able to travel forward from
                :attr:`start_z`; the scene is made long enough for it plus a look-ahead
                margin (2.5 m in rooms, 20 m in corridors).

        Returns:
            The scene.
        """
        if travel_m < 0:
            raise ConfigError(f"travel_m must be >= 0, got {travel_m}")
        rng = np.random.default_rng([int(cfg.seed) & 0xFFFFFFFF, 0])
        kind = cfg.kind
        if kind == "mixed":
            kind = "room" if rng.random() < 0.5 else "corridor"
        room = kind == "room"

        if room:
            half_width = float(rng.uniform(2.0, 3.5))
            ceiling: float | None = float(rng.uniform(2.6, 3.4))
            length = float(rng.uniform(8.0, 14.0))
            lane = 0.5
            cam_h = float(rng.uniform(1.2, 1.6))
        else:
            half_width = float(rng.uniform(4.0, 7.0))
            ceiling = None if cfg.open_sky else float(rng.uniform(3.5, 5.0))
            length = float(rng.uniform(40.0, 80.0))
            lane = 1.0
            cam_h = float(rng.uniform(1.4, 1.8))
        if cfg.camera_height_m is not None:
            cam_h = float(cfg.camera_height_m)
        if ceiling is not None and cam_h > ceiling - 0.3:
            raise ConfigError(
                f"camera_height_m={cam_h} does not fit under the {ceiling:.2f} m ceiling of this {kind}"
            )
        start_z = _START_Z[kind]
        if cfg.length_m is not None:
            length = float(cfg.length_m)
        length = max(length, start_z + travel_m + _LOOK_AHEAD[kind])
        z_min, z_max = 0.0, length

        seg = float(rng.uniform(6.0, 12.0))
        n_seg = max(1, math.ceil(length / seg))
        if ceiling is None:
            left_h = rng.uniform(3.0, 15.0, n_seg)
            right_h = rng.uniform(3.0, 15.0, n_seg)
            back_h, front_h = float(rng.uniform(4.0, 20.0)), float(rng.uniform(4.0, 20.0))
        else:
            left_h = np.full(n_seg, np.inf)
            right_h = np.full(n_seg, np.inf)
            back_h = front_h = math.inf

        wall_family = "wall" if (room or ceiling is not None) else "facade"
        materials = {
            INST_FLOOR: random_material(rng, "floor" if room else "road"),
            INST_CEILING: random_material(rng, "ceiling"),
            INST_LEFT_WALL: random_material(rng, wall_family),
            INST_RIGHT_WALL: random_material(rng, wall_family),
            INST_BACK_WALL: random_material(rng, wall_family),
            INST_FRONT_WALL: random_material(rng, wall_family),
        }

        n_boxes = cfg.n_boxes
        if n_boxes is None:
            n_boxes = max(4, round(0.25 * length))
        boxes = []
        for i in range(int(n_boxes)):
            boxes.append(
                _random_box(
                    rng, kind, ceiling, half_width, lane, z_min, z_max, cfg.box_yaw, FIRST_BOX_INSTANCE + i
                )
            )
        return cls(
            kind=kind,
            seed=int(cfg.seed),
            half_width=half_width,
            ceiling_height=ceiling,
            z_min=z_min,
            z_max=z_max,
            wall_segment_m=seg,
            left_wall_heights=left_h,
            right_wall_heights=right_h,
            back_wall_height=back_h,
            front_wall_height=front_h,
            boxes=tuple(boxes),
            materials=materials,
            lane_half_width=lane,
            camera_height=cam_h,
            start_z=start_z,
            config=cfg,
        )

    @functools.cached_property
    def box_corners(self) -> np.ndarray:
        """``(n_boxes, 8, 3)`` float64 world coordinates of the box corners."""
        return np.array([b.corners() for b in self.boxes]).reshape(len(self.boxes), 8, 3)

    @functools.cached_property
    def _instance_lut(self) -> np.ndarray:
        lut = np.zeros(FIRST_BOX_INSTANCE + len(self.boxes), np.uint8)
        lut[INST_FLOOR] = CLASS_FLOOR
        lut[INST_CEILING] = CLASS_CEILING
        lut[[INST_LEFT_WALL, INST_RIGHT_WALL, INST_BACK_WALL, INST_FRONT_WALL]] = CLASS_WALL
        for b in self.boxes:
            lut[b.instance_id] = b.class_id
        lut.flags.writeable = False
        return lut

    def instance_classes(self) -> np.ndarray:
        """``(FIRST_BOX_INSTANCE + n_boxes,)`` uint8 lookup: instance id -> class id (a copy)."""
        return self._instance_lut.copy()

    def in_free_space(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Whether world points ``(..., 3)`` are inside the scene and at least ``margin``
        metres away from every box (a box grown by ``margin`` does not contain them)."""
        p = np.asarray(points, float)
        inside = (np.abs(p[..., 0]) < self.half_width) & (p[..., 1] < 0) & (p[..., 2] > self.z_min)
        inside &= p[..., 2] < self.z_max
        if self.ceiling_height is not None:
            inside &= p[..., 1] > -self.ceiling_height
        for b in self.boxes:
            inside &= ~b.contains(p, margin)
        return inside


def _random_box(
    rng: np.random.Generator,
    kind: str,
    ceiling: float | None,
    half_width: float,
    lane: float,
    z_min: float,
    z_max: float,
    allow_yaw: bool,
    instance_id: int,
) -> Box:
    """One obstacle beside the camera lane (its footprint stays >= 0.5 m outside it)."""
    classes = [CLASS_CRATE, CLASS_PILLAR] + ([] if kind == "room" else [CLASS_VEHICLE])
    probs = [0.65, 0.35] if kind == "room" else [0.45, 0.2, 0.35]
    cls_id = int(rng.choice(classes, p=probs))
    yaw = 0.0
    if cls_id == CLASS_CRATE:
        hx, hy, hz = rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6)
        if allow_yaw and rng.random() < 0.6:
            yaw = float(rng.uniform(-math.pi / 4, math.pi / 4))
        family = "crate"
    elif cls_id == CLASS_PILLAR:
        hx = hz = rng.uniform(0.15, 0.35)
        hy = 0.5 * (ceiling if ceiling is not None else rng.uniform(3.0, 6.0))
        if allow_yaw and rng.random() < 0.3:
            yaw = float(rng.uniform(-math.pi / 4, math.pi / 4))
        family = "pillar"
    else:
        hx, hy, hz = rng.uniform(0.8, 1.0), rng.uniform(0.65, 0.85), rng.uniform(1.9, 2.4)
        if allow_yaw:
            yaw = float(rng.uniform(-0.15, 0.15))
        family = "vehicle"
    material = random_material(rng, family)
    box = Box((0.0, 0.0, 0.0), (float(hx), float(hy), float(hz)), yaw, cls_id, instance_id, material)
    ext = box.x_extent()
    inner = lane + _CLEARANCE_M + ext
    spare = max(0.0, half_width - inner)
    side = 1.0 if rng.random() < 0.5 else -1.0
    x = side * (inner + rng.uniform(0.0, spare))
    z = rng.uniform(z_min + 0.5, z_max - 0.5)
    return dataclasses.replace(box, center=(float(x), float(-hy), float(z)))
