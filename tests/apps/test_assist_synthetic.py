"""``litedepth assist`` on a synthetic room walk with exact depth and ground-truth boxes.

Truth: an object's distance is the 15th percentile of its *true* depth over its own pixels
(the instance mask). The app reports the 15th percentile of the (scaled) depth over the
object's *box*, so the error combines box contamination and scale recovery. Tolerance: 5 %.
The scene (seed 0) has no object whose box overlaps a nearer object; occlusion inside a
box would bias any box-based distance towards the occluder (a property of boxes, not scale).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from litedepth.cli.main import main
from tests.helpers import probe_video

TOLERANCE = 0.05  # relative distance error allowed
HFOV, CAM_HEIGHT, UNKNOWN_FACTOR = 70.0, 1.4, 0.37


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """12 frames (96x128) walking through a room: images, depth, boxes JSON, true distances."""
    from litedepth.data.synthetic import SceneConfig, make_sequence
    from litedepth.data.synthetic_scene import CLASS_NAMES, FIRST_BOX_INSTANCE

    root = tmp_path_factory.mktemp("walk")
    seq = make_sequence(SceneConfig(kind="room", height=96, width=128, hfov_deg=HFOV, seed=0,
                                    camera_height_m=CAM_HEIGHT), 12, step_m=0.25)
    classes = seq.scene.instance_classes()
    for sub in ("img", "depth", "depth_relative"):
        (root / sub).mkdir()
    boxes, truth = {}, {}
    for i, f in enumerate(seq.frames):
        stem = f"f{i:03d}"
        Image.fromarray(f.rgb).save(root / "img" / f"{stem}.png")
        np.save(root / "depth" / f"{stem}.npy", f.depth)
        np.save(root / "depth_relative" / f"{stem}.npy", f.depth * UNKNOWN_FACTOR)
        objs = []
        for k in np.unique(f.instances):
            mask = f.instances == k
            if k < FIRST_BOX_INSTANCE or mask.sum() < 100:
                continue
            ys, xs = np.nonzero(mask)
            box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
            objs.append({"box": box, "label": CLASS_NAMES[classes[k]]})
            truth[(i, tuple(box))] = float(np.percentile(f.depth[mask], 15))
        boxes[stem] = objs
    (root / "boxes.json").write_text(json.dumps({"frames": boxes}))
    d0 = seq.frames[0].depth
    centre = d0[48 - 10 : 48 + 10, 64 - 13 : 64 + 13]  # the calibration region: central 20 % x 20 %
    return {"root": root, "truth": truth, "centre_m": float(np.median(centre[centre > 0])), "seq": seq}


def _run(walk: dict, out: Path, depth_dir: str, scale: str, *extra: str) -> tuple[dict, list[dict], np.ndarray]:
    root = walk["root"]
    rc = main(["assist", "--source", str(root / "img"), "--fps", "5", "--depth-dir", str(root / depth_dir),
               "--detector", "ground-truth", "--detections", str(root / "boxes.json"), "--scale", scale,
               "--hfov", str(HFOV), "--bands", "2,3", "--min-hits", "1", "--no-speech", "--log-objects",
               "--output", str(out), *extra])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    errors = []
    for line in (out / "objects.jsonl").read_text().splitlines():
        obj = json.loads(line)
        true = walk["truth"][(obj["frame"], tuple(int(v) for v in obj["box"]))]
        errors.append(abs(obj["distance_m"] / true - 1.0))
    assert len(errors) == len(walk["truth"]) > 20
    return summary, events, np.asarray(errors)


def test_metric_depth_distances_within_tolerance(walk, tmp_path):
    summary, events, errors = _run(walk, tmp_path / "o", "depth", "metric")
    assert errors.max() < TOLERANCE, f"max relative error {errors.max():.4f}"
    header, alerts = events[0], events[1:]
    assert header["type"] == "header" and header["scale"]["method"] == "metric"
    assert alerts and all(a["type"] == "alert" for a in alerts)
    assert {"time_s", "frame", "track_id", "label", "distance_m", "band", "direction", "message"} <= set(alerts[0])
    # every alert's distance is the reported distance of that object in that frame
    objects = [json.loads(x) for x in (tmp_path / "o" / "objects.jsonl").read_text().splitlines()]
    for a in alerts:
        match = [o for o in objects if o["frame"] == a["frame"] and o["track_id"] == a["track_id"]]
        assert match and match[0]["alerted"] and match[0]["distance_m"] == pytest.approx(a["distance_m"], abs=1e-3)
    assert summary["frames"] == 12 and summary["scale"]["method"] == "metric"
    assert (tmp_path / "o" / "annotated.mp4").is_file()
    print(f"metric: max relative distance error {errors.max():.4f}, median {np.median(errors):.5f}")


@pytest.mark.parametrize("scale", ["calibrate", "camera-height"])
def test_relative_depth_recovered_by_scale(walk, tmp_path, scale):
    spec = f"calibrate:{walk['centre_m']:.3f}" if scale == "calibrate" else f"camera-height:{CAM_HEIGHT}"
    summary, events, errors = _run(walk, tmp_path / "o", "depth_relative", spec, "--annotated", "frames")
    assert errors.max() < TOLERANCE, f"{scale}: max relative error {errors.max():.4f}"
    factor = summary["scale"]["factor"]["median"]
    assert factor == pytest.approx(1 / UNKNOWN_FACTOR, rel=0.02)
    assert events[0]["scale"]["method"] == scale and "assumption" in events[0]["scale"]
    assert len(list((tmp_path / "o" / "frames").glob("frame_*.png"))) == 12
    print(f"{scale}: factor {factor:.4f} (true {1 / UNKNOWN_FACTOR:.4f}), max relative error {errors.max():.4f}")


def test_disparity_model_through_the_python_api(walk, tmp_path):
    """An oracle *disparity* model (sigmoid space, unknown scale) through AssistPipeline/run_assist."""
    from litedepth.apps.assistant.alerts import AlertConfig
    from litedepth.apps.assistant.detectors import ScriptedDetector
    from litedepth.apps.assistant.pipeline import AssistConfig, AssistPipeline
    from litedepth.apps.assistant.scale import CameraHeightScale
    from litedepth.apps.assistant.session import run_assist
    from litedepth.io.video import open_source

    seq = walk["seq"]

    class OracleDisparity:
        kind = "disparity"

        def __call__(self, frame):
            depth = seq.frames[frame.index].depth * UNKNOWN_FACTOR
            scaled = np.where(depth > 0, 1.0 / np.maximum(depth, 1e-6), 0.0)
            return ((scaled - 1 / 100) / (1 / 0.1 - 1 / 100)).astype(np.float32)

        def describe(self):
            return {"name": "oracle"}

    with AssistPipeline(OracleDisparity(), ScriptedDetector(walk["root"] / "boxes.json"),
                        CameraHeightScale(CAM_HEIGHT, hfov_deg=HFOV),
                        AssistConfig(alert=AlertConfig(bands_m=(2.0, 3.0), min_hits=1))) as pipeline, \
            open_source(walk["root"] / "img", fps=5) as src:
        summary = run_assist(src, pipeline, tmp_path / "api", annotated="none", log_objects=True, max_frames=6)
    assert summary["frames"] == 6 and summary["outputs"]["annotated"] is None
    for line in (tmp_path / "api" / "objects.jsonl").read_text().splitlines():
        obj = json.loads(line)
        true = walk["truth"][(obj["frame"], tuple(int(v) for v in obj["box"]))]
        assert obj["distance_m"] == pytest.approx(true, rel=TOLERANCE)


def test_interrupted_run_keeps_complete_outputs(walk, tmp_path):
    """Ctrl-C (as when stopping a camera) finishes the video, the log and the summary."""
    from litedepth.apps.assistant.depth import DepthFiles
    from litedepth.apps.assistant.detectors import ScriptedDetector
    from litedepth.apps.assistant.pipeline import AssistPipeline
    from litedepth.apps.assistant.scale import MetricScale
    from litedepth.apps.assistant.session import run_assist
    from litedepth.io.video import open_source

    def stop_after_four(result):
        if result.frame.index == 3:
            raise KeyboardInterrupt

    with AssistPipeline(DepthFiles(walk["root"] / "depth"), ScriptedDetector(walk["root"] / "boxes.json"),
                        MetricScale()) as pipeline, open_source(walk["root"] / "img", fps=5) as src:
        summary = run_assist(src, pipeline, tmp_path / "o", on_frame=stop_after_four)
    assert summary["interrupted"] and summary["frames"] == 4
    with open_source(tmp_path / "o" / "annotated.mp4") as video:
        assert video.frame_count == 4
    codec, tag, _, frames = probe_video(tmp_path / "o" / "annotated.mp4")  # H.264: plays in browsers
    assert (codec, tag, summary["outputs"]["video_codec"], len(frames)) == ("h264", "avc1", "h264", 4)
    lines = (tmp_path / "o" / "events.jsonl").read_text().splitlines()
    assert all(json.loads(x) for x in lines)
