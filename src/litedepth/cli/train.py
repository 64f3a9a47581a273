"""``litedepth train``: YAML configs, every option overridable from the command line.

A config has four parts::

    model:            # a LightningModule regime (class_path + init_args)
      class_path: litedepth.tasks.SupervisedDepthTask
      init_args: {network: deeplabv3-resnet50, lr: 1.0e-4}
    data:             # a LightningDataModule
      class_path: litedepth.data.DepthDataModule
      init_args: {root: /data/nyu, size: [256, 512], batch_size: 4}
    trainer:          # any lightning.Trainer option
      max_epochs: 44
    run_dir: runs/seed000

Examples::

    litedepth train --config configs/seed000_deeplabv3_nyu.yaml --data.init_args.root /data/nyu
    litedepth train --config configs/seed000_deeplabv3_nyu.yaml --trainer.max_epochs 3 --resume
    litedepth train --config ... --trainer.devices 2 --trainer.strategy ddp   # multi-GPU / node
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` in the top-level help; its options are parsed by :func:`build_parser`."""
    p = subparsers.add_parser("train", help="train a model from a YAML config (see `litedepth train --help`)", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def run(args: argparse.Namespace) -> int:
    return main(args.rest)


def build_parser():  # noqa: ANN201 - jsonargparse parser
    import lightning as L
    from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentParser

    import litedepth.data  # noqa: F401 - registers data modules for short class names
    import litedepth.tasks  # noqa: F401 - registers regimes for short class names

    parser = ArgumentParser(prog="litedepth train", description=__doc__.split("\n")[0], exit_on_error=True)
    parser.add_argument("--config", action=ActionConfigFile, help="YAML config (may be given several times)")
    parser.add_subclass_arguments(L.LightningModule, "model", required=True, help="training regime")
    parser.add_subclass_arguments(L.LightningDataModule, "data", required=True, help="data module")
    parser.add_class_arguments(
        L.Trainer,
        "trainer",
        instantiate=False,
        skip={"callbacks", "logger", "plugins", "default_root_dir", "enable_checkpointing"},
    )
    parser.add_argument("--run_dir", type=str, default="runs/default", help="folder for checkpoints and logs")
    parser.add_argument("--resume", action=ActionYesNo, default=False, help="resume from <run_dir>/checkpoints/last.ckpt")
    parser.add_argument("--ckpt_path", type=str | None, default=None, help="resume from this checkpoint")
    parser.add_argument("--monitor", type=str, default="val/loss", help="metric selecting best.ckpt")
    parser.add_argument("--monitor_mode", type=str, default="min")
    parser.add_argument("--early_stop_patience", type=int | None, default=5)
    return parser


def main(argv: Sequence[str]) -> int:
    """Parse ``argv`` (without the ``train`` word), train, and return the exit status."""
    from litedepth.tasks.engine import (
        best_checkpoint_callback, build_trainer, check_checkpoint_matches, find_resume_checkpoint,
    )
    from litedepth.utils.atomic import atomic_write_bytes, make_dirs
    from litedepth.utils.logging import route_library_logs

    parser = build_parser()
    route_library_logs()
    cfg = parser.parse_args(list(argv))
    run_dir = Path(cfg.run_dir)
    init = parser.instantiate_classes(cfg)
    model, datamodule = init.model, init.data
    trainer_options: dict[str, Any] = {k: v for k, v in cfg.trainer.as_dict().items()}

    ckpt_path = cfg.ckpt_path
    if ckpt_path is None and cfg.resume:
        found = find_resume_checkpoint(run_dir)
        if found is None:
            log.warning("--resume: no checkpoint in %s yet, starting a new run", run_dir / "checkpoints")
        ckpt_path = str(found) if found else None
    network = getattr(model, "hparams", {}).get("network")
    if ckpt_path is not None and network is not None:
        check_checkpoint_matches(ckpt_path, network)

    make_dirs(run_dir)  # an unwritable run folder fails here, before any work
    trainer = build_trainer(
        run_dir,
        trainer_options,
        monitor=cfg.monitor,
        mode=cfg.monitor_mode,
        early_stop_patience=cfg.early_stop_patience,
    )
    if trainer.is_global_zero:
        atomic_write_bytes(run_dir / "config.yaml", parser.dump(cfg, skip_none=False).encode())
    if ckpt_path:
        log.info("resuming from %s", ckpt_path)
    # weights_only: a resumed checkpoint is read without unpickling arbitrary objects
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    if trainer.is_global_zero:
        import json

        best = best_checkpoint_callback(trainer)
        info = {
            "world_size": trainer.world_size,
            "epochs_completed": trainer.current_epoch,
            "global_step": trainer.global_step,
            "best_checkpoint": best.best_model_path if best is not None else None,
            "best_score": float(best.best_model_score) if best is not None and best.best_model_score is not None else None,
            "monitor": cfg.monitor,
        }
        atomic_write_bytes(run_dir / "run_info.json", json.dumps(info, indent=2).encode())
        if info["best_checkpoint"]:
            log.info("best checkpoint %s (%s = %.4f)", info["best_checkpoint"], cfg.monitor, info["best_score"])
    return 0
