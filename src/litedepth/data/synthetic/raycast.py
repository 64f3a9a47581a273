"""Vectorised analytic ray casting of synthetic scenes (depth, colour, labels, instances).

See :mod:`litedepth.data.synthetic` (the public entry point) for the conventions.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from litedepth.data.synthetic.scene import FIRST_BOX_INSTANCE, SyntheticScene
from litedepth.data.synthetic.scene import INST_BACK_WALL, INST_CEILING, INST_FLOOR  # structural surfaces
from litedepth.data.synthetic.scene import INST_FRONT_WALL, INST_LEFT_WALL, INST_RIGHT_WALL
from litedepth.data.synthetic.texture import albedo, value_noise
from litedepth.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["Frame", "render"]

_LIGHT_KEY = np.array([-0.35, -1.0, 0.45]) / np.linalg.norm([-0.35, -1.0, 0.45])  # towards the light
_LIGHT_FILL = np.array([0.3, 0.8, -0.5]) / np.linalg.norm([0.3, 0.8, -0.5])
_SKY_HORIZON = np.array([0.80, 0.86, 0.94], np.float32)
_SKY_ZENITH = np.array([0.33, 0.52, 0.84], np.float32)
_SKY_SEED = 0x5EED5


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Frame:
    """One rendered view.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 colour image.
        depth: ``(H, W)`` float32 depth in metres (camera z of the surface); 0 = invalid (sky).
        labels: ``(H, W)`` uint8 semantic class ids
            (:data:`litedepth.data.synthetic.CLASS_NAMES`; 0 = sky).
        instances: ``(H, W)`` uint16 instance ids (0 = sky; numbering in
            :mod:`litedepth.data.synthetic`).
    """

    rgb: np.ndarray
    depth: np.ndarray
    labels: np.ndarray
    instances: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """``(H, W)`` bool: pixels with a surface (depth > 0)."""
        return self.depth > 0


def _check_pose(pose: np.ndarray) -> np.ndarray:
    P = np.asarray(pose, dtype=np.float64)
    if P.shape != (4, 4) or not np.all(np.isfinite(P)) or not np.allclose(P[3], [0, 0, 0, 1]):
        raise ConfigError(f"pose_c2w must be a finite rigid 4x4 matrix (last row 0 0 0 1), got {P.tolist()}")
    R = P[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
        raise ConfigError("pose_c2w rotation block is not a proper rotation matrix")
    return P


def _check_K(K: np.ndarray) -> np.ndarray:
    Km = np.asarray(K, dtype=np.float64)
    if Km.shape == (4, 4):
        Km = Km[:3, :3]
    if Km.shape != (3, 3) or not np.allclose(Km[2], [0, 0, 1]) or Km[1, 0] != 0:
        raise ConfigError(f"K must be a 3x3 pixel intrinsics matrix [[fx,s,cx],[0,fy,cy],[0,0,1]], got {Km}")
    if Km[0, 0] <= 0 or Km[1, 1] <= 0:
        raise ConfigError(f"K must have positive focal lengths, got fx={Km[0, 0]}, fy={Km[1, 1]}")
    return Km


_RAY_CACHE: dict[tuple[bytes, int, int], tuple[np.ndarray, np.ndarray]] = {}


def _camera_rays(K: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame ray directions ``K^-1 [u, v, 1]`` as two ``(H*W,)`` float64 arrays
    ``(x, y)`` (the z component is exactly 1), row-major over pixels.

    Cached per ``(K, H, W)``; the returned arrays are read-only.
    """
    key = (np.ascontiguousarray(K).tobytes(), int(height), int(width))
    rays = _RAY_CACHE.get(key)
    if rays is None:
        if len(_RAY_CACHE) > 16:
            _RAY_CACHE.clear()
        v, u = np.mgrid[0:height, 0:width].astype(np.float64)
        fx, sk, cx = K[0]
        fy, cy = K[1, 1], K[1, 2]
        y = ((v - cy) / fy).ravel()
        x = ((u.ravel() - cx - sk * y) / fx).ravel()
        x.flags.writeable = False
        y.flags.writeable = False
        rays = (x, y)
        _RAY_CACHE[key] = rays
    return rays


def _frustum_planes(K: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(5, 3)`` inward normals of the view frustum's planes (camera frame): 4 sides + z > 0."""
    corners = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]])
    rays = np.c_[corners, np.ones(4)] @ np.linalg.inv(K).T
    centre = rays.mean(0)
    planes = []
    for i in range(4):
        n = np.cross(rays[i], rays[(i + 1) % 4])
        planes.append(n if n @ centre > 0 else -n)
    planes.append(np.array([0.0, 0.0, 1.0]))
    return np.array(planes)


def _wall_top(heights: np.ndarray, seg: float, z_min: float, z: np.ndarray) -> np.ndarray:
    idx = np.clip(np.floor((z - z_min) / seg).astype(np.int64), 0, len(heights) - 1)
    return heights[idx]


def _rotate_cols(R: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray | None) -> list[np.ndarray]:
    """``R @ [x, y, z]`` for column arrays (``z = None`` means all ones); avoids slow
    ``(N, 3) @ (3, 3)`` BLAS calls."""
    out = []
    for i in range(3):
        c = R[i, 0] * x + R[i, 1] * y
        c += R[i, 2] if z is None else R[i, 2] * z
        out.append(c)
    return out


def render(
    scene: SyntheticScene, pose_c2w: np.ndarray, K: np.ndarray, size: tuple[int, int]
) -> Frame:
    """Render one view of ``scene`` by analytic ray casting.

    Args:
        scene: the scene.
        pose_c2w: ``(4, 4)`` camera-to-world pose (camera axes x right, y down, z forward);
            the camera centre must lie inside the scene (between walls, above the floor, below
            any ceiling) - keeping it out of boxes is the caller's job.
        K: ``(3, 3)`` pixel intrinsics for ``size`` (pixel centres at integer coordinates).
        size: ``(H, W)`` output size in pixels.

    Returns:
        A :class:`Frame` (rgb uint8, depth float32 metres with 0 = sky, labels uint8,
        instances uint16), all ``(H, W[, 3])``.
    """
    P = _check_pose(pose_c2w)
    Km = _check_K(K)
    H, W = int(size[0]), int(size[1])
    if H < 1 or W < 1:
        raise ConfigError(f"size must be positive (H, W), got {size}")
    R, o = P[:3, :3], P[:3, 3]
    inside = abs(o[0]) < scene.half_width and scene.z_min < o[2] < scene.z_max and o[1] < 0
    if not inside or (scene.ceiling_height is not None and o[1] <= -scene.ceiling_height):
        raise ConfigError(f"camera centre {o.tolist()} is outside the scene's walls, floor or ceiling")
    xc, yc = _camera_rays(Km, H, W)
    # World ray directions D = R @ [x, y, 1]: the hit o + s * D has camera depth exactly s.
    Dx, Dy, Dz = _rotate_cols(R, xc, yc, None)
    inf = np.inf
    hw = scene.half_width

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # --- structure: the ray leaves the (possibly open-topped) scene box through one face.
        # copysign picks the wall the ray moves towards; a zero direction gives +inf.
        sx = (np.copysign(hw, Dx) - o[0]) / Dx
        sz = (np.where(np.signbit(Dz), scene.z_min, scene.z_max) - o[2]) / Dz
        if scene.ceiling_height is not None:
            sy = (np.where(np.signbit(Dy), -scene.ceiling_height, 0.0) - o[1]) / Dy
        else:
            sy = np.where(Dy > 0, -o[1] / Dy, inf)
        s_best = np.minimum(np.minimum(sx, sy), sz)
        obj = np.where(np.signbit(Dz), INST_BACK_WALL, INST_FRONT_WALL).astype(np.int32)
        m = sx == s_best
        obj[m] = np.where(np.signbit(Dx[m]), INST_LEFT_WALL, INST_RIGHT_WALL)
        m = sy == s_best
        obj[m] = np.where(np.signbit(Dy[m]), INST_CEILING, INST_FLOOR)
        if scene.ceiling_height is None:
            # walls of finite height: above their top the ray escapes to the sky
            wall = obj >= INST_LEFT_WALL
            iw = np.flatnonzero(wall)
            ow, sw = obj[iw], s_best[iw]
            y_hit = o[1] + sw * Dy[iw]
            z_hit = o[2] + sw * Dz[iw]
            top = np.where(ow == INST_BACK_WALL, scene.back_wall_height, scene.front_wall_height)
            sides = ((INST_LEFT_WALL, scene.left_wall_heights), (INST_RIGHT_WALL, scene.right_wall_heights))
            for inst, heights in sides:
                mm = ow == inst
                top[mm] = _wall_top(heights, scene.wall_segment_m, scene.z_min, z_hit[mm])
            escaped = iw[y_hit < -top]
            s_best[escaped] = inf
            obj[escaped] = 0
            obj[~np.isfinite(s_best)] = 0

        # --- boxes: slab test in each box's frame, only over the pixels of its projected
        # bounding rectangle; boxes outside the view frustum are skipped.
        s2 = s_best.reshape(H, W)
        obj2 = obj.reshape(H, W)
        D2 = (Dx.reshape(H, W), Dy.reshape(H, W), Dz.reshape(H, W))
        if scene.boxes:
            cc = (scene.box_corners - o) @ R  # (n, 8, 3) corners in camera coordinates
            culled = np.any(np.all(cc @ _frustum_planes(Km, H, W).T < 0, axis=1), axis=1)
            in_front = np.all(cc[..., 2] > 1e-6, axis=1)
            zc = np.where(in_front[:, None], cc[..., 2], 1.0)
            pu = (Km[0, 0] * cc[..., 0] + Km[0, 1] * cc[..., 1]) / zc + Km[0, 2]
            pv = Km[1, 1] * cc[..., 1] / zc + Km[1, 2]
            rect = np.stack([pv.min(1), pv.max(1), pu.min(1), pu.max(1)], axis=1)
        for bi, box in enumerate(scene.boxes):
            if culled[bi]:
                continue
            v0, v1, u0, u1 = 0, H, 0, W
            if in_front[bi]:  # restrict to the projected bounding rectangle
                v0, v1 = max(0, math.floor(rect[bi, 0])), min(H, math.ceil(rect[bi, 1]) + 1)
                u0, u1 = max(0, math.floor(rect[bi, 2])), min(W, math.ceil(rect[bi, 3]) + 1)
                if u0 >= u1 or v0 >= v1:
                    continue
            Rb = box.rotation()
            ol = Rb.T @ (o - np.asarray(box.center))
            win = [d[v0:v1, u0:u1].ravel() for d in D2]
            Dl = _rotate_cols(Rb.T, win[0], win[1], win[2])
            tnear = np.full(Dl[0].shape, -inf)
            tfar = np.full(Dl[0].shape, inf)
            for ax in range(3):
                inv = 1.0 / Dl[ax]
                ta = (-box.half_size[ax] - ol[ax]) * inv
                tb = (box.half_size[ax] - ol[ax]) * inv
                np.maximum(tnear, np.minimum(ta, tb), out=tnear)
                np.minimum(tfar, np.maximum(ta, tb), out=tfar)
            sub_s = s2[v0:v1, u0:u1]
            hit = ((tnear <= tfar) & (tnear > 1e-9) & (tnear < sub_s.ravel())).reshape(sub_s.shape)
            sub_s[hit] = tnear.reshape(sub_s.shape)[hit]
            obj2[v0:v1, u0:u1][hit] = box.instance_id

    depth = np.where(obj > 0, s_best, 0.0)
    rgb = _shade(scene, o, (Dx, Dy, Dz), depth, obj, min(Km[0, 0], Km[1, 1]))
    labels = scene._instance_lut[obj]
    return Frame(
        rgb=rgb.reshape(H, W, 3),
        depth=depth.astype(np.float32).reshape(H, W),
        labels=labels.reshape(H, W),
        instances=obj.astype(np.uint16).reshape(H, W),
    )


def _sky_colour(dx: np.ndarray, dy: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """``(M, 3)`` float32 sky colour from world ray directions (a function of direction only)."""
    inv_n = 1.0 / np.sqrt(dx * dx + dy * dy + dz * dz)
    up = -dy * inv_n
    t = np.clip(up * 3.0, 0.0, 1.0).astype(np.float32)
    col = _SKY_HORIZON[None] + (_SKY_ZENITH - _SKY_HORIZON)[None] * t[:, None]
    # clouds on a plane at infinity: coordinates depend on the direction only
    e = 2.0 * inv_n / np.maximum(up, 0.05)
    cu, cv = dx * e, dz * e
    c = value_noise(cu, cv, _SKY_SEED) * 0.6 + value_noise(cu * 2.3, cv * 2.3, _SKY_SEED + 1) * 0.4
    cloud = np.clip((c - 0.5) * 2.5, 0.0, 1.0) * np.clip(up * 4.0, 0.0, 1.0).astype(np.float32)
    return col + (1.0 - col) * (0.8 * cloud)[:, None]


def _lambert(n: np.ndarray) -> np.ndarray:
    """Shading factor of unit normals ``(..., 3)`` (world frame): hemisphere ambient + key + fill."""
    key = np.maximum(n @ _LIGHT_KEY, 0.0)
    fill = np.maximum(n @ _LIGHT_FILL, 0.0)
    return 0.42 - 0.12 * n[..., 1] + 0.55 * key + 0.2 * fill


_STRUCT_NORMALS = {  # inward normals of the structural surfaces
    INST_FLOOR: (0.0, -1.0, 0.0),
    INST_CEILING: (0.0, 1.0, 0.0),
    INST_LEFT_WALL: (1.0, 0.0, 0.0),
    INST_RIGHT_WALL: (-1.0, 0.0, 0.0),
    INST_BACK_WALL: (0.0, 0.0, 1.0),
    INST_FRONT_WALL: (0.0, 0.0, -1.0),
}
_STRUCT_UV_AXES = {  # world axes used as surface coordinates
    INST_FLOOR: (0, 2),
    INST_CEILING: (0, 2),
    INST_LEFT_WALL: (2, 1),
    INST_RIGHT_WALL: (2, 1),
    INST_BACK_WALL: (0, 1),
    INST_FRONT_WALL: (0, 1),
}
_FACE_UV_AXES = np.array([[2, 1], [0, 2], [0, 1]])  # box faces normal to local x, y, z


def _shade(
    scene: SyntheticScene,
    o: np.ndarray,
    D: tuple[np.ndarray, np.ndarray, np.ndarray],
    depth: np.ndarray,
    obj: np.ndarray,
    f_px: float,
) -> np.ndarray:
    """``(N, 3)`` uint8 colours: albedo x Lambert shading for hits, sky colour for misses,
    optional fog. ``D`` are the world ray directions (columns), ``depth`` the hit parameters."""
    N = depth.shape[0]
    col = np.empty((N, 3), np.float32)
    n_obj = FIRST_BOX_INSTANCE + len(scene.boxes)
    order = np.argsort(obj, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(obj, minlength=n_obj))])
    boxes = {b.instance_id: b for b in scene.boxes}
    for oid in range(n_obj):
        a, b = bounds[oid], bounds[oid + 1]
        if a == b:
            continue
        idx = order[a:b]
        dx, dy, dz = D[0][idx], D[1][idx], D[2][idx]
        if oid == 0:
            col[idx] = _sky_colour(dx, dy, dz)
            continue
        s = depth[idx]
        p = (o[0] + s * dx, o[1] + s * dy, o[2] + s * dz)
        dn = np.sqrt(dx * dx + dy * dy + dz * dz)
        if oid in _STRUCT_NORMALS:
            n = np.asarray(_STRUCT_NORMALS[oid])
            ua, va = _STRUCT_UV_AXES[oid]
            uv = np.stack([p[ua], p[va]], axis=1)
            cos_inc = np.abs(n[0] * dx + n[1] * dy + n[2] * dz) / dn
            shade = np.full(idx.shape, _lambert(n), np.float32)
            mat = scene.materials[oid]
        else:
            box = boxes[oid]
            Rb = box.rotation()
            c = box.center
            local = np.stack(_rotate_cols(Rb.T, p[0] - c[0], p[1] - c[1], p[2] - c[2]), axis=1)
            hs = np.asarray(box.half_size)
            axis = np.argmax(np.abs(local) / hs, axis=1)  # the face the point lies on
            rows = np.arange(idx.size)
            sign = np.signbit(local[rows, axis]).astype(np.int64)  # 0: +face, 1: -face
            face_normals = np.concatenate([Rb.T, -Rb.T])  # (6, 3): outward normals in the world
            nrm = face_normals[axis + 3 * sign]
            cos_inc = np.abs(nrm[:, 0] * dx + nrm[:, 1] * dy + nrm[:, 2] * dz) / dn
            shade = _lambert(face_normals).astype(np.float32)[axis + 3 * sign]
            uv = np.take_along_axis(local, _FACE_UV_AXES[axis], axis=1) + (axis[:, None] * 13.7)
            mat = box.material
        # size of one pixel on the surface (metres), for texture anti-aliasing
        footprint = s / (f_px * dn) / np.maximum(cos_inc, 0.15)
        cval = albedo(mat, uv, footprint) * shade[:, None]
        if scene.config.fog_m > 0:
            f = np.exp(-(s * dn) / scene.config.fog_m).astype(np.float32)[:, None]
            cval = cval * f + _SKY_HORIZON[None] * (1.0 - f)
        col[idx] = cval
    return np.clip(np.rint(col * 255.0), 0, 255).astype(np.uint8)
