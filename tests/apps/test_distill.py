"""``litedepth distill`` end to end on real photos with a tiny random transformers teacher,
and the pieces it is made of (data module, task options, presets)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from litedepth.cli.main import main
from litedepth.data.distill import TeacherLabelDataset, resize_target, split_keys, teacher_disparity
from litedepth.errors import ConfigError, DataError
from litedepth.io.pseudo_labels import PseudoLabelCache
from tests.conftest import REPO_ROOT, real_subdir
from tests.teachers.conftest import write_tiny_depth_anything

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory) -> Path:
    return write_tiny_depth_anything(tmp_path_factory.mktemp("tiny-da"))


@pytest.fixture
def photos(real_data: Path, tmp_path: Path) -> Path:
    """Seven real photos: NYU Kinect colour frames and TUM RGB-D frames (640x480), in subfolders."""
    out = tmp_path / "photos"
    for sub, names in (("nyu_kinect_seq5_slambook2/color", ["1.png", "2.png", "3.png", "4.png", "5.png"]),
                       ("tum_fr1_desk_pair_slambook2", ["1.png", "2.png"])):
        src = real_subdir(real_data, sub.split("/")[0])
        folder = out / sub.split("_")[0]
        folder.mkdir(parents=True, exist_ok=True)
        for n in names:
            shutil.copy(src / sub.split("/", 1)[1] / n if "/" in sub else src / n, folder / n)
    return out


@pytest.mark.real_data
def test_distill_command_on_real_photos(photos: Path, tiny_teacher: Path, tmp_path: Path, capsys):
    out = tmp_path / "distilled"
    args = ["distill", str(photos), "--out", str(out), "--teacher", str(tiny_teacher), "--teacher-input-size", "56",
            "--network", "lite-mono-tiny", "--size", "64", "96", "--max-steps", "2", "--batch-size", "3",
            "--workers", "0", "--val-fraction", "0.3", "--accelerator", "cpu", "--devices", "1",
            "--profile-repeats", "1", "--teacher-device", "cpu", "--no-progress"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "relative disparity (not metres)" in table and "abs_rel vs teacher" in table

    report = json.loads((out / "distill_report.json").read_text())
    assert report["data"]["count"] == 7 and report["data"]["held_out"] == 2 and report["data"]["train"] == 5
    assert report["data"]["teacher_maps_computed"] == 7
    assert report["agreement"]["images"] == 2
    assert 0 <= report["agreement"]["abs_rel"] < 10 and 0 <= report["agreement"]["a1"] <= 1
    assert 0 <= report["baseline"]["abs_rel"] < 10
    assert report["student"]["output"] == "relative-disparity"
    assert report["student"]["params"] == 2_147_659  # lite-mono-tiny
    assert report["teacher"]["params"] < 200_000 and report["teacher"]["latency_ms"]["p50_ms"] > 0
    assert report["student"]["macs_conv_linear"] > 0 and report["teacher"]["macs_full"] > 0
    assert report["training"]["steps"] == 2

    ckpt = torch.load(out / "student.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["output"] == "relative-disparity"
    assert ckpt["litedepth"]["output_spec"]["kind"] == "relative-disparity"
    assert ckpt["hyper_parameters"]["teacher"]["id"] == str(tiny_teacher)
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(out / "student.onnx")).metadata_props}
    assert json.loads(meta["litedepth.output_spec"])["kind"] == "relative-disparity"
    assert meta["litedepth.output_kind"] == "disparity" and meta["litedepth.teacher"] == str(tiny_teacher)
    assert meta["litedepth.trained"] == "true"

    # the student predicts on a new photo; the output is labelled disparity, not metres
    assert main(["predict", str(photos / "nyu" / "1.png"), "--checkpoint", str(out / "student.ckpt"),
                 "--output", str(tmp_path / "pred"), "--formats", "npy", "--device", "cpu"]) == 0
    pred = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert pred["kind"] == "relative-disparity" and pred["units"] != "metres"
    assert pred["model"]["weights"]["trained"] is True
    assert np.load(tmp_path / "pred" / "1.npy").shape == (480, 640)

    # a second run reuses the cached teacher maps and the finished run
    capsys.readouterr()
    assert main([*args, "--resume", "--no-onnx", "--profile-repeats", "0"]) == 0
    again = json.loads((out / "distill_report.json").read_text())
    assert again["data"]["teacher_maps_computed"] == 0 and again["training"]["steps"] == 2
    assert again["student"]["latency_ms"] is None and again["files"]["student_onnx"] is None


def test_default_student_size_follows_the_photos(tmp_path: Path):
    from PIL import Image

    from litedepth.apps.distill import default_size

    files = []
    for i, (w, h) in enumerate([(640, 480), (640, 480), (1242, 375)]):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(files[-1])
    assert default_size(files, 192) == (192, 256)  # median aspect 4:3
    assert default_size(files[2:], 192) == (192, 640)  # KITTI


def test_teacher_targets_splits_and_resizing(tmp_path: Path):
    depth = np.array([[2.0, 0.0], [4.0, np.inf]], np.float32)
    assert teacher_disparity(depth, "metric_depth").tolist() == [[0.5, 0.0], [0.25, 0.0]]
    assert teacher_disparity(depth, "relative_disparity").tolist() == [[2.0, 0.0], [4.0, 0.0]]
    with pytest.raises(DataError, match="unknown teacher output kind"):
        teacher_disparity(depth, "depth")
    keys = [f"{i}.png" for i in range(10)]
    train, val = split_keys(keys, 0.2, seed=3)
    assert len(val) == 2 and sorted(train + val) == keys and split_keys(keys, 0.2, seed=3) == (train, val)
    with pytest.raises(DataError, match="at least 2 images"):
        split_keys(["a.png"], 0.1, 0)
    with pytest.raises(ConfigError, match="val_fraction"):
        split_keys(keys, 1.0, 0)
    # a valid region next to an invalid one: resized pixels whose (antialiased, 4-pixel wide)
    # footprint reaches an invalid pixel are invalid; the others keep the exact value
    t = torch.ones(8, 8) * 3.0
    t[:, :4] = 0.0
    out, ok = resize_target(t, (4, 4))
    assert ok[0].tolist() == [[False, False, False, True]] * 4
    assert torch.allclose(out[0, :, 3], torch.tensor(3.0)) and (out[0, :, :3] == 0).all()


def test_dataset_reads_a_metric_cache_as_disparity(tmp_path: Path):
    from PIL import Image

    (tmp_path / "img").mkdir()
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "img" / "a.png")
    cache = PseudoLabelCache(tmp_path / "labels")
    cache.set_teacher({"id": "metric", "output_kind": "metric_depth"})
    cache.put("a.png", np.full((6, 8), 4.0, np.float32))
    cache.flush()
    item = TeacherLabelDataset(tmp_path / "img", tmp_path / "labels", ["a.png"], (6, 8))[0]
    assert torch.allclose(item["teacher"], torch.tensor(0.25)) and item["valid"].all()
    assert item["image"].shape == (3, 6, 8)
    cache.put("b.png", np.ones((3, 3), np.float32))  # a map without its image size
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "img" / "b.png")
    with pytest.raises(DataError, match="does not match the image"):
        TeacherLabelDataset(tmp_path / "img", cache, ["b.png"], (6, 8))[0]
    with pytest.raises(DataError, match="no teacher map for 1 image"):
        TeacherLabelDataset(tmp_path / "img", cache, ["c.png"], (6, 8))


def test_student_records_relative_disparity_and_starts_from_given_weights(tmp_path: Path):
    from litedepth.models import create_model, lite_mono
    from litedepth.tasks import AffineDistillationTask

    # a depth network can be a student: its checkpoint says relative disparity, never metres
    student = AffineDistillationTask("deeplabv3-mobilenet-v3-large")
    assert student.output_spec.kind == "relative-disparity" and student.net.output_spec.is_metric
    with pytest.raises(ConfigError, match="not depth"):
        AffineDistillationTask("posenet-resnet18")
    torch.manual_seed(0)
    src = create_model("lite-mono-tiny", height=320, width=1024)
    lite_mono.save_official_weights(src, tmp_path / "w", height=320, width=1024)
    task = AffineDistillationTask("lite-mono-tiny", init_weights=str(tmp_path / "w"))
    assert task.hparams.network_options == {"height": 320, "width": 1024}  # the 1024x320 dilations are kept
    assert all(torch.equal(a, b) for a, b in zip(task.net.state_dict().values(), src.state_dict().values()))
    assert task.hparams.output == "relative-disparity"


def test_preset_becomes_the_distill_defaults_and_flags_override(tmp_path: Path):
    from litedepth.cli.distill import build_config, read_preset
    from litedepth.cli.main import build_parser

    preset = REPO_ROOT / "configs" / "distill_lite_mono_tiny.yaml"
    fields = read_preset(preset)
    assert fields["network"] == "lite-mono-tiny" and fields["size"] == (192, 256) and fields["epochs"] == 30
    args = build_parser().parse_args(["distill", str(tmp_path), "--out", str(tmp_path / "o"), "--config", str(preset),
                                      "--epochs", "3", "--devices", "2"])
    cfg = build_config(args)
    assert (cfg.epochs, cfg.devices, cfg.lr, cfg.size, cfg.grad_weight) == (3, 2, 5e-4, (192, 256), 0.5)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  class_path: litedepth.tasks.SupervisedDepthTask\n")
    with pytest.raises(ConfigError, match="not a distillation preset"):
        read_preset(bad)
