"""``litedepth evaluate`` smoke tests through a parser built with ``add_parser``."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from litedepth.cli import evaluate as cli
from litedepth.errors import ConfigError


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="litedepth")
    cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["evaluate", *argv])


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    """Two frames: gt 2 m and 4 m (uint16 PNG x 256); disparity 1 -> depth 1 m for both."""
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    Image.fromarray(np.full((4, 6), 512, np.uint16)).save(tmp_path / "gt" / "f0.png")
    Image.fromarray(np.full((4, 6), 1024, np.uint16)).save(tmp_path / "gt" / "f1.png")
    for stem in ("f0", "f1"):
        np.save(tmp_path / "pred" / f"{stem}.npy", np.ones((2, 3), np.float32))
    return tmp_path / "pred", tmp_path / "gt"


def test_writes_json_and_csv(inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pred, gt = inputs
    args = _parse([
        "--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "none", "--gt-encoding", "kitti",
        "--pred-kind", "disparity", "--output", str(tmp_path / "out" / "metrics.json"),
        "--per-image-csv", str(tmp_path / "out" / "images.csv"),
    ])  # fmt: skip
    assert cli.run(args) == 0
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    # median scaling: ratios 2 and 4 -> exact depths; median 3, std of [2/3, 4/3] = 1/3
    assert data["count"] == 2 and data["protocol"] == "none"
    assert data["metrics"]["abs_rel"] == pytest.approx(0.0, abs=1e-9)
    assert data["ratio_median"] == pytest.approx(3.0) and data["ratio_std"] == pytest.approx(1 / 3)
    assert data["options"]["pred_kind"] == "inverse-depth" and data["options"]["median_scaling"] is True
    assert data["options"]["protocol"]["name"] == "none" and data["options"]["gt_encoding"]["name"] == "kitti"
    assert "litedepth_version" in data
    rows = list(csv.DictReader((tmp_path / "out" / "images.csv").open()))
    assert [r["name"] for r in rows] == ["f0", "f1"]
    assert [float(r["ratio"]) for r in rows] == pytest.approx([2.0, 4.0])
    out = capsys.readouterr().out
    assert "abs_rel" in out and "2 images" in out


def test_no_median_scaling_and_fixed_scale(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    pred, gt = inputs
    common = ["--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "none", "--gt-encoding", "kitti",
              "--pred-kind", "disparity"]
    out = tmp_path / "m.json"
    assert cli.run(_parse([*common, "--no-median-scaling", "--output", str(out)])) == 0
    data = json.loads(out.read_text())
    # depth 1 vs 2 m -> 0.5; vs 4 m -> 0.75; mean 0.625
    assert data["metrics"]["abs_rel"] == pytest.approx(0.625)
    assert data["ratio_median"] is None and data["options"]["median_scaling"] is False
    assert cli.run(_parse([*common, "--scale", "2", "--output", str(out)])) == 0
    # depth 2: 0 and 0.5 -> 0.25
    assert json.loads(out.read_text())["metrics"]["abs_rel"] == pytest.approx(0.25)


def test_option_errors(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    pred, gt = inputs
    out = str(tmp_path / "m.json")
    with pytest.raises(ConfigError, match="alternatives"):
        cli.run(_parse(["--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "none",
                        "--scale", "5.4", "--align", "scale-shift", "--output", out]))  # fmt: skip
    with pytest.raises(ConfigError, match="--predictions"):
        cli.run(_parse(["--ground-truth", str(gt), "--protocol", "none", "--output", out]))
    with pytest.raises(SystemExit):
        _parse(["--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "eigen", "--output", out])
    assert not Path(out).exists()


def test_run_on_items_hook(tmp_path: Path) -> None:
    args = _parse(["--protocol", "none", "--no-median-scaling", "--output", str(tmp_path / "m.json")])
    items = [("s0", np.full((2, 2), 3.0), np.full((2, 2), 4.0))]
    assert cli.run_on_items(items, args, total=1, source={"model": "toy"}) == 0
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["metrics"]["abs_rel"] == pytest.approx(0.25)  # |4 - 3| / 4
    assert data["options"]["model"] == "toy"
