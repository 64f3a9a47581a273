"""Teacher pseudo-labels: teacher wrapper, cache, runner and the ``pseudo-label`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from litedepth.cli import main as cli_main
from litedepth.io.images import read_rgb
from litedepth.errors import CheckpointError, DataError
from litedepth.teachers import (
    HFDepthTeacher,
    ImageFolderFrames,
    PseudoLabelCache,
    frame_stats,
    key_to_relpath,
    licence_note,
    run_pseudo_labels,
)
from litedepth.teachers.hf import KILL_AFTER_ENV
from tests.conftest import real_subdir

from tests.helpers import run_cli

main = cli_main.main

INPUT = 56  # tiny teacher input size (lower bound, multiple of 14) keeps the tests fast


@pytest.fixture(scope="module")
def teacher(tiny_teacher_dir: Path) -> HFDepthTeacher:
    return HFDepthTeacher(tiny_teacher_dir, device="cpu", input_size=INPUT)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from litedepth.data.synthetic import make_dataset
    from litedepth.data.synthetic_scene import SceneConfig

    root = tmp_path_factory.mktemp("synthetic")
    make_dataset(root, n_sequences=2, frames_per_sequence=6, cfg=SceneConfig(height=32, width=48), seed=5)
    return root


def _check_cache(out: Path, expected: dict[str, tuple[int, int]]) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    for field in ("teacher", "input_size", "preprocessing", "output_kind", "frames", "last_run"):
        assert field in manifest, field
    assert manifest["output_kind"] == "relative_disparity"
    assert manifest["input_size"] == INPUT
    assert manifest["preprocessing"]["keep_aspect_ratio"] is True
    assert manifest["preprocessing"]["ensure_multiple_of"] == 14
    assert manifest["teacher"]["licence"].startswith("unknown")
    assert set(manifest["frames"]) == set(expected)
    cache = PseudoLabelCache(out)
    assert len(cache) == len(expected)
    for key, (h, w) in expected.items():
        m = cache.get(key)
        assert m.dtype == np.float32 and m.shape == (h, w)
        entry = manifest["frames"][key]
        assert (entry["height"], entry["width"]) == (h, w)
        ref = frame_stats(m)
        for k in ("median", "min", "max", "valid_fraction"):
            assert entry[k] == pytest.approx(ref[k], rel=1e-6), (key, k)
        assert 0.5 < entry["valid_fraction"] <= 1.0
    assert not list(out.rglob("*.tmp")), "no temporary file may be left behind"
    return manifest


# ---------------------------------------------------------------------------- units


def test_key_to_relpath_keeps_folders_and_separates_unsafe_keys() -> None:
    assert key_to_relpath("seq0000/000012") == "seq0000/000012.npz"
    assert key_to_relpath("color/1.png") == "color/1.png.npz"
    a = key_to_relpath("2011_09_26/drive_0002_sync 0000000005 l")
    b = key_to_relpath("2011_09_26/drive_0002_sync 0000000005 r")
    assert a != b and " " not in a and a.startswith("2011_09_26/")
    assert ".." not in key_to_relpath("../escape").split("/")
    with pytest.raises(ValueError):
        key_to_relpath("")


def test_frame_stats_known_values() -> None:
    m = np.array([[0.0, 1.0], [2.0, np.nan], [4.0, 3.0]], np.float32)
    s = frame_stats(m)
    assert s == {"median": 2.5, "min": 1.0, "max": 4.0, "valid_fraction": 4 / 6}
    assert frame_stats(np.zeros((2, 2)))["median"] is None


def test_licence_notes() -> None:
    assert licence_note("depth-anything/Depth-Anything-V2-Small-hf").startswith("Apache-2.0")
    assert licence_note("depth-anything/Depth-Anything-V2-Base-hf").startswith("CC-BY-NC-4.0")
    assert licence_note("depth-anything/Depth-Anything-V2-Large-hf").startswith("CC-BY-NC-4.0")
    assert licence_note("depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf").startswith("Apache-2.0")


def test_teacher_predicts_at_original_size(teacher: HFDepthTeacher) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), rng.integers(0, 256, (30, 31, 3), dtype=np.uint8),
              rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)]
    maps = teacher.predict(images)
    assert [m.shape for m in maps] == [(40, 60), (30, 31), (40, 60)]
    assert all(m.dtype == np.float32 and (m >= 0).all() for m in maps)
    assert not np.allclose(maps[0], maps[2])  # depends on the image
    single = teacher.predict(images[1:2])[0]  # batching does not change a frame's map
    np.testing.assert_allclose(single, maps[1], rtol=1e-4, atol=1e-3)
    d = teacher.describe()
    assert d["output_kind"] == "relative_disparity" and d["input_size"] == INPUT
    assert d["preprocessing"]["size"] == {"height": INPUT, "width": INPUT}
    assert d["preprocessing"]["image_mean"] == [0.485, 0.456, 0.406]
    assert "model.safetensors" in d["weights_sha256"]
    json.dumps(d)


def test_metric_config_gives_metric_depth(tmp_path: Path) -> None:
    from tests.teachers.conftest import write_tiny_depth_anything

    t = HFDepthTeacher(write_tiny_depth_anything(tmp_path / "m", depth_estimation_type="metric"), device="cpu",
                       input_size=28)
    assert t.output_kind == "metric_depth" and t.describe()["max_depth"] == 20


def test_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "imgs").mkdir()
    base = ["pseudo-label", "--dataset", "images", "--root", str(tmp_path / "imgs"), "--out", str(tmp_path / "o")]
    assert main([*base, "--teacher", str(tmp_path / "nope")]) == 2
    assert "no images" in capsys.readouterr().err
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "imgs" / "x.png")
    assert main([*base, "--teacher", str(tmp_path / "no-such-model")]) == 2
    assert "no-such-model: teacher folder not found" in capsys.readouterr().err


@pytest.mark.parametrize("damage, message", [
    ("missing", "teacher folder not found"),
    ("file", "teacher is a file"),
    ("no-config", "teacher folder lacks config.json"),
    ("no-weights", "teacher folder lacks model.safetensors or pytorch_model.bin"),
    ("truncated-weights", "broken teacher folder, cannot load a depth model + image processor from it "
                          "(SafetensorError"),
    ("bad-config", "broken teacher folder"),
    ("not-a-depth-model", "broken teacher folder"),
])
def test_missing_or_broken_teacher_folder_is_one_line(tiny_teacher_dir: Path, tmp_path: Path, damage: str,
                                                      message: str) -> None:
    import shutil

    folder = tmp_path / "teacher"
    if damage == "file":
        folder.write_text("x")
    elif damage != "missing":
        shutil.copytree(tiny_teacher_dir, folder)
        weights, config = folder / "model.safetensors", folder / "config.json"
        if damage == "no-config":
            config.unlink()
        elif damage == "no-weights":
            weights.unlink()
        elif damage == "truncated-weights":
            weights.write_bytes(weights.read_bytes()[:500])
        elif damage == "bad-config":
            config.write_text("{not json")
        else:
            config.write_text('{"model_type": "bert"}')
    with pytest.raises((DataError, CheckpointError)) as info:
        HFDepthTeacher(folder, device="cpu", input_size=INPUT)
    text = str(info.value)
    assert text.startswith(f"{folder}: ") and message in text and "\n" not in text


def test_a_hub_id_that_cannot_be_loaded_says_so() -> None:
    with pytest.raises(CheckpointError, match="not in the local Hugging Face cache, and HF_HUB_OFFLINE=1 forbids "
                                              "downloading it: on a machine with internet run `hf download "
                                              "no-such-org/no-such-model`") as info:
        HFDepthTeacher("no-such-org/no-such-model", device="cpu")
    assert "\n" not in str(info.value)


def test_cache_roundtrip_and_corrupt_file_is_recomputed(teacher: HFDepthTeacher, tmp_path: Path) -> None:
    from litedepth.teachers.hf import FrameSource

    rng = np.random.default_rng(1)

    class Frames(FrameSource):
        keys = ["a/0", "a/1", "b c/2"]
        images = [rng.integers(0, 256, (20, 28, 3), dtype=np.uint8) for _ in range(3)]

        def load(self, index: int) -> np.ndarray:
            return self.images[index]

    cache = PseudoLabelCache(tmp_path / "c", flush_every=2)
    rep = run_pseudo_labels(Frames(), teacher, cache, batch_size=2, progress=False, device="cpu")
    assert (rep.total, rep.skipped, rep.computed) == (3, 0, 3)
    assert cache.has("b c/2") and not cache.has("zzz") and len(cache) == 3
    fresh = teacher.predict([Frames.images[2]])[0]
    np.testing.assert_allclose(cache.get("b c/2"), fresh.astype(np.float16).astype(np.float32), rtol=2e-3, atol=1e-2)
    cache.path("a/1").write_bytes(b"half a file")  # as if written by a non-atomic tool
    cache2 = PseudoLabelCache(tmp_path / "c")
    assert not cache2.has("a/1")
    rep = run_pseudo_labels(Frames(), teacher, cache2, batch_size=2, progress=True, device="cpu")
    assert (rep.skipped, rep.computed) == (2, 1) and cache2.get("a/1").shape == (20, 28)


# ---------------------------------------------------------------------------- end to end


def test_pseudo_label_real_images(real_data: Path, tiny_teacher_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "images"
    picks = {"nyu": (real_subdir(real_data, "nyu_kinect_seq5_slambook2") / "color", ["1.png", "2.png", "3.png"]),
             "kitti": (real_subdir(real_data, "kitti_odometry_gray_slambook2"), ["000001.png", "000002.png"])}
    expected = {}
    for sub, (folder, names) in picks.items():
        (root / sub).mkdir(parents=True)
        for n in names:
            if not (folder / n).is_file():
                pytest.skip(f"real sample {folder / n} is absent")
            (root / sub / n).symlink_to(folder / n)
            expected[f"{sub}/{n}"] = read_rgb(folder / n).shape[:2]
    assert ImageFolderFrames(root).keys == sorted(expected)
    out = tmp_path / "pl"
    rc = main(["pseudo-label", "--teacher", str(tiny_teacher_dir), "--dataset", "images", "--root", str(root),
               "--out", str(out), "--batch-size", "2", "--device", "cpu", "--workers", "0",
               "--input-size", str(INPUT), "--no-progress"])
    assert rc == 0
    manifest = _check_cache(out, expected)
    assert manifest["last_run"]["computed"] == len(expected)


def test_pseudo_label_synthetic_every_frame(synthetic_root: Path, tiny_teacher_dir: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "pl"
    args = ["pseudo-label", "--teacher", str(tiny_teacher_dir), "--dataset", "synthetic", "--root",
            str(synthetic_root), "--out", str(out), "--batch-size", "4", "--device", "cpu", "--workers", "0",
            "--input-size", str(INPUT), "--no-progress"]
    assert main(args) == 0
    # every frame, sequence ends included: keys are the datasets' sample["name"]
    expected = {f"seq{s:04d}/{i:06d}": (32, 48) for s in range(2) for i in range(6)}
    _check_cache(out, expected)
    assert "computed 12" in capsys.readouterr().out
    assert main(args) == 0  # a finished cache is a no-op
    assert "12 already cached, computed 0" in capsys.readouterr().out


def test_killed_run_resumes_only_missing_frames(synthetic_root: Path, tiny_teacher_dir: Path, tmp_path: Path,
                                                teacher: HFDepthTeacher) -> None:
    out = tmp_path / "pl"
    args = ["pseudo-label", "--teacher", str(tiny_teacher_dir), "--dataset", "synthetic", "--root",
            str(synthetic_root), "--out", str(out), "--batch-size", "2", "--device", "cpu", "--workers", "0",
            "--input-size", str(INPUT), "--no-progress"]
    killed = run_cli(*args, env_extra={KILL_AFTER_ENV: "5", "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert killed.returncode == -9, killed.stderr[-2000:]
    files = sorted(out.rglob("*.npz"))
    assert len(files) == 5
    assert not list(out.rglob("*.tmp"))
    first = json.loads((out / "manifest.json").read_text())  # written before any frame
    assert first["output_kind"] == "relative_disparity" and "last_run" not in first

    mtimes = {f: f.stat().st_mtime_ns for f in files}
    resumed = run_cli(*args, env_extra={"HF_HUB_OFFLINE": "1"}, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "12 frames, 5 already cached, computed 7" in resumed.stdout
    for f in files:  # the frames of the killed run were not rewritten
        assert f.stat().st_mtime_ns == mtimes[f]
    expected = {f"seq{s:04d}/{i:06d}": (32, 48) for s in range(2) for i in range(6)}
    manifest = _check_cache(out, expected)
    assert manifest["last_run"] == {**manifest["last_run"], "total": 12, "skipped": 5, "computed": 7}

    cache = PseudoLabelCache(out)
    key = "seq0001/000003"
    from litedepth.data.video import SyntheticSequenceDataset

    ds = SyntheticSequenceDataset(synthetic_root, split="all", frame_ids=(0,), load_gt=False)
    ref = next(r for r in ds.targets if r.name == key)
    fresh = teacher.predict([ds.load_frame(ref, 0)])[0]
    np.testing.assert_allclose(cache.get(key), fresh.astype(np.float16).astype(np.float32), rtol=2e-3, atol=1e-2)


@pytest.mark.slow
def test_two_processes_split_the_frames(synthetic_root: Path, tiny_teacher_dir: Path, tmp_path: Path) -> None:
    """``--devices 2`` on CPU: Lightning's DDP prediction loop, each rank writing its own frames."""
    out = tmp_path / "pl"
    res = run_cli("pseudo-label", "--teacher", str(tiny_teacher_dir), "--dataset", "synthetic", "--root",
                  str(synthetic_root), "--out", str(out), "--batch-size", "2", "--device", "cpu", "--devices", "2",
                  "--workers", "0", "--input-size", str(INPUT), "--no-progress",
                  env_extra={"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    expected = {f"seq{s:04d}/{i:06d}": (32, 48) for s in range(2) for i in range(6)}
    manifest = _check_cache(out, expected)
    assert manifest["last_run"]["computed"] == 12
    assert not list(out.rglob("*.tmp"))
    # one summary line for the run (rank 0), counting every rank's frames
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("pseudo-labels:")]
    assert len(lines) == 1 and "computed 12" in lines[0], res.stdout
