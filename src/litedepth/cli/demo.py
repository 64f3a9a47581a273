"""``litedepth demo``: the embedded end-to-end demo (no downloads, no user data).

Renders synthetic rooms, trains a small depth network for a bounded time, evaluates it on
held-out scenes against a constant-depth baseline and writes ``metrics.json``,
``training_curve.png`` and labelled panels into ``--output``. Exit status 0 when the trained
model beats the baseline, 1 when it does not.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

#: how each metric of the summary table improves
_BETTER = {"abs_rel": "lower", "sq_rel": "lower", "rmse": "lower", "rmse_log": "lower",
           "a1": "higher", "a2": "higher", "a3": "higher"}
_UNITS = {"rmse": "m", "sq_rel": "m"}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from litedepth.apps.demo import DemoConfig

    d = DemoConfig()
    p = subparsers.add_parser(
        "demo", help="train and evaluate on embedded synthetic data",
        description="Render synthetic rooms, train a small depth network for a bounded time, evaluate it on "
                    "held-out scenes against a constant-depth baseline, and write metrics.json, "
                    "training_curve.png and labelled panels. Nothing is downloaded.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--output", metavar="DIR", default=d.output, help="folder for the data, the run and the results (reused data "
                   "is not rendered again)")
    p.add_argument("--network", metavar="NAME", default=d.network, help="registered depth network to train (see `litedepth models`)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=list(d.size),
                   help="height and width in pixels of the rendered frames and the network input")
    p.add_argument("--train-sequences", metavar="N", type=int, default=d.train_sequences,
                   help="synthetic sequences for training (90 %%) and validation (10 %%)")
    p.add_argument("--test-sequences", metavar="N", type=int, default=d.test_sequences,
                   help="held-out sequences, from another seed, for the final evaluation")
    p.add_argument("--frames-per-sequence", metavar="N", type=int, default=d.frames_per_sequence,
                   help="frames rendered per sequence")
    p.add_argument("--max-minutes", metavar="MIN", type=float, default=d.max_minutes,
                   help="wall-clock limit of the training in minutes; training stops at this limit or after "
                        "--max-epochs, whichever comes first")
    p.add_argument("--max-epochs", metavar="N", type=int, default=d.max_epochs, help="most passes over the training scenes")
    p.add_argument("--batch-size", metavar="N", type=int, default=d.batch_size, help="training images per step")
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate of the AdamW optimiser")
    p.add_argument("--seed", metavar="N", type=int, default=d.seed, help="seed of the scenes and the network initialisation")
    p.add_argument("--accelerator", metavar="NAME", default=d.accelerator,
                   help="Lightning accelerator: cpu, gpu, mps, or auto (a GPU when there is one)")
    p.add_argument("--panels", metavar="N", type=int, default=d.panels,
                   help="labelled prediction panels of held-out images written to OUTPUT/panels")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def _more_time(training: dict[str, Any]) -> tuple[int, str]:
    """A --max-minutes that would let every epoch run at the speed measured, and why."""
    per_batch, per_epoch = training.get("seconds_per_batch"), training["batches_per_epoch"]
    doubled = math.ceil(training["max_minutes"] * 2)
    if not (per_batch and per_epoch):
        return doubled, "twice the time"
    minutes = math.ceil(training["max_epochs"] * per_epoch * per_batch / 60.0)
    return max(minutes, doubled), (f"all {training['max_epochs']} epochs need about {minutes} min at the "
                                   f"{per_batch:.2g} s per step measured here")


def training_line(training: dict[str, Any]) -> str:
    """One sentence (rich markup) on what was trained and what stopped it; for a time-limit
    cut it names the option that gives more time."""
    from litedepth.apps.demo import describe_training

    what = describe_training(training)
    stopped = training["stopped_by"]
    if stopped == "time limit":
        minutes, why = _more_time(training)
        return (f"[yellow]training stopped by the time limit[/] (--max-minutes {training['max_minutes']:g}) after "
                f"{what}.\nGive it more time ({why}): litedepth demo --max-minutes {minutes}, "
                f"or make demo DEMO_ARGS=\"--max-minutes {minutes}\"")
    if stopped == "max_epochs":
        return f"training ran all {what} (--max-epochs {training['max_epochs']})."
    return f"training stopped ({stopped}) after {what}."


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from litedepth.apps.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        output=args.output, network=args.network, size=tuple(args.size), train_sequences=args.train_sequences,
        test_sequences=args.test_sequences, frames_per_sequence=args.frames_per_sequence,
        max_minutes=args.max_minutes, max_epochs=args.max_epochs, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, accelerator=args.accelerator, panels=args.panels, progress=not args.no_progress,
    )
    console = Console()
    console.print(f"[bold]litedepth demo[/]: {cfg.train_sequences} + {cfg.test_sequences} synthetic room sequences "
                  f"({cfg.size[0]}x{cfg.size[1]}), train {cfg.network} for at most {cfg.max_minutes:g} min / "
                  f"{cfg.max_epochs} epochs, evaluate vs a constant-depth baseline -> {cfg.output}/")
    res = run_demo(cfg)
    table = Table(title=f"held-out synthetic scenes: {res['test_images']} images, metric depth, no median scaling")
    table.add_column("metric")
    table.add_column("better")
    table.add_column(f"trained {cfg.network}", justify="right")
    table.add_column(f"constant {res['baseline_depth_m']:.2f} m", justify="right")
    for key in ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3"):
        name = f"{key} ({_UNITS[key]})" if key in _UNITS else key
        table.add_row(name, _BETTER[key], f"{res['model'][key]:.4f}", f"{res['baseline'][key]:.4f}")
    console.print(table)
    console.print(training_line(res["training"]))
    better = res["model"]["abs_rel"] < res["baseline"]["abs_rel"]
    console.print(
        f"abs_rel {res['model']['abs_rel']:.4f} vs baseline {res['baseline']['abs_rel']:.4f}: "
        + ("[green]the trained model beats the baseline[/]" if better else "[red]the model does NOT beat the baseline[/]")
    )
    panels = res["outputs"]["panels"]
    shown = f"{panels[0]} .. {panels[-1]}" if len(panels) > 1 else (panels[0] if panels else "no panels")
    console.print(f"outputs in {cfg.output}/: metrics.json, training_curve.png, {shown}")
    return 0 if better else 1
