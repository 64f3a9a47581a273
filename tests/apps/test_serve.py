"""``litedepth serve``: the depth-only alert overlay, the prediction service, and the running
server (page and one prediction through its API with ``gradio_client``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from litedepth.apps.serve import DepthService, ModelSource, OverlayResult, default_sources, near_region_overlay
from litedepth.errors import ConfigError, DataError


pytestmark = pytest.mark.usefixtures("one_thread", "client_temp_in_tmp_path")


@pytest.fixture
def client_temp_in_tmp_path(tmp_path, monkeypatch):
    """gradio_client downloads each result into a new folder of the system temp folder, moves the
    file to ``download_files`` and leaves the empty folder behind (150 per run of this module):
    in these tests that temp folder is the test's own."""
    import tempfile

    folder = tmp_path / "client-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))


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


def test_server_serves_the_page_and_one_prediction_through_its_api(server, tmp_path):
    import urllib.request

    gradio_client = pytest.importorskip("gradio_client", reason="gradio_client is not installed")
    from PIL import Image

    rgb = np.zeros((36, 54, 3), np.uint8)
    rgb[:, :27] = (200, 50, 50)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    url = server.url
    assert url.startswith("http://127.0.0.1:")  # bound to localhost by default
    with urllib.request.urlopen(url, timeout=30) as page:
        html = page.read().decode()
    assert page.status == 200 and "<html" in html.lower()
    with urllib.request.urlopen(url + "config", timeout=30) as cfg:
        config = cfg.read().decode()
    assert "litedepth depth demo" in config and "lite-mono-tiny" in config
    client = gradio_client.Client(url, verbose=False, download_files=str(tmp_path / "dl"))
    depth_path, overlay_path, summary, files, view3d, note = client.predict(
        gradio_client.handle_file(str(tmp_path / "in.png")), "lite-mono-tiny", 1.0, 60.0, api_name="/predict")
    depth_view = np.asarray(Image.open(depth_path).convert("RGB"))
    overlay = np.asarray(Image.open(overlay_path).convert("RGB"))
    assert overlay.shape == (36, 54, 3)
    assert depth_view.shape[0] >= 240 and depth_view.std() > 0  # the map, scaled up, with its colour bar
    assert summary.startswith("lite-mono-tiny (UNTRAINED: random weights, output is noise): relative")
    assert "metre" not in summary.lower()
    names = sorted(Path(f).name for f in files)
    assert names[0] == "in_lite-mono-tiny_depth_relative.npy" and names[2] == "in_lite-mono-tiny_points_relative.ply"
    assert Path(view3d).suffix == ".glb" and "relative" in note


def _memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (resident peak) of a process, in KiB (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


#: resident memory of the server after the burst may exceed its resident memory after a
#: warm-up request by at most this much (decoded images are small: uploads are capped)
SETTLED_BOUND_MIB = 150


@pytest.mark.timeout(300)
def test_burst_of_concurrent_uploads_good_oversized_and_malformed(server, tmp_path):
    """36 concurrent requests on 127.0.0.1: 24 good images, 2 over the pixel cap, 4 over the
    byte cap (straight to the upload route), 2 non-images, 2 truncated, 2 empty. Every request
    is answered; the bad ones are refused with a message naming the file and the problem; the
    log holds one line per refusal and no traceback; memory settles below a stated bound; the
    files kept are private."""
    import concurrent.futures
    import os
    import stat
    import time

    gradio_client = pytest.importorskip("gradio_client", reason="gradio_client is not installed")
    import httpx
    from PIL import Image

    if not Path(f"/proc/{server.proc.pid}/status").is_file():
        pytest.skip("needs /proc to read the server's memory")
    rng = np.random.default_rng(0)
    cases: list[tuple[Path, str | None]] = []  # (file, expected refusal or None)
    for i in range(24):
        h, w = int(rng.integers(16, 120)), int(rng.integers(16, 160))
        path = tmp_path / f"good{i:02d}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        cases.append((path, None))
    for i in range(2):
        Image.fromarray(np.zeros((2500, 2000), np.uint8)).save(tmp_path / f"huge{i}.png")  # 5 MP in ~6 kB
        cases.append((tmp_path / f"huge{i}.png", "image of 2000x2500 pixels (5.0 megapixels) is over the limit of "
                                                   "4 megapixels (litedepth serve --max-upload-mp)"))
        (tmp_path / f"text{i}.png").write_text("<html>not an image</html>")
        cases.append((tmp_path / f"text{i}.png", "not an image (PNG, JPEG, BMP, WebP, TIFF...)"))
        good = cases[0][0].read_bytes()
        (tmp_path / f"cut{i}.jpg").write_bytes(good[: len(good) // 3])
        cases.append((tmp_path / f"cut{i}.jpg", "truncated or corrupt image"))
        (tmp_path / f"empty{i}.png").write_bytes(b"")
        cases.append((tmp_path / f"empty{i}.png", "empty upload (0 bytes)"))
    big = tmp_path / "big.png"  # ~1.9 MB of noise: over the 1 MB cap
    Image.fromarray(rng.integers(0, 256, (800, 800, 3), dtype=np.uint8)).save(big)

    client = gradio_client.Client(server.url, verbose=False, download_files=str(tmp_path / "dl"))
    client.predict(gradio_client.handle_file(str(cases[0][0])), "lite-mono-tiny", 1.0, 60.0, api_name="/predict")
    warm = _memory_kib(server.proc.pid)["VmRSS"]

    def upload_big(_: int) -> httpx.Response:
        with open(big, "rb") as f:
            return httpx.post(server.url + "gradio_api/upload", files={"files": ("big.png", f, "image/png")},
                              timeout=120)

    start = time.monotonic()
    jobs = [(path, want, client.submit(gradio_client.handle_file(str(path)), "lite-mono-tiny", 1.0, 60.0,
                                       api_name="/predict")) for path, want in cases]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        raw = list(pool.map(upload_big, range(4)))
    answered, failures = 0, []
    for path, want, job in jobs:
        try:
            result = job.result(timeout=240)
        except gradio_client.exceptions.AppError as exc:
            answered += 1
            if want is None or str(exc) != f"{path.name}: {want}" and not (
                    want.startswith("truncated") and str(exc).startswith(f"{path.name}: {want}")):
                failures.append((path.name, str(exc)))
            continue
        answered += 1
        if want is not None or not result[2].startswith("lite-mono-tiny"):
            failures.append((path.name, f"unexpected result {result[2][:80]!r}"))
    for response in raw:
        answered += 1
        if response.status_code != 413 or "maximum allowed size of 1048576 bytes" not in response.text:
            failures.append(("big.png", f"{response.status_code} {response.text[:100]}"))
    seconds = time.monotonic() - start
    assert answered == len(cases) + len(raw) == 36 and not failures, failures

    peak = _memory_kib(server.proc.pid)["VmHWM"]
    deadline = time.monotonic() + 10
    while True:
        settled = _memory_kib(server.proc.pid)["VmRSS"]
        if settled <= warm + SETTLED_BOUND_MIB * 1024 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"burst: 36 requests in {seconds:.1f} s, 0 failures; server resident memory warm {warm / 1024:.0f} MiB, "
          f"peak {peak / 1024:.0f} MiB, settled {settled / 1024:.0f} MiB")
    assert settled <= warm + SETTLED_BOUND_MIB * 1024, (warm, peak, settled)

    log = server.log.read_text()
    assert "Traceback" not in log
    assert log.count("refused a request: ") == 8  # the route refuses the 4 big uploads before they are stored
    assert stat.S_IMODE(server.folder.stat().st_mode) == 0o700
    kept = [p for p in server.folder.rglob("*")]
    assert any(p.name == "good01.png" for p in kept)  # uploads are kept here...
    assert not any(p.name == "big.png" for p in kept)  # ...but not the ones over the byte cap
    for p in kept:
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p
    assert os.stat(server.folder).st_uid == os.getuid()


def test_detector_overlay_announces_objects_by_band(tmp_path):
    import json

    from litedepth.apps.assistant.detectors import ScriptedDetector
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


def test_read_upload_checks_bytes_and_pixels_before_decoding(tmp_path, monkeypatch):
    from PIL import Image

    from litedepth.apps.serve import UploadLimits, read_upload

    limits = UploadLimits(max_bytes=4000, max_pixels=10_000)
    Image.fromarray(np.full((20, 30, 3), 7, np.uint8)).save(tmp_path / "ok.png")
    assert read_upload(tmp_path / "ok.png", limits).shape == (20, 30, 3)
    Image.fromarray(np.zeros((200, 100), np.uint8)).save(tmp_path / "wide.png")  # 20 000 px in a few hundred bytes
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)
    with pytest.raises(DataError, match=r"^wide\.png: image of 100x200 pixels \(0\.0 megapixels\) is over the limit "
                                        r"of 0\.01 megapixels \(litedepth serve --max-upload-mp\)$"):
        read_upload(tmp_path / "wide.png", limits)
    (tmp_path / "noise.bmp").write_bytes(b"BM" + bytes(5000))
    with pytest.raises(DataError, match=r"^noise\.bmp: upload of 0\.0 MB is over the limit of 0\.00381\d* MB"):
        read_upload(tmp_path / "noise.bmp", limits)
    assert not decoded  # neither was decoded
    monkeypatch.undo()
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"^empty\.png: empty upload \(0 bytes\)$"):
        read_upload(tmp_path / "empty.png", limits)
    (tmp_path / "page.jpg").write_text("<html></html>")
    with pytest.raises(DataError, match=r"^page\.jpg: not an image"):
        read_upload(tmp_path / "page.jpg", limits)
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"^cut\.png: truncated or corrupt image"):
        read_upload(tmp_path / "cut.png", limits)
    with pytest.raises(ConfigError, match="--max-upload-mp must be > 0"):
        UploadLimits(max_pixels=0)


def test_private_storage_is_private_and_removed():
    import os
    import stat

    from litedepth.apps.serve import private_storage

    def umask() -> int:
        current = os.umask(0)
        os.umask(current)
        return current

    before, umask_before = os.environ.get("GRADIO_TEMP_DIR"), umask()
    with private_storage() as folder:
        assert os.environ["GRADIO_TEMP_DIR"] == str(folder)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        (folder / "upload").mkdir()
        (folder / "upload" / "x.png").write_bytes(b"x")  # what Gradio writes gets the 077 umask
        assert stat.S_IMODE((folder / "upload").stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / "upload" / "x.png").stat().st_mode) == 0o600
    assert not folder.exists() and os.environ.get("GRADIO_TEMP_DIR") == before and umask() == umask_before


@pytest.mark.parametrize("damage, message", [
    ("onnx", "bad.onnx: onnxruntime cannot load it"),
    ("pickle", "tiny.pth: refused: the weights file holds Python objects besides weights"),
    ("truncated", "tiny.pth: cannot read the weights file: truncated or corrupt"),
])
def test_a_bad_model_stops_the_server_at_start_up_with_one_line(tmp_path, capsys, damage, message):
    import torch

    from litedepth.cli.main import main
    from litedepth.models import create_model

    pytest.importorskip("gradio", reason="Gradio is not installed (pip install 'litedepth[serve]')")
    weights = tmp_path / "tiny.pth"
    if damage == "onnx":
        (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage, not a model")
        args = ["--onnx", str(tmp_path / "bad.onnx")]
    else:
        if damage == "pickle":
            torch.save({"state_dict": SimpleNamespace(a=1)}, weights)  # an object: refused, not unpickled
        else:
            torch.save(create_model("lite-mono-tiny").state_dict(), weights)
            weights.write_bytes(weights.read_bytes()[:100_000])
        args = ["--models", "lite-mono-tiny", "--weights", f"lite-mono-tiny={weights}"]
    assert main(["serve", *args, "--size", "32", "48", "--device", "cpu", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_foundation_model_backends_are_listed_and_served(tiny_hf_model):
    """``--models hf:FOLDER``: a transformers depth model in the picker, its meaning from its
    config (a metric Depth Anything gives metres, trained weights: no UNTRAINED label)."""
    from litedepth.cli.main import build_parser
    from litedepth.cli.serve import build_service

    metric = f"hf:{tiny_hf_model('depth-anything-metric')}"
    relative = str(tiny_hf_model("depth-anything"))  # a transformers folder, recognised without the prefix
    args = build_parser().parse_args(["serve", "--models", f"{metric},{relative},lite-mono-tiny", "--size", "64",
                                      "64", "--device", "cpu"])
    service = build_service(args)
    assert service.labels == [metric, relative, "lite-mono-tiny"]
    assert [s.source for s in service.sources] == [metric, relative, None]
    assert not service.sources[0].random_weights and service.sources[2].random_weights
    assert set(service.check_models()) == set(service.labels)
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    r = service.predict(rgb, metric, near_m=1.0)
    assert r.units == "metres" and r.depth.shape == (30, 40) and "UNTRAINED" not in r.summary
    rel = service.predict(rgb, relative)
    assert rel.units.startswith("relative disparity") and rel.messages == []  # no distance announced
    gr = pytest.importorskip("gradio", reason="Gradio is not installed (pip install 'litedepth[serve]')")
    from litedepth.apps.serve import build_app

    config = json.dumps(build_app(service).get_config_file())
    assert metric in config and "lite-mono-tiny (untrained: random weights)" in config
    del gr
    with pytest.raises(ConfigError, match="brings its own weights"):
        default_sources([metric], weights={metric: "w.pth"})
