"""``litedepth serve``: the depth-only alert overlay, the prediction service, and the running
server (page and one prediction through its API with ``gradio_client``)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from litedepth.apps.serve import DepthService, ModelSource, OverlayResult, default_sources, near_region_overlay
from litedepth.errors import ConfigError, DataError
from tests.apps.serve_helpers import SERVE_ARGS, running_server


pytestmark = pytest.mark.usefixtures("one_thread")


def _scene(h: int = 30, w: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Grey image; wall at 4 m, a box at 0.7 m in the right third and 1.5 m on the left."""
    depth = np.full((h, w), 4.0, np.float32)
    depth[10:30, 45:58] = 0.7
    depth[5:30, 0:18] = 1.5
    depth[0, 0] = np.nan
    return np.full((h, w, 3), 100, np.uint8), depth


def test_overlay_bands_order_and_tint():
    rgb, depth = _scene()
    r = near_region_overlay(rgb, depth, "metres", near_m=1.0, close_m=2.0)
    # near band first, then close; the wall-only middle third says nothing
    assert r.messages == ["obstacle on the right, 0.7 metres", "obstacle on the left, 1.5 metres"]
    assert r.nearest_m == pytest.approx(0.7)
    assert r.image.shape == rgb.shape and r.image.dtype == np.uint8
    near_px, close_px, far_px = r.image[20, 50], r.image[20, 10], r.image[20, 30]
    assert near_px[0] > 150 and near_px[1] < 80            # red tint
    assert close_px[0] > 150 and 100 < close_px[1] < 140   # orange tint
    assert tuple(far_px) == (100, 100, 100)                 # untouched


def test_overlay_relative_units_and_errors():
    rgb, depth = _scene()
    r = near_region_overlay(rgb, depth, "relative", near_m=1.0, close_m=2.0)
    # a relative distance is never announced in metres (issue 11, finding 5)
    assert all("relative distance" in m and "metre" not in m for m in r.messages) and len(r.messages) == 2
    assert near_region_overlay(rgb, np.full(depth.shape, 5.0, np.float32)).messages == []
    assert near_region_overlay(rgb, np.zeros_like(depth)).nearest_m is None  # no valid depth
    with pytest.raises(DataError, match="sizes differ"):
        near_region_overlay(rgb[:10], depth)
    with pytest.raises(ConfigError, match="near < close"):
        near_region_overlay(rgb, depth, near_m=2.0, close_m=1.0)


def test_service_predicts_at_image_resolution_and_states_units():
    service = DepthService(default_sources(["lite-mono-tiny", "deeplabv3-mobilenet-v3-large"]),
                           input_size=(32, 48), device="cpu")
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    r = service.predict(rgb, "lite-mono-tiny", near_m=1.0)
    assert r.depth_rgb.shape == r.overlay_rgb.shape == (40, 50, 3) and r.depth.shape == (40, 50)
    assert r.units.startswith("relative") and "random weights" in r.summary and r.latency_ms > 0
    assert "metre" not in r.summary.lower()
    metric = service.predict(rgb, "deeplabv3-mobilenet-v3-large")
    assert metric.units == "metres" and "metric depth" in metric.summary
    assert service.predictor("lite-mono-tiny") is service.predictor("lite-mono-tiny")  # cached
    with pytest.raises(ConfigError, match="unknown model"):
        service.predict(rgb, "nope")
    with pytest.raises(DataError, match="no image"):
        service.predict(None, "lite-mono-tiny")


def test_overlay_hook_replaces_the_depth_only_overlay():
    calls = []

    def overlay(rgb, depth, units, near_m, close_m):
        calls.append((rgb.shape, depth.shape, units, near_m, close_m))
        return OverlayResult(np.zeros_like(rgb), ["person ahead, 0.8 metres"], 0.8)

    service = DepthService([ModelSource("tiny", "lite-mono-tiny")], input_size=(32, 48), device="cpu",
                           close_m=2.5, overlay=overlay)
    r = service.predict(np.zeros((20, 30, 3), np.uint8), near_m=0.5)
    assert calls == [((20, 30, 3), (20, 30), r.units, 0.5, 2.5)]
    assert r.messages == ["person ahead, 0.8 metres"] and "person ahead" in r.summary


def test_default_sources(tmp_path):
    from litedepth.models import list_models

    labels = [s.label for s in default_sources()]
    assert labels[0] == "lite-mono-tiny" and sorted(labels) == list_models(task="depth")
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    sources = default_sources(["lite-mono-tiny"], weights={"monodepth2-resnet18": "w.pth"}, onnx_files=[str(onnx)])
    assert [s.label for s in sources] == ["lite-mono-tiny", "monodepth2-resnet18", "m.onnx (onnxruntime)"]
    assert sources[0].random_weights and not sources[1].random_weights and sources[1].weights == "w.pth"
    with pytest.raises(ConfigError, match="pose network"):
        default_sources(["posenet-resnet18"])
    with pytest.raises(DataError, match="checkpoint not found"):
        default_sources(checkpoints=[str(tmp_path / "none.ckpt")])
    with pytest.raises(ConfigError, match="unique"):
        DepthService([ModelSource("a", "lite-mono-tiny"), ModelSource("a", "lite-mono-tiny")])


def test_missing_gradio_is_a_one_line_error(monkeypatch, capsys):
    from litedepth.cli.main import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    assert main(["serve", "--models", "lite-mono-tiny", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'litedepth[serve]'" in err and "Traceback" not in err


def test_server_serves_the_page_and_one_prediction_through_its_api(tmp_path):
    pytest.importorskip("gradio", reason="Gradio is not installed (pip install 'litedepth[serve]')")
    gradio_client = pytest.importorskip("gradio_client", reason="gradio_client is not installed")
    import urllib.request

    from PIL import Image

    rgb = np.zeros((36, 54, 3), np.uint8)
    rgb[:, :27] = (200, 50, 50)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    with running_server(tmp_path / "server.log", *SERVE_ARGS) as url:
        assert url.startswith("http://127.0.0.1:")  # bound to localhost by default
        with urllib.request.urlopen(url, timeout=30) as page:
            html = page.read().decode()
        assert page.status == 200 and "<html" in html.lower()
        with urllib.request.urlopen(url + "config", timeout=30) as cfg:
            config = cfg.read().decode()
        assert "litedepth depth demo" in config and "lite-mono-tiny" in config
        client = gradio_client.Client(url, verbose=False, download_files=str(tmp_path / "dl"))
        depth_path, overlay_path, summary = client.predict(
            gradio_client.handle_file(str(tmp_path / "in.png")), "lite-mono-tiny", 1.0, api_name="/predict")
    depth_rgb = np.asarray(Image.open(depth_path).convert("RGB"))
    overlay = np.asarray(Image.open(overlay_path).convert("RGB"))
    assert depth_rgb.shape == overlay.shape == (36, 54, 3)
    assert depth_rgb.std() > 0  # a colourised map, not a blank image
    assert summary.startswith("lite-mono-tiny (UNTRAINED: random weights, output is noise): relative")
    assert "metre" not in summary.lower()


def test_detector_overlay_announces_objects_by_band(tmp_path):
    import json

    from litedepth.apps.detectors import ScriptedDetector
    from litedepth.apps.serve import detector_overlay

    rgb, depth = _scene()
    boxes = {"frames": {"0": [{"box": [45, 10, 58, 30], "label": "chair"},
                              {"box": [0, 5, 18, 30], "label": "person"},
                              {"box": [25, 0, 40, 8], "label": "clock"}]}}
    (tmp_path / "d.json").write_text(json.dumps(boxes))
    r = detector_overlay(ScriptedDetector(tmp_path / "d.json"))(rgb, depth, "metres", 1.0, 2.0)
    assert r.messages == ["chair on the right, 0.7 metres", "person on the left, 1.5 metres"]  # the clock is far
    assert r.nearest_m == pytest.approx(0.7) and r.image.shape == rgb.shape
    assert tuple(r.image[2, 25]) == (60, 200, 60)  # the far clock's box edge is green


def test_serve_cli_builds_a_service_with_a_detector(tmp_path):
    import argparse
    import json

    from litedepth.cli import serve as serve_cli

    (tmp_path / "d.json").write_text(json.dumps({"frames": {"0": [{"box": [0, 0, 10, 10], "label": "cup"}]}}))
    parser = argparse.ArgumentParser()
    serve_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", "--models", "lite-mono-tiny", "--size", "32", "48", "--device", "cpu",
                              "--detector", "ground-truth", "--detections", str(tmp_path / "d.json")])
    service = serve_cli.build_service(args)
    r = service.predict(np.zeros((24, 36, 3), np.uint8), near_m=0.5)
    assert service.labels == ["lite-mono-tiny"] and r.overlay_rgb.shape == (24, 36, 3)
    with pytest.raises(ConfigError, match="port"):
        serve_cli.build_service(parser.parse_args(["serve", "--port", "0"]))
