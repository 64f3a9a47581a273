"""Agreement of a relative disparity map with a reference disparity (a teacher, or the truth).

A relative model's disparity is known only up to a scale and a shift, so it is compared after
the least-squares scale-and-shift alignment in disparity space that relative models are
evaluated with (REFERENCE section 7; MiDaS, Depth Anything): fit ``s * pred + t`` to the
reference disparity over the reference's valid pixels (finite, ``> 0``), then compare the two
as depths ``1 / d`` with the usual metrics (:mod:`litedepth.metrics.depth`). The reference is
divided by its median first, which changes no metric (they are invariant to a common scale) and
keeps the depths near 1 whatever the reference's range. As the published protocols clamp
predictions to their depth range (KITTI 1e-3..80 m, NYU 1e-3..10 m; MiDaS caps the aligned
disparity the same way), the aligned prediction's depth is clamped to the reference's own range
``[min, max]`` over its valid pixels: an aligned disparity at or below 0 (beyond infinity) counts
as the farthest reference depth, not as an infinite error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from litedepth.errors import DataError
from litedepth.metrics.evaluate import evaluate_pair
from litedepth.metrics.protocols import EvalProtocol

__all__ = ["affine_agreement", "constant_agreement", "reference_depth"]


def reference_depth(reference_disparity: np.ndarray, name: str | Path | None = None) -> np.ndarray:
    """``median / reference`` on valid pixels (finite, ``> 0``), 0 elsewhere: ``(H, W)`` float64.

    Raises:
        DataError: no valid pixel.
    """
    ref = np.asarray(reference_disparity, dtype=np.float64)
    good = np.isfinite(ref) & (ref > 0)
    if not good.any():
        raise DataError(name, "the reference disparity has no valid (> 0) pixel")
    med = float(np.median(ref[good]))
    return np.where(good, med / np.where(good, ref, 1.0), 0.0)


def affine_agreement(pred_disparity: np.ndarray, reference_disparity: np.ndarray,
                     name: str | Path | None = None) -> dict[str, float]:
    """Depth metrics of a disparity map after scale-and-shift alignment to a reference.

    Args:
        pred_disparity: ``(h, w)`` disparity, any scale and shift (resized bilinearly to the
            reference's size when it differs).
        reference_disparity: ``(H, W)`` disparity of the reference (a teacher's relative
            output, or ``1 / depth`` of the truth); ``<= 0`` or non-finite = invalid.
        name: for error messages.

    Returns:
        ``{"abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "a1", "a2", "a3"}``;
        ``rmse`` is in units of the reference's median depth (the rest are unitless).

    Example:
        >>> ref = np.array([[1.0, 2.0], [4.0, 8.0]])
        >>> round(affine_agreement(3 * ref + 1, ref)["abs_rel"], 6)   # an affine copy agrees exactly
        0.0
    """
    depth = reference_depth(reference_disparity, name)
    good = depth[depth > 0]
    protocol = EvalProtocol("reference-range", "the reference's valid pixels; predictions clamped to its depth range",
                            min_depth=0.0, max_depth=None, crop=None, clamp_min=float(good.min()),
                            clamp_max=float(good.max()))
    metrics, _ = evaluate_pair(np.asarray(pred_disparity, dtype=np.float64), depth, protocol, align="scale-shift",
                               name=name)
    return metrics


def constant_agreement(reference_disparity: np.ndarray, name: str | Path | None = None) -> dict[str, float]:
    """The same metrics for a constant prediction (the median reference depth everywhere): the
    baseline a model has to beat."""
    depth = reference_depth(reference_disparity, name)
    metrics, _ = evaluate_pair(np.ones_like(depth), depth, "none", pred_kind="depth", median_scaling=True, name=name)
    return metrics
