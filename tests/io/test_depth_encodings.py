"""The depth-encoding registry: known values for every encoding, written with the dataset's
convention and read back, and the refusals (finding 4 of issue 11)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from litedepth.io.images import read_depth
from litedepth.errors import ConfigError, DataError
from litedepth.io.depth_encodings import (
    decode_depth,
    encode_depth,
    encoding_for_file,
    kinect_raw_to_metres,
    list_encodings,
    parse_encoding,
    read_pfm,
    write_pfm,
)
from tests.conftest import real_subdir


def _png16(path, values):
    Image.fromarray(np.asarray(values, dtype=np.uint16)).save(path)
    return path


def _pgm(path, values, order="<", comment=b""):
    arr = np.asarray(values, dtype=f"{order}u2")
    path.write_bytes(b"P5\n" + comment + f"{arr.shape[1]} {arr.shape[0]}\n65535\n".encode() + arr.tobytes())
    return path


# --------------------------------------------------------------------------- parsing


def test_names_aliases_and_numbers():
    assert parse_encoding("KITTI").scale == 256.0
    for alias in ("nyu", "kinect", "mm", "scannet", " NYU "):
        assert parse_encoding(alias).name == "mm" and parse_encoding(alias).scale == 1000.0
    assert parse_encoding("tum").scale == 5000.0
    assert parse_encoding("sun-rgbd").name == "sunrgbd" and parse_encoding("sunrgbd").scale is None
    assert parse_encoding("kinect-raw").name == "nyu-raw"
    assert parse_encoding("256").scale == 256.0 and parse_encoding("256").name == "256"
    assert parse_encoding(5000).scale == 5000.0 and parse_encoding(np.float32(0.5)).scale == 0.5
    enc = parse_encoding("tiff-float")
    assert parse_encoding(enc) is enc
    # the recorded name gives the same encoding back
    for enc in list_encodings():
        assert parse_encoding(enc.to_dict()["name"]) == enc


@pytest.mark.parametrize("bad", [None, True, 0, -1.0, float("nan"), float("inf"), "0", [256]])
def test_invalid_specs_are_config_errors(bad):
    with pytest.raises(ConfigError):
        parse_encoding(bad)


def test_unknown_and_ambiguous_names_list_the_choices():
    with pytest.raises(ConfigError, match="unknown depth encoding 'furlongs'.*kitti.*sunrgbd.*nyu-raw.*a number"):
        parse_encoding("furlongs")
    with pytest.raises(ConfigError, match="'pfm' is ambiguous.*pfm-depth.*middlebury"):
        parse_encoding("pfm")
    with pytest.raises(ConfigError, match="'pgm' is ambiguous.*nyu-raw"):
        parse_encoding("pgm")


# --------------------------------------------------------------------------- linear uint16


@pytest.mark.parametrize(("name", "depth", "stored"), [
    ("kitti", [[0.0, 1.0, 2.5]], [[0, 256, 640]]),          # KITTI: metres * 256
    ("tum", [[0.0, 1.0, 0.2]], [[0, 5000, 1000]]),          # TUM RGB-D: metres * 5000
    ("nyu", [[0.0, 1.234, 9.8]], [[0, 1234, 9800]]),        # NYU / Kinect: millimetres
    ("256", [[0.0, 1.0, 2.5]], [[0, 256, 640]]),            # a number: metres * number
])
def test_linear_encodings_known_values(tmp_path, name, depth, stored):
    path = tmp_path / "d.png"
    encode_depth(path, np.array(depth), name)
    assert np.asarray(Image.open(path)).tolist() == stored
    np.testing.assert_allclose(decode_depth(path, name), depth, rtol=1e-6)


def test_linear_pgm_is_standard_big_endian(tmp_path):
    path = tmp_path / "d.pgm"
    encode_depth(path, np.array([[1.0, 2.5]]), "mm")
    assert path.read_bytes().endswith(np.array([1000, 2500], ">u2").tobytes())
    np.testing.assert_allclose(read_depth(path, "nyu"), [[1.0, 2.5]])


# --------------------------------------------------------------------------- SUN RGB-D


def test_sunrgbd_bit_rotation_known_value(tmp_path):
    # 9000 mm = 0x2328; rotated left by 3 bits: (9000 << 3) & 0xFFFF = 6464, | (9000 >> 13) = 1
    path = tmp_path / "sun.png"
    encode_depth(path, np.array([[9.0, 0.0]]), "sunrgbd")
    assert np.asarray(Image.open(path)).tolist() == [[6465, 0]]
    np.testing.assert_allclose(decode_depth(path, "sunrgbd"), [[9.0, 0.0]])


def test_sunrgbd_png_written_by_hand_decodes_and_linear_misreads_it(tmp_path):
    """Finding 4: a SUN RGB-D PNG read as plain millimetres is silently wrong (6.465 m for 9 m)."""
    path = _png16(tmp_path / "sun.png", [[6465, 8, 0], [1, 12000, 32768]])
    depth = read_depth(path, "sunrgbd")
    # 6465 -> 9000 mm; 8 = 0b1000 -> 1 mm; the low 3 bits go to the top: 1 -> 1 << 13 = 8192 mm;
    # 12000 = 1500 << 3 -> 1500 mm; 32768 = 1 << 15 -> 1 << 12 = 4096 mm
    np.testing.assert_allclose(depth, [[9.0, 0.001, 0.0], [8.192, 1.5, 4.096]], rtol=1e-6)
    assert read_depth(path, "mm")[0, 0] == pytest.approx(6.465)  # what a plain mm reader says


# --------------------------------------------------------------------------- NYU v2 raw Kinect


def test_kinect_raw_formula_and_invalid_values():
    raw = np.array([800, 2047, 0, 1080, 1092, 1100, 1057])
    depth = kinect_raw_to_metres(raw)
    np.testing.assert_allclose(depth[0], 351.3 / (1092.5 - 800), rtol=1e-6)  # 1.2010 m
    assert depth[0] == pytest.approx(1.2010256, rel=1e-6)
    assert depth[1] == 0.0  # 2047 = no return
    assert depth[2] == pytest.approx(351.3 / 1092.5, rel=1e-6)
    assert depth[3] == 0.0 and depth[4] == 0.0  # 28 m and 703 m: implausible, invalid
    assert depth[5] == 0.0  # negative: invalid
    assert depth[6] == pytest.approx(351.3 / 35.5, rel=1e-6)  # 9.90 m, the far end of the range


def test_nyu_raw_pgm_little_endian_as_dumped(tmp_path):
    """Finding 4: NYU v2 raw dumps are little-endian raw disparity; today's reader misread them."""
    raw = [[800, 2047, 900], [1000, 0, 1057]]
    path = _pgm(tmp_path / "r.pgm", raw, "<", comment=b"# NYU raw dump\n")
    depth = read_depth(path, "nyu-raw")
    expected = 351.3 / (1092.5 - np.array(raw, np.float64))
    expected[0, 1] = 0.0
    np.testing.assert_allclose(depth, expected, rtol=1e-6)
    assert depth.dtype == np.float32 and depth.shape == (2, 3)
    # the .pgm does not say what it holds: without a named encoding it is refused
    with pytest.raises(ConfigError, match=r"r\.pgm: no depth encoding given; a \.pgm is not self-describing.*nyu-raw"):
        read_depth(path)
    # read as millimetres (what the folder dataset did), 800 becomes 8.195 m instead of 1.20 m
    assert read_depth(path, "nyu")[0, 0] == pytest.approx(0x2003 / 1000)


def test_nyu_raw_big_endian_needs_its_name(tmp_path):
    raw = [[800, 2047], [1000, 0]]
    path = _pgm(tmp_path / "be.pgm", raw, ">")
    with pytest.raises(DataError, match=r"be\.pgm: values up to .* 11-bit.*'nyu-raw-be'"):
        read_depth(path, "nyu-raw")
    np.testing.assert_allclose(read_depth(path, "nyu-raw-be")[1, 0], 351.3 / 92.5, rtol=1e-6)
    # and a millimetre PGM is not raw disparity: refused, not misread
    mm = _pgm(tmp_path / "mm.pgm", [[1500, 9800]], ">")
    with pytest.raises(DataError, match="11-bit"):
        read_depth(mm, "nyu-raw-be")


def test_nyu_raw_round_trip(tmp_path):
    depth = np.array([[1.2, 0.0, 4.0], [9.5, 30.0, 0.5]])
    path = tmp_path / "w.pgm"
    encode_depth(path, depth, "nyu-raw")
    back = read_depth(path, "nyu-raw")
    assert back[0, 1] == 0.0 and back[1, 1] == 0.0  # invalid and out of range
    valid = np.array([[1, 0, 1], [1, 0, 1]], bool)
    # one raw step is 351.3 / (1092.5 - raw)^2 m: about 1 % at 4 m, 2.6 % at 9.5 m
    np.testing.assert_allclose(back[valid], depth[valid], rtol=0.03)


# --------------------------------------------------------------------------- float formats


def test_npy_needs_no_name_and_keeps_metres(tmp_path):
    path = tmp_path / "d.npy"
    encode_depth(path, np.array([[1.5, 0.0]]), "npy")
    np.testing.assert_array_equal(decode_depth(path), [[1.5, 0.0]])
    np.testing.assert_array_equal(decode_depth(path, "kitti"), [[1.5, 0.0]])  # validated, not applied


def test_pfm_depth_orientation_byte_order_and_invalid(tmp_path):
    # a big-endian PFM (scale +1) written by hand: rows are stored bottom to top
    stored = np.array([[3.0, np.inf], [1.0, 2.0]], ">f4")  # file order: bottom row first
    path = tmp_path / "d.pfm"
    path.write_bytes(b"Pf\n2 2\n1.0\n" + stored.tobytes())
    np.testing.assert_array_equal(read_pfm(path), [[1.0, 2.0], [3.0, np.inf]])
    np.testing.assert_array_equal(read_depth(path, "pfm-depth"), [[1.0, 2.0], [3.0, 0.0]])
    out = tmp_path / "w.pfm"
    encode_depth(out, np.array([[0.5, -1.0], [7.25, np.nan]]), "pfm-depth")
    np.testing.assert_array_equal(read_depth(out, "pfm-depth"), [[0.5, 0.0], [7.25, 0.0]])
    with pytest.raises(ConfigError, match="a PFM may hold depth or disparity"):
        read_depth(out)


def test_middlebury_disparity_with_calibration(tmp_path):
    (tmp_path / "calib.txt").write_text(
        "cam0=[994.978 0 311.193; 0 994.978 254.877; 0 0 1]\ncam1=[994.978 0 342.279; 0 994.978 254.877; 0 0 1]\n"
        "doffs=31.086\nbaseline=193.001\nwidth=741\nheight=500\n")
    write_pfm(tmp_path / "disp0.pfm", np.array([[10.0, np.inf], [50.0, 0.0]], np.float32))
    depth = read_depth(tmp_path / "disp0.pfm", "middlebury")
    np.testing.assert_allclose(depth[0, 0], 0.193001 * 994.978 / (10.0 + 31.086), rtol=1e-6)  # 4.674 m
    np.testing.assert_allclose(depth[1, 0], 0.193001 * 994.978 / 81.086, rtol=1e-6)
    assert depth[0, 1] == 0.0  # inf = unknown
    with pytest.raises(ConfigError, match="can be read but not written"):
        encode_depth(tmp_path / "x.pfm", depth, "middlebury")
    (tmp_path / "calib.txt").unlink()
    with pytest.raises(DataError, match="calib.txt"):
        read_depth(tmp_path / "disp0.pfm", "middlebury")


def test_float_tiff_metres(tmp_path):
    path = tmp_path / "d.tif"
    encode_depth(path, np.array([[1.25, np.nan], [0.0, 80.5]]), "tiff-float")
    assert Image.open(path).mode == "F"
    np.testing.assert_array_equal(read_depth(path, "float-tiff"), [[1.25, 0.0], [0.0, 80.5]])
    # a 16-bit TIFF is integer depth: it needs a scale, and tiff-float refuses it
    _png16(tmp_path / "i.tif", [[1000]])
    np.testing.assert_allclose(read_depth(tmp_path / "i.tif", "mm"), [[1.0]])
    with pytest.raises(DataError, match="not a 32-bit float TIFF"):
        read_depth(tmp_path / "i.tif", "tiff-float")


# --------------------------------------------------------------------------- refusals


def test_png_without_encoding_and_mismatched_suffix(tmp_path):
    path = _png16(tmp_path / "d.png", [[256]])
    with pytest.raises(ConfigError, match=r"d\.png: no depth encoding given; a 16-bit PNG.*'kitti'"):
        read_depth(path)
    with pytest.raises(DataError, match=r"d\.png: depth encoding 'nyu-raw' reads \.pgm files, not \.png"):
        read_depth(path, "nyu-raw")
    with pytest.raises(DataError, match="reads .pfm files"):
        encoding_for_file(tmp_path / "x.png", "pfm-depth")


@pytest.mark.real_data
def test_real_kinect_pgm_is_millimetres_not_raw_disparity(real_data):
    folder = real_subdir(real_data, "nyu_kinect_seq5_slambook2")
    path = folder / "depth" / "1.pgm"
    mm = read_depth(path, "nyu")
    assert 0.5 < mm[mm > 0].min() and mm.max() < 10.0
    with pytest.raises(DataError, match="11-bit"):  # naming the wrong encoding is refused, not misread
        read_depth(path, "nyu-raw")
    with pytest.raises(ConfigError, match="not self-describing"):
        read_depth(path)


def test_the_evaluation_png_reader_is_the_linear_encoding(tmp_path):
    """metrics.read_depth_png (value / gt_scale) reads through the registry: the same numbers and
    the same refusal of an 8-bit image."""
    from litedepth.metrics import read_depth_png

    path = _png16(tmp_path / "gt.png", [[0, 256], [512, 65535]])
    np.testing.assert_array_equal(read_depth_png(path), np.array([[0, 1], [2, 65535 / 256]], np.float32))
    np.testing.assert_array_equal(read_depth_png(path, 1000.0), decode_depth(path, "mm"))
    Image.fromarray(np.full((2, 2), 7, np.uint8)).save(tmp_path / "vis.png")
    with pytest.raises(DataError, match="vis.png: expected a single-channel 16-bit depth PNG.*mode L"):
        read_depth_png(tmp_path / "vis.png")
