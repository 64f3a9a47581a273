"""Intrinsics as one typed object: conversions, readers, projection matrices and the
plausibility check that refuses one convention taken for the other (issue 11, finding 3)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from litedepth.data.augment import hflip_intrinsics, resize_intrinsics
from litedepth.errors import ConfigError, DataError
from litedepth.geometry.calibration import load_object_calib
from litedepth.geometry.camera import normalised_to_pixel
from litedepth.geometry.intrinsics import (
    Intrinsics,
    denormalise_matrix,
    intrinsics_from_dict,
    normalise_matrix,
    read_intrinsics,
)
from tests.conftest import real_subdir

KITTI_NORM = (0.58, 1.92, 0.5, 0.5)


def test_normalised_to_pixels_is_monodepth2s_plain_multiplication():
    p = Intrinsics.from_normalised(*KITTI_NORM).to_pixels(192, 640)
    assert (p.fx, p.fy, p.cx, p.cy) == pytest.approx((371.2, 368.64, 320.0, 96.0))
    assert (p.width, p.height, p.convention) == (640, 192, "pixels")
    # the same numbers as the tensor function the training code uses
    K = normalised_to_pixel(torch.tensor(Intrinsics.from_normalised(*KITTI_NORM).as_matrix(4)), 192, 640)
    np.testing.assert_array_equal(K.numpy(), p.as_matrix(4))


def test_pixel_normalised_round_trips():
    p = Intrinsics.from_pixels(721.5377, 721.5377, 609.5593, 172.854, width=1242, height=375, skew=0.25)
    n = p.to_normalised()
    assert n.is_normalised and n.width is None
    assert n.fx == pytest.approx(721.5377 / 1242) and n.cy == pytest.approx(172.854 / 375)
    back = n.to_pixels(375, 1242)
    np.testing.assert_allclose(back.K, p.K, rtol=1e-15, atol=1e-12)
    # NumPy and torch share one implementation
    Kt = torch.tensor(p.as_matrix(3)).unsqueeze(0).repeat(2, 1, 1)
    np.testing.assert_array_equal(normalise_matrix(Kt, 375, 1242)[1].numpy(), n.K)
    np.testing.assert_array_equal(denormalise_matrix(n.K, 375, 1242), back.K)
    with pytest.raises(ConfigError, match="image width and height"):
        Intrinsics.from_pixels(700, 700, 600, 180).to_normalised()


def test_flip_matches_the_training_augmentation_bit_for_bit():
    p = Intrinsics.from_pixels(50.0, 50.0, 30.25, 11.0, width=64, height=24, skew=0.5)
    f = p.hflip()
    assert f.cx == 64 - 1 - 30.25 and f.skew == -0.5 and f.fx == 50.0
    assert f.hflip() == p
    Kt = torch.tensor(p.K, dtype=torch.float32)
    np.testing.assert_array_equal(hflip_intrinsics(Kt, 64).numpy(), f.K.astype(np.float32))
    with pytest.raises(ConfigError, match="pixel intrinsics"):
        Intrinsics.from_normalised(*KITTI_NORM).hflip()


def test_resize_and_crop():
    p = Intrinsics.from_pixels(100.0, 100.0, 49.5, 24.5, width=100, height=50)
    r = p.resize(25, 50)
    assert (r.fx, r.cx, r.fy, r.cy, r.width, r.height) == (50.0, 24.5, 50.0, 12.0, 50, 25)
    np.testing.assert_array_equal(resize_intrinsics(p.K, (50, 100), (25, 50)).numpy(), r.K.astype(np.float32))
    assert p.to_pixels(25, 50) == r  # a stated size is resized to the image's
    with pytest.raises(ConfigError, match="different aspect ratio"):
        p.to_pixels(50, 50)
    c = p.crop(10, 5, 80, 40)
    assert (c.cx, c.cy, c.width, c.height) == (39.5, 19.5, 80, 40)
    with pytest.raises(ConfigError, match="does not fit"):
        p.crop(30, 0, 80, 40)


def test_from_fov_is_centred_at_the_normalised_half():
    p = Intrinsics.from_fov(640, 480, 90.0)
    assert (p.fx, p.fy, p.cx, p.cy) == pytest.approx((320.0, 320.0, 320.0, 240.0), rel=1e-15)
    assert (p.cx, p.cy) == (320.0, 240.0)
    assert p.to_normalised().cx == 0.5 and p.to_normalised().cy == 0.5
    h, v = Intrinsics.from_fov(640, 480, 60.0).fov_deg()
    assert h == pytest.approx(60.0) and v < h
    assert Intrinsics.from_fov(640, 480, 60.0, 50.0).fov_deg()[1] == pytest.approx(50.0)
    with pytest.raises(ConfigError, match="field of view"):
        Intrinsics.from_fov(10, 10, 180.0)


def test_matrices_for_numpy_and_torch():
    p = Intrinsics.from_normalised(*KITTI_NORM).to_pixels(192, 640)
    K4 = p.as_matrix(4)
    assert K4.shape == (4, 4) and K4[3, 3] == 1 and K4[0, 3] == 0
    Kb = p.as_tensor(batch=3)
    assert Kb.shape == (3, 4, 4) and Kb.dtype == torch.float32
    torch.testing.assert_close(Kb[2], torch.tensor(K4, dtype=torch.float32))
    assert Intrinsics.from_matrix(K4, "pixels", 640, 192) == p


# --------------------------------------------------------------------------- plausibility


def test_normalised_values_taken_for_pixels_are_refused():
    with pytest.raises(ConfigError, match=r"fx = 0.58 px is a horizontal field of view of 179.8 deg for a 640-pixel-wide "
                                          r"image.*look like normalised.*\"normalised\": true"):
        Intrinsics.from_pixels(*KITTI_NORM, width=640, height=192)
    # without a stated size the check runs when the intrinsics meet an image
    loose = Intrinsics.from_pixels(*KITTI_NORM)
    with pytest.raises(ConfigError, match="look like normalised"):
        loose.to_pixels(192, 640)


def test_principal_point_outside_the_image():
    with pytest.raises(ConfigError, match=r"principal point cx = 900 px lies outside the 640-pixel-wide image.*another "
                                          r"image size"):
        Intrinsics.from_pixels(500, 500, 900, 96, width=640, height=192)
    with pytest.raises(ConfigError, match="cy = -3 px lies outside the 192-pixel-high"):
        Intrinsics.from_pixels(500, 500, 320, -3, width=640, height=192)


def test_pixels_taken_for_normalised_are_refused():
    with pytest.raises(ConfigError, match=r"normalised fx = 718 is a field of view of 0.08 deg.*look like pixel"):
        Intrinsics.from_normalised(718.0, 718.0, 0.5, 0.5)
    with pytest.raises(ConfigError, match=r"normalised principal point cx = 607.2 lies outside \[0, 1\].*pixel"):
        Intrinsics.from_normalised(0.58, 1.92, 607.2, 0.5)
    K_pix = [[718.856, 0, 607.1928], [0, 718.856, 185.2157], [0, 0, 1]]
    with pytest.raises(ConfigError, match="look like pixel"):
        Intrinsics.from_matrix(K_pix, "normalised")


# --------------------------------------------------------------------------- readers


def test_json_objects(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"fx": 518.0, "fy": 519.0, "cx": 325.5, "cy": 253.5,
                                                 "width": 640, "height": 480}))
    p = read_intrinsics(tmp_path / "p.json")
    assert (p.fx, p.cy, p.size, p.convention) == (518.0, 253.5, (480, 640), "pixels")
    n = read_intrinsics(_write(tmp_path / "n.json", {"fx": 0.58, "fy": 1.92, "cx": 0.5, "cy": 0.5, "normalised": True}))
    assert n.is_normalised and n.to_pixels(192, 640).fx == pytest.approx(371.2)
    k = read_intrinsics(_write(tmp_path / "k.json", {"K": [[0.58, 0, 0.5], [0, 1.92, 0.5], [0, 0, 1]],
                                                     "convention": "normalised"}))
    assert k == n
    assert intrinsics_from_dict(p.to_dict()) == p and intrinsics_from_dict(n.to_dict()) == n
    with pytest.raises(DataError, match=r"c\.json: the file says normalised intrinsics but pixels were expected"):
        read_intrinsics(_write(tmp_path / "c.json", {**n.to_dict()}), "pixels")


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_bare_matrices_need_a_stated_convention(tmp_path):
    """Monodepth2 / ManyDepth's intrinsics file: a bare normalised 3x3 (or 4x4) list."""
    bare = _write(tmp_path / "md2.json", [[0.58, 0, 0.5], [0, 1.92, 0.5], [0, 0, 1]])
    with pytest.raises(DataError, match=r"md2\.json: a bare intrinsics matrix .* does not say .*--intrinsics-convention"):
        read_intrinsics(bare)
    n = read_intrinsics(bare, "normalised")
    assert n == Intrinsics.from_normalised(*KITTI_NORM)
    four = _write(tmp_path / "md2_4.json", np.pad(np.array(n.K), ((0, 1), (0, 1))).tolist())
    json_k4 = json.loads(four.read_text())
    json_k4[3][3] = 1.0
    four.write_text(json.dumps(json_k4))
    assert read_intrinsics(four, "normalised") == n
    np.save(tmp_path / "k.npy", n.K)
    assert read_intrinsics(tmp_path / "k.npy", "normalised") == n
    (tmp_path / "cam.txt").write_text("518 0 325.5\n0 519 253.5\n0 0 1\n")
    assert read_intrinsics(tmp_path / "cam.txt", "pixels").fy == 519.0
    (tmp_path / "k6.txt").write_text("518, 519, 325.5, 253.5, 640, 480")
    assert read_intrinsics(tmp_path / "k6.txt", "pixels").size == (480, 640)
    # taken for pixels, Monodepth2's normalised K is refused at the first image, naming the file
    with pytest.raises(DataError, match=r"md2\.json: fx = 0.58 px .* look like normalised"):
        read_intrinsics(bare, "pixels").to_pixels(192, 640)


def test_projection_matrix_decomposition():
    K = np.array([[707.0493, 0.0, 604.0814], [0.0, 707.0493, 180.5066], [0.0, 0.0, 1.0]])
    a = np.radians(20.0)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]) @ np.array(
        [[1, 0, 0], [0, np.cos(0.1), -np.sin(0.1)], [0, np.sin(0.1), np.cos(0.1)]])
    P = K @ np.hstack([R, [[0.3], [-0.1], [2.0]]])
    p = Intrinsics.from_projection(2.5 * P, 1242, 375)  # any positive scale of P
    np.testing.assert_allclose(p.K, K, atol=1e-9)
    P4 = np.vstack([P, [0, 0, 0, 1]])  # mmdetection3d's 4x4 lidar2img layout
    np.testing.assert_allclose(Intrinsics.from_projection(P4).K, K, atol=1e-9)
    with pytest.raises(ConfigError, match="last row|end in the row"):
        Intrinsics.from_projection(np.vstack([P, [0, 0, 1, 0]]))
    rectified = Intrinsics.from_projection(np.hstack([K, [[44.8], [0.2], [0.003]]]))
    np.testing.assert_array_equal(rectified.K, K)  # exact for a rectified P


@pytest.mark.real_data
def test_real_kitti_calibrations(real_data, tmp_path):
    raw = real_subdir(real_data, "kitti_calib_2011_09_26") / "calib_cam_to_cam.txt"
    p = read_intrinsics(raw)  # a KITTI raw calib: P_rect_02 with its rectified size S_rect_02
    assert (p.fx, p.cx, p.cy, p.size) == (721.5377, 609.5593, 172.854, (375, 1242))
    assert read_intrinsics(raw, camera=3).cx == pytest.approx(609.5593)
    obj = real_subdir(real_data, "kitti_object_frames_with_lidar") / "kitti_object_vis" / "calib" / "000000.txt"
    o = read_intrinsics(obj)  # object format: P2, no size stated
    assert (o.fx, o.cx, o.size) == (707.0493, 604.0814, None)
    # the composite P2 @ R0_rect @ Tr_velo_to_cam decomposes back to P2's K
    calib = load_object_calib(obj)
    np.savetxt(tmp_path / "lidar2img.txt", calib.velo_to_image)
    d = read_intrinsics(tmp_path / "lidar2img.txt")
    np.testing.assert_allclose(d.K, o.K, atol=1e-4)  # R0_rect @ Tr is orthogonal to the published digits


def test_every_field_of_view_helper_is_the_one_convention():
    """Field of view -> K is Intrinsics.from_fov everywhere, with the principal point at W / 2
    (the normalised 0.5), not at the pixel-centre image centre (W - 1) / 2."""
    from litedepth.apps.scale import intrinsics_from_hfov
    from litedepth.data.synthetic import intrinsics_from_fov
    from litedepth.inference.pointcloud import default_intrinsics

    K = Intrinsics.from_fov(641, 481, 90.0).K
    np.testing.assert_allclose(K, [[320.5, 0, 320.5], [0, 320.5, 240.5], [0, 0, 1]], rtol=1e-15)  # tan(45) ~ 1
    assert (K[0, 2], K[1, 2]) == (320.5, 240.5)  # W / 2 and H / 2, not (W - 1) / 2 = 320 and 240
    np.testing.assert_array_equal(default_intrinsics(481, 641, 90.0), K)  # (height, width) order
    np.testing.assert_array_equal(intrinsics_from_fov(641, 481, 90.0), K)
    np.testing.assert_array_equal(intrinsics_from_hfov(641, 481, 90.0), K)
    # 60 degrees over 640 px: (640 / 2) / tan(30 deg) = 554.256...
    assert Intrinsics.from_fov(640, 480, 60.0).fx == pytest.approx(554.2562584220407, rel=1e-12)


def test_every_pixel_normalised_conversion_is_the_one_function():
    """normalise_matrix / denormalise_matrix are the conversion; the torch function of the training
    code, the typed Intrinsics and the synthetic generator give the same numbers bit for bit."""
    from litedepth.data.synthetic import normalise_intrinsics
    from litedepth.geometry.camera import pixel_to_normalised

    K = np.array([[721.5377, 0.0, 609.5593], [0.0, 721.5377, 172.854], [0.0, 0.0, 1.0]])
    Kn = normalise_matrix(K, 375, 1242)
    np.testing.assert_array_equal(Kn, [[721.5377 / 1242, 0, 609.5593 / 1242], [0, 721.5377 / 375, 172.854 / 375],
                                       [0, 0, 1]])
    np.testing.assert_array_equal(Intrinsics.from_matrix(K, "pixels", 1242, 375).to_normalised().K, Kn)
    np.testing.assert_array_equal(pixel_to_normalised(torch.tensor(K), 375, 1242).numpy(), Kn)
    np.testing.assert_array_equal(normalise_intrinsics(K, 1242, 375), Kn)  # (width, height) order
    np.testing.assert_array_equal(denormalise_matrix(Kn, 375, 1242), Intrinsics.from_normalised(
        Kn[0, 0], Kn[1, 1], Kn[0, 2], Kn[1, 2]).to_pixels(375, 1242).K)
    with pytest.raises(ConfigError, match="image size must be positive"):
        denormalise_matrix(Kn, 375, 0)
