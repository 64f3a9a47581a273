"""``litedepth demo``: the embedded end-to-end demo (no downloads, no user data)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from litedepth.apps.demo import DemoConfig

    d = DemoConfig()
    p = subparsers.add_parser("demo", help="train and evaluate on embedded synthetic data")
    p.add_argument("--output", default=d.output)
    p.add_argument("--network", default=d.network)
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=list(d.size))
    p.add_argument("--train-sequences", type=int, default=d.train_sequences)
    p.add_argument("--test-sequences", type=int, default=d.test_sequences)
    p.add_argument("--frames-per-sequence", type=int, default=d.frames_per_sequence)
    p.add_argument("--max-minutes", type=float, default=d.max_minutes)
    p.add_argument("--max-epochs", type=int, default=d.max_epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--accelerator", default=d.accelerator)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from litedepth.apps.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        output=args.output, network=args.network, size=tuple(args.size), train_sequences=args.train_sequences,
        test_sequences=args.test_sequences, frames_per_sequence=args.frames_per_sequence,
        max_minutes=args.max_minutes, max_epochs=args.max_epochs, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, accelerator=args.accelerator,
        extra={"enable_progress_bar": False} if args.no_progress else {},
    )
    res = run_demo(cfg)
    table = Table(title=f"held-out synthetic scenes ({res['test_images']} images, metric depth, no median scaling)")
    table.add_column("metric")
    table.add_column(f"trained {cfg.network}", justify="right")
    table.add_column(f"constant {res['baseline_depth_m']:.2f} m baseline", justify="right")
    for key in ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3"):
        table.add_row(key, f"{res['model'][key]:.4f}", f"{res['baseline'][key]:.4f}")
    console = Console()
    console.print(table)
    better = res["model"]["abs_rel"] < res["baseline"]["abs_rel"]
    console.print(
        f"model abs_rel {res['model']['abs_rel']:.4f} vs baseline {res['baseline']['abs_rel']:.4f}: "
        + ("[green]the trained model beats the baseline[/]" if better else "[red]the model does NOT beat the baseline[/]")
    )
    console.print(f"outputs in {cfg.output}/ (metrics.json, training_curve.png, panels/)")
    return 0 if better else 1
