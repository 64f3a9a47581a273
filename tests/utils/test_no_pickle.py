"""No code runs from a data file: every reader of ``.npy`` / ``.npz`` refuses pickled content.

A crafted array whose entry unpickles to a call (here: ``open(marker, "w")``, which creates a
file) is handed to every path that reads NumPy files a user gives us. The marker must never
appear, and the error must say in one line why the file was refused. With the explicit
opt-in (``--allow-pickle``) the same file *does* run its code, which shows the test can fail.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from litedepth.cli.main import main
from litedepth.io.images import read_depth
from litedepth.errors import DataError
from litedepth.metrics import evaluate_folders
from litedepth.io.pseudo_labels import PseudoLabelCache
from litedepth.utils.arrays import load_npy, open_npz


class _Payload:
    """Unpickles to ``open(marker, "w")``: a harmless stand-in for a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # noqa: D105
        return (open, (self.marker, "w"))


def _malicious_object_array(marker: Path, n: int = 2) -> np.ndarray:
    arr = np.empty(n, dtype=object)
    for i in range(n):
        arr[i] = _Payload(marker)
    return arr


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    return tmp_path / "code_ran.txt"


def _cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def _assert_refused(code: int, err: str, marker: Path, path: Path) -> None:
    assert not marker.exists(), "code stored in the data file was executed"
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert str(path) in lines[0] and "pickled Python objects" in lines[0] and "--allow-pickle" in lines[0]


def test_evaluate_refuses_malicious_gt_npz(tmp_path: Path, marker: Path, capsys) -> None:
    gt = tmp_path / "gt_depths.npz"
    np.savez_compressed(gt, data=_malicious_object_array(marker))
    np.save(tmp_path / "disps.npy", np.full((2, 3, 4), 0.5, np.float32))
    code, err = _cli(["evaluate", "--predictions", str(tmp_path / "disps.npy"), "--ground-truth", str(gt),
                      "--protocol", "none", "--pred-kind", "disparity", "--output", str(tmp_path / "m.json")],
                     capsys)
    _assert_refused(code, err, marker, gt)
    assert not (tmp_path / "m.json").exists()


def test_allow_pickle_opt_in_does_unpickle(tmp_path: Path, marker: Path) -> None:
    # The same archive with the explicit opt-in runs the stored call: the refusal above is real.
    gt = tmp_path / "gt_depths.npz"
    np.savez_compressed(gt, data=_malicious_object_array(marker))
    np.save(tmp_path / "disps.npy", np.full((2, 3, 4), 0.5, np.float32))
    with pytest.raises(DataError):  # the unpickled objects are file handles, not depth maps
        evaluate_folders(tmp_path / "disps.npy", gt, "none", pred_kind="disparity", allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("layout", ["stacked-npy", "stacked-npz", "folder-npy", "raw-pickle"])
def test_evaluate_refuses_malicious_predictions(tmp_path: Path, marker: Path, layout: str, capsys) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    np.save(gt / "a.npy", np.full((3, 4), 2.0, np.float32))
    np.save(gt / "b.npy", np.full((3, 4), 2.0, np.float32))
    if layout == "stacked-npy":
        bad = tmp_path / "disps.npy"
        np.save(bad, _malicious_object_array(marker), allow_pickle=True)
        pred = bad
    elif layout == "stacked-npz":
        bad = tmp_path / "disps.npz"
        np.savez(bad, disps=_malicious_object_array(marker))
        pred = bad
    elif layout == "folder-npy":
        pred = tmp_path / "pred"
        pred.mkdir()
        np.save(pred / "a.npy", np.ones((3, 4), np.float32))
        bad = pred / "b.npy"
        np.save(bad, _malicious_object_array(marker, 1), allow_pickle=True)
    else:  # a plain pickle named .npy: np.load(allow_pickle=True) would unpickle it too
        import pickle

        pred = tmp_path / "pred"
        pred.mkdir()
        np.save(pred / "a.npy", np.ones((3, 4), np.float32))
        bad = pred / "b.npy"
        bad.write_bytes(pickle.dumps(_Payload(marker)))
    code, err = _cli(["evaluate", "--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "none",
                      "--output", str(tmp_path / "m.json")], capsys)
    _assert_refused(code, err, marker, bad)


def test_evaluate_refuses_malicious_gt_npy_in_folder(tmp_path: Path, marker: Path, capsys) -> None:
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    np.save(pred / "a.npy", np.ones((3, 4), np.float32))
    np.save(gt / "a.npy", _malicious_object_array(marker, 1), allow_pickle=True)
    code, err = _cli(["evaluate", "--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "none",
                      "--output", str(tmp_path / "m.json")], capsys)
    _assert_refused(code, err, marker, gt / "a.npy")


def test_evaluate_pose_refuses_malicious_poses(tmp_path: Path, marker: Path, capsys) -> None:
    gt = tmp_path / "poses.txt"
    gt.write_text("\n".join(" ".join(["1 0 0 0 0 1 0 0 0 0 1 %d" % i]) for i in range(6)) + "\n")
    bad = tmp_path / "rel.npy"
    np.save(bad, _malicious_object_array(marker, 5), allow_pickle=True)
    code, err = _cli(["evaluate-pose", "--gt", str(gt), "--pred", str(bad), "--json", str(tmp_path / "ate.json")],
                     capsys)
    _assert_refused(code, err, marker, bad)


def test_depth_reader_and_library_loaders_refuse(tmp_path: Path, marker: Path) -> None:
    bad = tmp_path / "depth.npy"
    np.save(bad, _malicious_object_array(marker, 1), allow_pickle=True)
    for read in (lambda: read_depth(bad, "nyu"), lambda: load_npy(bad)):
        with pytest.raises(DataError, match="pickled Python objects"):
            read()
    archive = tmp_path / "x.npz"
    np.savez(archive, map=_malicious_object_array(marker, 1))
    with open_npz(archive) as z:
        from litedepth.utils.arrays import npz_entry

        with pytest.raises(DataError, match="pickled Python objects"):
            npz_entry(z, "map", archive)
    assert not marker.exists()


def test_pseudo_label_cache_refuses_malicious_frame(tmp_path: Path, marker: Path) -> None:
    cache = PseudoLabelCache(tmp_path / "pl")
    cache.put("seq/000000", np.ones((2, 3), np.float32))
    frame = cache.path("seq/000000")
    np.savez(frame, map=_malicious_object_array(marker, 1), stats=np.zeros(4), key=np.array("seq/000000"))
    with pytest.raises(DataError, match="pickled Python objects"):
        cache.get("seq/000000")
    assert not marker.exists()


def test_help_of_the_opt_in_flag_states_the_risk() -> None:
    from litedepth.cli import evaluate as cli

    parser = argparse.ArgumentParser(prog="litedepth")
    cli.add_parser(parser.add_subparsers(dest="command"))
    sub = parser._subparsers._group_actions[0].choices["evaluate"]  # type: ignore[union-attr]
    flag = next(a for a in sub._actions if "--allow-pickle" in a.option_strings)
    assert "executes any code stored in the file" in flag.help
