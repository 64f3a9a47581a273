"""The embedded demo: synthetic scenes -> supervised training -> evaluation vs a baseline.

Nothing is downloaded and no user data is needed. The demo

1. renders indoor rooms with the procedural generator (training/validation scenes, and
   separate held-out test scenes drawn from another seed),
2. trains a small DeepLabV3 depth regressor for a bounded time,
3. evaluates it on the held-out scenes (protocol ``none``: every valid pixel, metric depth,
   no median scaling) against a constant-depth baseline (the median training depth),
4. writes ``metrics.json``, ``training_curve.png`` and prediction panels.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """Options of the demo (defaults: a few minutes on 2 CPU cores).

    Attributes:
        output: output folder.
        network: registered depth network.
        size: ``(height, width)`` of rendered frames and network inputs.
        train_sequences, frames_per_sequence: training scenes (split 90/10 train/val).
        test_sequences: held-out scenes (another seed) for the final evaluation.
        max_minutes: wall-clock bound of the training.
        max_epochs: epoch bound of the training.
        batch_size, lr, si_lambda: training options (``si_lambda`` 0.85 learns metric scale).
        seed: master seed (data and initialisation).
        accelerator: Lightning accelerator (``auto`` uses a GPU when there is one).
        panels: number of test panels written.
    """

    output: str = "demo_output"
    network: str = "deeplabv3-mobilenet-v3-large"
    size: tuple[int, int] = (96, 128)
    train_sequences: int = 12
    frames_per_sequence: int = 20
    test_sequences: int = 3
    max_minutes: float = 3.0
    max_epochs: int = 40
    batch_size: int = 8
    lr: float = 1e-3
    si_lambda: float = 0.85
    seed: int = 0
    accelerator: str = "auto"
    panels: int = 4
    scene_kind: str = "room"
    extra: dict[str, Any] = field(default_factory=dict)


def _render(root: Path, cfg: DemoConfig, n_sequences: int, seed: int) -> None:
    from litedepth.data.synthetic import SceneConfig, make_dataset

    if (root / "manifest.json").exists():
        log.info("reusing synthetic data in %s", root)
        return
    scene = SceneConfig(kind=cfg.scene_kind, height=cfg.size[0], width=cfg.size[1], seed=seed)
    make_dataset(root, n_sequences, cfg.frames_per_sequence, scene, seed=seed)


def _median_train_depth(datamodule: Any) -> float:
    depths = [datamodule.train_set[i]["depth"] for i in range(len(datamodule.train_set))]
    stacked = np.concatenate([d.numpy().ravel() for d in depths])
    return float(np.median(stacked[stacked > 0]))


def _training_curve(csv_path: Path, out_png: Path) -> None:
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from litedepth.utils.atomic import atomic_open

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    ax.plot(epochs, [float(r["train_loss"]) for r in rows], label="train loss")
    ax.plot(epochs, [float(r["val_loss"]) if r["val_loss"] else np.nan for r in rows], label="val loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("scale-invariant log loss")
    ax.legend()
    fig.tight_layout()
    with atomic_open(out_png, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run the demo; returns (and writes to ``<output>/metrics.json``) both result sets.

    Returns:
        ``{"model": metrics, "baseline": metrics, "baseline_depth_m": float, ...}`` where
        metrics are per-image means on the held-out scenes (abs_rel, rmse in metres, a1 ...).
    """
    import lightning as L
    import torch

    from litedepth.data import DepthDataModule
    from litedepth.inference.visualize import depth_panel, save_png
    from litedepth.metrics.evaluate import evaluate_arrays
    from litedepth.tasks import SupervisedDepthTask
    from litedepth.tasks.engine import build_trainer
    from litedepth.utils.atomic import atomic_write_bytes

    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, verbose=False)
    log.info("rendering synthetic scenes into %s", out)
    _render(out / "data_train", cfg, cfg.train_sequences, cfg.seed)
    _render(out / "data_test", cfg, cfg.test_sequences, cfg.seed + 1000)

    dm = DepthDataModule(
        str(out / "data_train"), size=cfg.size, batch_size=cfg.batch_size, num_workers=0,
        depth_encoding="mm", fractions=(0.9, 0.1, 0.0), hflip=True,
    )
    dm.setup("fit")
    baseline_depth = _median_train_depth(dm)
    task = SupervisedDepthTask(
        cfg.network, network_options={"init_depth": baseline_depth}, si_lambda=cfg.si_lambda, lr=cfg.lr,
    )
    trainer = build_trainer(
        out / "run",
        {"max_epochs": cfg.max_epochs, "max_time": {"minutes": cfg.max_minutes}, "accelerator": cfg.accelerator,
         "devices": 1, "enable_model_summary": False, "log_every_n_steps": 5, **cfg.extra},
        early_stop_patience=None,
    )
    log.info("training %s for at most %.1f min / %d epochs", cfg.network, cfg.max_minutes, cfg.max_epochs)
    trainer.fit(task, datamodule=dm)

    test = DepthDataModule(str(out / "data_test"), size=cfg.size, depth_encoding="mm").dataset("all")
    net = task.net.eval().to("cpu")
    preds, gts, images = [], [], []
    with torch.inference_mode():
        for i in range(len(test)):
            item = test[i]
            preds.append(net(item["image"][None]).pred[0, 0].numpy())
            gts.append(item["depth"][0].numpy())
            images.append(item["image"])
    names = [p.name for p in test.pairs]
    model = evaluate_arrays(list(zip(names, preds, gts)), "none", pred_kind="depth", median_scaling=False)
    base = evaluate_arrays(
        [(n, np.full_like(g, baseline_depth), g) for n, g in zip(names, gts)], "none",
        pred_kind="depth", median_scaling=False,
    )
    model_ms = evaluate_arrays(list(zip(names, preds, gts)), "none", pred_kind="depth", median_scaling=True)

    for k in range(min(cfg.panels, len(test))):
        idx = k * len(test) // max(cfg.panels, 1)
        rgb = (images[idx].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        save_png(out / "panels" / f"test_{k:02d}.png", depth_panel(rgb, gts[idx], preds[idx]))
    _training_curve(out / "run" / "metrics.csv", out / "training_curve.png")
    result = {
        "model": model.metrics,
        "model_median_scaled": model_ms.metrics,
        "baseline": base.metrics,
        "baseline_depth_m": baseline_depth,
        "test_images": model.count,
        "epochs_trained": trainer.current_epoch,
        "network": cfg.network,
        "config": asdict(cfg),
    }
    atomic_write_bytes(out / "metrics.json", json.dumps(result, indent=2).encode())
    return result
