"""KITTI GT export: object and raw layouts, split files, resume, real frames."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from PIL import Image

from litedepth.io.images import read_depth
from litedepth.data.kitti_gt import (
    export_gt,
    find_object_frames,
    object_frame_depth,
    read_split_file,
)
from litedepth.errors import ConfigError, DataError
from litedepth.geometry.calibration import load_raw_calib_dir
from litedepth.geometry.velodyne import velodyne_to_depth
from litedepth.utils.arrays import read_map_archive
from tests.conftest import real_subdir

# --------------------------------------------------------------------------- an independent reference


def _parse_object_calib(path):
    values = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            key, rest = line.split(":", 1)
            values[key] = [float(t) for t in rest.split()]
    P = np.array(values["P2"]).reshape(3, 4)
    R = np.eye(4)
    R[:3, :3] = np.array(values["R0_rect"]).reshape(3, 3)
    T = np.eye(4)
    T[:3, :] = np.array(values["Tr_velo_to_cam"]).reshape(3, 4)
    return P @ R @ T


def _loop_depth(bin_path, M, height, width):
    """Straightforward per-point version of the Eigen protocol (velodyne x as depth)."""
    pts = np.fromfile(bin_path, dtype=np.float32).reshape(-1, 4).astype(np.float64).tolist()
    m = M.tolist()
    best = {}
    for x, y, z, _ in pts:
        if x < 0:
            continue
        uh = m[0][0] * x + m[0][1] * y + m[0][2] * z + m[0][3]
        vh = m[1][0] * x + m[1][1] * y + m[1][2] * z + m[1][3]
        w = m[2][0] * x + m[2][1] * y + m[2][2] * z + m[2][3]
        col = round(uh / w) - 1  # Python's round() is half-to-even, like numpy
        row = round(vh / w) - 1
        if 0 <= col < width and 0 <= row < height:
            if (row, col) not in best or x < best[(row, col)]:
                best[(row, col)] = x
    out = np.zeros((height, width), dtype=np.float32)
    for (row, col), d in best.items():
        out[row, col] = max(d, 0.0)
    return out


# --------------------------------------------------------------------------- split files


def test_read_split_file(tmp_path):
    path = tmp_path / "split.txt"
    path.write_text(
        "2011_09_26/2011_09_26_drive_0002_sync 0000000069 l\n\n"
        "2011_09_26/2011_09_26_drive_0002_sync 54 r\n"
    )
    entries = read_split_file(path)
    assert [(e.folder, e.frame, e.side, e.camera) for e in entries] == [
        ("2011_09_26/2011_09_26_drive_0002_sync", 69, "l", 2),
        ("2011_09_26/2011_09_26_drive_0002_sync", 54, "r", 3),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2011_09_26/drive 0000000069", "line 2: expected"),
        ("2011_09_26/drive 00x1 l", "line 2: frame index '00x1'"),
        ("2011_09_26/drive 1 c", "line 2: side 'c'"),
        ("drive_only 1 l", "line 2: folder 'drive_only'"),
    ],
)
def test_bad_split_lines(tmp_path, line, message):
    path = tmp_path / "bad_split.txt"
    path.write_text(f"2011_09_26/drive 1 l\n{line}\n")
    with pytest.raises(DataError, match="bad_split.txt") as info:
        read_split_file(path)
    assert message in str(info.value)


# --------------------------------------------------------------------------- object layout


def _object_tree(root, image_stems, velo_stems, calib_stems):
    for sub in ("image_2", "velodyne", "calib"):
        (root / sub).mkdir(parents=True)
    for s in image_stems:
        Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(root / "image_2" / f"{s}.png")
    for s in velo_stems:
        np.zeros((1, 4), np.float32).tofile(root / "velodyne" / f"{s}.bin")
    for s in calib_stems:
        (root / "calib" / f"{s}.txt").write_text("P2: 1 0 0 0 0 1 0 0 0 0 1 0\n")
    return root


def test_object_stems_match_exactly_then_by_number(tmp_path, caplog):
    root = _object_tree(tmp_path / "o", ["0000000001", "000002", "7"], ["0000000001", "000002"],
                        ["000001", "000002", "000007"])
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        frames = find_object_frames(root)
    assert "1 image(s) without a matching scan or calibration skipped: [7]" in caplog.text
    assert [(f.stem, f.velodyne.name, f.calib.name) for f in frames] == [
        ("0000000001", "0000000001.bin", "000001.txt"),
        ("000002", "000002.bin", "000002.txt"),
    ]  # numeric order; "7" has no scan: skipped with a warning


def test_object_no_match_lists_stems(tmp_path):
    root = _object_tree(tmp_path / "o", ["a1", "a2"], ["b1"], ["c1"])
    with pytest.raises(DataError, match="no frame") as info:
        find_object_frames(root)
    text = str(info.value)
    assert "image_2/ stems [a1, a2]" in text and "velodyne/ stems [b1]" in text
    assert "calib/ stems [c1]" in text
    shutil.rmtree(root / "calib")
    with pytest.raises(DataError, match="calib.*folder not found"):
        find_object_frames(root)


@pytest.mark.real_data
def test_real_object_frames_export(real_data, tmp_path):
    base = real_subdir(real_data, "kitti_object_frames_with_lidar")
    root = base / "kitti_object_vis"
    summary = export_gt(root, tmp_path / "gt", layout="object")
    assert summary.written == 3 and summary.skipped == 0 and summary.npz is None
    assert [p.name for p in summary.outputs] == ["000000.png", "000001.png", "000002.png"]
    frames = find_object_frames(root)
    for frame, png in zip(frames, summary.outputs):
        depth = object_frame_depth(frame)
        h, w = Image.open(frame.image).size[::-1]
        assert depth.shape == (h, w)
        valid = depth > 0
        assert 5_000 < valid.sum() < 60_000  # ~18-20 k LiDAR pixels per KITTI frame
        assert 0 < depth[valid].min() and depth[valid].max() < 120
        reference = _loop_depth(frame.velodyne, _parse_object_calib(frame.calib), h, w)
        np.testing.assert_array_equal(valid, reference > 0)
        np.testing.assert_allclose(depth, reference, rtol=1e-6)
        from_png = read_depth(png, "kitti")
        np.testing.assert_array_equal(from_png > 0, valid)
        assert np.abs(from_png - depth).max() <= 0.5 / 256 + 1e-6
        # the camera-z convention differs from velodyne x by a few cm, on the same pixels
        camz = object_frame_depth(frame, camz=True)
        assert ((camz > 0) == valid).all()
        assert 0.01 < np.median(np.abs(camz - depth)[valid]) < 0.5


@pytest.mark.real_data
def test_real_balcilar_frame_stems_differ(real_data, tmp_path):
    root = real_subdir(real_data, "kitti_object_frames_with_lidar") / "balcilar_DenseDepthMap"
    summary = export_gt(root, tmp_path / "gt", layout="object")
    assert [p.name for p in summary.outputs] == ["0000000001.png"]
    frame = find_object_frames(root)[0]
    assert frame.calib.name == "000001.txt"
    depth = read_depth(summary.outputs[0], "kitti")
    assert depth.shape == (375, 1242)
    valid = depth > 0
    assert 5_000 < valid.sum() < 60_000 and depth[valid].max() < 120
    reference = _loop_depth(frame.velodyne, _parse_object_calib(frame.calib), 375, 1242)
    np.testing.assert_array_equal(valid, reference > 0)
    # right camera: image_3 with P3 gives a different but similar map
    right = export_gt(root, tmp_path / "gt_r", layout="object", camera=3)
    depth_r = read_depth(right.outputs[0], "kitti")
    assert (depth_r > 0).sum() > 5_000 and not np.array_equal(depth_r > 0, valid)


@pytest.mark.real_data
def test_object_split_writes_npz(real_data, tmp_path):
    root = real_subdir(real_data, "kitti_object_frames_with_lidar") / "kitti_object_vis"
    split = tmp_path / "val.txt"
    split.write_text("000002\n000000\n")
    summary = export_gt(root, tmp_path / "gt", layout="object", split=split)
    assert [p.name for p in summary.outputs] == ["000002.png", "000000.png"]
    data, names = read_map_archive(summary.npz)
    assert names == ["000002", "000000"] and len(data) == 2
    frames = {f.stem: f for f in find_object_frames(root)}
    np.testing.assert_array_equal(data[0], object_frame_depth(frames["000002"]))
    np.testing.assert_array_equal(data[1], object_frame_depth(frames["000000"]))
    split.write_text("000002\n000009\n")
    with pytest.raises(DataError, match="split frame '000009' has no file"):
        export_gt(root, tmp_path / "gt2", layout="object", split=split)


# --------------------------------------------------------------------------- raw layout

DRIVE = "2011_09_26/2011_09_26_drive_0002_sync"


def _fake_raw_tree(real_data, root):
    """Real 2011_09_26 calibration + synthetic scans for frames 54 and 69."""
    calib_src = real_subdir(real_data, "kitti_calib_2011_09_26")
    date = root / "2011_09_26"
    date.mkdir(parents=True)
    for name in ("calib_cam_to_cam.txt", "calib_velo_to_cam.txt"):
        shutil.copy(calib_src / name, date / name)
    drive = root / DRIVE
    (drive / "velodyne_points" / "data").mkdir(parents=True)
    for cam in ("image_02", "image_03"):
        (drive / cam / "data").mkdir(parents=True)
    for frame, dist in ((54, 20.0), (69, 10.0)):
        lateral = [-3.0, -1.0, 0.0, 1.0, 3.0]
        pts = [[dist, y, 0.0, 0.5] for y in lateral]
        pts += [[-dist, 0.0, 0.0, 0.5], [dist, 200.0, 0.0, 0.5]]  # behind, far out of view
        np.array(pts, np.float32).tofile(drive / "velodyne_points" / "data" / f"{frame:010d}.bin")
        for cam in ("image_02", "image_03"):
            Image.new("RGB", (1242, 375)).save(drive / cam / "data" / f"{frame:010d}.png")
    return root


@pytest.mark.real_data
def test_fake_raw_tree_with_split(real_data, tmp_path):
    root = _fake_raw_tree(real_data, tmp_path / "raw")
    split = tmp_path / "test_files.txt"
    split.write_text(f"{DRIVE} 0000000069 l\n{DRIVE} 0000000054 l\n{DRIVE} 69 r\n")
    out = tmp_path / "gt"
    summary = export_gt(root, out, layout="raw", split=split)
    assert summary.written == 3
    assert [p.relative_to(out).as_posix() for p in summary.outputs] == [
        f"{DRIVE}/image_02/0000000069.png", f"{DRIVE}/image_02/0000000054.png",
        f"{DRIVE}/image_03/0000000069.png",
    ]
    data, names = read_map_archive(out / "gt_depths.npz")  # pickle-free: one array per frame
    assert names == ["2011_09_26_drive_0002_sync_0000000069_l", "2011_09_26_drive_0002_sync_0000000054_l",
                     "2011_09_26_drive_0002_sync_0000000069_r"]
    for depth, dist in zip(data, (10.0, 20.0, 10.0)):
        assert depth.dtype == np.float32 and depth.shape == (375, 1242)
        # five points in view, each on its own pixel, depth = velodyne x exactly
        assert np.count_nonzero(depth) == 5
        assert set(depth[depth > 0].tolist()) == {dist}
    # left and right maps of frame 69 put the points on different columns
    assert not np.array_equal(data[0] > 0, data[2] > 0)
    calib_l = load_raw_calib_dir(root / "2011_09_26", 2)
    scan = np.fromfile(root / DRIVE / "velodyne_points/data/0000000069.bin", np.float32)
    np.testing.assert_array_equal(data[0], velodyne_to_depth(scan.reshape(-1, 4), calib_l))
    # a point 10 m ahead on the velodyne axis lands near the principal point (609.6, 172.9)
    rows, cols = np.nonzero(data[0])
    centre = np.argmin(np.abs(cols - 609))
    assert abs(rows[centre] - 172) < 15 and abs(cols[centre] - 609) < 15
    # PNG round trip: metres * 256
    png = read_depth(summary.outputs[1], "kitti")
    assert set(png[png > 0].tolist()) == {20.0}

    # resume: nothing rewritten, npz kept
    before = (out / "gt_depths.npz").stat().st_mtime_ns
    again = export_gt(root, out, layout="raw", split=split)
    assert again.written == 0 and again.skipped == 3
    assert (out / "gt_depths.npz").stat().st_mtime_ns == before
    # a killed run: one PNG and the npz missing -> only that PNG is written, npz rebuilt equal
    summary.outputs[1].unlink()
    (out / "gt_depths.npz").unlink()
    resumed = export_gt(root, out, layout="raw", split=split)
    assert resumed.written == 1 and resumed.skipped == 2
    data2, _ = read_map_archive(out / "gt_depths.npz")
    for a, b in zip(data, data2):
        np.testing.assert_array_equal(a, b)
    assert export_gt(root, out, layout="raw", split=split, overwrite=True).written == 3
    # Monodepth2's layout on request: the same maps as a pickled object array under "data"
    export_gt(root, out, layout="raw", split=split, overwrite=True, npz_layout="monodepth2")
    with np.load(out / "gt_depths.npz", allow_pickle=True) as z:  # our own file, in a test
        legacy = z["data"]
    assert legacy.dtype == object and len(legacy) == 3
    for a, b in zip(data, legacy):
        np.testing.assert_array_equal(a, b)


@pytest.mark.real_data
def test_fake_raw_tree_without_split_and_missing_frame(real_data, tmp_path):
    root = _fake_raw_tree(real_data, tmp_path / "raw")
    summary = export_gt(root, tmp_path / "gt", layout="raw")
    assert [p.name for p in summary.outputs] == ["0000000054.png", "0000000069.png"]
    assert summary.npz is None and not (tmp_path / "gt" / "gt_depths.npz").exists()
    split = tmp_path / "s.txt"
    split.write_text(f"{DRIVE} 70 l\n")
    with pytest.raises(DataError, match="1 of 1 split frames have no Velodyne scan"):
        export_gt(root, tmp_path / "gt2", layout="raw", split=split)
    (root / "2011_09_26" / "calib_velo_to_cam.txt").write_text("R: 1 0 0 0 1 0 0 0 1\n")
    with pytest.raises(DataError, match="calib_velo_to_cam.txt.*missing key 'T'"):
        export_gt(root, tmp_path / "gt3", layout="raw")


# --------------------------------------------------------------------------- empty scans


def test_empty_scan_is_an_error_or_a_counted_skip(tmp_path, caplog):
    from litedepth.geometry.velodyne import EmptyScanError
    from tests.helpers import write_kitti_object_tree

    root = write_kitti_object_tree(tmp_path / "kitti", ["000000", "000001", "000002"], empty=("000001",))
    with pytest.raises(EmptyScanError, match=r"000001\.bin: empty Velodyne scan \(0 bytes.*--skip-empty-scans"):
        export_gt(root, tmp_path / "gt", layout="object")
    assert not (tmp_path / "gt").exists()  # found before anything was written
    with caplog.at_level(logging.INFO, logger="litedepth"):
        summary = export_gt(root, tmp_path / "gt", layout="object", skip_empty_scans=True)
    assert [p.name for p in summary.empty_scans] == ["000001.bin"]
    assert sorted(p.name for p in (tmp_path / "gt").iterdir()) == ["000000.png", "000002.png"]
    assert [p.name for p in summary.outputs] == ["000000.png", "000002.png"]
    assert summary.written + summary.skipped == 2 and summary.valid_pixels > 0
    assert "1 empty scans skipped" in caplog.text
    assert read_depth(tmp_path / "gt" / "000000.png", "kitti").any()  # the fixture's scans do project
    (tmp_path / "split.txt").write_text("000000\n000002\n")
    with pytest.raises(ConfigError, match="--skip-empty-scans cannot be used with --split"):
        export_gt(root, tmp_path / "gt2", layout="object", split=tmp_path / "split.txt", skip_empty_scans=True)


# --------------------------------------------------------------------------- one exporter, one parser


@pytest.mark.parametrize(
    ("old", "layout", "extra"),
    [("export_object_gt", "object", {}), ("export_raw_gt", "raw", {}), ("export_matrix_gt", "matrix", {"projection": "p.txt"})],
)
def test_old_export_names_are_deprecated_wrappers_of_export_gt(tmp_path, monkeypatch, old, layout, extra):
    import litedepth.data.kitti_gt as kg
    import litedepth.data.kitti_gt.export as kg_export

    calls = []
    monkeypatch.setattr(kg_export, "export_gt", lambda root, out, **kw: calls.append((root, out, kw)) or "summary")
    with pytest.warns(DeprecationWarning, match=f"layout='{layout}'"):
        assert getattr(kg, old)(tmp_path, tmp_path / "out", camera=3, **extra) == "summary"
    assert calls == [(tmp_path, tmp_path / "out", {"layout": layout, "camera": 3, **extra})]


def test_export_gt_refuses_an_unknown_layout_and_a_matrix_without_projection(tmp_path):
    with pytest.raises(ConfigError, match="unknown KITTI layout 'velo'"):
        export_gt(tmp_path, tmp_path / "out", layout="velo")
    with pytest.raises(ConfigError, match="projection"):
        export_gt(tmp_path, tmp_path / "out", layout="matrix")


def test_training_gt_export_and_evaluation_read_split_files_with_one_parser(tmp_path):
    import litedepth.data.kitti_raw as kitti_raw
    import litedepth.io.kitti_splits as splits
    from litedepth.metrics import read_split, split_key

    lines = ["2011_09_26/2011_09_26_drive_0002_sync 0000000069 l", "", "2011_09_26/2011_09_26_drive_0002_sync 54 r"]
    path = tmp_path / "test_files.txt"
    path.write_text("\n".join(lines) + "\n")
    entries = read_split_file(path)
    assert entries == kitti_raw.parse_split_lines(lines, path)
    assert [e.camera for e in entries] == [2, 3] and kitti_raw.SIDE_TO_CAMERA is splits.SIDE_TO_CAMERA
    keys = [f"{e.folder.split('/')[1]}_{e.frame:010d}_{e.side}" for e in entries]
    assert read_split(path) == keys == [split_key(line) for line in lines if line]
    # a frame that is not an integer: the strict parser refuses it, the key reader keeps the fields
    assert split_key("2011_09_26/drive 0x1 l") == "2011_09_26_drive_0x1_l"
