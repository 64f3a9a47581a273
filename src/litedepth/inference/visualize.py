"""Colourised depth maps and side-by-side panels (seed 000: plasma, min-max normalised)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from litedepth.utils.atomic import atomic_open


def colorize(
    values: np.ndarray,
    cmap: str = "plasma",
    vmin: float | None = None,
    vmax: float | None = None,
    valid: np.ndarray | None = None,
    invert: bool = False,
) -> np.ndarray:
    """Map a 2-D array to an RGB image with min-max normalisation.

    Args:
        values: ``(H, W)`` depth (metres) or disparity.
        cmap: matplotlib colormap name.
        vmin, vmax: normalisation range; default the min / max over ``valid`` pixels.
        valid: ``(H, W)`` bool; invalid pixels are drawn black. Default: finite and > 0.
        invert: map ``1 / values`` instead (shows depth with near = bright, like disparity).

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    import matplotlib

    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"colorize expects a 2-D map, got shape {v.shape}")
    if valid is None:
        valid = np.isfinite(v) & (v > 0)
    if invert:
        v = np.where(valid, 1.0 / np.where(valid, v, 1.0), 0.0)
    if valid.any():
        lo = float(v[valid].min()) if vmin is None else vmin
        hi = float(v[valid].max()) if vmax is None else vmax
    else:
        lo, hi = 0.0, 1.0
    norm = np.clip((v - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    rgb = matplotlib.colormaps[cmap](norm)[..., :3]
    rgb[~valid] = 0.0
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def make_panel(tiles: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Concatenate ``(H, W, 3)`` uint8 tiles left to right (resized to the first tile's height)."""
    from PIL import Image

    h = tiles[0].shape[0]
    out = []
    for t in tiles:
        if t.shape[0] != h:
            w = round(t.shape[1] * h / t.shape[0])
            t = np.asarray(Image.fromarray(t).resize((w, h), Image.BILINEAR))
        out.append(t)
        out.append(np.zeros((h, gap, 3), np.uint8))
    return np.concatenate(out[:-1], axis=1)


def depth_panel(image: np.ndarray, gt: np.ndarray | None, pred: np.ndarray) -> np.ndarray:
    """Seed 000 panel: input | ground truth | prediction (plasma, shared min-max range).

    Args:
        image: ``(H, W, 3)`` uint8 RGB; gt: ``(H, W)`` metres, 0 = invalid, or ``None``;
        pred: ``(H, W)`` metres.
    """
    if gt is not None and (gt > 0).any():
        valid = gt > 0
        lo, hi = float(gt[valid].min()), float(gt[valid].max())
        return make_panel([image, colorize(gt, vmin=lo, vmax=hi), colorize(pred, vmin=lo, vmax=hi)])
    return make_panel([image, colorize(pred)])


def save_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint8 (or ``(H, W)`` uint8/uint16) image atomically as PNG."""
    from PIL import Image

    with atomic_open(path, "wb") as f:
        Image.fromarray(rgb).save(f, format="PNG")
