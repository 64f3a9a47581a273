"""Tests of the procedural synthetic scene generator (litedepth.data.synthetic)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from PIL import Image

from litedepth.data import synthetic as S
from litedepth.data.synthetic.texture import Material, albedo, random_material, value_noise
from litedepth.errors import ConfigError, DataError

SMALL = dict(height=48, width=160)


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def _pose(x: float = 0.0, y: float = -1.3, z: float = 0.0, yaw: float = 0.0) -> np.ndarray:
    P = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    P[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    P[:3, 3] = (x, y, z)
    return P


def _empty_room(**cfg_kw) -> tuple[S.SyntheticScene, S.SceneConfig]:
    cfg = S.SceneConfig(kind="room", n_boxes=0, seed=5, **cfg_kw)
    return S.SyntheticScene.generate(cfg), cfg


def _plain_material() -> Material:
    return Material((0.5, 0.4, 0.3), (0.2, 0.2, 0.2), 0, (1.0, 1.0), 0.1, 1.0, 0.1, 0.1, (0.0, 0.0), 3)


def _warp(depth_t, K, T_s_from_t):
    """Back-project target depth, move into the source camera, project. Returns (u, v, z, valid)."""
    H, W = depth_t.shape
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(K).T
    X = rays * depth_t[..., None]
    Xs = X @ T_s_from_t[:3, :3].T + T_s_from_t[:3, 3]
    z = Xs[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        us = K[0, 0] * Xs[..., 0] / z + K[0, 2]
        vs = K[1, 1] * Xs[..., 1] / z + K[1, 2]
    valid = (depth_t > 0) & (z > 0.1) & (us >= 0) & (us <= W - 1) & (vs >= 0) & (vs <= H - 1)
    return us, vs, z, valid


def _consistency(seq: S.SyntheticSequence, t: int, s: int, T=None) -> dict[str, float]:
    """Warp frame ``s`` into frame ``t`` with frame t's depth, the poses and K.

    Returns ``same_surface`` (fraction of in-view target pixels landing on the same instance
    in frame s, nearest neighbour), ``depth_ok`` (fraction of the pixels whose four source
    neighbours share that instance where the bilinearly interpolated source *inverse* depth -
    exact for planes - matches the transformed point's 1/z within 0.5 %), colour errors
    ``mean_err`` / ``median_err`` (mean abs grey levels, bilinear source colour) on those
    pixels, and their number ``n``.
    """
    ft, fs = seq.frames[t], seq.frames[s]
    T = seq.T_b_from_a(t, s) if T is None else T
    us, vs, z, valid = _warp(ft.depth.astype(np.float64), seq.K, T)
    uu, vv, zz = us[valid], vs[valid], z[valid]
    inst_t = ft.instances[valid]
    same_nn = fs.instances[np.rint(vv).astype(int), np.rint(uu).astype(int)] == inst_t
    H, W = fs.depth.shape
    u0 = np.minimum(np.floor(uu).astype(int), W - 2)
    v0 = np.minimum(np.floor(vv).astype(int), H - 2)
    au, av = uu - u0, vv - v0
    wts = [(1 - au) * (1 - av), au * (1 - av), (1 - au) * av, au * av]
    nbrs = [(v0, u0), (v0, u0 + 1), (v0 + 1, u0), (v0 + 1, u0 + 1)]
    same4 = np.ones(uu.shape, bool)
    inv_d = np.zeros(uu.shape)
    col = np.zeros((uu.size, 3))
    img = fs.rgb.astype(np.float64)
    for w, (vi, ui) in zip(wts, nbrs):
        same4 &= fs.instances[vi, ui] == inst_t
        with np.errstate(divide="ignore"):  # sky (depth 0) never has a matching instance
            inv_d += w / fs.depth[vi, ui].astype(np.float64)
        col += w[:, None] * img[vi, ui]
    depth_match = np.abs(inv_d * zz - 1.0) < 0.005
    good = same4 & depth_match
    err = np.abs(col - ft.rgb[valid].astype(np.float64)).mean(axis=1)[good]
    if err.size == 0:
        err = np.array([np.inf])
    return {
        "same_surface": float(same_nn.mean()),
        "depth_ok": float(depth_match[same4].mean()),
        "mean_err": float(err.mean()),
        "median_err": float(np.median(err)),
        "n": int(good.sum()),
    }


# ------------------------------------------------------------------------------------------
# configuration, intrinsics, transforms
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(kind="cave"),
        dict(height=0),
        dict(hfov_deg=200.0),
        dict(n_boxes=-1),
        dict(wiggle=2.0),
        dict(speed_variation=1.5),
        dict(intrinsics_norm=(0.0, 1.0, 0.5, 0.5)),
        dict(fog_m=-1.0),
    ],
)
def test_config_rejects_bad_values(kw):
    with pytest.raises(ConfigError):
        S.SceneConfig(**kw)


def test_intrinsics_pixel_and_normalised():
    cfg = S.SceneConfig(height=96, width=320, hfov_deg=70.0)
    K = cfg.intrinsics()
    f = 160.0 / math.tan(math.radians(35.0))
    np.testing.assert_allclose(K, [[f, 0, 160], [0, f, 48], [0, 0, 1]])
    Kn = cfg.intrinsics_normalised()
    np.testing.assert_allclose(Kn[0], [f / 320, 0, 0.5])
    np.testing.assert_allclose(Kn[1], [0, f / 96, 0.5])
    kitti = S.SceneConfig(height=192, width=640, intrinsics_norm=S.KITTI_NORMALISED_INTRINSICS)
    np.testing.assert_allclose(kitti.intrinsics(), [[0.58 * 640, 0, 320], [0, 1.92 * 192, 96], [0, 0, 1]])


def test_relative_transform_convention():
    rng = np.random.default_rng(0)
    poses = []
    for _ in range(2):
        P = _pose(*rng.normal(size=3), yaw=rng.uniform(-1, 1))
        P[:3, :3] = P[:3, :3] @ S._rot_x(rng.uniform(-0.3, 0.3))
        poses.append(P)
    A, B = poses
    T = S.relative_transform(A, B)
    X_a = np.r_[rng.normal(size=3), 1.0]
    X_w = A @ X_a  # camera-to-world
    np.testing.assert_allclose(T @ X_a, np.linalg.inv(B) @ X_w, atol=1e-12)
    np.testing.assert_allclose(S.relative_transform(A, A), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(S.relative_transform(B, A) @ T, np.eye(4), atol=1e-12)


def test_render_rejects_bad_inputs():
    scene, cfg = _empty_room(height=8, width=16)
    K = cfg.intrinsics()
    with pytest.raises(ConfigError):
        S.render(scene, _pose(z=-1.0), K, cfg.size)  # behind the back wall
    with pytest.raises(ConfigError):
        S.render(scene, _pose(y=0.5, z=2.0), K, cfg.size)  # below the floor
    with pytest.raises(ConfigError):
        S.render(scene, np.eye(3), K, cfg.size)
    with pytest.raises(ConfigError):
        S.render(scene, _pose(z=2.0), np.eye(2), cfg.size)
    not_rot = _pose(z=2.0)
    not_rot[:3, :3] *= 2.0
    with pytest.raises(ConfigError):
        S.render(scene, not_rot, K, cfg.size)


# ------------------------------------------------------------------------------------------
# exact depth
# ------------------------------------------------------------------------------------------


def test_depth_facing_wall_is_exact():
    scene, cfg = _empty_room(height=48, width=64, hfov_deg=60.0)
    d = 3.25
    pose = _pose(z=scene.z_max - d)
    fr = S.render(scene, pose, cfg.intrinsics(), cfg.size)
    assert fr.depth.dtype == np.float32 and fr.depth.shape == (48, 64)
    assert fr.instances[24, 32] == S.INST_FRONT_WALL
    assert fr.depth[24, 32] == pytest.approx(d, rel=1e-6)
    front = fr.instances == S.INST_FRONT_WALL
    assert front.mean() > 0.5
    np.testing.assert_allclose(fr.depth[front], d, rtol=1e-6)  # a fronto-parallel plane: constant z


def test_depth_of_floor_walls_ceiling_follows_plane_equations():
    scene, cfg = _empty_room(height=96, width=128, hfov_deg=100.0)
    h = 1.3
    fr = S.render(scene, _pose(y=-h, z=2.0), cfg.intrinsics(), cfg.size)
    K = cfg.intrinsics()
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    v, u = np.mgrid[0:96, 0:128].astype(np.float64)
    v[v == cy] = np.nan  # horizon row / centre column: not on these planes anyway
    u[u == cx] = np.nan
    floor = fr.instances == S.INST_FLOOR
    ceil = fr.instances == S.INST_CEILING
    right = fr.instances == S.INST_RIGHT_WALL
    left = fr.instances == S.INST_LEFT_WALL
    assert floor.sum() > 100 and ceil.sum() > 100 and right.sum() > 100 and left.sum() > 100
    # floor y = 0 seen from height h: Z (v - cy) / fy = h
    np.testing.assert_allclose(fr.depth[floor], (h * fy / (v - cy))[floor], rtol=1e-5)
    top = scene.ceiling_height - h
    np.testing.assert_allclose(fr.depth[ceil], (top * fy / (cy - v))[ceil], rtol=1e-5)
    hw = scene.half_width
    np.testing.assert_allclose(fr.depth[right], (hw * fx / (u - cx))[right], rtol=1e-5)
    np.testing.assert_allclose(fr.depth[left], (hw * fx / (cx - u))[left], rtol=1e-5)
    assert np.all(fr.depth > 0)  # a closed room has no sky


def test_box_depth_axis_aligned_and_yawed():
    scene, cfg = _empty_room(height=32, width=64, hfov_deg=60.0)
    a = 0.4
    for yaw, expected in [(0.0, 4.0 - a), (math.pi / 4, 4.0 - a * math.sqrt(2.0))]:
        box = S.Box((0.0, -a, 6.0), (a, a, a), yaw, S.CLASS_CRATE, S.FIRST_BOX_INSTANCE, _plain_material())
        sc = dataclasses.replace(scene, boxes=(box,))
        # camera 2 m from the floor box centre height, looking along +z at the box centre
        fr = S.render(sc, _pose(y=-a, z=2.0), cfg.intrinsics(), cfg.size)
        cy, cx = 16, 32  # the centre pixel's ray is exactly the optical axis
        assert fr.instances[cy, cx] == S.FIRST_BOX_INSTANCE
        assert fr.labels[cy, cx] == S.CLASS_CRATE
        assert fr.depth[cy, cx] == pytest.approx(expected, rel=1e-6)


# ------------------------------------------------------------------------------------------
# determinism
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["room", "corridor"])
def test_same_seed_same_arrays_different_seed_differs(kind):
    cfg = S.SceneConfig(kind=kind, seed=11, **SMALL)
    a = S.make_sequence(cfg, 3)
    b = S.make_sequence(cfg, 3)
    c = S.make_sequence(dataclasses.replace(cfg, seed=12), 3)
    for name in ("rgb", "depth", "labels", "instances"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.poses_c2w, b.poses_c2w)
    assert not np.array_equal(a.rgb, c.rgb)
    assert not np.array_equal(a.depth, c.depth)
    assert not np.allclose(a.poses_c2w, c.poses_c2w)


def test_mixed_kind_gives_both_kinds():
    kinds = {S.SyntheticScene.generate(S.SceneConfig(kind="mixed", seed=s)).kind for s in range(12)}
    assert kinds == {"room", "corridor"}


# ------------------------------------------------------------------------------------------
# view consistency: the key property for self-supervision
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["room", "corridor"])
def test_reprojection_depth_and_colour_consistent(kind):
    cfg = S.SceneConfig(kind=kind, seed=21)
    seq = S.make_sequence(cfg, 4)
    for t, s in [(0, 1), (1, 0), (2, 3), (1, 3)]:
        r = _consistency(seq, t, s)
        assert r["n"] > 0.6 * seq.frames[0].depth.size, r
        assert r["same_surface"] > 0.95, (t, s, r)
        assert r["depth_ok"] > 0.99, (t, s, r)
        assert r["mean_err"] < 3.0, (t, s, r)
        assert r["median_err"] < 2.0, (t, s, r)
    # negative controls: a slightly wrong pose, or the inverse convention, is detected
    good = _consistency(seq, 0, 1)
    bad_T = seq.T_b_from_a(0, 1)
    bad_T[:3, 3] += (0.05, 0.0, 0.0)
    bad_T[:3, :3] = bad_T[:3, :3] @ S._rot_y(math.radians(0.5))
    bad = _consistency(seq, 0, 1, bad_T)
    assert bad["mean_err"] > 2.0 * good["mean_err"] and bad["depth_ok"] < 0.9
    swapped = _consistency(seq, 0, 2, seq.T_b_from_a(2, 0))
    assert swapped["depth_ok"] < 0.1


def test_texture_is_a_function_of_the_surface_point():
    mat = random_material(np.random.default_rng(1), "facade")
    rng = np.random.default_rng(2)
    uv = rng.uniform(-5, 5, (1000, 2))
    fine = np.full(1000, 1e-4)
    a = albedo(mat, uv, fine)
    b = albedo(mat, uv.copy(), fine.copy())
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (1000, 3) and a.min() >= 0 and a.max() <= 1
    # patterns finer than ~2 px fade to a flat colour, so far surfaces do not alias
    far = albedo(mat, uv, np.full(1000, 10.0))
    assert far.std(axis=0).max() < 1e-4
    assert a.std(axis=0).max() > 0.02
    n = value_noise(uv[:, 0], uv[:, 1], 7)
    assert 0.0 <= n.min() and n.max() < 1.0 and 0.35 < n.mean() < 0.65


def test_images_have_high_frequency_detail():
    seq = S.make_sequence(S.SceneConfig(kind="corridor", seed=4), 1)
    g = seq.frames[0].rgb.astype(np.float64).mean(axis=2)
    # local 5x5 standard deviation: SSIM needs texture almost everywhere
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(g, (5, 5))
    local_std = win.std(axis=(-1, -2))
    assert np.mean(local_std > 2.0) > 0.6
    assert np.abs(np.diff(g, axis=1)).mean() > 2.0


# ------------------------------------------------------------------------------------------
# labels, trajectory, clearance
# ------------------------------------------------------------------------------------------


def test_labels_consistent_with_geometry():
    cfg = S.SceneConfig(kind="corridor", seed=8, wiggle=0.0, n_boxes=30, **SMALL)
    seq = S.make_sequence(cfg, 3)
    K = seq.K
    H, W = seq.size
    v, u = np.mgrid[0:H, 0:W]
    lut = seq.scene.instance_classes()
    for fr in seq.frames:
        assert fr.labels.dtype == np.uint8 and fr.instances.dtype == np.uint16
        np.testing.assert_array_equal(fr.labels, lut[fr.instances])
        assert not np.any(fr.labels == S.IGNORE_LABEL)
        sky = fr.depth == 0
        np.testing.assert_array_equal(sky, fr.instances == 0)
        np.testing.assert_array_equal(sky, fr.labels == S.CLASS_BACKGROUND)
        # level camera: floor below the horizon, sky above it, left wall left of centre
        assert np.all(v[fr.labels == S.CLASS_FLOOR] > K[1, 2])
        assert np.all(v[sky] < K[1, 2])
        assert np.all(u[fr.instances == S.INST_LEFT_WALL] < K[0, 2])
        assert np.all(u[fr.instances == S.INST_RIGHT_WALL] > K[0, 2])
        assert set(np.unique(fr.labels)) <= set(range(len(S.CLASS_NAMES)))
    labels = seq.labels
    assert {S.CLASS_FLOOR, S.CLASS_WALL} <= set(np.unique(labels))
    assert np.any(labels >= S.CLASS_CRATE)


def test_floor_mostly_in_lower_half_with_wiggle():
    seq = S.make_sequence(S.SceneConfig(kind="room", seed=3, **SMALL), 8)
    v = np.mgrid[0 : seq.size[0], 0 : seq.size[1]][0]
    floor_v = np.concatenate([v[f.labels == S.CLASS_FLOOR] for f in seq.frames])
    ceil_v = np.concatenate([v[f.labels == S.CLASS_CEILING] for f in seq.frames])
    assert floor_v.size and ceil_v.size
    assert np.mean(floor_v > seq.K[1, 2]) > 0.98
    assert np.mean(ceil_v < seq.K[1, 2]) > 0.98


def test_trajectory_is_smooth_forward_motion():
    cfg = S.SceneConfig(kind="corridor", seed=6, **SMALL)
    scene = S.SyntheticScene.generate(cfg, travel_m=60.0)
    poses = S.make_trajectory(scene, 120, 0.4)
    assert poses.shape == (120, 4, 4)
    np.testing.assert_allclose(poses[:, 3], np.tile([0, 0, 0, 1.0], (120, 1)))
    for P in poses:
        np.testing.assert_allclose(P[:3, :3] @ P[:3, :3].T, np.eye(3), atol=1e-12)
    steps = np.diff(poses[:, :3, 3], axis=0)
    assert np.all(steps[:, 2] > 0.4 * (1 - cfg.speed_variation) - 1e-9)
    assert np.all(np.linalg.norm(steps, axis=1) < 0.4 * (1 + cfg.speed_variation) + 0.05)
    assert steps[:, 2].std() > 0.01  # speed varies
    fwd = poses[:, :3, 2]  # optical axis in the world: mostly +z, small yaw/pitch wiggle
    assert np.all(fwd[:, 2] > math.cos(math.radians(6)))
    assert np.abs(fwd[:, 0]).max() > math.sin(math.radians(0.5))
    rel = [S.relative_transform(poses[i], poses[i + 1])[:3, :3] for i in range(119)]
    angles = [math.degrees(math.acos(np.clip((np.trace(r) - 1) / 2, -1, 1))) for r in rel]
    assert max(angles) < 1.5
    assert np.all(np.abs(poses[:, 0, 3]) <= scene.lane_half_width)
    with pytest.raises(ConfigError):
        S.make_trajectory(scene, 2000, 0.4)  # runs out of scene


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_camera_never_inside_a_box(seed):
    for kind in ("room", "corridor"):
        cfg = S.SceneConfig(kind=kind, seed=seed, n_boxes=25, height=24, width=80)
        seq = S.make_sequence(cfg, 40)
        centres = seq.poses_c2w[:, :3, 3]
        assert np.all(seq.scene.in_free_space(centres, margin=0.45))
        d = seq.depth
        assert np.all(d[d > 0] > 0.3)
        assert np.isfinite(d).all()


# ------------------------------------------------------------------------------------------
# files on disk
# ------------------------------------------------------------------------------------------


def test_make_dataset_writes_documented_layout(tmp_path):
    cfg = S.SceneConfig(kind="mixed", **SMALL)
    root = tmp_path / "synth"
    manifest = S.make_dataset(root, n_sequences=2, frames_per_sequence=3, cfg=cfg, seed=42)
    assert json.loads((root / "manifest.json").read_text()) == manifest
    assert manifest["generator_version"] == S.GENERATOR_VERSION and manifest["seed"] == 42
    assert manifest["config"]["kind"] == "mixed"
    intr = json.loads((root / "intrinsics.json").read_text())
    np.testing.assert_allclose(intr["K"], cfg.intrinsics())
    np.testing.assert_allclose(intr["K_normalised"], cfg.intrinsics_normalised())
    assert (intr["width"], intr["height"]) == (160, 48)
    for entry in manifest["sequences"]:
        name = entry["name"]
        seq = S.make_sequence(dataclasses.replace(cfg, seed=entry["seed"]), 3)
        assert seq.scene.kind == entry["kind"]
        poses = S.read_poses_txt(root / "poses" / f"{name}.txt")
        np.testing.assert_allclose(poses, seq.poses_c2w, rtol=1e-7, atol=1e-7)
        for i, fr in enumerate(seq.frames):
            stem = f"{name}_{i:06d}.png"
            rgb = np.asarray(Image.open(root / "images" / stem))
            np.testing.assert_array_equal(rgb, fr.rgb)
            dimg = Image.open(root / "depth" / stem)
            dmm = np.asarray(dimg).astype(np.int64)
            assert dmm.shape == (48, 160) and dmm.max() <= 65535
            np.testing.assert_array_equal(dmm == 0, fr.depth == 0)
            assert np.abs(dmm / 1000.0 - fr.depth).max() <= 0.001
            lab = np.asarray(Image.open(root / "labels" / stem))
            assert lab.dtype == np.uint8
            np.testing.assert_array_equal(lab, fr.labels)
            inst = np.asarray(Image.open(root / "instances" / stem)).astype(np.int64)
            np.testing.assert_array_equal(inst, fr.instances)
    assert len(list((root / "images").iterdir())) == 6
    assert not list(root.rglob("*.tmp"))
    with pytest.raises(DataError):
        S.make_dataset(root, 1, 1, cfg=cfg)
    (root / "images" / "mine.png").write_bytes(b"x")  # not the generator's: kept
    S.make_dataset(root, 1, 2, cfg=cfg, overwrite=True)
    assert sorted(p.name for p in (root / "depth").iterdir()) == ["seq0000_000000.png", "seq0000_000001.png"]
    assert (root / "images" / "mine.png").exists()
    assert [p.name for p in (root / "poses").iterdir()] == ["seq0000.txt"]


def test_encode_depth_png_and_read_poses_errors(tmp_path):
    d = np.array([[0.0, 1.2344, 70.0, np.nan]], np.float32)
    np.testing.assert_array_equal(S.encode_depth_png(d), [[0, 1234, 0, 0]])
    bad = tmp_path / "p.txt"
    bad.write_text("1 2 3\n")
    with pytest.raises(DataError):
        S.read_poses_txt(bad)
    with pytest.raises(DataError):
        S.read_poses_txt(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    "old, new",
    [
        ("litedepth.data.synthetic_scene", "litedepth.data.synthetic.scene"),
        ("litedepth.data.synthetic_render", "litedepth.data.synthetic.raycast"),
        ("litedepth.data.synthetic_texture", "litedepth.data.synthetic.texture"),
    ],
)
def test_old_synthetic_module_paths_are_deprecated_aliases(old, new):
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_package_exports_the_functions_not_the_submodules():
    # `render` is both a public function and (formerly) a module name: the package must hand out
    # the function, and every name in __all__ must resolve.
    assert callable(S.render) and S.render.__module__ == "litedepth.data.synthetic.raycast"
    assert all(hasattr(S, name) for name in S.__all__)
