"""``litedepth assist --skip-bad``: unreadable images in a folder are logged, counted and
skipped; without it the first one stops the run with its name (exit 2, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from litedepth.cli.main import main


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """5 frames: f000, f002 and f004 are fine, f001 is not an image, f003 is a truncated PNG."""
    (tmp_path / "img").mkdir()
    (tmp_path / "depth").mkdir()
    for i in range(5):
        Image.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)).save(tmp_path / "img" / f"f{i:03d}.png")
        np.save(tmp_path / "depth" / f"f{i:03d}.npy", np.full((24, 32), 1.5 + i, np.float32))
    (tmp_path / "img" / "f001.png").write_bytes(b"this is not a PNG")
    good = (tmp_path / "img" / "f003.png").read_bytes()
    (tmp_path / "img" / "f003.png").write_bytes(good[: len(good) // 2])
    boxes = {"frames": {f"f{i:03d}": [{"box": [0, 0, 16, 24], "label": "chair"}] for i in range(5)}}
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    return tmp_path


def _assist(root: Path, out: Path, *extra: str) -> int:
    return main(["assist", "--source", str(root / "img"), "--depth-dir", str(root / "depth"), "--scale", "metric",
                 "--detector", "ground-truth", "--detections", str(root / "boxes.json"), "--min-hits", "1",
                 "--no-speech", "--annotated", "none", "--sequential", "--output", str(out), *extra])


def test_without_skip_bad_the_first_corrupt_image_stops_the_run(folder, capsys):
    assert _assist(folder, folder / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "f001.png" in err and "cannot read image" in err and "Traceback" not in err
    assert not (folder / "out" / "summary.json").exists()
    for line in (folder / "out" / "events.jsonl").read_text().splitlines():  # frame 0's log is kept, complete
        json.loads(line)
    (folder / "img" / "f000.png").write_bytes(b"")  # now the very first image is bad
    assert _assist(folder, folder / "out2") == 2
    assert "f000.png" in capsys.readouterr().err
    assert not (folder / "out2").exists()  # stopped before its first frame: nothing left behind


def test_skip_bad_logs_counts_and_continues(folder, capsys):
    assert _assist(folder, folder / "out", "--skip-bad") == 0
    summary = json.loads((folder / "out" / "summary.json").read_text())
    assert summary["frames"] == 3 and summary["unreadable_skipped"] == 2
    assert [Path(p).name for p in summary["unreadable_files"]] == ["f001.png", "f003.png"]
    events = [json.loads(line) for line in (folder / "out" / "events.jsonl").read_text().splitlines()]
    alerts = [e for e in events if e["type"] == "alert"]
    assert alerts and {e["frame"] for e in alerts} <= {0, 2, 4}  # frames keep their file's index
    out = capsys.readouterr().out
    assert "f001.png" in out and "2 unreadable images skipped" in out
