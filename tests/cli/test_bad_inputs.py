"""Every command against a table of bad inputs (issue 14): each row must end with exit status 2,
exactly one line on stderr that names the file or option and the problem, no traceback, and
nothing written that was not there before (files and folders under the test's folders are
compared before and after).

Rows run in-process through ``litedepth.cli.main.main`` (a subprocess costs seconds of imports);
one row runs as a real process to cover the entry point itself. Outputs of a row go to a fresh
``out/`` that must not appear.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from litedepth.cli.main import main
from tests.helpers import write_config, write_kitti_object_tree

pytestmark = pytest.mark.usefixtures("one_thread")


class _Payload:
    """An object in a checkpoint: loading it would call ``list.append`` (it must be refused)."""

    def __reduce__(self):
        return (list.append, ([], "code from the file ran"))


@pytest.fixture(scope="module")
def bad(tmp_path_factory, tiny_depth_folder, tiny_teacher) -> SimpleNamespace:
    """Every bad (and good) file the rows use, in one folder that no row may change."""
    root = tmp_path_factory.mktemp("bad-inputs")
    rng = np.random.default_rng(0)

    def image(path: Path, h: int = 32, w: int = 48) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        return path

    image(root / "images" / "a.png")
    image(root / "clash" / "one" / "x.png")
    image(root / "clash" / "two" / "x.png")
    (root / "corrupt").mkdir()
    (root / "corrupt" / "frame.png").write_bytes(b"\x89PNG not really")
    (root / "depth").mkdir()
    np.save(root / "depth" / "a.npy", np.full((32, 48), 2.0, np.float32))
    (root / "boxes.json").write_text(json.dumps({"frames": {}}))
    (root / "nodata" / "images").mkdir(parents=True)
    (root / "nodata" / "depth").mkdir()

    good = {"state_dict": {}, "hyper_parameters": {"network": "deeplabv3-mobilenet-v3-large"}}
    torch.save(good, root / "good.ckpt")
    (root / "empty.ckpt").write_bytes(b"")
    torch.save({**good, "state_dict": _Payload()}, root / "objects.ckpt", _use_new_zipfile_serialization=False)
    data = (root / "good.ckpt").read_bytes()
    (root / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    from litedepth.models import create_model

    torch.save(create_model("lite-mono-tiny").state_dict(), root / "tiny.pth")
    (root / "truncated.pth").write_bytes((root / "tiny.pth").read_bytes()[:100_000])
    (root / "bad.onnx").write_bytes(b"\x08\x07not an onnx graph")

    write_kitti_object_tree(root / "kitti", ["000000", "000001"], empty=("000001",))
    (root / "kitti-split.txt").write_text("000000\n")

    shutil.copytree(tiny_teacher, root / "teacher-broken")
    weights = root / "teacher-broken" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:400])
    shutil.copytree(tiny_teacher, root / "teacher-partial")
    (root / "teacher-partial" / "preprocessor_config.json").unlink()

    maps = np.empty(2, dtype=object)  # Monodepth2's layout: a pickled object array of maps
    maps[0], maps[1] = np.ones((3, 4)), np.ones((3, 5))
    np.savez(root / "gt_pickled.npz", data=maps)
    np.save(root / "disps.npy", np.full((2, 3, 4), 0.5, np.float32))

    def config(name: str, **changes) -> Path:
        path = write_config(root / f"{name}.yaml", tiny_depth_folder, max_epochs=1)
        cfg = yaml.safe_load(path.read_text())
        for dotted, value in changes.items():
            *parents, key = dotted.split(".")
            node = cfg
            for p in parents:
                node = node.setdefault(p, {})
            node[key] = value
        path.write_text(yaml.safe_dump(cfg))
        return path

    cfgs = {
        "good": config("good"),
        "network": config("network", **{"model.init_args.network": "deeplabv3-mobilenet-v3-lrge"}),
        "lr": config("lr", **{"model.init_args.lr": -1e-3}),
        "size0": config("size0", **{"data.init_args.size": [0, 48]}),
        "multiple": config("multiple", **{"model.init_args.network": "monodepth2-resnet18"}),
        "batch1": config("batch1", **{"data.init_args.batch_size": 1}),
        "monitor": config("monitor", monitor=None),
        "nodata": config("nodata", **{"data.init_args.root": str(root / "nodata")}),
    }
    return SimpleNamespace(root=root, cfg=cfgs, teacher=tiny_teacher)


def _train(b, cfg: str, *extra: str) -> list[str]:
    return ["train", "--config", str(b.cfg[cfg]), "--run_dir", str(b.out / "run"), *extra]


def _predict(b, *extra: str) -> list[str]:
    return ["predict", "--model", "lite-mono-tiny", "--size", "32", "48", "--device", "cpu", "--output",
            str(b.out), *extra]


def _export(b, *extra: str) -> list[str]:
    return ["export", "--output", str(b.out / "m.onnx"), *extra]


def _kitti(b, *extra: str) -> list[str]:
    return ["kitti-gt", "--calib-format", "object", "--out", str(b.out), "--no-progress", *extra]


def _pseudo(b, teacher: str, root: str = "images") -> list[str]:
    return ["pseudo-label", "--teacher", teacher, "--dataset", "images", "--root", str(b.root / root),
            "--out", str(b.out), "--device", "cpu", "--workers", "0", "--no-progress"]


def _assist(b, *extra: str) -> list[str]:
    return ["assist", "--depth-dir", str(b.root / "depth"), "--scale", "metric", "--detector", "ground-truth",
            "--detections", str(b.root / "boxes.json"), "--no-speech", "--output", str(b.out), *extra]


R = Callable[[SimpleNamespace], list[str]]

#: (row id, arguments, what the one line must say). ``{root}`` in a message is the files' folder.
ROWS: list[tuple[str, R, str]] = [
    # train: validation before work starts (issue 14, item 6) and what the suite already covered
    ("train-misspelt-network", lambda b: _train(b, "network"),
     "model.init_args.network: unknown network 'deeplabv3-mobilenet-v3-lrge'; did you mean "
     "'deeplabv3-mobilenet-v3-large'"),
    ("train-negative-lr", lambda b: _train(b, "lr"), "model.init_args.lr: the learning rate must be > 0, got -0.001"),
    ("train-size-0", lambda b: _train(b, "size0"), "data.init_args.size: (height, width) in pixels, each >= 1"),
    ("train-size-not-a-multiple", lambda b: _train(b, "multiple"),
     "data.init_args.size: monodepth2-resnet18 needs height and width that are positive multiples of 32, got 32x48"),
    ("train-batch-1-batchnorm", lambda b: _train(b, "batch1"),
     "data.init_args.batch_size: 1 image per batch cannot train deeplabv3-mobilenet-v3-large"),
    ("train-monitor-null", lambda b: _train(b, "monitor"), "--monitor: name the validation metric"),
    ("train-patience-negative", lambda b: _train(b, "good", "--early_stop_patience", "-1"),
     "--early_stop_patience must be >= 0"),
    ("train-missing-config", lambda b: _train(b, "good", "--config", str(b.root / "none.yaml")),
     "config: File does not exist"),
    ("train-bad-option-type", lambda b: _train(b, "good", "--trainer.max_epochs", "many"),
     "trainer.max_epochs: Expected a <class 'int'>"),
    ("train-no-images", lambda b: _train(b, "nodata"), "no image files"),
    ("train-empty-checkpoint", lambda b: _train(b, "good", "--ckpt_path", str(b.root / "empty.ckpt")),
     "{root}/empty.ckpt: cannot read the checkpoint: empty file (0 bytes)"),
    ("train-legacy-pickle-checkpoint", lambda b: _train(b, "good", "--ckpt_path", str(b.root / "objects.ckpt")),
     "{root}/objects.ckpt: refused: the checkpoint holds Python objects besides weights"),
    ("train-truncated-checkpoint", lambda b: _train(b, "good", "--ckpt_path", str(b.root / "truncated.ckpt")),
     "{root}/truncated.ckpt: cannot read the checkpoint: truncated or corrupt"),
    # export
    ("export-height-0", lambda b: _export(b, "--model", "lite-mono-tiny", "--height", "0", "--width", "48"),
     "--height/--width: lite-mono-tiny needs height and width that are positive multiples of 16, got 0x48"),
    ("export-width-not-a-multiple", lambda b: _export(b, "--model", "lite-mono-tiny", "--height", "32",
                                                      "--width", "50"), "got 32x50 (HxW)"),
    ("export-unknown-model", lambda b: _export(b, "--model", "lite-mono-tny"), "unknown model 'lite-mono-tny'"),
    ("export-empty-checkpoint", lambda b: _export(b, "--checkpoint", str(b.root / "empty.ckpt")),
     "{root}/empty.ckpt: cannot read the checkpoint: empty file"),
    ("export-truncated-weights", lambda b: _export(b, "--model", "lite-mono-tiny", "--weights",
                                                   str(b.root / "truncated.pth")),
     "{root}/truncated.pth: cannot read the weights file: truncated or corrupt"),
    # predict
    ("predict-missing-input", lambda b: _predict(b, str(b.root / "nope.png")),
     "{root}/nope.png: no such image file, folder or matching glob"),
    ("predict-inputs-share-a-stem", lambda b: _predict(b, str(b.root / "clash" / "one"), str(b.root / "clash" / "two")),
     "inputs share a file stem, so their outputs would overwrite each other: {root}/clash/one/x.png, "
     "{root}/clash/two/x.png"),
    ("predict-size-0", lambda b: _predict(b, str(b.root / "images"), "--size", "0", "0"),
     "--size (network input size): lite-mono-tiny needs height and width that are positive multiples of 16"),
    ("predict-legacy-pickle-checkpoint", lambda b: ["predict", str(b.root / "images"), "--checkpoint",
                                                    str(b.root / "objects.ckpt"), "--output", str(b.out)],
     "{root}/objects.ckpt: refused"),
    ("predict-bad-onnx", lambda b: ["predict", str(b.root / "images"), "--onnx", str(b.root / "bad.onnx"),
                                    "--output", str(b.out)], "{root}/bad.onnx: onnxruntime cannot load it"),
    # kitti-gt
    ("kitti-gt-empty-scan", lambda b: _kitti(b, "--root", str(b.root / "kitti")),
     "{root}/kitti/velodyne/000001.bin: empty Velodyne scan (0 bytes"),
    ("kitti-gt-skip-empty-with-split", lambda b: _kitti(b, "--root", str(b.root / "kitti"), "--skip-empty-scans",
                                                        "--split", str(b.root / "kitti-split.txt")),
     "--skip-empty-scans cannot be used with --split"),
    ("kitti-gt-missing-root", lambda b: _kitti(b, "--root", str(b.root / "no-kitti")), "folder not found"),
    ("kitti-gt-out-is-root", lambda b: ["kitti-gt", "--calib-format", "object", "--root", str(b.root / "kitti"),
                                        "--out", str(b.root / "kitti")], "--out must differ from --root"),
    # pseudo-label
    ("pseudo-label-missing-teacher-folder", lambda b: _pseudo(b, str(b.root / "teachers" / "da2")),
     "{root}/teachers/da2: teacher folder not found"),
    ("pseudo-label-broken-teacher-folder", lambda b: _pseudo(b, str(b.root / "teacher-broken")),
     "{root}/teacher-broken: broken teacher folder"),
    ("pseudo-label-teacher-missing-files", lambda b: _pseudo(b, str(b.root / "teacher-partial")),
     "{root}/teacher-partial: teacher folder lacks preprocessor_config.json"),
    ("pseudo-label-no-images", lambda b: _pseudo(b, str(b.teacher), root="nodata"), "no images"),
    # assist
    ("assist-corrupt-image", lambda b: _assist(b, "--source", str(b.root / "corrupt")),
     "{root}/corrupt/frame.png: cannot read image"),
    ("assist-all-images-unreadable", lambda b: _assist(b, "--source", str(b.root / "corrupt"), "--skip-bad"),
     "{root}/corrupt: no frames were read (1 unreadable files skipped)"),
    ("assist-missing-source", lambda b: _assist(b, "--source", str(b.root / "none.mp4")),
     "no such camera index, video file, image folder or glob pattern"),
    ("assist-bad-bands", lambda b: _assist(b, "--source", str(b.root / "images"), "--bands", "1,x"),
     "--bands: expected comma-separated numbers"),
    # evaluate (the suite's malicious-archive case, issue 14 item 1)
    ("evaluate-pickled-ground-truth", lambda b: ["evaluate", "--predictions", str(b.root / "disps.npy"),
                                                 "--ground-truth", str(b.root / "gt_pickled.npz"), "--protocol",
                                                 "none", "--pred-kind", "disparity", "--output",
                                                 str(b.out / "m.json")],
     "{root}/gt_pickled.npz"),
    # serve: every model is checked at start-up
    ("serve-bad-onnx", lambda b: ["serve", "--onnx", str(b.root / "bad.onnx"), "--device", "cpu"],
     "{root}/bad.onnx: onnxruntime cannot load it"),
    ("serve-truncated-weights", lambda b: ["serve", "--models", "lite-mono-tiny", "--weights",
                                           f"lite-mono-tiny={b.root / 'truncated.pth'}", "--size", "32", "48",
                                           "--device", "cpu"], "{root}/truncated.pth: cannot read the weights file"),
    ("serve-port-0", lambda b: ["serve", "--models", "lite-mono-tiny", "--port", "0"],
     "--port must be between 1 and 65535"),
    ("serve-upload-cap-0", lambda b: ["serve", "--models", "lite-mono-tiny", "--max-upload-mb", "0"],
     "--max-upload-mb must be > 0"),
    # profile
    ("profile-unknown-backend", lambda b: ["profile", "--model", "lite-mono-tiny", "--backends", "eager,tensorrt"],
     "unknown backend"),
]


def _tree(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``roots``: path -> (size, mtime)."""
    out = {}
    for root in roots:
        for p in [root, *root.rglob("*")]:
            st = p.stat()
            out[str(p)] = (st.st_size if p.is_file() else -1, st.st_mtime_ns if p.is_file() else 0)
    return out


def _check(code: int, err: str, message: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, (code, err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("litedepth: error: "), err[-2000:]
    assert "Traceback" not in err
    assert message in lines[0], (message, lines[0])


@pytest.mark.parametrize("row, args, message", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_is_one_clean_line(bad, tmp_path, capsys, row, args, message):
    b = SimpleNamespace(**vars(bad), out=tmp_path / "out")
    argv = args(b)
    before = _tree(bad.root, tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    _check(code, err, message.format(root=bad.root))
    assert _tree(bad.root, tmp_path) == before, "something was written, changed or removed"


def test_the_entry_point_itself(bad, tmp_path):
    """One row as a real process: ``python -m litedepth`` prints the same single line (a row
    without Lightning, whose import would cost this test most of its time)."""
    b = SimpleNamespace(**vars(bad), out=tmp_path / "out")
    env = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    res = subprocess.run([sys.executable, "-m", "litedepth", *_kitti(b, "--root", str(bad.root / "kitti"))],
                         capture_output=True, text=True, env=env, timeout=300)
    _check(res.returncode, res.stderr, f"{bad.root}/kitti/velodyne/000001.bin: empty Velodyne scan (0 bytes")
    assert not (tmp_path / "out").exists()
