"""`litedepth demo` end to end at a tiny size (the full-size run is `make demo`): what a person
sees on the screen and in the PNGs, and what metrics.json says was trained."""

from __future__ import annotations

import json
import math
import re

import numpy as np
from PIL import Image

from litedepth.apps.demo import describe_training, training_curve_figure
from litedepth.cli.demo import training_line
from litedepth.cli.main import main


def test_demo_cut_by_its_time_limit_says_so_on_one_screen(tmp_path, capsys):
    out = tmp_path / "demo"
    # a 0.06 s limit stops the training after its first step, inside the first epoch
    rc = main(["demo", "--output", str(out), "--size", "32", "64", "--train-sequences", "2",
               "--frames-per-sequence", "6", "--test-sequences", "1", "--max-epochs", "2",
               "--max-minutes", "0.001", "--batch-size", "3", "--accelerator", "cpu", "--panels", "2"])
    screen = capsys.readouterr()
    text = screen.out + screen.err
    words = " ".join(text.split())  # rich wraps long lines at the console width
    res = json.loads((out / "metrics.json").read_text())
    # exit status 0 means the trained model beat the constant baseline, 1 that it did not
    assert rc == (0 if res["model"]["abs_rel"] < res["baseline"]["abs_rel"] else 1)
    assert res["test_images"] == 6 and all(math.isfinite(v) for v in res["model"].values())
    assert 0.3 < res["baseline_depth_m"] < 30
    # a partial epoch is not a trained epoch
    training = res["training"]
    assert training["stopped_by"] == "time limit" and training["epochs_completed"] == 0
    assert training["batches_per_epoch"] == 3 and 1 <= training["steps"] < 3
    assert training["epochs"] == round(training["steps"] / 3, 4)
    assert "epochs_trained" not in res
    # the summary says the time limit cut the training and names the option giving more time
    assert "stopped by the time limit" in words and "Give it more time" in words
    assert re.search(r"litedepth demo --max-minutes \d+", words)
    assert "of 3 steps of epoch 1" in words
    # one screen: progress bars, the table and the summary; no per-item or third-party chatter
    lines = text.splitlines()
    assert len(lines) <= 40, text
    for noise in ("wrote seq", "GPU available", "TPU available", "Tip:", "deprecated", "none:", "Time limit reached"):
        assert noise not in text, noise
    bars = [m[1] for ln in lines if (m := re.match(r"(\w+) .*\d+/\d+ (sequences|steps|images) ", ln))]
    assert bars == ["scenes", "training", "evaluating"], text  # one progress bar per phase
    # the curve shows every step as a marker, and is not blank
    fig = training_curve_figure(out / "run")
    per_step = fig.axes[0].lines[0]
    assert per_step.get_marker() == "o" and len(per_step.get_xdata()) == training["steps"]
    curve = np.asarray(Image.open(out / "training_curve.png").convert("L"), dtype=float)
    assert curve.shape == (400, 700) and curve.std() > 10
    # labelled panels with colour bars, much larger than the bare 388 x 96 strips of before
    panels = sorted((out / "panels").glob("test_*.png"))
    assert len(panels) == 2 and res["outputs"]["panels"] == [f"panels/{p.name}" for p in panels]
    with Image.open(panels[0]) as im:
        assert im.size[0] >= 1000 and im.size[1] >= 150
    assert (out / "run" / "checkpoints" / "last.ckpt").is_file()


def _summary(**kw):
    base = {"steps": 81, "batches": 81, "batches_per_epoch": 27, "epochs_completed": 3, "epochs": 3.0,
            "stopped_by": "max_epochs", "time_limit_s": 180.0, "train_seconds": 40.0, "seconds_per_batch": 0.5,
            "max_minutes": 3.0, "max_epochs": 3}
    return {**base, **kw}


def test_training_sentences_count_only_whole_epochs():
    assert describe_training(_summary()) == "3 epochs (81 steps)"
    partial = _summary(steps=3, batches=3, epochs_completed=0, epochs=0.1111, stopped_by="time limit")
    assert describe_training(partial) == "3 of 27 steps of epoch 1 (0.11 epochs)"
    later = _summary(steps=60, batches=60, epochs_completed=2, epochs=2.2222, stopped_by="time limit")
    assert describe_training(later) == "2 epochs and 6 of 27 steps of epoch 3 (2.22 epochs, 60 steps)"
    # all epochs ran: no time-limit advice
    full = training_line(_summary())
    assert "ran all 3 epochs" in full and "time limit" not in full and "--max-minutes" not in full
    # cut by the limit: the option and a value covering every epoch at the measured speed
    cut = training_line({**later, "max_epochs": 40})
    assert "time limit" in cut and "litedepth demo --max-minutes 9," in cut  # 40 epochs x 27 steps x 0.5 s = 9 min
    assert 'make demo DEMO_ARGS="--max-minutes 9"' in cut


def test_every_demo_option_has_a_sentence_of_help():
    import argparse

    from litedepth.cli import demo

    parser = demo.add_parser(argparse.ArgumentParser().add_subparsers())
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert len(options) == 14
    for action in options:
        assert action.help and len(action.help.split()) >= 3, action.option_strings
