"""Errors of the export: a network that cannot be exported, a graph that disagrees with it."""

from __future__ import annotations

from litedepth.errors import LitedepthError

__all__ = ["ExportError", "ParityError"]


class ExportError(LitedepthError):
    """The network could not be exported, or the exported graph is wrong."""


class ParityError(ExportError):
    """The exported graph's output differs from eager PyTorch by more than the tolerance."""
