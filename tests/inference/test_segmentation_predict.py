"""Segmentation inference: palette masks, the predictor, `litedepth predict` / `evaluate`
branches for segmentation and multi-task networks."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.cli.main import main
from litedepth.data.segmentation import SegItem
from litedepth.data.voc import voc_palette
from litedepth.errors import ConfigError
from litedepth.inference.segmentation import (
    SegmentationPredictor,
    SegPrediction,
    evaluate_segmentation,
    save_palette_png,
)
from litedepth.models import create_model

TINY = {"encoder": "resnet18", "num_classes": 4, "decoder_channels": [16, 16, 8, 8, 8]}


def test_palette_png_round_trip(tmp_path):
    labels = np.array([[0, 1, 2], [15, 20, 255]], np.uint8)
    save_palette_png(tmp_path / "m.png", labels)
    im = Image.open(tmp_path / "m.png")
    assert im.mode == "P" and np.array_equal(np.asarray(im), labels)
    assert np.array_equal(np.asarray(im.convert("RGB"))[1, 0], voc_palette()[15])
    with pytest.raises(ValueError, match="class ids"):
        save_palette_png(tmp_path / "bad.png", np.full((2, 2), 300))


def test_predictor_returns_maps_at_the_image_size():
    torch.manual_seed(0)
    pred = SegmentationPredictor(create_model("multitask-unet-resnet50", **TINY), (32, 32), device="cpu")
    assert pred.kind == "multitask" and pred.class_names == ["0", "1", "2", "3"]
    out = pred.infer_batch([np.zeros((37, 53, 3), np.uint8), np.full((20, 30, 3), 200, np.uint8)])
    assert out[0].labels.shape == (37, 53) and out[0].labels.dtype == np.uint8 and out[0].labels.max() < 4
    assert out[1].depth.shape == (20, 30) and out[1].depth_kind == "disparity"
    assert out[1].spec.kind == "relative-disparity"  # min-max normalised teacher maps, not Monodepth2's range
    seg = SegmentationPredictor.from_name("unet-resnet50-seg", input_size=(32, 32), device="cpu", **TINY)
    assert seg.kind == "segmentation" and seg.infer_image(np.zeros((9, 9, 3), np.uint8)).depth is None
    with pytest.raises(ConfigError, match="not a segmentation"):
        SegmentationPredictor.from_name("lite-mono-tiny")


def test_evaluation_at_original_resolution_with_known_answers(tmp_path):
    gt = np.array([[0, 0, 1, 1], [0, 255, 2, 2]], np.uint8)
    Image.fromarray(np.zeros((2, 4, 3), np.uint8)).save(tmp_path / "a.png")
    save_palette_png(tmp_path / "a_mask.png", gt)
    item = SegItem("a", tmp_path / "a.png", tmp_path / "a_mask.png", "a.png")

    class Stub:
        num_classes, class_names = 3, ["background", "x", "y"]

        def __init__(self, labels):
            self.labels = labels

        def infer_batch(self, images):
            assert images[0].shape == (2, 4, 3)
            return [SegPrediction(self.labels)]

    perfect = evaluate_segmentation(Stub(np.where(gt == 255, 0, gt)), [item])
    assert perfect["miou"] == 1.0 and perfect["pixel_acc"] == 1.0 and perfect["iiou"] == 1.0
    off = evaluate_segmentation(Stub(np.array([[0, 0, 1, 1], [0, 0, 1, 2]], np.uint8)), [item])
    # class 2: 1 / 2, class 1: 2 / 3, background 3 / 3; object iIoU (2/3 + 1/2) / 2
    assert off["iou"] == pytest.approx({"background": 1.0, "x": 2 / 3, "y": 0.5})
    assert off["pixel_acc"] == pytest.approx(6 / 7) and off["iiou"] == pytest.approx((2 / 3 + 0.5) / 2)


def test_predict_and_evaluate_cli_for_a_segmentation_model(tmp_path, capsys):
    from litedepth.data.synthetic import SceneConfig, make_dataset

    data = tmp_path / "data"
    make_dataset(data, n_sequences=1, frames_per_sequence=3, cfg=SceneConfig(kind="room", height=24, width=32), seed=0)
    torch.manual_seed(0)
    net = create_model("deeplabv3plus-resnet50", encoder="resnet18", num_classes=7)
    weights = tmp_path / "w.pth"
    torch.save(net.state_dict(), weights)
    images = sorted((data / "images").glob("*.png"))
    out = tmp_path / "pred"
    assert main(["predict", str(images[0]), "--model", "deeplabv3plus-resnet50", "--weights", str(weights),
                 "--size", "32", "32", "--output", str(out)]) == 2  # weights of another encoder: a clear error
    assert "w.pth" in capsys.readouterr().err
    assert main(["predict", str(images[0]), "--model", "deeplabv3plus-resnet50", "--pointcloud",
                 "--output", str(out)]) == 2  # depth-only options are refused, not ignored
    assert "--pointcloud" in capsys.readouterr().err
    # the Python API, then predict and evaluate from a checkpoint
    pred = SegmentationPredictor(net, (32, 32), device="cpu")
    res = pred.infer_image(np.asarray(Image.open(images[0]).convert("RGB")))
    assert res.labels.shape == (24, 32)
    ckpt = tmp_path / "seg.ckpt"
    torch.save({"hyper_parameters": {"network": "deeplabv3plus-resnet50",
                                     "network_options": {"encoder": "resnet18", "num_classes": 7}},
                "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
                "datamodule_hyper_parameters": {"size": [24, 32], "class_names": [str(i) for i in range(7)]}}, ckpt)
    assert main(["predict", *map(str, images), "--checkpoint", str(ckpt), "--output", str(out)]) == 0
    meta = json.loads((out / "predictions.json").read_text())
    assert meta["kind"] == "segmentation" and meta["count"] == 3 and "depth" not in meta
    assert sorted(p.name for p in out.glob("*.png")) == [f"{p.stem}_seg.png" for p in images]
    assert not list(out.glob("*.npy"))
    report = tmp_path / "m.json"
    assert main(["evaluate", "--checkpoint", str(ckpt), "--seg-data", str(data), "--seg-layout", "folder",
                 "--masks-dir", "labels", "--seg-split", "all", "--output", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["count"] == 3 and set(result["iou"]) == {str(i) for i in range(7)}
    assert "per-class IoU" in capsys.readouterr().out
    # 2 images: the seeded 80/10/10 split leaves "val" empty - an error, not NaN scores
    two = tmp_path / "two"
    make_dataset(two, n_sequences=1, frames_per_sequence=2, cfg=SceneConfig(kind="room", height=24, width=32), seed=0)
    assert main(["evaluate", "--checkpoint", str(ckpt), "--seg-data", str(two), "--seg-layout", "folder",
                 "--masks-dir", "labels", "--seg-split", "val", "--output", str(tmp_path / "empty.json")]) == 2
    assert "split 'val' is empty" in capsys.readouterr().err and not (tmp_path / "empty.json").exists()
    with pytest.raises(ConfigError, match="--protocol"):
        from litedepth.cli import evaluate as ev

        p = argparse.ArgumentParser()
        ev.run(ev.add_parser(p.add_subparsers()).parse_args(["--output", str(report)]))
