"""``litedepth kitti-gt`` through a parser built with ``add_parser``."""

from __future__ import annotations

import argparse
import shutil

import numpy as np
import pytest
from PIL import Image

from litedepth.cli.kitti_gt import add_parser, run
from litedepth.io.images import read_depth
from litedepth.errors import ConfigError, DataError
from litedepth.utils.arrays import read_map_archive
from tests.conftest import real_subdir

DRIVE = "2011_09_26/2011_09_26_drive_0001_sync"


def _parse(argv):
    parser = argparse.ArgumentParser(prog="litedepth")
    sub = parser.add_subparsers(dest="command")
    returned = add_parser(sub)
    assert isinstance(returned, argparse.ArgumentParser)
    return parser.parse_args(["kitti-gt", *map(str, argv)])


def test_parser_defaults_and_required():
    args = _parse(["--calib-format", "raw", "--root", "r", "--out", "o"])
    assert args.calib_format == "raw" and args.split is None and not args.camz
    assert args.side is None and not args.overwrite and args.func is run
    with pytest.raises(SystemExit):
        _parse(["--calib-format", "velodyne", "--root", "r", "--out", "o"])
    with pytest.raises(SystemExit):
        _parse(["--root", "r", "--out", "o"])


def test_option_errors(tmp_path):
    with pytest.raises(ConfigError, match="--side"):
        run(_parse(["--calib-format", "raw", "--root", tmp_path, "--out", tmp_path / "o",
                    "--split", tmp_path / "s.txt", "--side", "r"]))
    with pytest.raises(ConfigError, match="--out must differ"):
        run(_parse(["--calib-format", "object", "--root", tmp_path, "--out", tmp_path]))
    with pytest.raises(DataError, match="image_2.*folder not found"):
        run(_parse(["--calib-format", "object", "--root", tmp_path, "--out", tmp_path / "o"]))


@pytest.mark.real_data
def test_cli_object_real_frames(real_data, tmp_path):
    root = real_subdir(real_data, "kitti_object_frames_with_lidar") / "kitti_object_vis"
    out = tmp_path / "gt"
    assert run(_parse(["--calib-format", "object", "--root", root, "--out", out,
                       "--no-progress"])) == 0
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    vel = read_depth(out / "000001.png", "kitti")
    assert vel.shape == (375, 1242) and 5_000 < (vel > 0).sum() < 60_000
    assert run(_parse(["--calib-format", "object", "--root", root, "--out", tmp_path / "z",
                       "--camz"])) == 0
    camz = read_depth(tmp_path / "z" / "000001.png", "kitti")
    valid = vel > 0
    assert ((camz > 0) == valid).all() and not np.array_equal(camz, vel)


@pytest.mark.real_data
def test_cli_raw_split_npz(real_data, tmp_path):
    calib = real_subdir(real_data, "kitti_calib_2011_09_26")
    root = tmp_path / "raw"
    (root / "2011_09_26").mkdir(parents=True)
    for name in ("calib_cam_to_cam.txt", "calib_velo_to_cam.txt"):
        shutil.copy(calib / name, root / "2011_09_26" / name)
    velo = root / DRIVE / "velodyne_points" / "data"
    velo.mkdir(parents=True)
    np.array([[8.0, 0.0, 0.0, 1.0], [30.0, 2.0, -1.0, 0.2]], np.float32).tofile(
        velo / "0000000005.bin")
    (root / DRIVE / "image_02" / "data").mkdir(parents=True)
    Image.new("RGB", (1242, 375)).save(root / DRIVE / "image_02" / "data" / "0000000005.png")
    split = tmp_path / "files.txt"
    split.write_text(f"{DRIVE} 5 l\n")
    out = tmp_path / "gt"
    assert run(_parse(["--calib-format", "raw", "--root", root, "--out", out,
                       "--split", split])) == 0
    data, names = read_map_archive(out / "gt_depths.npz")
    assert names == [DRIVE.split("/")[-1] + "_0000000005_l"] and len(data) == 1
    assert sorted(data[0][data[0] > 0].tolist()) == [8.0, 30.0]
    png = read_depth(out / DRIVE / "image_02" / "0000000005.png", "kitti")
    np.testing.assert_array_equal(png, data[0])  # 8 and 30 m are exact in 1/256 m steps
