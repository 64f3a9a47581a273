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
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litedepth.errors import ConfigError, LitedepthError

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` in the top-level help; its options are parsed by :func:`build_parser`."""
    p = subparsers.add_parser("train", help="train a model from a YAML config (see `litedepth train --help`)",
                              add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def run(args: argparse.Namespace) -> int:
    return main(args.rest)


def build_parser():  # noqa: ANN201 - jsonargparse parser
    import lightning as L
    from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentParser

    import litedepth.data  # noqa: F401 - registers data modules for short class names
    import litedepth.tasks  # noqa: F401 - registers regimes for short class names

    parser = ArgumentParser(prog="litedepth train", description=__doc__.split("\n")[0], exit_on_error=False)
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
    parser.add_argument("--monitor", type=str | None, default="val/loss",
                        help="validation metric selecting best.ckpt and driving early stopping")
    parser.add_argument("--monitor_mode", type=str, default="min",
                        help="min (losses, errors) or max (accuracies): which way --monitor is better")
    parser.add_argument("--early_stop_patience", type=int | None, default=5,
                        help="validations without improvement of --monitor before training stops; null = never")
    return parser


#: Trainer flags a newcomer needs, with one sentence each (``--help-all`` lists them all)
COMMON_TRAINER_FLAGS = {
    "max_epochs": "stop after this many epochs (unset: 1000, unless max_steps is set)",
    "max_steps": "stop after this many optimiser steps (-1: no limit)",
    "max_time": "stop after this long, DD:HH:MM:SS (checkpoints are kept; unset: no limit)",
    "accelerator": "cpu, gpu, mps or auto",
    "devices": "how many devices (or which: [0, 1]); -1 = all",
    "num_nodes": "machines for multi-node training",
    "strategy": "auto, ddp, fsdp, ... (several devices)",
    "precision": "32-true (unset), 16-mixed or bf16-mixed (mixed precision: faster on recent GPUs)",
    "accumulate_grad_batches": "add up the gradients of N batches before each step (a larger batch in less memory)",
    "gradient_clip_val": "clip gradients to this norm (unset: no clipping)",
    "limit_train_batches": "batches per training epoch: a fraction of the data or a number (unset: all)",
    "limit_val_batches": "batches per validation: a fraction or a number; 0 = no validation (unset: all)",
    "val_check_interval": "validate every N training batches, or a fraction of an epoch (unset: once an epoch)",
    "check_val_every_n_epoch": "validate every N epochs",
    "log_every_n_steps": "how often the losses are logged, in steps",
    "deterministic": "true: reproducible (slower) kernels",
    "fast_dev_run": "run 1 (or N) batches of training and validation to test a config, then stop",
}


def short_help(parser) -> str:  # noqa: ANN001 - the jsonargparse parser of build_parser
    """What ``litedepth train --help`` prints: the litedepth options, the common Trainer flags
    (one sentence each) and where the full lists are (``--help-all``, ``--model.help``)."""
    import textwrap

    import litedepth.data
    import litedepth.tasks

    def option(name: str, text: str) -> str:
        body = textwrap.wrap(text, 100 - 37)
        first = f"  {name:<34} {body[0] if body else ''}"
        return "\n".join([first, *(" " * 37 + line for line in body[1:])])

    defaults = {a.dest: a.default for a in parser._actions}
    helps = {a.dest: a.help or "" for a in parser._actions}
    regimes = ", ".join(litedepth.tasks.__all__)
    data_modules = ", ".join(n for n in litedepth.data.__all__ if n.endswith("DataModule"))
    lines = [
        "usage: litedepth train --config FILE.yaml [--section.option VALUE ...]",
        "",
        (__doc__ or "").split("\n\n", 1)[1].rstrip(),
        "",
        "litedepth options:",
        option("--config FILE", helps["config"]),
        option("--model CLASS | FILE", f"training regime: {regimes} (its options: --model.help CLASS)"),
        option("--model.init_args.NAME VALUE", "one option of the regime (network, lr, ...)"),
        option("--data CLASS | FILE", f"data module: {data_modules} (its options: --data.help "
                                      "litedepth.data.CLASS)"),
        option("--data.init_args.NAME VALUE", "one option of the data module (root, size, batch_size, ...)"),
    ]
    for dest, flag in (("run_dir", "--run_dir DIR"), ("resume", "--resume"), ("ckpt_path", "--ckpt_path FILE"),
                       ("monitor", "--monitor NAME"), ("monitor_mode", "--monitor_mode min|max"),
                       ("early_stop_patience", "--early_stop_patience N")):
        default = defaults.get(dest)
        lines.append(option(flag, f"{helps[dest]} (default: {'null' if default is None else default})"))
    lines.append(option("--print_config", "print the configuration after all other options, and exit"))
    lines += ["", "common Lightning Trainer options (--trainer.NAME VALUE, or the config's trainer: section):"]
    for name, text in COMMON_TRAINER_FLAGS.items():
        default = defaults.get(f"trainer.{name}")
        lines.append(option(f"--trainer.{name}", text if default is None else f"{text} (default: {default})"))
    lines += ["", "more:",
              option("-h, --help", "this summary"),
              option("--help-all", "every option, with all of Lightning's Trainer flags (about 350 lines)"),
              option("--model.help CLASS", "the options of a regime, e.g. --model.help SupervisedDepthTask"),
              option("--data.help CLASS", "the options of a data module, e.g. --data.help "
                                          "litedepth.data.DepthDataModule")]
    return "\n".join(lines) + "\n"


def _litedepth_cause(exc: BaseException) -> LitedepthError | None:
    """The litedepth error that jsonargparse wrapped in ``exc`` (its chain), if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, LitedepthError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _user_error(exc: BaseException) -> LitedepthError:
    """One ConfigError line for a jsonargparse parsing error ('Parser key "k": ...' and details)."""
    cause = _litedepth_cause(exc)
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    match = re.match(r'Parser key "([^"]+)":\s*(.*)', lines[0]) if lines else None
    key, rest = (match.group(1), [match.group(2), *lines[1:]]) if match else (None, lines)
    if cause is not None:
        return ConfigError(f"{key}: {cause}") if key else cause
    noise = ("Subtypes:", "Errors:", "Given value type:", "Does not validate against any of the Union subtypes")
    body = "; ".join(ln.lstrip("- ") for ln in rest if ln and not ln.startswith(noise))
    return ConfigError(f"{key}: {body}" if key else body or type(exc).__name__)


def _discard_new_run(run_dir: Path, created: Path | None, global_zero: bool) -> None:
    """After a user error, remove the folders this command created for the run (``created``:
    the top-most) if the run holds no checkpoint yet (e.g. the data folder turned out to be
    empty): a failed start leaves nothing behind."""
    from litedepth.tasks.engine import checkpoint_dir

    if created is not None and global_zero and not any(checkpoint_dir(run_dir).glob("*.ckpt")):
        import shutil

        shutil.rmtree(created, ignore_errors=True)


def main(argv: Sequence[str]) -> int:
    """Parse ``argv`` (without the ``train`` word), train, and return the exit status."""
    from jsonargparse import ArgumentError

    from litedepth.tasks.engine import (
        best_checkpoint_callback, build_trainer, check_checkpoint_matches, find_resume_checkpoint,
    )
    from litedepth.tasks.preflight import check_config, check_training_setup
    from litedepth.utils.atomic import atomic_write_bytes, first_missing, make_dirs
    from litedepth.utils.logging import route_library_logs

    argv = list(argv)
    parser = build_parser()
    if "-h" in argv or "--help" in argv:
        print(short_help(parser), end="")  # noqa: T201 - the help text is the command's output
        return 0
    if "--help-all" in argv:
        argv = [("--help" if a == "--help-all" else a) for a in argv]
    route_library_logs()
    try:
        cfg = parser.parse_args(argv)
    except ArgumentError as exc:
        raise _user_error(exc) from None
    check_config(cfg)  # names, learning rates, sizes, monitor: before anything is built
    run_dir = Path(cfg.run_dir)
    try:
        init = parser.instantiate_classes(cfg)
    except Exception as exc:  # noqa: BLE001 - jsonargparse wraps our errors in its own
        cause = _litedepth_cause(exc)
        if cause is None:
            raise
        raise cause from None
    model, datamodule = init.model, init.data
    check_training_setup(model, datamodule)
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

    created = first_missing(run_dir)
    make_dirs(run_dir)  # an unwritable run folder fails here, before any work
    trainer = None
    try:
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
    except (LitedepthError, OSError):
        _discard_new_run(run_dir, created, trainer is None or trainer.is_global_zero)
        raise
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
