"""Smoke tests of every CLI subcommand (the heavier ones have their own test files)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.cli.main import main
from tests.helpers import save_task_checkpoint


def test_help_and_models(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("train", "evaluate", "predict", "kitti-gt", "demo", "models", "profile", "export", "pseudo-label"):
        assert cmd in out
    assert main(["models"]) == 0
    assert "deeplabv3-resnet50" in capsys.readouterr().out


def _images(folder, sizes):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / f"im{i}.png")


def test_predict_folder_restores_resolution_and_writes_formats(tmp_path):
    _images(tmp_path / "in", [(30, 40), (50, 70), (31, 41)])
    rc = main(["predict", str(tmp_path / "in"), "--model", "deeplabv3-mobilenet-v3-large",
               "--size", "32", "48", "--output", str(tmp_path / "out"), "--batch-size", "2"])
    assert rc == 0
    for i, (h, w) in enumerate([(30, 40), (50, 70), (31, 41)]):
        arr = np.load(tmp_path / "out" / f"im{i}.npy")
        assert arr.shape == (h, w) and arr.dtype == np.float32 and (arr > 0).all()
        png = np.asarray(Image.open(tmp_path / "out" / f"im{i}_depth.png"))
        assert png.dtype == np.uint16 and png.shape == (h, w)
        # 16-bit PNG holds millimetres of the same prediction
        np.testing.assert_allclose(png / 1000.0, arr, atol=6e-4)
        assert np.asarray(Image.open(tmp_path / "out" / f"im{i}_color.png")).shape == (h, w, 3)
    meta = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert meta["kind"] == "depth" and meta["count"] == 3


def test_predict_glob_and_missing_input(tmp_path, capsys):
    _images(tmp_path / "in", [(20, 20)])
    assert main(["predict", str(tmp_path / "in" / "*.png"), "--model", "deeplabv3-mobilenet-v3-large",
                 "--size", "32", "32", "--output", str(tmp_path / "o"), "--formats", "npy"]) == 0
    assert (tmp_path / "o" / "im0.npy").exists() and not (tmp_path / "o" / "im0_color.png").exists()
    assert main(["predict", str(tmp_path / "nope.png"), "--model", "deeplabv3-mobilenet-v3-large",
                 "--output", str(tmp_path / "o")]) == 2
    assert "nope.png" in capsys.readouterr().err


def test_predict_from_checkpoint_matches_python_api(tmp_path):
    from litedepth.inference import Predictor
    from litedepth.tasks import SupervisedDepthTask

    task = SupervisedDepthTask("deeplabv3-mobilenet-v3-large")
    ckpt = save_task_checkpoint(task, tmp_path / "m.ckpt")
    _images(tmp_path / "in", [(40, 60)])
    assert main(["predict", str(tmp_path / "in" / "im0.png"), "--checkpoint", str(ckpt), "--size", "32", "48",
                 "--output", str(tmp_path / "out")]) == 0
    rgb = np.asarray(Image.open(tmp_path / "in" / "im0.png"))
    ref = Predictor(task.net, (32, 48), device="cpu").infer_image(rgb)
    np.testing.assert_allclose(np.load(tmp_path / "out" / "im0.npy"), ref, rtol=1e-5, atol=1e-6)
    # a checkpoint for another network is refused with a clear message
    from litedepth.errors import CheckpointError
    from litedepth.inference import load_checkpoint_model

    with pytest.raises(CheckpointError, match="m.ckpt"):
        load_checkpoint_model(ckpt, network="deeplabv3-resnet50")
    torch.save({"hello": 1}, tmp_path / "junk.ckpt")
    with pytest.raises(CheckpointError, match="junk.ckpt"):
        load_checkpoint_model(tmp_path / "junk.ckpt")


def test_evaluate_checkpoint_on_folder_matches_direct_computation(tmp_path):
    from litedepth.io.images import read_depth
    from litedepth.inference import Predictor
    from litedepth.metrics.evaluate import evaluate_arrays
    from litedepth.tasks import SupervisedDepthTask

    torch.manual_seed(0)
    task = SupervisedDepthTask("deeplabv3-mobilenet-v3-large", network_options={"init_depth": 2.0}, si_lambda=0.85)
    ckpt = save_task_checkpoint(task, tmp_path / "m.ckpt")
    data = tmp_path / "data"
    _images(data / "images", [(24, 32)] * 4)
    (data / "depth").mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        Image.fromarray(rng.integers(800, 4000, (24, 32)).astype(np.uint16)).save(data / "depth" / f"im{i}.png")
    out = tmp_path / "metrics.json"
    # no datamodule was attached: the checkpoint does not know its training data's encoding
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--data-split", "all",
                 "--protocol", "none", "--output", str(out)]) == 2
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--data-split", "all",
                 "--depth-scale", "nyu", "--protocol", "none", "--output", str(out)]) == 0
    got = json.loads(out.read_text())
    pred = Predictor.from_checkpoint(ckpt, device="cpu")
    items = [(f"im{i}", pred.infer_image(np.asarray(Image.open(data / "images" / f"im{i}.png"))),
              read_depth(data / "depth" / f"im{i}.png", 1000.0)) for i in range(4)]
    ref = evaluate_arrays(items, "none", pred_kind="depth", median_scaling=False)
    assert got["count"] == 4
    assert got["metrics"]["abs_rel"] == pytest.approx(ref.metrics["abs_rel"], rel=1e-6)
    assert got["options"]["checkpoint"] == str(ckpt)


def test_train_help_is_short_and_names_real_options(capsys):
    """``train --help`` is a one-screen summary; every Trainer flag it names exists, and
    ``--help-all`` still prints the full jsonargparse help."""
    from litedepth.cli.train import COMMON_TRAINER_FLAGS, build_parser

    assert main(["train", "--help"]) == 0
    short = capsys.readouterr().out
    assert len(short.splitlines()) < 80
    for name in ("--config", "--run_dir", "--resume", "--help-all", "--trainer.max_epochs"):
        assert name in short
    dests = {a.dest for a in build_parser()._actions}
    missing = [n for n in COMMON_TRAINER_FLAGS if f"trainer.{n}" not in dests]
    assert not missing, f"train --help names Trainer options that do not exist: {missing}"
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help-all"])
    assert exc.value.code == 0
    full = capsys.readouterr().out
    assert len(full.splitlines()) > 2 * len(short.splitlines())
    assert "--trainer.enable_progress_bar" in full
