"""Detectors: torchvision weights from a local file, clear messages, YOLO adapter, JSON replay."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from litedepth.apps.assistant.detectors import ScriptedDetector, TorchvisionDetector, create_detector, torchvision_weights_info
from litedepth.errors import CheckpointError, ConfigError, DataError
from litedepth.io.video import Frame


def _frame(i: int = 0, name: str | None = None) -> Frame:
    rng = np.random.default_rng(i)
    return Frame(i, rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), i / 10, name)


def test_ssdlite_from_local_file(ssdlite_weights):
    det = create_detector("ssdlite", ssdlite_weights, score_threshold=0.5, device="cpu")
    assert isinstance(det, TorchvisionDetector) and det.categories[1] == "person"
    found = det.detect(_frame())
    assert found and all(d.label == "person" and d.score >= 0.5 for d in found)
    for d in found:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 96  # boxes in the frame's pixels
    assert det.describe()["licence"].startswith("BSD-3-Clause")


def test_torchvision_missing_or_wrong_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    url, cache, names = torchvision_weights_info("fasterrcnn")
    assert cache.name == "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth" and len(names) == 91
    with pytest.raises(DataError) as err:
        create_detector("fasterrcnn")  # default path: torchvision's cache, absent here
    msg = str(err.value)
    assert url in msg and str(cache) in msg and "--detector-weights" in msg
    with pytest.raises(DataError, match="ssdlite320_mobilenet_v3_large_coco-a79551df.pth"):
        create_detector("ssdlite", tmp_path / "nope.pth")
    import torch

    torch.save({"layer.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="do not fit"):
        create_detector("ssdlite", tmp_path / "other.pth")
    (tmp_path / "garbage.pth").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="cannot read"):
        create_detector("ssdlite", tmp_path / "garbage.pth")
    with pytest.raises(ConfigError, match="unknown detector"):
        create_detector("detr")


def test_scripted_detector(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"frames": {
        "0": [{"box": [1, 2, 30, 40], "label": "chair", "score": 0.7}],
        "img_7": [{"box": [5, 5, 9, 9], "label": "door"}],
    }}))
    det = create_detector("ground-truth", detections=path)
    (a,) = det.detect(_frame(0))
    assert a.box == (1.0, 2.0, 30.0, 40.0) and a.label == "chair" and a.score == 0.7
    assert [d.label for d in det.detect(_frame(3, name="img_7"))] == ["door"]  # by stem
    assert det.detect(_frame(5)) == []
    for bad, match in [("{", "JSON"), ('{"frames": {"0": [{"box": [1, 2, 3]}]}}', "box"),
                       ('{"frames": {"0": [{"box": [5, 5, 1, 1], "label": "x"}]}}', "x1 > x0"), ("[1]", "expected")]:
        path.write_text(bad)
        with pytest.raises(DataError, match=match):
            ScriptedDetector(path)
    with pytest.raises(ConfigError, match="--detections"):
        create_detector("ground-truth")


def test_yolo_without_ultralytics_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # import fails like a missing package
    with pytest.raises(ConfigError, match=r"AGPL-3.0.*litedepth\[assist\]"):
        create_detector("yolo", "yolo11n.pt")


def test_yolo_adapter_converts_results(tmp_path, monkeypatch):
    """The adapter with a stand-in for Ultralytics' API (boxes, classes, names, mask polygons)."""
    import torch

    calls = {}

    class FakeYOLO:
        def __init__(self, path):
            calls["path"] = path

        def predict(self, image, **kw):
            calls["image"], calls["kw"] = image, kw
            boxes = types.SimpleNamespace(xyxy=torch.tensor([[10.0, 20.0, 50.0, 80.0]]), conf=torch.tensor([0.9]),
                                          cls=torch.tensor([56.0]))
            masks = types.SimpleNamespace(xy=[np.array([[10, 20], [50, 20], [50, 80], [10, 80]], np.float32)])
            return [types.SimpleNamespace(boxes=boxes, masks=masks, names={56: "chair"})]

    monkeypatch.setitem(sys.modules, "ultralytics", types.SimpleNamespace(YOLO=FakeYOLO))
    weights = tmp_path / "yolo11n-seg.pt"
    with pytest.raises(DataError, match="yolo11n"):
        create_detector("yolo", weights)
    weights.write_bytes(b"stand-in")
    det = create_detector("yolo", weights, score_threshold=0.4)
    frame = _frame()
    (d,) = det.detect(frame)
    assert calls["path"] == str(weights) and calls["kw"]["conf"] == 0.4
    np.testing.assert_array_equal(calls["image"], frame.rgb[..., ::-1])  # BGR, as Ultralytics expects
    assert d.label == "chair" and d.box == (10.0, 20.0, 50.0, 80.0) and d.score == pytest.approx(0.9)
    assert d.mask is not None and d.mask.shape == (96, 128) and d.mask[50, 30] and not d.mask[5, 5]
    assert det.describe()["licence"].startswith("AGPL-3.0")
