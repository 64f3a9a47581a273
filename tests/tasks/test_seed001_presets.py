"""Seed 001 presets: one per row of its table; MACs asserted and a few training steps each."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from litedepth.cli.train import build_parser
from litedepth.data.synthetic import SceneConfig, make_dataset
from litedepth.data.video import SyntheticSequenceDataset
from litedepth.profiling.flops import count_macs
from litedepth.io.pseudo_labels import PseudoLabelCache
from litedepth.tasks.engine import read_checkpoint, read_csv_rows
from tests.conftest import REPO_ROOT
from tests.helpers import cosine_restart_lr, run_cli

# preset -> (our conv+linear MACs of the network at 640x192, the seed's FLOPs column in G)
ROWS = {
    "seed001_baseline": (5_005_271_040, 5.032),
    "seed001_spatial_attention": (5_005_506_240, 5.033),
    "seed001_pseudo_label": (5_005_271_040, 5.032),
    "seed001_fixed_bins": (5_045_821_440, 5.694),
    "seed001_adaptive_bins_chamfer": (5_045_832_704, 8.675),
}


def _config(name: str) -> str:
    return str(REPO_ROOT / "configs" / f"{name}.yaml")


@pytest.mark.parametrize("name", sorted(ROWS))
def test_preset_profile(name, capsys):
    parser = build_parser()
    cfg = parser.parse_args(["--config", _config(name)])
    net = parser.instantiate_classes(cfg).model.net.eval()
    macs = count_macs(net.to("meta"), torch.empty(1, 3, 192, 640, device="meta"), mode="conv_linear").macs
    ours, seed = ROWS[name]
    with capsys.disabled():
        print(f"\n{name}: {macs / 1e9:.3f} G MACs (conv+linear) vs seed {seed:.3f} G: {macs / 1e9 - seed:+.3f} G")
    assert macs == ours


@pytest.mark.parametrize("name", ["seed001_baseline", "seed001_adaptive_bins_chamfer"])
def test_profile_command_prints_preset_macs_beside_seed_flops(name, tmp_path):
    """``litedepth profile --config PRESET`` reads the seed figure off the preset's first line."""
    from litedepth.cli.main import main

    out = tmp_path / "profile.json"
    assert main(["profile", "--config", _config(name), "--warmup", "0", "--repeats", "1",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    ours, seed = ROWS[name]
    assert report["input_size"] == {"height": 192, "width": 640}
    assert report["macs_per_image"]["conv_linear"] == ours
    ref = report["reference"]
    assert ref["reference_gmacs"] == seed and "seed 001" in ref["source"]
    assert ref["difference_gmacs"] == pytest.approx(ours / 1e9 - seed)


def test_profile_config_errors(tmp_path):
    from litedepth.cli.main import main
    from litedepth.errors import DataError
    from litedepth.cli.profile import network_from_preset

    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  init_args: {lr: 1}\n")
    with pytest.raises(DataError, match="bad.yaml.*network"):
        network_from_preset(bad)
    assert main(["profile", "--config", str(bad)]) == 2


@pytest.fixture(scope="module")
def video_and_teacher(tmp_path_factory):
    root = tmp_path_factory.mktemp("seed001")
    make_dataset(root / "data", n_sequences=3, frames_per_sequence=5, cfg=SceneConfig(height=64, width=192), seed=2)
    cache = PseudoLabelCache(root / "cache")
    ds = SyntheticSequenceDataset(root / "data", split="all")
    for i in range(len(ds)):
        s = ds[i]
        d = s["depth_gt"][0].numpy()
        cache.put(s["name"], np.where(d > 0, 1.0 / np.maximum(d, 1e-6), 0.0))
    cache.flush()
    return root


@pytest.mark.parametrize("name", sorted(ROWS))
def test_preset_trains_a_few_steps(name, video_and_teacher, tmp_path):
    root = video_and_teacher
    res = run_cli("train", "--config", _config(name), "--data.init_args.dataset", "synthetic",
                  "--data.init_args.root", str(root / "data"), "--data.init_args.split_dir", "null",
                  "--data.init_args.size", "[64,192]", "--data.init_args.batch_size", "2",
                  "--data.init_args.num_workers", "0", "--data.init_args.fractions", "[0.67,0.33,0.0]",
                  "--data.init_args.pseudo_labels", str(root / "cache"),
                  "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                  "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
                  "--trainer.accelerator", "cpu", "--run_dir", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr[-3000:]
    run = tmp_path / "run"
    ckpt = read_checkpoint(run / "checkpoints" / "last.ckpt")
    (epoch,), steps = read_csv_rows(run / "metrics.csv"), read_csv_rows(run / "steps.csv")
    # one epoch of the train split's full batches (at most the 2 allowed), each an optimiser step
    assert ckpt["epoch"] == 0 and ckpt["global_step"] == len(steps) == int(epoch["batches"]) >= 1
    assert all(np.isfinite(float(s["train_loss"])) for s in steps)
    # every option of the preset reached the task, and the card records the network as built
    preset = yaml.safe_load(open(_config(name)))["model"]["init_args"]
    hp = ckpt["hyper_parameters"]
    assert {k: list(hp[k]) if isinstance(hp[k], tuple) else hp[k] for k in preset} == preset
    card = ckpt["litedepth"]
    assert (card["network"], card["network_options"]) == (preset["network"], preset["network_options"])
    assert (card["output_spec"]["min_depth"], card["output_spec"]["max_depth"]) == (preset["min_depth"],
                                                                                    preset["max_depth"])
    # after one epoch the learning rate is on the preset's cosine schedule
    assert float(epoch["lr"]) == pytest.approx(cosine_restart_lr(preset["lr"], preset["min_lr"], 1, preset["period"]),
                                               rel=1e-9)
