"""The phase schedule of multi-task (segmentation + depth) training, as a Lightning callback.

A schedule is a list of :class:`Phase` entries (seed 002's recipes are lists of phases, not
code paths; :mod:`litedepth.tasks.multitask` trains with them).

Per phase: ``train`` selects the decoder(s) that learn and the active loss(es) (``seg``:
focal loss only; ``depth``: depth loss only; ``both``: ``seg_weight * L_seg + depth_weight *
L_depth``); the other decoder is neither run nor updated. ``freeze_encoder`` keeps the encoder
fixed (no gradients, BatchNorm in eval mode). ``copy_from`` copies that decoder into the other
one when the phase starts (once, also across resumes). ``length`` counts epochs or optimiser
steps (``phase_unit``); the last phase goes on for as long as the trainer runs. Phases switch
at the first batch of the epoch / step where they begin.

:class:`PhaseSchedule` is the Lightning callback that runs a schedule: at the first batch of the
epoch / step where a phase begins it copies a decoder into the other, sets ``requires_grad``
per module group, and keeps frozen BatchNorm layers in eval mode. Its state (current phase,
copies done, history) lives in the callback and in the checkpoint block ``multitask_schedule``.

The network must provide ``task_modules()`` (``{"encoder" | "seg" | "depth": [modules]}``) and
``copy_decoder(source)``, as :class:`~litedepth.models.multitask.MultiTaskUNet` does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import lightning as L
from lightning.pytorch.callbacks import Callback
from torch import nn

from litedepth.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["HEADS_OF", "SCHEDULE_KEY", "Phase", "PhaseSchedule", "phase_at", "sequential_phases", "validate_phases"]

#: the checkpoint block holding the schedule's state
SCHEDULE_KEY = "multitask_schedule"

Train = Literal["seg", "depth", "both"]
HEADS_OF: dict[str, tuple[str, ...]] = {"seg": ("seg",), "depth": ("depth",), "both": ("seg", "depth")}


@dataclass(frozen=True)
class Phase:
    """One training phase.

    Attributes:
        train: ``"seg"``, ``"depth"`` or ``"both"``: which decoder(s) learn and which loss(es)
            count.
        length: epochs or steps (the task's ``phase_unit``), ``>= 1``.
        freeze_encoder: keep the shared encoder fixed in this phase.
        copy_from: ``"seg"`` or ``"depth"``: copy this decoder's weights into the other
            decoder when the phase starts; ``None``: no copy.
    """

    train: Train = "both"
    length: int = 1
    freeze_encoder: bool = False
    copy_from: Literal["seg", "depth"] | None = None


def sequential_phases(
    first: Literal["seg", "depth"],
    copy: bool,
    order: Literal["other_then_both", "both"],
    lengths: Sequence[int],
    freeze_encoder: Sequence[bool] | None = None,
) -> list[Phase]:
    """Seed 002's sequential schedule as phases.

    Args:
        first: the decoder trained first.
        copy: copy the first decoder's weights into the other after the first phase.
        order: ``"other_then_both"`` (table 3's ``d→b`` / ``s→b``: the other decoder, then
            both) or ``"both"`` (table 3's ``b``: both right after the first phase).
        lengths: one length per phase (3 or 2).
        freeze_encoder: per phase (default: never).

    Example:
        >>> [p.train for p in sequential_phases("depth", True, "other_then_both", [1, 1, 1])]
        ['depth', 'seg', 'both']
    """
    other = "seg" if first == "depth" else "depth"
    trains = [first, other, "both"] if order == "other_then_both" else [first, "both"]
    if len(lengths) != len(trains):
        raise ConfigError(f"{order!r} has {len(trains)} phases, got {len(lengths)} lengths")
    freeze = list(freeze_encoder) if freeze_encoder is not None else [False] * len(trains)
    if len(freeze) != len(trains):
        raise ConfigError(f"freeze_encoder needs {len(trains)} entries, got {len(freeze)}")
    return [
        Phase(train=t, length=int(n), freeze_encoder=bool(f), copy_from=first if (copy and i == 1) else None)  # type: ignore[arg-type]
        for i, (t, n, f) in enumerate(zip(trains, lengths, freeze))
    ]


def validate_phases(phases: Sequence[Phase], heads: Sequence[str]) -> None:
    """Raise :class:`ConfigError` for phases a network with ``heads`` cannot run."""
    if not phases:
        raise ConfigError("the schedule needs at least one phase")
    for i, p in enumerate(phases):
        if p.train not in HEADS_OF:
            raise ConfigError(f"phase {i}: train must be seg, depth or both, got {p.train!r}")
        if int(p.length) < 1:
            raise ConfigError(f"phase {i}: length must be >= 1, got {p.length}")
        missing = set(HEADS_OF[p.train]) - set(heads)
        if missing:
            raise ConfigError(f"phase {i} trains {p.train!r}, but the network has only the heads {tuple(heads)}")
        if p.copy_from is not None:
            if p.copy_from not in ("seg", "depth"):
                raise ConfigError(f"phase {i}: copy_from must be seg or depth, got {p.copy_from!r}")
            if "depth" not in heads:
                raise ConfigError(f"phase {i}: copy_from needs a network with two decoders")


def phase_at(phases: Sequence[Phase], position: int) -> int:
    """Index of the phase active at ``position`` (epoch or step, from 0); the last phase
    extends beyond its length.

    Example:
        >>> phase_at([Phase("depth", 2), Phase("seg", 1)], 1), phase_at([Phase("depth", 2), Phase("seg", 1)], 9)
        (0, 1)
    """
    end = 0
    for i, p in enumerate(phases):
        end += int(p.length)
        if position < end:
            return i
    return len(phases) - 1


class PhaseSchedule(Callback):
    """Runs :attr:`phases` on the ``net`` of the module it is attached to.

    Args:
        phases: the schedule (validated by the task for its network's heads).
        unit: ``"epoch"`` or ``"step"``: what :attr:`Phase.length` counts.

    Attributes:
        phase: index of the current phase (``None`` before the first batch of a fit).
        copied: indices of the phases whose decoder copy has been done.
        history: one dict per phase entered (``phase``, ``train``, ``freeze_encoder``,
            ``copy_from``, ``copied``, ``epoch``, ``step``, ``resumed``).
    """

    def __init__(self, phases: Sequence[Phase], unit: Literal["epoch", "step"] = "epoch") -> None:
        if unit not in ("epoch", "step"):
            raise ConfigError(f"phase_unit must be 'epoch' or 'step', got {unit!r}")
        self.phases = list(phases)
        self.unit = unit
        self.phase: int | None = None
        self.copied: set[int] = set()
        self.history: list[dict[str, Any]] = []
        self._frozen: list[nn.Module] = []

    def position(self, module: L.LightningModule) -> int:
        """The module's epoch or optimiser step (``unit``), from 0."""
        return int(module.current_epoch if self.unit == "epoch" else module.global_step)

    def enter(self, module: L.LightningModule, index: int) -> None:
        """Switch ``module.net`` to phase ``index``: weight copy (once), ``requires_grad`` per module group."""
        phase = self.phases[index]
        net = module.net
        copied = False
        if phase.copy_from is not None and index not in self.copied:
            net.copy_decoder(phase.copy_from)
            self.copied.add(index)
            copied = True
        train = {"encoder": not phase.freeze_encoder, "seg": phase.train in ("seg", "both"),
                 "depth": phase.train in ("depth", "both")}
        self._frozen = []
        for group, modules in net.task_modules().items():
            for m in modules:
                m.requires_grad_(train[group])
                if not train[group]:
                    self._frozen.append(m)
                    for p in m.parameters():
                        p.grad = None
        resumed = self.phase is None and bool(self.history)
        self.phase = index
        self.history.append({"phase": index, "train": phase.train, "freeze_encoder": phase.freeze_encoder,
                             "copy_from": phase.copy_from, "copied": copied, "epoch": int(module.current_epoch),
                             "step": int(module.global_step), "resumed": resumed})
        log.info("phase %d: train %s%s%s (epoch %d, step %d)", index, phase.train,
                 ", encoder frozen" if phase.freeze_encoder else "",
                 f", copied the {phase.copy_from} decoder into the other" if copied else "",
                 module.current_epoch, module.global_step)

    def update(self, module: L.LightningModule) -> Phase:
        """Enter the phase due at the module's position if it is not the current one; return it."""
        index = phase_at(self.phases, self.position(module))
        if index != self.phase:
            self.enter(module, index)
        return self.phases[index]

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self.update(pl_module)
        for m in self._frozen:  # frozen BatchNorm keeps its statistics (Lightning calls train())
            m.eval()

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        checkpoint[SCHEDULE_KEY] = {
            "phase": self.phase, "copied": sorted(self.copied), "history": list(self.history),
            "phases": [asdict(p) for p in self.phases], "phase_unit": self.unit,
        }

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get(SCHEDULE_KEY) or {}
        self.copied = set(state.get("copied", []))
        self.history = list(state.get("history", []))
