"""The embedded demo: synthetic scenes -> supervised training -> evaluation vs a baseline.

Nothing is downloaded and no user data is needed. The demo

1. renders indoor rooms with the procedural generator (training/validation scenes, and
   separate held-out test scenes drawn from another seed),
2. trains a small DeepLabV3 depth regressor for a bounded time (``max_minutes``) and number
   of epochs (``max_epochs``), whichever comes first,
3. evaluates it on the held-out scenes (protocol ``none``: every valid pixel, metric depth,
   no median scaling) against a constant-depth baseline (the median training depth),
4. writes ``metrics.json`` (with what was actually trained: steps, complete epochs, the
   fraction of a partial one, and what stopped the training), ``training_curve.png`` (loss
   per step and per epoch) and labelled prediction panels ``panels/test_NN.png`` (input,
   ground truth, prediction, error, colour bars in metres).

The screen shows one progress bar per phase (scenes, training, evaluation); per-item log
lines and Lightning's start-up chatter are kept off it (``-v`` shows them).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from litedepth.utils.logging import LIBRARY_WARNINGS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: loggers whose info records a progress bar replaces on the demo's screen
_QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric", "litedepth.data.synthetic", "litedepth.metrics.evaluate")
#: warnings a demo user cannot act on: Lightning calling a deprecated torch API, and a rerun
#: training afresh into the previous demo's run folder (its checkpoints are meant to be replaced)
_IGNORED_WARNINGS = (*LIBRARY_WARNINGS,
                     (r"Checkpoint directory .* exists and is not empty", UserWarning))


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
        progress: show one progress bar per phase.
        extra: more ``lightning.Trainer`` options.
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
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _render(root: Path, cfg: DemoConfig, n_sequences: int, seed: int, on_sequence: Any = None) -> bool:
    """Render the scenes into ``root``; ``False`` when they were already there (reused)."""
    from litedepth.data.synthetic import SceneConfig, make_dataset

    if (root / "manifest.json").exists():
        log.debug("reusing synthetic data in %s", root)
        if on_sequence is not None:
            on_sequence(n_sequences, n_sequences)
        return False
    scene = SceneConfig(kind=cfg.scene_kind, height=cfg.size[0], width=cfg.size[1], seed=seed)
    make_dataset(root, n_sequences, cfg.frames_per_sequence, scene, seed=seed, on_sequence=on_sequence)
    return True


def _median_train_depth(datamodule: Any) -> float:
    depths = [datamodule.train_set[i]["depth"] for i in range(len(datamodule.train_set))]
    stacked = np.concatenate([d.numpy().ravel() for d in depths])
    return float(np.median(stacked[stacked > 0]))


def _number(text: str | None) -> float:
    return float(text) if text not in (None, "") else float("nan")


def training_curve_figure(run_dir: str | Path, title: str | None = None) -> Figure | None:
    """The loss curve of a run folder of :func:`~litedepth.tasks.engine.build_trainer`.

    Plots the training loss of every step (``steps.csv``, small markers) and, per epoch
    (``metrics.csv``), the mean training loss and the validation loss at the step where the
    epoch ended (large markers; a partial epoch is marked so). Every point has a marker, so
    a run of one step still shows.

    Returns:
        a ``matplotlib.figure.Figure``, or ``None`` when the run has no recorded step.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from litedepth.tasks.engine import read_csv_rows

    run_dir = Path(run_dir)
    steps = [r for r in read_csv_rows(run_dir / "steps.csv") if r.get("train_loss")]
    epochs = read_csv_rows(run_dir / "metrics.csv")
    if not steps:
        return None
    fig = Figure(figsize=(7.0, 4.0), dpi=100, layout="constrained")
    ax = fig.subplots()
    x = [int(r["step"]) for r in steps]
    ax.plot(x, [float(r["train_loss"]) for r in steps], marker="o", markersize=3, linewidth=0.8, alpha=0.6,
            color="tab:blue", label="training loss (each step)")
    last_step: dict[str, int] = {}
    for r in steps:
        last_step[r["epoch"]] = max(int(r["step"]), last_step.get(r["epoch"], 0))
    ends, train_mean, val, partial = [], [], [], []
    for r in epochs:
        if r["epoch"] not in last_step:
            continue
        ends.append(last_step[r["epoch"]])
        train_mean.append(_number(r.get("train_loss")))
        val.append(_number(r.get("val_loss")))
        per_epoch = r.get("batches_per_epoch") or ""
        partial.append(bool(per_epoch) and int(r.get("batches") or 0) < int(per_epoch))
    if ends:
        ax.plot(ends, train_mean, marker="s", markersize=7, linewidth=1.5, color="tab:blue",
                label="training loss (epoch mean)")
        ax.plot(ends, val, marker="D", markersize=7, linewidth=1.5, color="tab:orange",
                label="validation loss (end of epoch)")
        for end, cut in zip(ends, partial):
            ax.axvline(end, color="0.8", linewidth=0.8, linestyle=":", zorder=0)
            if cut:
                ax.annotate("partial epoch", (end, 1.0), xycoords=("data", "axes fraction"), ha="right",
                            va="top", fontsize=8, color="0.4", rotation=90)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training step (optimiser updates; dotted lines: ends of epochs)")
    ax.set_ylabel("scale-invariant log loss")
    ax.margins(x=0.05)
    if len(x) == 1:
        ax.set_xlim(x[0] - 1, x[0] + 1)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def describe_training(summary: dict[str, Any]) -> str:
    """A short sentence on what was trained, e.g. ``"3 of 27 steps of epoch 1 (0.11 epochs)"``
    or ``"12 epochs (324 steps)"`` (a partial epoch is not counted as an epoch)."""
    done, per_epoch, epochs = summary["epochs_completed"], summary["batches_per_epoch"], summary["epochs"]
    partial = round((epochs - done) * per_epoch) if per_epoch else 0
    if not partial:
        return f"{done} epoch{'s' if done != 1 else ''} ({summary['steps']} steps)"
    text = f"{partial} of {per_epoch} steps of epoch {done + 1} ({epochs:.2f} epochs)"
    if done:
        text = f"{done} epoch{'s' if done != 1 else ''} and {text[:-1]}, {summary['steps']} steps)"
    return text


class _Phases:
    """One rich progress bar per phase of the demo (scenes, training, evaluation)."""

    def __init__(self, enabled: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description:<10}"), BarColumn(bar_width=28), MofNCompleteColumn(),
                                 TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
                                 disable=not enabled)

    def add(self, name: str, total: float | None, unit: str) -> Any:
        return self.progress.add_task(name, total=total, unit=unit, info="")

    def __enter__(self) -> _Phases:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)


def _training_bar(phases: _Phases, max_epochs: int) -> Any:
    """A Lightning callback advancing the demo's training bar (steps of all epochs)."""
    from lightning.pytorch.callbacks import Callback

    class TrainingBar(Callback):
        def __init__(self) -> None:
            self.task = phases.add("training", None, "steps")
            self.loss = self.val = None

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            per_epoch = trainer.num_training_batches
            if per_epoch not in (None, float("inf")):
                phases.progress.update(self.task, total=int(per_epoch) * max_epochs)

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            self.loss = float(loss.detach()) if loss is not None else None
            self._show(trainer, advance=1)

        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            val = trainer.callback_metrics.get("val/loss")
            if val is not None and not trainer.sanity_checking:
                self.val = float(val)
                self._show(trainer)

        def _show(self, trainer: Any, advance: int = 0) -> None:
            info = f"epoch {trainer.current_epoch + 1}/{max_epochs}"
            if self.loss is not None:
                info += f"  loss {self.loss:.3f}"
            if self.val is not None:
                info += f"  val {self.val:.3f}"
            phases.progress.update(self.task, advance=advance, info=info)

    return TrainingBar()


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run the demo; returns (and writes to ``<output>/metrics.json``) both result sets.

    Returns:
        ``{"model": metrics, "baseline": metrics, "baseline_depth_m": float, "training":
        {...}, ...}`` where metrics are per-image means on the held-out scenes (abs_rel,
        rmse in metres, a1 ...) and ``training`` is
        :func:`~litedepth.tasks.engine.training_summary` plus the bounds (``max_minutes``,
        ``max_epochs``).
    """
    import lightning  # noqa: F401 - Lightning sets its loggers' levels on import: import it before quieting them

    from litedepth.utils.logging import quieter

    quiet = not logging.getLogger("litedepth").isEnabledFor(logging.DEBUG)
    with quieter(_QUIET_LOGGERS if quiet else (), ignore_warnings=_IGNORED_WARNINGS if quiet else ()), \
            _Phases(cfg.progress) as phases:
        return _run(cfg, phases)


def _run(cfg: DemoConfig, phases: _Phases) -> dict[str, Any]:
    import lightning as L
    import torch

    from litedepth.data import DepthDataModule
    from litedepth.utils.visualize import depth_figure, save_figure
    from litedepth.metrics.evaluate import evaluate_arrays
    from litedepth.tasks import SupervisedDepthTask
    from litedepth.tasks.engine import build_trainer, training_summary
    from litedepth.utils.atomic import atomic_write_bytes

    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, verbose=False)
    scenes = phases.add("scenes", cfg.train_sequences + cfg.test_sequences, "sequences")
    log.debug("rendering synthetic scenes into %s", out)
    rendered = [
        _render(out / "data_train", cfg, cfg.train_sequences, cfg.seed,
                lambda done, total: phases.progress.update(scenes, completed=done)),
        _render(out / "data_test", cfg, cfg.test_sequences, cfg.seed + 1000,
                lambda done, total: phases.progress.update(scenes, completed=cfg.train_sequences + done)),
    ]
    if not all(rendered):
        phases.progress.update(scenes, info=f"reused from {out}/data_*" if not any(rendered) else "partly reused")

    dm = DepthDataModule(
        str(out / "data_train"), size=cfg.size, batch_size=cfg.batch_size, num_workers=0,
        depth_encoding="mm", fractions=(0.9, 0.1, 0.0), hflip=True,
    )
    dm.setup("fit")
    baseline_depth = _median_train_depth(dm)
    task = SupervisedDepthTask(
        cfg.network, network_options={"init_depth": baseline_depth}, si_lambda=cfg.si_lambda, lr=cfg.lr,
    )
    extra = dict(cfg.extra)
    trainer = build_trainer(
        out / "run",
        {"max_epochs": cfg.max_epochs, "max_time": {"minutes": cfg.max_minutes}, "accelerator": cfg.accelerator,
         "devices": 1, "enable_model_summary": False, "log_every_n_steps": 1, **extra,
         "enable_progress_bar": False, "callbacks": [_training_bar(phases, cfg.max_epochs), *extra.get("callbacks", [])]},
        early_stop_patience=None,
    )
    log.debug("training %s for at most %.1f min / %d epochs", cfg.network, cfg.max_minutes, cfg.max_epochs)
    trainer.fit(task, datamodule=dm)
    training = {**training_summary(trainer), "max_minutes": cfg.max_minutes, "max_epochs": cfg.max_epochs}

    test = DepthDataModule(str(out / "data_test"), size=cfg.size, depth_encoding="mm").dataset("all")
    net = task.net.eval().to("cpu")
    preds, gts, images = [], [], []
    evaluating = phases.add("evaluating", len(test), "images")
    with torch.inference_mode():
        for i in range(len(test)):
            item = test[i]
            preds.append(net(item["image"][None]).pred[0, 0].numpy())
            gts.append(item["depth"][0].numpy())
            images.append(item["image"])
            phases.progress.advance(evaluating)
    names = [p.name for p in test.pairs]
    model = evaluate_arrays(list(zip(names, preds, gts)), "none", pred_kind="depth", median_scaling=False)
    base = evaluate_arrays(
        [(n, np.full_like(g, baseline_depth), g) for n, g in zip(names, gts)], "none",
        pred_kind="depth", median_scaling=False,
    )
    model_ms = evaluate_arrays(list(zip(names, preds, gts)), "none", pred_kind="depth", median_scaling=True)

    trained = describe_training(training)
    panels = []
    for k in range(min(cfg.panels, len(test))):
        idx = k * len(test) // max(cfg.panels, 1)
        rgb = (images[idx].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        m = model.per_image[idx].metrics
        fig = depth_figure(rgb, gts[idx], preds[idx],
                           title=f"held-out {Path(names[idx]).stem}: abs_rel {m['abs_rel']:.3f}, RMSE {m['rmse']:.2f} m\n"
                                 f"{cfg.network} trained {trained}")
        panels.append(out / "panels" / f"test_{k:02d}.png")
        save_figure(panels[-1], fig)
    stopped = {"time limit": f"stopped by the {cfg.max_minutes:g}-min time limit", "max_epochs": "all epochs run"}
    curve = training_curve_figure(out / "run", title=f"{cfg.network}\n{trained}\n"
                                  f"{stopped.get(training['stopped_by'], 'stopped by ' + training['stopped_by'])}")
    if curve is not None:
        save_figure(out / "training_curve.png", curve)
    result = {
        "model": model.metrics,
        "model_median_scaled": model_ms.metrics,
        "baseline": base.metrics,
        "baseline_depth_m": baseline_depth,
        "test_images": model.count,
        "training": training,
        "network": cfg.network,
        "outputs": {"metrics": "metrics.json", "training_curve": "training_curve.png" if curve is not None else None,
                    "panels": [str(p.relative_to(out)) for p in panels]},
        "config": asdict(cfg),
    }
    atomic_write_bytes(out / "metrics.json", json.dumps(result, indent=2).encode())
    return result
