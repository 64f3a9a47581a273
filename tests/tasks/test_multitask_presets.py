"""Seed 002 / 004 presets: one per table row, each naming its row; every schedule preset runs
a fast dev run through `litedepth train` with 1-epoch phases of one step, and its phase sequence (decoder
order, weight copy) is checked against the seed's table."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from litedepth.cli.main import main
from litedepth.data.voc import voc_palette
from litedepth.io.pseudo_labels import PseudoLabelCache
from tests.conftest import REPO_ROOT

# preset -> (first decoder, weight copy, order) of seed 002 table 3
TABLE3 = {
    "seed002_seg_first_copy_depth_both": ("seg", True, "other_then_both"),
    "seed002_seg_first_copy_both": ("seg", True, "both"),
    "seed002_seg_first_nocopy_depth_both": ("seg", False, "other_then_both"),
    "seed002_seg_first_nocopy_both": ("seg", False, "both"),
    "seed002_depth_first_copy_seg_both": ("depth", True, "other_then_both"),
    "seed002_depth_first_copy_both": ("depth", True, "both"),
    "seed002_depth_first_nocopy_seg_both": ("depth", False, "other_then_both"),
    "seed002_depth_first_nocopy_both": ("depth", False, "both"),
}
# preset -> expected phase list as (train, copy_from)
EXPECTED = {name: ([(f, None), ("seg" if f == "depth" else "depth", f if c else None), ("both", None)]
                   if order == "other_then_both" else [(f, None), ("both", f if c else None)])
            for name, (f, c, order) in TABLE3.items()}
EXPECTED["seed002_single_decoder"] = [("seg", None)]
EXPECTED["seed002_joint"] = [("both", None)]
HEADERS = {name: "# Reproduces: seed 002 table 3, row" for name in TABLE3}
HEADERS.update({"seed002_single_decoder": "# Reproduces: seed 002 table 2, row \"single-decoder model\"",
                "seed002_joint": "# Reproduces: seed 002 table 2, row \"multi-decoder model + conventional training\""})
SEED004 = ["seed004_deeplabv3_resnet50_voc", "seed004_deeplabv3_resnet101_voc",
           "seed004_deeplabv3_mobilenet_v3_large_voc", "seed004_deeplabv3plus_resnet50_voc"]
TINY_UNET = {"encoder": "resnet18", "num_classes": 21, "decoder_channels": [16, 16, 8, 8, 8]}


def preset(name: str) -> tuple[str, dict]:
    path = REPO_ROOT / "configs" / f"{name}.yaml"
    return str(path), yaml.safe_load(path.read_text())


def test_every_row_has_a_preset_naming_it():
    names = {p.stem for p in (REPO_ROOT / "configs").glob("seed00[24]_*.yaml")}
    assert set(EXPECTED) | set(SEED004) == names
    for name, header in HEADERS.items():
        text = (REPO_ROOT / "configs" / f"{name}.yaml").read_text()
        assert text.startswith(header), name
        phases = yaml.safe_load(text)["model"]["init_args"]["phases"]
        assert [(p["train"], p.get("copy_from")) for p in phases] == EXPECTED[name], name
        assert sum(p["length"] for p in phases) == 60
    for name in SEED004:
        assert (REPO_ROOT / "configs" / f"{name}.yaml").read_text().startswith("# Reproduces: seed 004"), name


@pytest.fixture(scope="module")
def tiny_voc(tmp_path_factory):
    """A 6-image VOC 2012 layout (4 train, 2 val) and a teacher cache for it."""
    root = tmp_path_factory.mktemp("voc")
    voc = root / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    cache = PseudoLabelCache(root / "cache")
    cache.set_teacher({"id": "test", "output_kind": "relative_disparity"})
    ids = [f"2008_{i:06d}" for i in range(6)]
    for i in ids:
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(voc / "JPEGImages" / f"{i}.jpg")
        mask = np.zeros((40, 48), np.uint8)
        mask[8:30, 10:40] = rng.integers(1, 21)
        mask[7, :] = 255
        im = Image.fromarray(mask, mode="P")
        im.putpalette(voc_palette().reshape(-1).tolist())
        im.save(voc / "SegmentationClass" / f"{i}.png")
        cache.put(f"{i}.jpg", rng.random((40, 48)).astype(np.float32))
    cache.flush()
    (voc / "ImageSets/Segmentation/train.txt").write_text("\n".join(ids[:4]))
    (voc / "ImageSets/Segmentation/val.txt").write_text("\n".join(ids[4:]))
    return root


def dev_run(name: str, root, run_dir, extra: list[str]) -> dict:
    path, cfg = preset(name)
    args = ["train", "--config", path, "--data.init_args.root", str(root / "VOC2012"),
            "--data.init_args.size", "[32,32]", "--data.init_args.batch_size", "4",
            "--data.init_args.num_workers", "0", "--data.init_args.scale_range", "[1.0,1.2]",
            "--model.init_args.phase_length_override", "1",  # 1-epoch phases of 1 step each
            "--trainer.max_epochs", str(len(cfg["model"]["init_args"]["phases"])),
            "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.accelerator", "cpu", "--run_dir", str(run_dir), *extra]
    if "pseudo_labels" in cfg["data"]["init_args"]:
        args += ["--data.init_args.pseudo_labels", str(root / "cache")]
    assert main(args) == 0
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["monitor"] == "val/miou" and 0.0 <= info["best_score"] <= 1.0
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(cfg["model"]["init_args"]["phases"])
    assert all(np.isfinite(float(r["train_loss"])) and np.isfinite(float(r["val_loss"])) for r in rows)
    return ckpt


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed002_preset_fast_dev_run(name, tiny_voc, tmp_path):
    options = dict(TINY_UNET)
    ckpt = dev_run(name, tiny_voc, tmp_path / "run",
                   ["--model.init_args.network_options", json.dumps(options)])
    history = ckpt["multitask_schedule"]["history"]
    # one optimiser step per phase: every phase ran, in the table's order, with its copy
    assert [(h["train"], h["copy_from"]) for h in history] == EXPECTED[name]
    assert [h["epoch"] for h in history] == list(range(len(EXPECTED[name])))
    assert [h["copied"] for h in history] == [c is not None for _, c in EXPECTED[name]]
    assert ckpt["global_step"] == len(EXPECTED[name])


@pytest.mark.parametrize("name,options", [
    ("seed004_deeplabv3_mobilenet_v3_large_voc", None),
    ("seed004_deeplabv3plus_resnet50_voc", {"encoder": "resnet18", "num_classes": 21}),
])
def test_seed004_preset_fast_dev_run(name, options, tiny_voc, tmp_path):
    extra = ["--model.init_args.network_options", json.dumps(options)] if options else []
    ckpt = dev_run(name, tiny_voc, tmp_path / "run", extra)
    assert [h["train"] for h in ckpt["multitask_schedule"]["history"]] == ["seg"]
