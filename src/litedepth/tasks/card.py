"""What a litedepth checkpoint says about its network: the ``litedepth`` block.

Every task writes, beside Lightning's ``state_dict`` and ``hyper_parameters``, a block
``checkpoint["litedepth"]`` that a reader needs to use the weights without guessing::

    {"format": 1,
     "network": "lite-mono", "network_options": {...},
     "output_spec": {...},              # OutputSpec.to_dict(): kind, scale, range, units ...
     "input_size": [192, 640],          # (height, width) the network was trained at
     "depth_encoding": "tum",           # encoding of the training data's depth files, if any
     "trained": true,
     "litedepth_version": "0.1.0"}

:func:`card_from_checkpoint` reads it back; checkpoints written before the block existed
are described from their hyper-parameters by the same rules the tasks use
(:meth:`~litedepth.tasks.supervised.SupervisedDepthTask.output_spec` ...).
"""

from __future__ import annotations

import logging
from typing import Any

from litedepth.errors import CheckpointError
from litedepth.models.registry import model_info
from litedepth.models.spec import OutputSpec

log = logging.getLogger(__name__)

CARD_KEY = "litedepth"
CARD_FORMAT = 1
#: network options that point at files used only to initialise training (not needed to rebuild)
INIT_ONLY_OPTIONS = ("weights", "pretrained_path", "encoder_weights")


def datamodule_facts(trainer: Any) -> dict[str, Any]:
    """``input_size`` and ``depth_encoding`` from the trainer's datamodule hyper-parameters."""
    dm = getattr(trainer, "datamodule", None) if trainer is not None else None
    hp = dict(getattr(dm, "hparams", {}) or {})
    return facts_from_datamodule_hparams(hp)


def facts_from_datamodule_hparams(hp: dict[str, Any]) -> dict[str, Any]:
    size = hp.get("size")
    encoding = hp.get("depth_encoding", hp.get("depth_scale"))
    return {
        "input_size": [int(size[0]), int(size[1])] if size else None,
        "depth_encoding": None if encoding is None else (encoding if isinstance(encoding, str) else float(encoding)),
    }


def make_card(network: str | None, network_options: dict[str, Any] | None, spec: OutputSpec, trainer: Any = None,
              **extra: Any) -> dict[str, Any]:
    """The ``litedepth`` block of a checkpoint (see the module docstring)."""
    from litedepth import __version__

    options = {k: v for k, v in (network_options or {}).items() if k not in INIT_ONLY_OPTIONS}
    return {"format": CARD_FORMAT, "network": network, "network_options": options,
            "output_spec": spec.to_dict(), **datamodule_facts(trainer), "trained": True,
            "litedepth_version": __version__, **extra}


class CardMixin:
    """Writes the ``litedepth`` block into every checkpoint a task saves.

    A task using it defines :attr:`output_spec` (what its network's output means *as trained*,
    e.g. a relative spec for a scale-invariant loss) and has ``hparams.network`` /
    ``hparams.network_options``.
    """

    @property
    def output_spec(self) -> OutputSpec:  # pragma: no cover - every task overrides
        raise NotImplementedError

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        hp = self.hparams  # type: ignore[attr-defined]
        extra = {}
        if hp["network"] is None:  # a module given to the task, not built by name (litedepth.tasks.network)
            extra["network_class"] = hp.get("network_class")
            log.warning("this checkpoint cannot be rebuilt by name: the task was given a %s module that was not "
                        "built by litedepth.models.create_model; load its state_dict into a network built the "
                        "same way", hp.get("network_class"))
        checkpoint[CARD_KEY] = make_card(hp["network"], hp.get("network_options"), self.output_spec,
                                         getattr(self, "_trainer", None), **extra)


def card_from_checkpoint(ckpt: dict[str, Any], where: str = "checkpoint") -> dict[str, Any]:
    """The ``litedepth`` block of a loaded checkpoint, with ``output_spec`` as an :class:`OutputSpec`.

    Older checkpoints without the block are described from their hyper-parameters (network
    spec; the self-supervised ``min_depth``/``max_depth``; ``si_lambda == 1`` makes depth
    relative).

    Raises:
        CheckpointError: not a litedepth checkpoint (no network recorded) or a bad block.
    """
    block = ckpt.get(CARD_KEY)
    hp = ckpt.get("hyper_parameters") or {}
    if isinstance(block, dict):
        from litedepth.errors import ConfigError

        try:
            spec = OutputSpec.from_dict(block.get("output_spec"), f"{where} (litedepth.output_spec)")
        except ConfigError as exc:
            raise CheckpointError(str(exc)) from None
        if block.get("network") is None:
            raise CheckpointError(f"{where}: cannot be rebuilt by name: it was trained with a "
                                  f"{block.get('network_class') or 'network'} module not built from the registry "
                                  "(load its state_dict into a network built the same way)")
        return {**block, "output_spec": spec}
    name = hp.get("network")
    if name is None:
        raise CheckpointError(f"{where}: no 'network' in the checkpoint's hyper-parameters (not a litedepth checkpoint?)")
    options = {k: v for k, v in (hp.get("network_options") or {}).items() if k not in INIT_ONLY_OPTIONS}
    spec = legacy_spec(name, options, hp)
    log.debug("%s: no litedepth block (older checkpoint); output described from its hyper-parameters: %s",
              where, spec.describe())
    return {"format": 0, "network": name, "network_options": options, "output_spec": spec,
            **facts_from_datamodule_hparams(ckpt.get("datamodule_hyper_parameters") or {}), "trained": True}


def legacy_spec(network: str, options: dict[str, Any], hp: dict[str, Any]) -> OutputSpec:
    """The spec a task of today would record for these hyper-parameters."""
    spec = model_info(network).output_spec(**options)
    if spec.kind == "sigmoid-disparity" and "min_depth" in hp and "max_depth" in hp:
        spec = spec.replace(min_depth=float(hp["min_depth"]), max_depth=float(hp["max_depth"]))
    if spec.kind == "depth" and float(hp.get("si_lambda", 0.0)) == 1.0:
        spec = spec.replace(scale="relative", note="scale-invariant loss (SILog λ = 1): depth up to scale")
    return spec
