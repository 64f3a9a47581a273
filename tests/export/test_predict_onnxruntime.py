"""``litedepth predict`` with onnxruntime: ``--backend onnxruntime`` (export on the fly) and
``--onnx FILE`` give the eager PyTorch predictions, for images and videos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.cli.main import main
from litedepth.export import export_onnx
from litedepth.models import create_model


pytestmark = pytest.mark.usefixtures("one_thread")


def _predict(tmp_path, out: str, *args: str) -> np.ndarray:
    torch.manual_seed(0)  # the same random initialisation for every run
    rc = main(["predict", str(tmp_path / "in"), "--size", "32", "48", "--device", "cpu", "--formats", "npy",
               "--output", str(tmp_path / out), *args])
    assert rc == 0
    return np.load(tmp_path / out / "a.npy")


def test_backends_agree_on_images(tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)).save(tmp_path / "in" / "a.png")
    eager = _predict(tmp_path, "torch", "--model", "lite-mono-tiny")
    ort = _predict(tmp_path, "ort", "--model", "lite-mono-tiny", "--backend", "onnxruntime")
    torch.manual_seed(0)
    path = export_onnx(create_model("lite-mono-tiny"), tmp_path / "tiny.onnx", 32, 48).path
    given = _predict(tmp_path, "file", "--onnx", str(path))
    assert eager.shape == ort.shape == given.shape == (30, 50)
    np.testing.assert_allclose(ort, eager, atol=1e-5)
    np.testing.assert_allclose(given, eager, atol=1e-5)


def test_onnx_file_on_a_video(tmp_path):
    from litedepth.io.video import VideoWriter, open_source

    torch.manual_seed(0)
    path = export_onnx(create_model("lite-mono-tiny"), tmp_path / "tiny.onnx", 32, 48).path
    with VideoWriter(tmp_path / "v.avi", fps=8) as w:
        for i in range(3):
            w.write(np.full((32, 48, 3), 40 * i, np.uint8))
    assert main(["predict", str(tmp_path / "v.avi"), "--onnx", str(path), "--layout", "depth",
                 "--output", str(tmp_path / "out")]) == 0
    with open_source(tmp_path / "out" / "v_depth.mp4") as video:
        assert video.fps == pytest.approx(8.0, abs=0.01) and len(list(video)) == 3


def test_int8_file_runs_and_its_precision_is_recorded(tmp_path):
    import json

    from tests.helpers import int8_lite_mono_tiny

    (tmp_path / "in").mkdir()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (30, 50, 3), dtype=np.uint8)).save(tmp_path / "in" / "a.png")
    torch.manual_seed(0)
    fp32 = export_onnx(create_model("lite-mono-tiny"), tmp_path / "tiny.onnx", 32, 48).path
    int8 = int8_lite_mono_tiny(tmp_path, 32, 48)
    full = _predict(tmp_path, "fp32", "--onnx", str(fp32))
    quant = _predict(tmp_path, "int8", "--onnx", str(int8))
    assert quant.shape == full.shape == (30, 50)
    assert 0 < np.abs(quant - full).max() < 0.05  # int8 differs from float32, but only a little
    assert json.loads((tmp_path / "int8" / "predictions.json").read_text())["model"]["precision"] == "int8"
    assert json.loads((tmp_path / "fp32" / "predictions.json").read_text())["model"]["precision"] == "fp32"
