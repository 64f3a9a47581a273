"""Finding 10 of issue 11: ``kitti-gt`` takes a projection matrix (``P2 @ R0_rect @ Tr`` or a
4x4 ``lidar2img``) and gives exactly the maps of the object-format calibration."""

from __future__ import annotations

import argparse
import shutil

import numpy as np
import pytest
from PIL import Image

from litedepth.cli.kitti_gt import add_parser, run
from litedepth.data.kitti_gt import export_gt
from litedepth.errors import ConfigError, DataError
from litedepth.geometry.calibration import load_object_calib, load_projection_matrix
from litedepth.utils.arrays import read_map_archive
from tests.conftest import real_subdir

H, W = 30, 100


def _row(name, M):
    return f"{name}: " + " ".join(f"{v:.12e}" for v in np.asarray(M).ravel())


def _synthetic_object_root(root):
    """One frame: a scaled-down KITTI camera, a slightly rotated rectification, random points."""
    for d in ("image_2", "velodyne", "calib"):
        (root / d).mkdir(parents=True)
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(root / "image_2" / "000007.png")
    P2 = np.array([[58.0, 0, 50.3, 3.7], [0, 58.0, 14.9, 0.02], [0, 0, 1, 0.003]])
    a = 0.01
    R0 = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    Tr = np.array([[0, -1, 0, -0.004], [0, 0, -1, -0.076], [1, 0, 0, -0.27]])  # velodyne x forward
    (root / "calib" / "000007.txt").write_text("\n".join(
        [_row(f"P{i}", P2) for i in range(4)] + [_row("R0_rect", R0), _row("Tr_velo_to_cam", Tr),
                                                  _row("Tr_imu_to_velo", np.eye(3, 4))]) + "\n")
    rng = np.random.default_rng(3)
    x = rng.uniform(-5, 60, 4000)
    pts = np.stack([x, rng.uniform(-25, 25, 4000), rng.uniform(-2, 1, 4000), rng.uniform(0, 1, 4000)], 1)
    pts.astype(np.float32).tofile(root / "velodyne" / "000007.bin")
    return root


def _split(root, stems):
    path = root / "split.txt"
    path.write_text("\n".join(stems) + "\n")
    return path


def _compare(root, projection, tmp_path, stems):
    split = _split(root, stems)
    a = export_gt(root, tmp_path / "object", layout="object", split=split)
    b = export_gt(root, tmp_path / "matrix", layout="matrix", projection=projection, split=split)
    maps_a, names_a = read_map_archive(a.npz)
    maps_b, names_b = read_map_archive(b.npz)
    assert names_a == names_b == stems and a.valid_pixels == b.valid_pixels > 0
    for ma, mb in zip(maps_a, maps_b):
        np.testing.assert_array_equal(ma, mb)
    for pa, pb in zip(a.outputs, b.outputs):
        assert pa.read_bytes() == pb.read_bytes()


def test_projection_matrix_gives_the_object_maps_synthetic(tmp_path):
    root = _synthetic_object_root(tmp_path / "kitti")
    M = load_object_calib(root / "calib" / "000007.txt").velo_to_image
    np.savetxt(tmp_path / "p2_r0_tr.txt", M, fmt="%.17g")  # one 3x4 for every frame
    _compare(root, tmp_path / "p2_r0_tr.txt", tmp_path / "a", ["000007"])
    # mmdetection3d's 4x4 lidar2img in a per-frame folder, as .npy
    (tmp_path / "lidar2img").mkdir()
    np.save(tmp_path / "lidar2img" / "000007.npy", np.vstack([M, [0, 0, 0, 1]]))
    _compare(root, tmp_path / "lidar2img", tmp_path / "b", ["000007"])
    # camera z through the projection's third row, as through the calibration
    za = export_gt(root, tmp_path / "za", layout="object", camz=True).outputs[0].read_bytes()
    zb = export_gt(root, tmp_path / "zb", layout="matrix", projection=tmp_path / "p2_r0_tr.txt", camz=True).outputs[0].read_bytes()
    assert za == zb


def test_projection_errors(tmp_path):
    root = _synthetic_object_root(tmp_path / "kitti")
    (tmp_path / "bad.txt").write_text("1 2 3\n4 5 6\n")
    with pytest.raises(DataError, match=r"bad\.txt: expected a 3x4 or 4x4 projection matrix \(12 or 16 numbers\), got 6"):
        export_gt(root, tmp_path / "o", layout="matrix", projection=tmp_path / "bad.txt")
    (tmp_path / "bad4.txt").write_text(" ".join(["1"] * 16))
    with pytest.raises(DataError, match="must end in the row"):
        load_projection_matrix(tmp_path / "bad4.txt")
    (tmp_path / "per_frame").mkdir()
    with pytest.raises(DataError, match="no frame has an image, a Velodyne scan and a calibration"):
        export_gt(root, tmp_path / "o", layout="matrix", projection=tmp_path / "per_frame")
    with pytest.raises(DataError, match="not found"):
        export_gt(root, tmp_path / "o", layout="matrix", projection=tmp_path / "missing.txt")


def _parse(argv):
    parser = argparse.ArgumentParser(prog="litedepth")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["kitti-gt", *map(str, argv)])


def test_cli_matrix_format(tmp_path):
    root = _synthetic_object_root(tmp_path / "kitti")
    M = load_object_calib(root / "calib" / "000007.txt").velo_to_image
    np.savetxt(tmp_path / "m.txt", M, fmt="%.17g")
    assert run(_parse(["--calib-format", "matrix", "--projection", tmp_path / "m.txt", "--root", root,
                       "--out", tmp_path / "o", "--no-progress"])) == 0
    ref = export_gt(root, tmp_path / "ref", layout="object")
    assert (tmp_path / "o" / "000007.png").read_bytes() == ref.outputs[0].read_bytes()
    with pytest.raises(ConfigError, match="--projection goes with --calib-format matrix"):
        run(_parse(["--calib-format", "matrix", "--root", root, "--out", tmp_path / "o2"]))
    with pytest.raises(ConfigError, match="--projection goes with"):
        run(_parse(["--calib-format", "object", "--projection", tmp_path / "m.txt", "--root", root,
                    "--out", tmp_path / "o2"]))


@pytest.mark.real_data
def test_projection_matrix_gives_the_object_maps_real_frames(real_data, tmp_path):
    src = real_subdir(real_data, "kitti_object_frames_with_lidar") / "kitti_object_vis"
    root = tmp_path / "kitti"
    shutil.copytree(src, root, ignore=shutil.ignore_patterns("label_2"))
    stems = ["000000", "000001", "000002"]
    (tmp_path / "proj").mkdir()
    for stem in stems:  # one composed P2 @ R0_rect @ Tr_velo_to_cam per frame
        M = load_object_calib(root / "calib" / f"{stem}.txt").velo_to_image
        np.savetxt(tmp_path / "proj" / f"{stem}.txt", M, fmt="%.17g")
    _compare(root, tmp_path / "proj", tmp_path, stems)
