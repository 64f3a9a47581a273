"""Loss terms looked up by name: a new term is one file plus one line of configuration.

A term is a function ``term(batch, outputs) -> Tensor`` returning an **unweighted scalar**
(or ``None`` when the batch lacks what the term needs: it then adds nothing and is not logged):

* ``batch``: the training batch of the task (self-supervised: ``frames`` ``(B, F, 3, H, W)``
  in ``[0, 1]``, ``frames_raw``, ``K`` ``(B, 3, 3)`` pixel intrinsics, optional ``teacher``
  ``(B, 1, H, W)``, ...; see :class:`litedepth.data.video.SequenceDataset`);
* ``outputs``: a :class:`~litedepth.losses.view_synthesis.ViewSynthesisOutputs`: the depth
  network's output for the target frame (``pred`` ``(B, 1, H, W)``, ``scales``, ``extras``, in
  the network's output units, e.g. sigmoid disparity in ``(0, 1)``), the camera motion to the
  source frames and the task's loss settings.

The self-supervised task's loss is ``sum(weight * term(batch, outputs))`` over its named terms,
each logged weighted as ``train/<name>``. Its built-in terms are registered like any other
(:data:`BUILTIN_TERM_MODULES`), their weights given by the task's flat options:
``photometric`` (weight 1, :mod:`~litedepth.losses.view_synthesis`), ``smoothness``
(``smoothness_weight``, :mod:`~litedepth.losses.smoothness_term`), ``distillation``
(``distillation_weight``) and ``chamfer`` (``chamfer_weight``,
:mod:`~litedepth.losses.teacher_terms`). Multi-scale terms average over the decoder scales
themselves; the task only sums weighted terms.

A task given ``loss_terms={"name": weight, ...}`` adds these terms the same way. Names are either
registered (:func:`register_loss_term`, e.g. in the file that defines the term, imported once)
or a ``"package.module:function"`` path, imported on use::

    # my_terms.py                                  # the configuration (one line)
    def mean_disparity_prior(batch, outputs):      # model:
        return (outputs.pred.mean() - 0.3) ** 2     #   init_args:
                                                   #     loss_terms: {"my_terms:mean_disparity_prior": 0.1}
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor

from litedepth.errors import ConfigError

__all__ = ["BUILTIN_TERM_MODULES", "LossTerm", "get_loss_term", "list_loss_terms", "register_loss_term",
           "resolve_loss_terms"]

#: ``term(batch, outputs) -> scalar Tensor`` (unweighted) or ``None`` (does not apply to this batch)
LossTerm = Callable[[Mapping[str, Any], Any], Tensor | None]

#: modules registering the built-in terms (imported on the first look-up)
BUILTIN_TERM_MODULES = ("litedepth.losses.view_synthesis", "litedepth.losses.smoothness_term",
                        "litedepth.losses.teacher_terms")

_TERMS: dict[str, LossTerm] = {}
_builtins_loaded = False


def _load_builtin_terms() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True  # first: the modules register through register_loss_term
        for module in BUILTIN_TERM_MODULES:
            importlib.import_module(module)


def register_loss_term(name: str) -> Callable[[LossTerm], LossTerm]:
    """Decorator registering ``term`` under ``name`` (a name is registered once)."""

    def wrap(term: LossTerm) -> LossTerm:
        _load_builtin_terms()  # a built-in name cannot be taken first
        if name in _TERMS and _TERMS[name] is not term:
            raise ConfigError(f"loss term {name!r} is already registered ({_TERMS[name].__module__})")
        _TERMS[name] = term
        return term

    return wrap


def list_loss_terms() -> list[str]:
    """Registered term names (the built-in ones included), sorted."""
    _load_builtin_terms()
    return sorted(_TERMS)


def get_loss_term(name: str) -> LossTerm:
    """The term registered as ``name``, or the function at ``"package.module:function"``.

    Raises:
        ConfigError: unknown name, unimportable module or missing function (one line).
    """
    _load_builtin_terms()
    if name in _TERMS:
        return _TERMS[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"loss term {name!r}: cannot import {module_name!r} ({exc})") from None
        term = getattr(module, attr, None)
        if not callable(term):
            raise ConfigError(f"loss term {name!r}: {module_name} has no function {attr!r}")
        return term
    known = ", ".join(list_loss_terms()) or "none registered"
    raise ConfigError(f"unknown loss term {name!r} (registered: {known}; or give 'package.module:function')")


def resolve_loss_terms(weights: Mapping[str, float] | None) -> dict[str, tuple[float, LossTerm]]:
    """``{name: (weight, term)}`` for a task's ``loss_terms`` option; weights must be finite
    numbers (0 disables a term)."""
    out: dict[str, tuple[float, LossTerm]] = {}
    for name, weight in (weights or {}).items():
        try:
            w = float(weight)
        except (TypeError, ValueError):
            raise ConfigError(f"loss_terms: the weight of {name!r} must be a number, got {weight!r}") from None
        if not math.isfinite(w):
            raise ConfigError(f"loss_terms: the weight of {name!r} must be finite, got {weight!r}")
        if w != 0.0:
            out[str(name)] = (w, get_loss_term(str(name)))
    return out
