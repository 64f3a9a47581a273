"""Write failures: a full disk or an unwritable output folder ends every writing command with
one line naming the path and the cause, exit status 2, no traceback, and no partial file.

Tests run as root here, where permissions stop nothing, so the failures are made:

* **disk full**: ``os.fsync`` raises ``ENOSPC`` for the temporary files of the atomic writers
  (:mod:`litedepth.utils.atomic`, which every output goes through, Lightning's checkpoints
  included) whose name matches a pattern, as a full disk does when data reaches it;
* **read-only / not a folder**: the output path lies under a regular file, so the operating
  system itself refuses to create it (``ENOTDIR``);
* **read-only file system**: ``tempfile.mkstemp`` raises ``EROFS``.
"""

from __future__ import annotations

import errno
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from litedepth.cli.main import main
from litedepth.errors import LitedepthError, OutputError
from litedepth.utils.atomic import atomic_write_bytes, check_writable, make_dirs
from tests.helpers import write_config, write_kitti_object_tree

pytestmark = pytest.mark.usefixtures("one_thread")

NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device"


@pytest.fixture
def disk_full(monkeypatch):
    """``disk_full(pattern)``: fsync of an atomic writer's temporary file whose name contains
    ``pattern`` fails with ENOSPC. Returns the list of file names that hit it."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd to tell which file is synced")
    real_fsync = os.fsync
    hits: list[str] = []

    def install(pattern: str) -> list[str]:
        def fsync(fd: int) -> None:
            name = os.readlink(f"/proc/self/fd/{fd}")
            if pattern in Path(name).name:
                hits.append(name)
                raise OSError(errno.ENOSPC, NO_SPACE)
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        return hits

    return install


def _one_error_line(capsys, alone: bool = True) -> str:
    """The one ``litedepth: error:`` line on stderr. ``alone=False`` for failures inside a
    Lightning run, whose own warnings (Python ``warnings``) also go to stderr: the error is then
    the last line and the only error line."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("litedepth: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err[-2000:]
    assert len(lines) == 1 or not alone, err[-2000:]
    assert "Traceback" not in err
    return errors[0]


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp")] + [p for p in root.rglob(".*") if p.is_dir()]


def _blocker(tmp_path: Path) -> Path:
    """A regular file: any output path under it cannot be created (ENOTDIR)."""
    f = tmp_path / "a-file"
    f.write_text("not a folder")
    return f


def _output_under_a_file_is_refused(capsys, tmp_path: Path, args: list[str], option: str, name: str) -> None:
    """``args + [option, <a file>/name]`` exits 2 with one line naming the unwritable path."""
    blocker = _blocker(tmp_path)
    assert main([*args, option, str(blocker / name)]) == 2
    line = _one_error_line(capsys)
    assert str(blocker) in line and ("Not a directory" in line or "not a folder" in line), line


# ------------------------------------------------------------------------------------ library


def test_atomic_write_failure_names_the_file_and_leaves_the_old_one(tmp_path, disk_full):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    hits = disk_full("out.bin")
    with pytest.raises(OutputError) as info:
        atomic_write_bytes(target, b"new")
    assert hits and str(info.value) == f"{target}: cannot write ({NO_SPACE})"
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert isinstance(info.value, OSError) and isinstance(info.value, LitedepthError)
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]  # no temporary left
    again = pickle.loads(pickle.dumps(info.value))  # crosses process boundaries (DDP, workers)
    assert str(again) == str(info.value) and again.errno == errno.ENOSPC


def test_unwritable_folders(tmp_path, monkeypatch):
    blocker = _blocker(tmp_path)
    with pytest.raises(OutputError, match=r"a-file/sub: cannot write \(Not a directory\)"):
        atomic_write_bytes(blocker / "sub" / "x.bin", b"x")
    with pytest.raises(OutputError, match=r"a-file: cannot write \(it is a file, not a folder\)"):
        make_dirs(blocker)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match=r"y\.bin: cannot write \(Read-only file system\)"):
        atomic_write_bytes(tmp_path / "y.bin", b"y")
    with pytest.raises(OutputError, match=r"z\.onnx: cannot write \(Read-only file system\)"):
        check_writable(tmp_path / "z.onnx")  # what export checks before its work
    monkeypatch.undo()
    assert check_writable(tmp_path / "sub" / "z.onnx") == tmp_path / "sub"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == []  # the probe file is gone


# ------------------------------------------------------------------------------------ commands


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """``img/im0.png``, ``img/im1.png`` (32x48) and their metric depth ``depth/im*.npy``."""
    root = tmp_path_factory.mktemp("images")
    (root / "img").mkdir()
    (root / "depth").mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(root / "img" / f"im{i}.png")
        np.save(root / "depth" / f"im{i}.npy", np.full((32, 48), 2.0, np.float32))
    return root


def test_train_disk_full_on_a_lightning_checkpoint(tiny_depth_folder, tmp_path, capsys, disk_full):
    cfg = write_config(tmp_path / "cfg.yaml", tiny_depth_folder, max_epochs=1, limit_train_batches=1,
                       limit_val_batches=1, num_sanity_val_steps=0)
    run = tmp_path / "run"
    hits = disk_full(".ckpt.")
    assert main(["train", "--config", str(cfg), "--run_dir", str(run)]) == 2
    line = _one_error_line(capsys, alone=False)
    assert hits and f"{run / 'checkpoints'}/" in line and ".ckpt: cannot write" in line and NO_SPACE in line
    assert not list((run / "checkpoints").glob("*.ckpt")) and not _temporaries(run)


def test_train_run_dir_under_a_file(tiny_depth_folder, tmp_path, capsys):
    cfg = write_config(tmp_path / "cfg.yaml", tiny_depth_folder, max_epochs=1)
    blocker = _blocker(tmp_path)
    assert main(["train", "--config", str(cfg), "--run_dir", str(blocker / "run")]) == 2
    line = _one_error_line(capsys)
    assert str(blocker) in line and "Not a directory" in line


def test_predict_disk_full_and_unwritable_output(images, tmp_path, capsys, disk_full):
    args = ["predict", str(images / "img"), "--model", "lite-mono-tiny", "--size", "32", "48", "--device", "cpu"]
    _output_under_a_file_is_refused(capsys, tmp_path, args, "--output", "out")
    out = tmp_path / "out"
    hits = disk_full("_color.png")
    assert main([*args, "--output", str(out)]) == 2
    line = _one_error_line(capsys)
    assert hits and f"{out}/im0_color.png: cannot write ({NO_SPACE})" in line
    assert not (out / "im0_color.png").exists() and not _temporaries(out)


def test_export_disk_full_and_unwritable_output(tmp_path, capsys, disk_full):
    args = ["export", "--model", "lite-mono-tiny", "--height", "32", "--width", "48"]
    _output_under_a_file_is_refused(capsys, tmp_path, args, "--output", "m.onnx")
    hits = disk_full("m.onnx")
    assert main([*args, "--output", str(tmp_path / "m.onnx")]) == 2
    assert hits and f"{tmp_path / 'm.onnx'}: cannot write ({NO_SPACE})" in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no ONNX file, no staging folder


def test_kitti_gt_disk_full_and_unwritable_output(tmp_path, capsys, disk_full):
    root = write_kitti_object_tree(tmp_path / "kitti", ["000000", "000001"])
    args = ["kitti-gt", "--calib-format", "object", "--root", str(root), "--no-progress"]
    _output_under_a_file_is_refused(capsys, tmp_path, args, "--out", "gt")
    hits = disk_full("000001.png")
    assert main([*args, "--out", str(tmp_path / "gt")]) == 2
    assert hits and f"{tmp_path / 'gt' / '000001.png'}: cannot write ({NO_SPACE})" in _one_error_line(capsys)
    assert sorted(p.name for p in (tmp_path / "gt").iterdir()) == ["000000.png"]  # complete maps only


def test_pseudo_label_disk_full_and_unwritable_output(images, tiny_teacher, tmp_path, capsys, disk_full):
    args = ["pseudo-label", "--teacher", str(tiny_teacher), "--dataset", "images", "--root", str(images / "img"),
            "--device", "cpu", "--workers", "0", "--input-size", "28", "--no-progress"]
    _output_under_a_file_is_refused(capsys, tmp_path, args, "--out", "pl")
    hits = disk_full(".npz.")
    out = tmp_path / "pl"
    assert main([*args, "--out", str(out)]) == 2
    line = _one_error_line(capsys, alone=False)
    assert hits and str(out) in line and f".npz: cannot write ({NO_SPACE})" in line
    assert not list(out.rglob("*.npz")) and not _temporaries(out)


def test_assist_unwritable_output(images, tmp_path, capsys):
    blocker = _blocker(tmp_path)
    (tmp_path / "boxes.json").write_text('{"frames": {}}')
    rc = main(["assist", "--source", str(images / "img"), "--depth-dir", str(images / "depth"), "--scale", "metric",
               "--detector", "ground-truth", "--detections", str(tmp_path / "boxes.json"), "--no-speech",
               "--output", str(blocker / "out")])
    assert rc == 2 and f"{blocker / 'out'}: cannot write (Not a directory)" in _one_error_line(capsys)
