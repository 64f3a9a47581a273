"""Checkpoint files of a run folder: atomic writes, where they live, reading them back.

Checkpoints are written to a temporary file and renamed into place, so a run killed at any
moment (SIGKILL included) leaves the previous complete checkpoint and resumes from it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from litedepth.errors import CheckpointError
from litedepth.utils.atomic import atomic_torch_save
from litedepth.utils.torch_files import load_torch_file

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose writes are atomic (temporary file + ``os.replace``)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        atomic_torch_save(checkpoint, path)


def best_checkpoint_callback(trainer: L.Trainer) -> ModelCheckpoint | None:
    """The callback writing ``best.ckpt`` (the monitored one), if any."""
    for cb in trainer.checkpoint_callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.monitor is not None:
            return cb
    return None


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def find_resume_checkpoint(run_dir: str | Path) -> Path | None:
    """``run_dir/checkpoints/last.ckpt`` if present (leftover temporary files are removed)."""
    folder = checkpoint_dir(run_dir)
    for tmp in folder.glob(".*.tmp"):
        log.info("removing an unfinished checkpoint write %s", tmp)
        tmp.unlink(missing_ok=True)
    last = folder / "last.ckpt"
    return last if last.is_file() else None


def read_checkpoint(path: str | Path, *, mmap: bool = False) -> dict[str, Any]:
    """Load a Lightning checkpoint on CPU, with a clear error for unreadable files.

    ``mmap=True`` maps the file instead of reading it: tensors are only read when used, so
    looking at ``hyper_parameters`` costs next to nothing. Empty, truncated, foreign files and
    files holding objects beyond weights are one-line :class:`CheckpointError` s
    (:func:`litedepth.utils.torch_files.load_torch_file`).
    """
    ckpt = load_torch_file(path, "checkpoint", mmap=mmap)
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a checkpoint (a {type(ckpt).__name__}, not a dict)")
    return ckpt


def check_checkpoint_matches(path: str | Path, network: str, task_class: str | None = None) -> None:
    """Raise :class:`CheckpointError` if the checkpoint at ``path`` was made for another network."""
    ckpt = read_checkpoint(path)
    hp = ckpt.get("hyper_parameters", {})
    other = hp.get("network")
    if other is not None and other != network:
        raise CheckpointError(f"{path}: checkpoint is of network {other!r}, but this run builds {network!r}")
    if "state_dict" not in ckpt:
        raise CheckpointError(f"{path}: no state_dict in checkpoint")
