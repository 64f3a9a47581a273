"""`litedepth demo` end to end at a tiny size (the full-size run is `make demo`)."""

from __future__ import annotations

import json
import math

from litedepth.cli.main import main


def test_demo_writes_metrics_curve_and_panels(tmp_path):
    out = tmp_path / "demo"
    rc = main(["demo", "--output", str(out), "--size", "32", "64", "--train-sequences", "2",
               "--frames-per-sequence", "6", "--test-sequences", "1", "--max-epochs", "2",
               "--batch-size", "4", "--accelerator", "cpu", "--no-progress"])
    res = json.loads((out / "metrics.json").read_text())
    # exit status 0 means the trained model beat the constant baseline, 1 that it did not
    assert rc == (0 if res["model"]["abs_rel"] < res["baseline"]["abs_rel"] else 1)
    assert res["test_images"] == 6 and res["epochs_trained"] == 2
    assert all(math.isfinite(v) for v in res["model"].values())
    assert 0.3 < res["baseline_depth_m"] < 30
    assert (out / "training_curve.png").stat().st_size > 1000
    assert len(list((out / "panels").glob("test_*.png"))) == 4
    assert (out / "run" / "checkpoints" / "last.ckpt").is_file()
