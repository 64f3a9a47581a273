"""``litedepth assist`` end to end on a short video made from real indoor frames (NYU Kinect,
../shared/data/real), with the default depth network (lite-mono-tiny at 640x192, untrained)
and a locally saved, randomly initialised SSDlite; plus the command's one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from litedepth.cli.main import main
from litedepth.io.images import read_rgb
from litedepth.io.video import VideoWriter, open_source
from tests.conftest import real_subdir
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def nyu_video(real_data, tmp_path_factory):
    folder = real_subdir(real_data, "nyu_kinect_seq5_slambook2") / "color"
    frames = [read_rgb(folder / f"{i}.png") for i in range(1, 6)]
    path = tmp_path_factory.mktemp("real") / "nyu.mp4"
    with VideoWriter(path, fps=5) as w:
        for f in frames:
            w.write(f)
    return path


@pytest.mark.real_data
def test_assist_on_real_video(nyu_video, ssdlite_weights, tmp_path):
    out = tmp_path / "run"
    res = run_cli("assist", "--source", str(nyu_video), "--model", "lite-mono-tiny", "--scale", "calibrate:2.0",
                  "--allow-untrained", "--detector", "ssdlite", "--detector-weights", str(ssdlite_weights), "--min-hits", "1",
                  "--no-speech", "--output", str(out), env_extra={"OMP_NUM_THREADS": "2"})
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    header, alerts = lines[0], lines[1:]
    assert header["type"] == "header" and header["scale"]["method"] == "calibrate"
    assert header["detector"]["name"] == "ssdlite" and header["depth_model"]["name"] == "lite-mono-tiny"
    assert header["depth_model"]["input_size"] == [192, 640]
    assert alerts, "the person-biased detector should trigger at least one alert"
    for a in alerts:
        assert a["label"] == "person" and a["band"] in ("near", "close") and a["distance_m"] > 0
        assert a["direction"] in ("left", "ahead", "right") and a["message"].startswith("person ")
    with open_source(out / "annotated.mp4") as src:
        annotated = list(src)
    assert len(annotated) == 5 and annotated[0].rgb.shape == (480, 640, 3)
    with open_source(nyu_video) as src:
        first = next(iter(src)).rgb
    assert np.abs(annotated[0].rgb.astype(int) - first).mean() > 1.0  # boxes and the inset were drawn
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 5 and summary["fps_end_to_end"] > 0
    assert set(summary["stage_ms_mean"]) == {"read", "depth", "detect", "decide", "annotate_write"}
    assert summary["scale"]["factor"]["frames"] == 5 and summary["speech"]["speech"] == "off"
    assert summary["alerts"] == len(alerts) and summary["objects_tracked"] >= 1


def _assist_on_random_frames(tmp_path, onnx, ssdlite_weights) -> dict:
    """Run ``assist --onnx`` on two random frames; the header line of its event log."""
    from litedepth.io.video import ImageSequenceWriter

    frames = ImageSequenceWriter(tmp_path / "frames")
    rng = np.random.default_rng(0)
    for _ in range(2):
        frames.write(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    rc = main(["assist", "--source", str(tmp_path / "frames"), "--onnx", str(onnx), "--scale", "fixed:1",
               "--allow-untrained",
               "--detector-weights", str(ssdlite_weights), "--no-speech", "--annotated", "none",
               "--output", str(tmp_path / "o")])
    assert rc == 0
    return json.loads((tmp_path / "o" / "events.jsonl").read_text().splitlines()[0])


def test_assist_onnx_backend(tmp_path, ssdlite_weights):
    """--onnx FILE runs the depth network with onnxruntime (here on synthetic frames)."""
    from litedepth.export.onnx import export_onnx
    from litedepth.models import create_model

    onnx = tmp_path / "tiny.onnx"
    export_onnx(create_model("lite-mono-tiny"), onnx, 64, 192, model_name="lite-mono-tiny")
    header = _assist_on_random_frames(tmp_path, onnx, ssdlite_weights)
    assert header["depth_model"]["backend"] == "onnxruntime" and header["depth_model"]["kind"] == "disparity"
    assert header["depth_model"]["output_spec"]["kind"] == "sigmoid-disparity"
    assert header["depth_model"]["weights"]["trained"] is False
    assert header["depth_model"]["input_size"] == [64, 192]
    assert header["depth_model"]["precision"] == "fp32"


def test_assist_runs_an_int8_file(tmp_path, ssdlite_weights):
    from tests.helpers import int8_lite_mono_tiny

    header = _assist_on_random_frames(tmp_path, int8_lite_mono_tiny(tmp_path, 64, 192), ssdlite_weights)
    assert header["depth_model"]["precision"] == "int8" and header["depth_model"]["backend"] == "onnxruntime"


@pytest.mark.parametrize("args, message", [
    (["--model", "lite-mono-tiny", "--allow-untrained"],
     "is not metric (sigmoid disparity in [0, 1]; depth = disp_to_depth(0.1, 100)"),
    (["--model", "lite-mono-tiny", "--scale", "fixed:1", "--detector", "ground-truth", "--detections", "d.json"],
     "random (untrained) weights"),
    (["--model", "lite-mono-tiny", "--backend", "onnxruntime"], "give --onnx FILE"),
    (["--model", "lite-mono-tiny", "--allow-untrained", "--scale", "height:2"], "--scale 'height:2'"),
    (["--model", "lite-mono-tiny", "--allow-untrained", "--scale", "fixed:1", "--detector-weights", "missing.pth"],
     "ssdlite320_mobilenet_v3_large_coco-a79551df.pth"),
    (["--depth-dir", "nowhere"], "depth folder not found"),
    (["--model", "lite-mono-tiny", "--scale", "fixed:1", "--bands", "2,1"], "increasing"),
])
def test_assist_errors_are_one_line(tmp_path, capsys, args, message):
    from PIL import Image

    (tmp_path / "f").mkdir()
    Image.new("RGB", (32, 24)).save(tmp_path / "f" / "a.png")
    rc = main(["assist", "--source", str(tmp_path / "f"), "--output", str(tmp_path / "o"), "--no-speech", *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("source, message", [("none.mp4", "no such camera index, video file"),
                                             ("empty", "no image files"), ("97", "cannot open the camera")])
def test_assist_bad_source_fails_first(tmp_path, capsys, source, message):
    (tmp_path / "empty").mkdir()
    src = source if source.isdigit() else str(tmp_path / source)
    # the source is checked before any model loads (the detector weights here do not exist)
    rc = main(["assist", "--source", src, "--model", "lite-mono-tiny", "--scale", "fixed:1",
               "--detector-weights", str(tmp_path / "absent.pth"), "--output", str(tmp_path / "o"), "--no-speech"])
    assert rc == 2 and message in capsys.readouterr().err
