"""The :class:`DepthEncoding` type: one way of storing depth in a file (name, suffixes, decoder, encoder).

The named encodings themselves are in :mod:`litedepth.io.depth_encodings.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError, DataError

__all__ = ["DepthEncoding"]


@dataclass(frozen=True)
class DepthEncoding:
    """One way of storing depth in a file.

    Attributes:
        name: canonical name (what is recorded in checkpoints and ``predictions.json``).
        description: what a stored value means, in one line.
        suffixes: file suffixes (lower case, with the dot) this encoding reads.
        decoder: ``(path, allow_8bit) -> float32 (H, W) metres``, 0 = invalid.
        aliases: other accepted names.
        scale: integer units per metre of the linear uint16 encodings (``value / scale`` =
            metres), ``None`` for the others.
        encoder: ``(path, depth_m) -> None`` writing a file, or ``None`` (decode only).
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    decoder: Callable[[Path, bool], np.ndarray] = field(compare=False, repr=False)
    aliases: tuple[str, ...] = ()
    scale: float | None = None
    encoder: Callable[[Path, np.ndarray], None] | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.name

    @property
    def writable(self) -> bool:
        """Whether :meth:`encode` can write this encoding."""
        return self.encoder is not None

    def describe(self) -> str:
        """The one-line description of what a stored value means."""
        return self.description

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: ``{"name", "description"}`` plus ``"scale"`` for linear encodings.

        :func:`parse_encoding` of the ``name`` gives this encoding back.
        """
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.scale is not None:
            out["scale"] = self.scale
        return out

    def check_suffix(self, path: str | Path) -> Path:
        """``path`` as a :class:`Path`; a file suffix this encoding does not read is a DataError."""
        path = Path(path)
        if path.suffix.lower() not in self.suffixes:
            raise DataError(
                path, f"depth encoding {self.name!r} reads {'/'.join(self.suffixes)} files, not "
                f"{path.suffix or 'files without a suffix'}"
            )
        return path

    def decode(self, path: str | Path, *, allow_8bit: bool = False) -> np.ndarray:
        """Read ``path`` as depth in this encoding.

        Args:
            path: the depth file (a suffix of :attr:`suffixes`).
            allow_8bit: linear encodings only: accept an 8-bit greyscale image (value / scale
                metres). Off by default: an 8-bit "depth" PNG is almost always a visualisation.

        Returns:
            ``float32`` array ``(H, W)``, metres, ``0.0`` where there is no measurement.

        Raises:
            DataError: missing or corrupt file, a file of another format or bit depth.
        """
        return self.decoder(self.check_suffix(path), allow_8bit)

    def encode(self, path: str | Path, depth_m: np.ndarray) -> None:
        """Write ``depth_m`` (``(H, W)`` metres; NaN/Inf/<=0 = invalid) to ``path`` atomically.

        Raises:
            ConfigError: the encoding is decode-only.
            DataError: a suffix this encoding does not read.
        """
        if self.encoder is None:
            raise ConfigError(f"depth encoding {self.name!r} can be read but not written")
        self.encoder(self.check_suffix(path), depth_m)
