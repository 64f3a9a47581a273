"""predict_files: unreadable inputs, interrupted runs, and the manifest written before the maps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import litedepth.inference.files as files_mod
from litedepth.cli.main import main
from litedepth.inference import Predictor
from litedepth.inference.files import collect_images, predict_files
from litedepth.metrics.prediction_files import read_manifest

pytestmark = pytest.mark.usefixtures("one_thread")


def _inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "c"):
        Image.fromarray(rng.integers(0, 255, (24, 40, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def test_skip_bad_counts_unreadable_images_and_without_it_nothing_is_written(tmp_path, capsys):
    folder = _inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--model", "lite-mono-tiny", "--size", "32", "48", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "b.png" in err[0] and not out.exists()
    assert main(["predict", str(folder), "--model", "lite-mono-tiny", "--size", "32", "48", "--skip-bad",
                 "--output", str(out)]) == 0
    meta = json.loads((out / "predictions.json").read_text())
    assert meta["count"] == 2 and meta["complete"] is True
    assert [s["file"] for s in meta["skipped"]] == [str(folder / "b.png")]
    assert sorted(p.name for p in out.glob("*.npy")) == ["a.npy", "c.npy"]


def test_an_interrupted_run_leaves_maps_that_still_say_what_they_are(tmp_path, monkeypatch):
    folder = _inputs(tmp_path)
    (folder / "b.png").unlink()
    predictor = Predictor.load("lite-mono-tiny", input_size=(32, 48), device="cpu")
    real = files_mod.write_prediction
    calls = []

    def write_then_stop(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(files_mod, "write_prediction", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        predict_files(predictor, collect_images([folder]), tmp_path / "out", batch_size=1, progress=False)
    manifest = read_manifest(tmp_path / "out")
    assert manifest is not None and manifest.spec == predictor.spec and manifest.data["complete"] is False
    assert (tmp_path / "out" / "a.npy").is_file() and not (tmp_path / "out" / "c.npy").exists()
