"""Every preset under configs/ parses and builds its model and data module."""

from __future__ import annotations

from pathlib import Path

import pytest

from litedepth.cli.train import build_parser

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def test_presets_exist():
    names = {p.stem for p in CONFIGS}
    for required in ("seed000_deeplabv3_nyu", "monodepth2_m_640x192", "lite_mono_640x192",
                     "lite_mono_small_640x192", "lite_mono_tiny_640x192", "lite_mono_8m_640x192",
                     "lite_mono_1024x320", "hybrid_resnet18_transformer_640x192"):
        assert required in names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_preset_parses_and_instantiates(path, tmp_path):
    text = path.read_text()
    assert text.startswith("#"), "each preset starts with a comment naming what it reproduces"
    parser = build_parser()
    distill = path.stem.startswith("distill_")  # photos + teacher labels instead of a dataset root
    data_args = (["--data.init_args.images", str(tmp_path), "--data.init_args.labels", str(tmp_path)] if distill
                 else ["--data.init_args.root", str(tmp_path)])
    cfg = parser.parse_args(["--config", str(path), *data_args])
    init = parser.instantiate_classes(cfg)
    assert init.model.hparams.network == cfg.model.init_args.network
    assert type(init.data).__name__ in ("DepthDataModule", "VideoDataModule", "SegmentationDataModule",
                                        "DistillDataModule")
    if distill:  # the student's output is relative disparity, recorded with its weights
        assert init.model.hparams.output == "relative-disparity"
    elif "lite_mono" in path.stem:
        h, w = cfg.data.init_args.size
        assert (cfg.model.init_args.network_options["height"], cfg.model.init_args.network_options["width"]) == (h, w)
