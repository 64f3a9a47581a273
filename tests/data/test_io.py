"""Colour and depth readers/writers: known values, every encoding, and the user errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from litedepth.io.images import (
    DEPTH_ENCODINGS,
    read_depth,
    read_image_size,
    read_rgb,
    resolve_depth_scale,
    write_depth_npy,
    write_depth_png,
)
from litedepth.errors import ConfigError, DataError
from tests.conftest import real_subdir

RAW16 = np.array([[0, 256, 1000], [5000, 512, 65535]], dtype=np.uint16)


def _png16(path, arr=RAW16):
    Image.fromarray(arr).save(path)
    return path


# --------------------------------------------------------------------------- read_rgb


def test_read_rgb_colour_grey_rgba(tmp_path):
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[0, 1] = (10, 20, 30)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    out = read_rgb(tmp_path / "c.png")
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    assert out[0, 1].tolist() == [10, 20, 30] and out[1, 2].tolist() == [0, 0, 0]

    grey = np.array([[0, 7, 200]], dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    out = read_rgb(tmp_path / "g.png")
    assert out.shape == (1, 3, 3)
    assert out[0, 1].tolist() == [7, 7, 7] and out[0, 2].tolist() == [200, 200, 200]

    rgba = np.array([[[1, 2, 3, 0], [4, 5, 6, 255]]], dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    out = read_rgb(tmp_path / "a.png")
    assert out.shape == (1, 2, 3)
    assert out.tolist() == [[[1, 2, 3], [4, 5, 6]]]  # alpha dropped, colour kept


def test_read_rgb_errors_name_the_file(tmp_path):
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(DataError, match="corrupt.png"):
        read_rgb(bad)
    with pytest.raises(DataError, match="missing.png.*not found"):
        read_rgb(tmp_path / "missing.png")
    with pytest.raises(DataError, match="d16.png.*16/32-bit"):
        read_rgb(_png16(tmp_path / "d16.png"))


def test_truncated_png_is_a_data_error(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.full((50, 60, 3), 9, dtype=np.uint8)).save(good)
    data = good.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.png"):
        read_rgb(cut)
    with pytest.raises(DataError, match="cut.png"):
        read_depth(cut, "kitti")


def test_read_image_size_from_header(tmp_path):
    Image.fromarray(np.zeros((7, 11, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    assert read_image_size(tmp_path / "x.png") == (7, 11)
    with pytest.raises(DataError, match="nope.png"):
        read_image_size(tmp_path / "nope.png")


# --------------------------------------------------------------------------- depth scales


@pytest.mark.parametrize(
    ("name", "units"),
    [("kitti", 256.0), ("nyu", 1000.0), ("kinect", 1000.0), ("mm", 1000.0), ("tum", 5000.0)],
)
def test_read_depth_uint16_png_each_encoding(tmp_path, name, units):
    assert DEPTH_ENCODINGS[name] == units
    depth = read_depth(_png16(tmp_path / "d.png"), name)
    assert depth.dtype == np.float32 and depth.shape == (2, 3)
    assert depth[0, 0] == 0.0  # 0 stays invalid
    expected = {
        256.0: [[0, 1.0, 3.90625], [19.53125, 2.0, 255.99609375]],
        1000.0: [[0, 0.256, 1.0], [5.0, 0.512, 65.535]],
        5000.0: [[0, 0.0512, 0.2], [1.0, 0.1024, 13.107]],
    }[units]
    np.testing.assert_allclose(depth, expected, rtol=1e-6)


def test_numeric_scale_and_bad_scales(tmp_path):
    path = _png16(tmp_path / "d.png")
    np.testing.assert_allclose(read_depth(path, 100)[0], [0.0, 2.56, 10.0], rtol=1e-6)
    assert resolve_depth_scale("KITTI") == 256.0
    with pytest.raises(ConfigError, match="unknown depth encoding 'metric'.*kitti"):
        read_depth(path, "metric")
    for bad in (0, -5.0, float("nan"), float("inf"), None, True):
        with pytest.raises(ConfigError):
            read_depth(path, bad)


def test_8bit_png_rejected_unless_allowed(tmp_path):
    path = tmp_path / "vis.png"
    Image.fromarray(np.array([[0, 10, 255]], dtype=np.uint8)).save(path)
    with pytest.raises(DataError, match="vis.png.*8-bit"):
        read_depth(path, "kitti")
    depth = read_depth(path, 10.0, allow_8bit=True)
    np.testing.assert_allclose(depth, [[0.0, 1.0, 25.5]])


def test_colour_png_is_not_depth(tmp_path):
    path = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((2, 2, 3), dtype=np.uint8)).save(path)
    with pytest.raises(DataError, match="rgb.png.*'RGB'"):
        read_depth(path, "kitti", allow_8bit=True)


def test_read_depth_16bit_pgm(tmp_path):
    # P5 with maxval 65535 stores big-endian uint16: 0, 1000, 2500, 65535
    values = np.array([0, 1000, 2500, 65535], dtype=">u2")
    path = tmp_path / "k.pgm"
    path.write_bytes(b"P5\n4 1\n65535\n" + values.tobytes())
    depth = read_depth(path, "nyu")
    np.testing.assert_allclose(depth, [[0.0, 1.0, 2.5, 65.535]], rtol=1e-6)


# --------------------------------------------------------------------------- npy


def test_read_depth_npy_metres(tmp_path, caplog):
    arr = np.array([[0.0, 1.5], [80.25, 3.0]], dtype=np.float64)
    np.save(tmp_path / "m.npy", arr)
    depth = read_depth(tmp_path / "m.npy", 1)
    assert depth.dtype == np.float32
    np.testing.assert_array_equal(depth, [[0.0, 1.5], [80.25, 3.0]])
    # .npy holds metres: the scale is validated but not applied
    np.testing.assert_array_equal(read_depth(tmp_path / "m.npy", "kitti"), depth)
    with pytest.raises(ConfigError, match="unknown depth encoding"):
        read_depth(tmp_path / "m.npy", "furlongs")
    np.save(tmp_path / "m1.npy", arr[None])  # (1, H, W) is squeezed
    assert read_depth(tmp_path / "m1.npy", 1.0).shape == (2, 2)
    np.save(tmp_path / "mm.npy", arr * 1000)  # millimetres by mistake: read, with a warning
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        assert read_depth(tmp_path / "mm.npy", 1).max() == 80250
    assert "mm.npy: depth up to 80250 m" in caplog.text


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.array([[1.0, np.nan]]), "1 NaN and 0 Inf"),
        (np.array([[np.inf, 2.0]]), "0 NaN and 1 Inf"),
        (np.array([[1.0, -2.0]]), "1 negative"),
        (np.array([[1, 2]], dtype=np.uint16), "floating-point"),
        (np.zeros((2, 2, 2)), "2-D"),
    ],
)
def test_bad_npy_is_a_data_error(tmp_path, values, message):
    path = tmp_path / "bad.npy"
    np.save(path, values)
    with pytest.raises(DataError, match=f"bad.npy.*{message}"):
        read_depth(path, 1)


def test_corrupt_npy(tmp_path):
    path = tmp_path / "c.npy"
    path.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match="c.npy"):
        read_depth(path, 1)


# --------------------------------------------------------------------------- writers


def test_write_depth_png_roundtrip_and_encoding(tmp_path):
    depth = np.array([[0.0, 1.0, 2.5], [np.nan, -1.0, 0.7]], dtype=np.float32)
    path = tmp_path / "sub" / "out.png"
    write_depth_png(path, depth, "kitti")
    raw = np.asarray(Image.open(path))
    assert raw.dtype == np.uint16
    # 0.7 m * 256 = 179.2 -> 179; NaN and negative -> 0 (invalid)
    assert raw.tolist() == [[0, 256, 640], [0, 0, 179]]
    back = read_depth(path, "kitti")
    np.testing.assert_allclose(back, [[0, 1.0, 2.5], [0, 0, 179 / 256]])
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.png"]  # no temp files left


def test_write_depth_png_clips_and_warns(tmp_path, caplog):
    depth = np.array([[300.0, 1.0, 1e-4]])
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        write_depth_png(tmp_path / "c.png", depth, 256.0)
    raw = np.asarray(Image.open(tmp_path / "c.png"))
    assert raw.tolist() == [[65535, 256, 1]]  # clipped; tiny positive stays valid
    text = caplog.text
    assert "1 depth values exceed 255.996 m" in text and "stored as 1" in text


def test_write_depth_npy_roundtrip(tmp_path, caplog):
    depth = np.array([[1.25, np.inf], [0.0, 7.5]])
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        write_depth_npy(tmp_path / "d.npy", depth)
    assert "1 NaN/Inf/negative" in caplog.text
    back = read_depth(tmp_path / "d.npy", 1)
    np.testing.assert_array_equal(back, [[1.25, 0.0], [0.0, 7.5]])


# --------------------------------------------------------------------------- real files


@pytest.mark.real_data
def test_real_kinect_pgm_nyu(real_data):
    folder = real_subdir(real_data, "nyu_kinect_seq5_slambook2")
    depth = read_depth(folder / "depth" / "1.pgm", "nyu")
    assert depth.shape == (480, 640) and depth.dtype == np.float32
    valid = depth > 0
    assert 0.60 < valid.mean() < 0.80  # README: 68-73 % valid
    assert 0.5 < depth[valid].min() and depth[valid].max() < 10.0
    # millimetres: every value is a multiple of 1 mm
    np.testing.assert_allclose(depth[valid] * 1000, np.round(depth[valid] * 1000), atol=1e-3)


@pytest.mark.real_data
def test_real_tum_depth_png(real_data):
    folder = real_subdir(real_data, "tum_fr1_desk_pair_slambook2")
    depth = read_depth(folder / "1_depth.png", "tum")
    assert depth.shape == (480, 640)
    valid = depth > 0
    assert 0.55 < valid.mean() < 0.75  # README: 66 % valid
    assert 0.9 < depth[valid].min() and depth[valid].max() < 10.6  # README: 0.97-10.5 m
    # the same file read with the wrong scale ('mm') would be 5x too far
    assert read_depth(folder / "1_depth.png", "mm")[valid].max() > 40


@pytest.mark.real_data
def test_real_kitti_rgb_and_grey(real_data):
    kitti = real_subdir(real_data, "kitti_object_frames_with_lidar")
    img = read_rgb(kitti / "kitti_object_vis" / "image_2" / "000000.png")
    assert img.shape == (370, 1224, 3) and img.dtype == np.uint8
    odo = real_subdir(real_data, "kitti_odometry_gray_slambook2")
    grey = read_rgb(odo / "000001.png")
    assert grey.shape == (376, 1241, 3)
    assert (grey[..., 0] == grey[..., 2]).all()
    with pytest.raises(DataError, match="000001.png.*8-bit"):
        read_depth(odo / "000001.png", "kitti")
