"""The multi-task model on the real PASCAL VOC samples with depth from a tiny local teacher
(Depth Anything format, random weights): pseudo-labels via `litedepth pseudo-label`, a few
training steps that lower both losses, then the seed 002 best preset through the CLI."""

from __future__ import annotations

import json
import shutil

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from litedepth.cli.main import main
from litedepth.data.segmentation import SegmentationDataset, voc_items
from litedepth.tasks.multitask import MultiTaskSegDepthTask, Phase
from tests.conftest import REPO_ROOT, real_subdir
from tests.teachers.conftest import write_tiny_depth_anything

pytestmark = pytest.mark.real_data

TINY = {"encoder": "resnet18", "num_classes": 21, "decoder_channels": [32, 32, 16, 16, 16]}


@pytest.fixture(scope="module")
def voc_with_teacher(real_data, tmp_path_factory):
    """The 10 real samples in the VOC 2012 layout (7 train, 3 val) + a teacher cache."""
    folder = real_subdir(real_data, "voc2012_val_samples")
    root = tmp_path_factory.mktemp("voc_real")
    voc = root / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    ids = sorted(p.name.removesuffix("_image.png") for p in folder.glob("sample_*_image.png"))
    assert len(ids) == 10
    for i in ids:
        Image.open(folder / f"{i}_image.png").convert("RGB").save(voc / "JPEGImages" / f"{i}.jpg", quality=95)
        shutil.copy(folder / f"{i}_SegmentationClass.png", voc / "SegmentationClass" / f"{i}.png")
    (voc / "ImageSets/Segmentation/train.txt").write_text("\n".join(ids[:7]) + "\n")
    (voc / "ImageSets/Segmentation/val.txt").write_text("\n".join(ids[7:]) + "\n")
    teacher = write_tiny_depth_anything(root / "teacher")
    assert main(["pseudo-label", "--teacher", str(teacher), "--dataset", "images", "--root", str(voc / "JPEGImages"),
                 "--out", str(root / "cache"), "--input-size", "56", "--device", "cpu", "--devices", "1",
                 "--workers", "0", "--no-progress"]) == 0
    return root


def test_a_few_steps_lower_both_losses(voc_with_teacher):
    root = voc_with_teacher
    ds = SegmentationDataset(voc_items(root / "VOC2012", "train"), size=(64, 64), pseudo_labels=root / "cache")
    assert ds.has_depth
    batch = next(iter(DataLoader(ds, batch_size=7)))
    assert batch["depth_valid"].float().mean() > 0.99
    assert float(batch["depth"].min()) >= 0.0 and 0.9 < float(batch["depth"].max()) <= 1.0  # min-max normalised
    torch.manual_seed(0)
    task = MultiTaskSegDepthTask("multitask-unet-resnet50", TINY, phases=[Phase("both", 1)], lr=3e-3)

    def losses():
        task.train()
        with torch.no_grad():
            out = task.net(batch["image"])
            return (float(task._seg_loss(out.logits, batch["mask"])),
                    float(task._depth_loss(out.depth.pred, batch["depth"], batch["depth_valid"])))

    seg0, depth0 = losses()
    L.Trainer(max_steps=15, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0).fit(task, train_dataloaders=DataLoader([batch], collate_fn=lambda b: b[0]))
    seg1, depth1 = losses()
    print(f"\nreal VOC, 15 steps: focal {seg0:.4f} -> {seg1:.4f}, depth MSE {depth0:.4f} -> {depth1:.4f}")
    assert seg1 < 0.5 * seg0
    assert depth1 < 0.5 * depth0


def test_best_preset_through_the_cli_then_predict_and_evaluate(voc_with_teacher, tmp_path):
    root = voc_with_teacher
    run = tmp_path / "run"
    assert main(["train", "--config", str(REPO_ROOT / "configs" / "seed002_depth_first_copy_seg_both.yaml"),
                 "--data.init_args.root", str(root / "VOC2012"), "--data.init_args.pseudo_labels", str(root / "cache"),
                 "--data.init_args.size", "[64,64]", "--data.init_args.batch_size", "7", "--data.init_args.num_workers", "0",
                 "--model.init_args.network_options", json.dumps(TINY), "--model.init_args.phase_length_override", "1",
                 "--trainer.max_epochs", "3", "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu",
                 "--trainer.enable_model_summary", "false", "--run_dir", str(run)]) == 0
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert [(h["train"], h["copied"]) for h in ckpt["multitask_schedule"]["history"]] == [
        ("depth", False), ("seg", True), ("both", False)]
    out = tmp_path / "pred"
    images = sorted((root / "VOC2012" / "JPEGImages").glob("*.jpg"))[:2]
    assert main(["predict", *map(str, images), "--checkpoint", str(run / "checkpoints" / "last.ckpt"),
                 "--output", str(out)]) == 0
    meta = json.loads((out / "predictions.json").read_text())
    # format-2 manifest: the depth head's meaning (pseudo depth from a relative teacher) + the classes
    assert meta["format"] == 2 and meta["model"]["task"] == "multitask" and meta["complete"] is True
    assert meta["output_spec"]["kind"] == "relative-disparity" and meta["output_spec"]["num_classes"] == 21
    assert meta["classes"][15] == "person"
    for img in images:
        seg = Image.open(out / f"{img.stem}_seg.png")
        assert seg.mode == "P" and seg.size == Image.open(img).size
        depth = np.load(out / f"{img.stem}.npy")
        assert depth.shape == (seg.size[1], seg.size[0]) and 0.0 < depth.min() and depth.max() < 1.0
        assert (out / f"{img.stem}_color.png").is_file() and (out / f"{img.stem}_depth.png").is_file()
    report = tmp_path / "metrics.json"
    assert main(["evaluate", "--checkpoint", str(run / "checkpoints" / "last.ckpt"), "--seg-data", str(root / "VOC2012"),
                 "--seg-split", "val", "--output", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["count"] == 3 and 0.0 <= result["miou"] <= 1.0 and 0.0 <= result["pixel_acc"] <= 1.0
    assert set(result["iou"]) == set(meta["classes"])
