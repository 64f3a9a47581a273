"""Colourised depth maps, side-by-side panels (seed 000: plasma, min-max normalised) and
labelled figures with colour bars in metres (:func:`depth_figure`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from litedepth.utils.atomic import atomic_open

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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


def depth_figure(
    image: np.ndarray,
    gt: np.ndarray | None,
    pred: np.ndarray,
    title: str | None = None,
    cmap: str = "plasma",
    error_cmap: str = "magma",
    panel_inches: float = 2.6,
) -> Figure:
    """A labelled figure: input | ground truth | prediction | absolute error, with colour bars.

    Ground truth and prediction share one colour scale and one colour bar, ``depth (m)``
    (the ground truth's valid range; the bar's arrows mark predictions beyond it); the error
    ``|prediction - ground truth|`` has its own bar in metres (0 to its 99th percentile).
    Pixels without ground truth are grey. Without ground truth the figure is input |
    prediction (its own range).

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        gt: ``(H, W)`` depth in metres, 0 or non-finite = invalid; or ``None``.
        pred: ``(H, W)`` predicted depth in metres.
        title: a title above the panels (``\n`` separates lines).
        cmap, error_cmap: matplotlib colormaps of depth and error.
        panel_inches: width of one panel in inches (the figure is drawn at 100 dpi).

    Returns:
        a ``matplotlib.figure.Figure`` (no pyplot state; save it with :func:`save_figure`).
    """
    import matplotlib
    from matplotlib.figure import Figure

    pred = np.asarray(pred, dtype=np.float64)
    h, w = pred.shape
    depth_cmap = matplotlib.colormaps[cmap].with_extremes(bad="0.6")
    has_gt = gt is not None and bool((np.isfinite(gt) & (np.asarray(gt) > 0)).any())
    # fixed layout in inches (a layout engine would triple the drawing time): panels, then a
    # colour bar after the prediction and after the error
    title_lines = title.count("\n") + 1 if title else 0
    panel_h, gap, bar_w, bar_room, side = panel_inches * h / w, 0.15, 0.12, 0.75, 0.1
    top = 0.4 + 0.2 * title_lines  # the panels' titles, then the figure's title lines
    slots = ["input", "gt", "pred", "bar", "error", "bar"] if has_gt else ["input", "pred", "bar"]
    x, boxes = side, []
    for slot in slots:
        width = bar_w if slot == "bar" else panel_inches
        boxes.append((x, width))
        x += width + (bar_room if slot == "bar" else gap)
    fig_w, fig_h = x, panel_h + top + side  # x: after the last colour bar and its labels
    fig = Figure(figsize=(fig_w, fig_h), dpi=100)
    axes = [fig.add_axes((x0 / fig_w, side / fig_h, width / fig_w, panel_h / fig_h)) for x0, width in boxes]
    panels = [ax for ax, slot in zip(axes, slots) if slot != "bar"]
    bars = [ax for ax, slot in zip(axes, slots) if slot == "bar"]
    panels[0].imshow(image)
    panels[0].set_title("input")
    if has_gt:
        gt = np.asarray(gt, dtype=np.float64)
        valid = np.isfinite(gt) & (gt > 0)
        lo, hi = float(gt[valid].min()), float(gt[valid].max())
        shown = panels[1].imshow(np.ma.masked_where(~valid, gt), cmap=depth_cmap, vmin=lo, vmax=hi)
        panels[1].set_title("ground truth" + (" (grey: none)" if not valid.all() else ""))
        panels[2].imshow(np.ma.masked_invalid(pred), cmap=depth_cmap, vmin=lo, vmax=hi)
        panels[2].set_title("prediction")
        beyond = bool((pred < lo).any()), bool((pred > hi).any())
        extend = {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}[beyond]
        fig.colorbar(shown, cax=bars[0], label="depth (m)", extend=extend)
        err = np.abs(pred - gt)
        top_err = max(float(np.percentile(err[valid], 99)), 1e-6)
        err_shown = panels[3].imshow(np.ma.masked_where(~valid, err),
                                     cmap=matplotlib.colormaps[error_cmap].with_extremes(bad="0.6"),
                                     vmin=0.0, vmax=top_err)
        panels[3].set_title("|prediction - ground truth|")
        fig.colorbar(err_shown, cax=bars[1], label="error (m)",
                     extend="max" if float(err[valid].max()) > top_err else "neither")
    else:
        shown = panels[1].imshow(np.ma.masked_invalid(pred), cmap=depth_cmap)
        panels[1].set_title("prediction")
        fig.colorbar(shown, cax=bars[0], label="depth (m)")
    for ax in panels:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, y=1.0 - 0.08 / fig_h, va="top")
    return fig


def save_figure(path: str | Path, fig: Figure) -> None:
    """Write a matplotlib figure atomically as PNG."""
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png")
