"""Scoring saved predictions never imports torch (issue 13): not the CLI's parser, not the
metrics package, not the output spec; torch is imported only where a network runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SRC = Path(__file__).resolve().parents[2] / "src"

_RUN_EVALUATE = """
import sys
from litedepth.cli.main import main
rc = main(["evaluate", "--predictions", sys.argv[1], "--ground-truth", sys.argv[2], "--protocol", "kitti-eigen",
           "--pred-kind", "disparity", "--no-progress", "--workers", "2", "--output", sys.argv[3]])
import litedepth.metrics, litedepth.metrics.evaluate, litedepth.io.output_spec, litedepth.cli.predict  # public paths
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "lightning", "onnxruntime"))
print("exit", rc, "heavy", heavy)
sys.exit(rc or (1 if heavy else 0))
"""


def test_evaluate_from_files_imports_no_torch(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for d in ("pred", "gt"):
        (tmp_path / d).mkdir()
    for i in range(3):
        gt = np.where(rng.random((40, 120)) < 0.3, rng.uniform(2.0, 70.0, (40, 120)), 0.0)
        Image.fromarray(np.round(gt * 256).astype(np.uint16)).save(tmp_path / "gt" / f"{i}.png")
        np.save(tmp_path / "pred" / f"{i}.npy", rng.uniform(0.01, 0.3, (16, 48)).astype(np.float32))
    out = tmp_path / "metrics.json"
    res = subprocess.run([sys.executable, "-c", _RUN_EVALUATE, str(tmp_path / "pred"), str(tmp_path / "gt"), str(out)],
                         capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(SRC), "PATH": ""})
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "exit 0 heavy []" in res.stdout and out.is_file()


def test_public_spec_paths_are_one_object() -> None:
    from litedepth.io import output_spec
    from litedepth.models import spec

    assert spec.OutputSpec is output_spec.OutputSpec and spec.to_depth is output_spec.to_depth
    assert set(output_spec.__all__) <= set(dir(spec))
