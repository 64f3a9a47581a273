"""Loss terms looked up by name: a new term is one file plus one line of configuration.

A term is a function ``term(batch, outputs) -> Tensor`` returning an **unweighted scalar**:

* ``batch``: the training batch of the task (self-supervised: ``frames`` ``(B, F, 3, H, W)``
  in ``[0, 1]``, ``frames_raw``, ``K`` ``(B, 3, 3)`` pixel intrinsics, optional ``teacher``
  ``(B, 1, H, W)``, ...; see :class:`litedepth.data.video.SequenceDataset`);
* ``outputs``: the depth network's :class:`~litedepth.models.outputs.DepthOutput` for the
  target frame (``pred`` ``(B, 1, H, W)`` and ``scales``, in the network's output units, e.g.
  sigmoid disparity in ``(0, 1)``).

A task given ``loss_terms={"name": weight, ...}`` adds ``weight * term(batch, outputs)`` to its
total loss and logs the weighted value as ``train/<name>``. Names are either registered
(:func:`register_loss_term`, e.g. in the file that defines the term, imported once) or a
``"package.module:function"`` path, imported on use::

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

__all__ = ["LossTerm", "get_loss_term", "list_loss_terms", "register_loss_term", "resolve_loss_terms"]

#: ``term(batch, outputs) -> scalar Tensor`` (unweighted)
LossTerm = Callable[[Mapping[str, Any], Any], Tensor]

_TERMS: dict[str, LossTerm] = {}


def register_loss_term(name: str) -> Callable[[LossTerm], LossTerm]:
    """Decorator registering ``term`` under ``name`` (a name is registered once)."""

    def wrap(term: LossTerm) -> LossTerm:
        if name in _TERMS and _TERMS[name] is not term:
            raise ConfigError(f"loss term {name!r} is already registered ({_TERMS[name].__module__})")
        _TERMS[name] = term
        return term

    return wrap


def list_loss_terms() -> list[str]:
    """Registered term names, sorted."""
    return sorted(_TERMS)


def get_loss_term(name: str) -> LossTerm:
    """The term registered as ``name``, or the function at ``"package.module:function"``.

    Raises:
        ConfigError: unknown name, unimportable module or missing function (one line).
    """
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
