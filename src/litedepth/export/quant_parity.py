"""Parity of a quantised (fp16 / int8) graph with its float32 original.

:func:`precision_parity` runs both on the same frames and gives a :class:`QuantParity`:
differences in the output's own units (``max_abs_diff``, ``mean_abs_diff``: metres for depth
networks, sigmoid disparity for disparity networks) and depth metrics of the quantised model
against the float32 one after per-frame median scaling (``abs_rel``, ``a1`` = fraction with
``max(q / f, f / q) < 1.25``); disparities become depth with Monodepth2's
``disp_to_depth(0.1, 100)`` first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from litedepth.errors import ConfigError
from litedepth.geometry.depth import disp_to_depth

__all__ = ["DISP_MAX_DEPTH", "DISP_MIN_DEPTH", "QuantParity", "precision_parity"]

#: Monodepth2's disparity-to-depth range used to compare disparity outputs as depth
DISP_MIN_DEPTH, DISP_MAX_DEPTH = 0.1, 100.0


@dataclass(frozen=True)
class QuantParity:
    """A quantised graph against its float32 original on the same frames.

    Attributes:
        precision: ``"fp16"`` or ``"int8"``.
        frames: number of parity frames.
        max_abs_diff, mean_abs_diff: ``|quantised - fp32|`` over all pixels, in output units
            (metres or disparity, see ``output_kind``).
        output_scale: ``max |fp32|``.
        abs_rel: mean over frames of ``mean |s q - f| / f`` with the quantised depth ``q``
            median-scaled (``s = median(f) / median(q)``) to the float32 depth ``f``.
        a1: mean over frames of the fraction of pixels with ``max(s q / f, f / (s q)) < 1.25``.
        output_kind: ``"depth"`` or ``"disparity"``.
        value_unit: the unit label of the output values (:attr:`OutputSpec.value_unit`: ``"m"``
            only for metric depth); empty when the caller did not say.
    """

    precision: str
    frames: int
    max_abs_diff: float
    mean_abs_diff: float
    output_scale: float
    abs_rel: float
    a1: float
    output_kind: str
    value_unit: str = ""

    def __str__(self) -> str:
        unit = self.value_unit or ("disparity" if self.output_kind == "disparity" else "(depth units not given)")
        return (f"{self.precision} vs fp32 on {self.frames} frame(s): max |diff| {self.max_abs_diff:.3e} {unit} "
                f"(mean {self.mean_abs_diff:.3e}, output scale {self.output_scale:.3g}); depth after "
                f"median scaling: abs_rel {self.abs_rel:.4f}, delta<1.25 {self.a1:.4f}")


def _as_depth(pred: np.ndarray, kind: str) -> np.ndarray:
    """``pred`` (float64) as depth: disparities through :func:`disp_to_depth` (0.1, 100)."""
    return disp_to_depth(pred, DISP_MIN_DEPTH, DISP_MAX_DEPTH)[1] if kind == "disparity" else pred


def precision_parity(reference: Callable[[np.ndarray], np.ndarray], candidate: Callable[[np.ndarray], np.ndarray],
                     frames: Sequence[np.ndarray], output_kind: str, precision: str,
                     value_unit: str = "") -> QuantParity:
    """Compare ``candidate(x)`` with ``reference(x)`` (``(B, 1, H, W)`` outputs) on ``frames``.

    See :class:`QuantParity` for the figures. Depth outputs must be positive where compared;
    pixels where either depth is not finite and positive are left out.
    """
    if not frames:
        raise ConfigError("the parity check needs at least one frame")
    max_abs, sum_abs, n_px, scale, abs_rels, a1s = 0.0, 0.0, 0, 0.0, [], []
    for x in frames:
        f_out = np.asarray(reference(x), dtype=np.float64)
        q_out = np.asarray(candidate(x), dtype=np.float64)
        diff = np.abs(q_out - f_out)
        max_abs = max(max_abs, float(diff.max()) if diff.size else 0.0)
        sum_abs += float(diff.sum())
        n_px += diff.size
        scale = max(scale, float(np.abs(f_out).max()) if f_out.size else 0.0)
        for f_map, q_map in zip(_as_depth(f_out, output_kind), _as_depth(q_out, output_kind)):
            ok = np.isfinite(f_map) & np.isfinite(q_map) & (f_map > 0) & (q_map > 0)
            if not ok.any():
                abs_rels.append(float("inf"))
                a1s.append(0.0)
                continue
            f, q = f_map[ok], q_map[ok]
            q = q * (np.median(f) / np.median(q))
            abs_rels.append(float(np.mean(np.abs(q - f) / f)))
            a1s.append(float(np.mean(np.maximum(q / f, f / q) < 1.25)))
    return QuantParity(precision, len(frames), max_abs, sum_abs / max(n_px, 1), scale, float(np.mean(abs_rels)),
                       float(np.mean(a1s)), output_kind, value_unit)
