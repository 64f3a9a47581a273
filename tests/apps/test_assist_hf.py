"""``litedepth assist`` with foundation-model backends: a metric transformers depth model needs no
``--scale`` (its config says metres); a relative one is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from litedepth.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (28, 42, 3), dtype=np.uint8)).save(tmp_path / "img" / f"f{i}.png")
    boxes = {"frames": {f"f{i}": [{"box": [0, 0, 20, 28], "label": "chair"}] for i in range(2)}}
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    return tmp_path


def _assist(root: Path, model: str, *extra: str) -> int:
    return main(["assist", "--source", str(root / "img"), "--model", model, "--size", "28", "28", "--device", "cpu",
                 "--detector", "ground-truth", "--detections", str(root / "boxes.json"), "--min-hits", "1",
                 "--no-speech", "--annotated", "none", "--sequential", "--output", str(root / "out"), *extra])


def test_metric_backend_needs_no_scale(frames, tiny_hf_model):
    assert _assist(frames, f"hf:{tiny_hf_model('depth-anything-metric')}") == 0
    header = json.loads((frames / "out" / "events.jsonl").read_text().splitlines()[0])
    assert header["depth_model"]["output_spec"]["kind"] == "depth"
    assert header["depth_model"]["output_spec"]["scale"] == "metric" and header["depth_model"]["weights"]["trained"]
    summary = json.loads((frames / "out" / "summary.json").read_text())
    assert summary["frames"] == 2 and summary["scale"]["method"] == "metric"


@pytest.mark.parametrize("extra", [(), ("--scale", "fixed:2")])
def test_relative_backend_is_refused_in_one_line(frames, tiny_hf_model, capsys, extra):
    model = f"hf:{tiny_hf_model('depth-anything')}"
    capsys.readouterr()
    assert _assist(frames, model, *extra) == 2
    err = capsys.readouterr().err
    assert "predicts relative disparity" in err and "no single scale" in err, err
    assert len(err.strip().splitlines()) == 1, err
