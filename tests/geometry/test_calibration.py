"""KITTI calibration parsing (object and raw formats) and intrinsics helpers."""

from __future__ import annotations

import numpy as np
import pytest

from litedepth.errors import ConfigError, DataError
from litedepth.geometry.calibration import (
    VeloToImage,
    denormalize_intrinsics,
    intrinsics_from_P,
    load_object_calib,
    load_raw_calib,
    load_raw_calib_dir,
    normalize_intrinsics,
    read_calib_file,
)
from litedepth.geometry.intrinsics import normalise_matrix
from tests.conftest import real_subdir

P2 = "700 0 600 45 0 700 180 -0.3 0 0 1 0.005"
P3 = "700 0 600 -330 0 700 180 2.3 0 0 1 0.003"
R0 = "1 0 0 0 1 0 0 0 1"
TR = "0 -1 0 0.1 0 0 -1 0.2 1 0 0 0.3"


def _write(path, text):
    path.write_text(text)
    return path


def _object_text(p="P2:", r="R0_rect:", tr="Tr_velo_to_cam:"):
    return (
        f"P0: 700 0 600 0 0 700 180 0 0 0 1 0\nP1: {P3}\n{p} {P2}\nP3: {P3}\n"
        f"{r} {R0}\n{tr} {TR}\nTr_imu_to_velo: 1 0 0 0 0 1 0 0 0 0 1 0\n"
    )


def test_object_calib_known_matrices(tmp_path):
    calib = load_object_calib(_write(tmp_path / "000007.txt", _object_text()))
    assert isinstance(calib, VeloToImage)
    assert calib.camera == 2 and calib.image_size is None
    np.testing.assert_array_equal(
        calib.P, [[700, 0, 600, 45], [0, 700, 180, -0.3], [0, 0, 1, 0.005]]
    )
    np.testing.assert_array_equal(calib.R_rect, np.eye(4))
    np.testing.assert_array_equal(
        calib.velo_to_cam, [[0, -1, 0, 0.1], [0, 0, -1, 0.2], [1, 0, 0, 0.3], [0, 0, 0, 1]]
    )
    # Velodyne point 10 m ahead, 1 m left: camera (x, y, z) = (-1 + 0.1, 0.2, 10.3)
    # pixel = P @ (-0.9, 0.2, 10.3, 1) = (700*-0.9 + 600*10.3 + 45, 700*0.2 + 180*10.3 - 0.3,
    # 10.3 + 0.005) -> u = 5595 / 10.305, v = 1993.7 / 10.305
    uvw = calib.velo_to_image @ np.array([10.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(uvw, [5595.0, 1993.7, 10.305])

    right = load_object_calib(tmp_path / "000007.txt", camera=3, image_size=(375, 1242))
    assert right.camera == 3 and right.image_size == (375, 1242)
    assert right.P[0, 3] == -330


def test_object_calib_alternative_key_styles(tmp_path):
    raw_style = _write(
        tmp_path / "a.txt", _object_text(p="P_rect_02:", r="R_rect_00:")
    )
    tracking = _write(tmp_path / "b.txt", _object_text(r="R_rect", tr="Tr_velo_cam"))
    ref = load_object_calib(_write(tmp_path / "c.txt", _object_text()))
    for path in (raw_style, tracking):
        calib = load_object_calib(path)
        np.testing.assert_array_equal(calib.P, ref.P)
        np.testing.assert_array_equal(calib.velo_to_cam, ref.velo_to_cam)
        np.testing.assert_array_equal(calib.R_rect, ref.R_rect)


def test_read_calib_file_keys(tmp_path):
    path = _write(tmp_path / "k.txt", "calib_time: 09-Jan-2012 13:57:47\n\nR_rect 1 2\nA:3 4\n")
    assert read_calib_file(path) == {
        "calib_time": "09-Jan-2012 13:57:47", "R_rect": "1 2", "A": "3 4",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_object_text().replace("Tr_velo_to_cam:", "Tr_other:"),
         "missing key 'Tr_velo_to_cam' or 'Tr_velo_cam'"),
        (_object_text().replace("P2: 700", "P2: 7x0"), "key 'P2' has non-numeric values"),
        (_object_text().replace("R0_rect: 1 0 0", "R0_rect: 1 0"), "key 'R0_rect' has 8 numbers, expected 9"),
        (_object_text().replace("P2: 700", "P2: nan"), "key 'P2' contains NaN"),
    ],
)
def test_malformed_object_calib_names_file_and_key(tmp_path, text, message):
    path = _write(tmp_path / "broken_000003.txt", text)
    with pytest.raises(DataError, match="broken_000003.txt") as info:
        load_object_calib(path)
    assert message in str(info.value)


def test_missing_and_empty_calib_files(tmp_path):
    with pytest.raises(DataError, match="nope.txt.*not found"):
        load_object_calib(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="empty.txt.*empty"):
        load_object_calib(_write(tmp_path / "empty.txt", "\n\n"))
    with pytest.raises(ConfigError, match="camera"):
        load_object_calib(_write(tmp_path / "x.txt", _object_text()), camera=5)


CAM_TO_CAM = (
    "calib_time: 09-Jan-2012 13:57:47\n"
    "S_rect_02: 1.240000e+03 3.700000e+02\n"
    "R_rect_00: 0 -1 0 1 0 0 0 0 1\n"
    "R_rect_02: 9 9 9 9 9 9 9 9 9\n"
    f"P_rect_02: {P2}\n"
    "S_rect_03: 1.240000e+03 3.700000e+02\n"
    f"P_rect_03: {P3}\n"
)
VELO_TO_CAM = "calib_time: 15-Mar-2012 11:37:16\nR: 0 -1 0 0 0 -1 1 0 0\nT: 0.1 0.2 0.3\n"


def test_raw_calib_pair_known_matrices(tmp_path):
    c2c = _write(tmp_path / "calib_cam_to_cam.txt", CAM_TO_CAM)
    v2c = _write(tmp_path / "calib_velo_to_cam.txt", VELO_TO_CAM)
    calib = load_raw_calib(c2c, v2c)
    assert calib.image_size == (370, 1240)  # S_rect is "W H"
    assert calib.P[0, 3] == 45
    # R_rect_00 (not R_rect_02) is used, padded to 4x4
    np.testing.assert_array_equal(
        calib.R_rect, [[0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    )
    np.testing.assert_array_equal(
        calib.velo_to_cam, [[0, -1, 0, 0.1], [0, 0, -1, 0.2], [1, 0, 0, 0.3], [0, 0, 0, 1]]
    )
    right = load_raw_calib_dir(tmp_path, camera=3)
    assert right.camera == 3 and right.P[0, 3] == -330
    np.testing.assert_array_equal(right.R_rect, calib.R_rect)


@pytest.mark.parametrize(
    ("which", "old", "new", "message"),
    [
        ("c2c", "R_rect_00:", "R_rect_0:", "missing key 'R_rect_00'"),
        ("c2c", "P_rect_02: 700", "P_rect_02: abc", "key 'P_rect_02' has non-numeric"),
        ("c2c", "S_rect_02: 1.240000e+03", "S_rect_02: 12.5", "key 'S_rect_02' is not a positive"),
        ("v2c", "T: 0.1 0.2 0.3", "T: 0.1 0.2", "key 'T' has 2 numbers, expected 3"),
        ("v2c", "R: 0", "Rot: 0", "missing key 'R'"),
    ],
)
def test_malformed_raw_calib(tmp_path, which, old, new, message):
    c2c_text, v2c_text = CAM_TO_CAM, VELO_TO_CAM
    if which == "c2c":
        c2c_text = c2c_text.replace(old, new)
    else:
        v2c_text = v2c_text.replace(old, new)
    _write(tmp_path / "calib_cam_to_cam.txt", c2c_text)
    _write(tmp_path / "calib_velo_to_cam.txt", v2c_text)
    name = "calib_cam_to_cam.txt" if which == "c2c" else "calib_velo_to_cam.txt"
    with pytest.raises(DataError, match=name) as info:
        load_raw_calib_dir(tmp_path)
    assert message in str(info.value)


@pytest.mark.real_data
def test_real_raw_calib_2011_09_26(real_data):
    folder = real_subdir(real_data, "kitti_calib_2011_09_26")
    calib = load_raw_calib_dir(folder)
    assert calib.image_size == (375, 1242)
    np.testing.assert_allclose(calib.P[0], [721.5377, 0.0, 609.5593, 44.85728])
    np.testing.assert_allclose(calib.R_rect[0, :3], [0.9999239, 0.00983776, -0.007445048])
    np.testing.assert_allclose(calib.velo_to_cam[:, 3], [-0.004069766, -0.07631618, -0.2717806, 1.0])
    assert calib.R_rect[3].tolist() == [0, 0, 0, 1]
    right = load_raw_calib_dir(folder, camera=3)
    assert right.P[0, 3] == pytest.approx(-339.5242)
    # The balcilar frame comes from a 2011_09_26 drive; its object-format calibration holds
    # the same numbers, so both parsers must give the same Velodyne -> image projection.
    obj_dir = real_subdir(real_data, "kitti_object_frames_with_lidar") / "balcilar_DenseDepthMap"
    obj = load_object_calib(obj_dir / "calib" / "000001.txt")
    np.testing.assert_allclose(obj.velo_to_image, calib.velo_to_image, rtol=1e-9)


# --------------------------------------------------------------------------- intrinsics


def test_intrinsics_from_P_and_normalisation():
    P = np.array([[721.5377, 0, 609.5593, 44.85728], [0, 721.5377, 172.854, 0.2163791],
                  [0, 0, 1, 0.002745884]])
    K = intrinsics_from_P(P, (375, 1242))
    np.testing.assert_array_equal(K, [[721.5377, 0, 609.5593], [0, 721.5377, 172.854], [0, 0, 1]])
    with pytest.warns(DeprecationWarning, match="normalise_matrix"):
        Kn = normalize_intrinsics(K, (375, 1242))
    np.testing.assert_array_equal(Kn, normalise_matrix(K, 375, 1242))  # a deprecated alias of the one conversion
    np.testing.assert_allclose(
        Kn, [[721.5377 / 1242, 0, 609.5593 / 1242], [0, 721.5377 / 375, 172.854 / 375], [0, 0, 1]]
    )
    # Monodepth2 hard-codes the KITTI normalised K as fx=0.58, fy=1.92, cx=cy=0.5
    assert Kn[0, 0] == pytest.approx(0.58, abs=0.005) and Kn[1, 1] == pytest.approx(1.92, abs=0.01)
    with pytest.warns(DeprecationWarning, match="denormalise_matrix"):
        np.testing.assert_allclose(denormalize_intrinsics(Kn, (375, 1242)), K)
    # 4x4 K (Monodepth2 style) keeps its last row/column
    K4 = np.eye(4)
    K4[:3, :3] = K
    Kn4 = normalise_matrix(K4, 375, 1242)
    assert Kn4.shape == (4, 4) and Kn4[0, 2] == pytest.approx(609.5593 / 1242) and Kn4[3, 3] == 1


def test_intrinsics_errors():
    with pytest.raises(ConfigError, match="3x4"):
        intrinsics_from_P(np.eye(4))
    rotated = np.array([[700, 0, 600, 0], [0, 700, 180, 0], [0.1, 0, 1, 0]])
    with pytest.raises(ConfigError, match="not rectified"):
        intrinsics_from_P(rotated)
    with pytest.raises(ConfigError, match="positive"):
        intrinsics_from_P(np.array([[-700, 0, 600, 0], [0, 700, 180, 0], [0, 0, 1, 0]]))
    with pytest.raises(ConfigError, match="image_size"), pytest.warns(DeprecationWarning):
        normalize_intrinsics(np.eye(3), (0, 10))
    with pytest.raises(ConfigError, match="image size must be positive"):
        normalise_matrix(np.eye(3), 0, 10)
