"""Colourised depth maps, side-by-side panels (seed 000: plasma, min-max normalised),
labelled figures with colour bars in metres (:func:`depth_figure`) and a map with its colour
bar and unit composed as one image (:func:`map_with_colorbar`, the web demo's depth view)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ColourScale:
    """How :func:`colorize` maps values to colours: ``cmap`` over ``[lo, hi]`` of the shown
    quantity, which is the value itself, or ``1 / value`` when ``invert`` (near = bright).

    Example:
        >>> s = ColourScale(lo=0.25, hi=1.0, invert=True)   # depths 1 m .. 4 m
        >>> s.position(4.0), s.position(1.0), s.value_at(0.5)
        (0.0, 1.0, 1.6)
    """

    lo: float
    hi: float
    invert: bool = False
    cmap: str = "plasma"

    @classmethod
    def of(cls, values: np.ndarray, invert: bool = False, valid: np.ndarray | None = None,
           cmap: str = "plasma") -> ColourScale:
        """The min-max scale :func:`colorize` uses for ``values`` (valid: finite and > 0 by default)."""
        v = np.asarray(values, dtype=np.float64)
        if valid is None:
            valid = np.isfinite(v) & (v > 0)
        if not valid.any():
            return cls(0.0, 1.0, invert, cmap)
        shown = 1.0 / v[valid] if invert else v[valid]
        return cls(float(shown.min()), float(shown.max()), invert, cmap)

    def position(self, value: float) -> float:
        """Where ``value`` (in the map's units) sits on the bar: 0 = bottom (``lo``), 1 = top."""
        shown = 1.0 / value if self.invert else value
        return float((shown - self.lo) / max(self.hi - self.lo, 1e-12))

    def value_at(self, position: float) -> float:
        """The map value at ``position`` on the bar (inverse of :meth:`position`)."""
        shown = self.lo + position * (self.hi - self.lo)
        return float(1.0 / shown) if self.invert else float(shown)

    def ticks(self, n: int = 5) -> list[float]:
        """Up to ``n`` round values spread evenly along the bar: two significant digits, or as
        many more (up to six) as a narrow range needs to give three different ticks."""
        out: list[float] = []
        for digits in range(2, 7):
            out = []
            for t in np.linspace(0.0, 1.0, n):
                for more in (0, 1):
                    value = float(f"{self.value_at(float(t)):.{digits + more}g}")
                    if (value > 0 or not self.invert) and -1e-9 <= self.position(value) <= 1 + 1e-9:
                        if value not in out:
                            out.append(value)
                        break
            if len(out) >= min(3, n) or self.hi - self.lo <= 1e-12 * max(abs(self.hi), 1.0):
                break
        if len(out) < 2:  # a range too narrow for round values: its two ends, as they are
            ends = [self.value_at(1.0), self.value_at(0.0)]
            out = [e for i, e in enumerate(ends) if e not in ends[:i] and (e > 0 or not self.invert)]
        return out


def _tick_labels(ticks: Sequence[float]) -> list[str]:
    """Tick values as text: the fewest significant digits (up to 8) that tell them apart, then
    one number of decimals for all (``0.50, 0.66, 12.00``)."""
    digits = 2
    while digits < 8 and len({f"{t:.{digits}g}" for t in ticks}) < len(set(ticks)):
        digits += 1
    short = [f"{t:.{digits}g}" for t in ticks]
    if any("e" in t for t in short) or not ticks:
        return short
    decimals = max(len(t.partition(".")[2]) for t in short)
    return [f"{t:.{decimals}f}" for t in ticks]


def _font(size: int):  # noqa: ANN202 - a PIL font
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def map_with_colorbar(
    values: np.ndarray,
    *,
    label: str,
    unit: str = "",
    invert: bool = False,
    cmap: str = "plasma",
    title: Sequence[tuple[str, tuple[int, int, int]]] = (),
    min_height: int = 240,
    max_height: int = 480,
    max_width: int = 720,
) -> np.ndarray:
    """A colourised map with its colour bar, tick values and unit, composed as one RGB image.

    The map is coloured exactly as :func:`colorize` colours it (min-max over the valid pixels
    of ``values``, or of ``1 / values`` when ``invert``: near = bright for depth) and scaled
    (nearest neighbour, so pixels stay honest) to a readable size. The bar beside it shows the
    same colours, with tick labels in the map's units (``unit`` appended: ``"m"`` for metres,
    ``""`` for relative values) and ``label`` written along it; with ``invert`` the ticks are
    spaced as the colours are (by ``1 / value``). Black pixels (no valid value) are explained
    under the map when there are any.

    Args:
        values: ``(H, W)`` map (depth in metres, relative depth or disparity).
        label: what the values are, e.g. ``"depth (m)"`` or ``"relative depth (no unit)"``.
        unit: suffix of tick labels (``"m"`` or ``""``).
        invert: colour by ``1 / values``.
        cmap: matplotlib colormap name.
        title: lines above the map, each ``(text, rgb colour)``.
        min_height, max_height, max_width: size of the drawn map in pixels (aspect kept).

    Returns:
        ``(H', W', 3)`` uint8 RGB on a white background.
    """
    import matplotlib
    from PIL import Image, ImageDraw

    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"map_with_colorbar expects a 2-D map, got shape {v.shape}")
    valid = np.isfinite(v) & (v > 0)
    scale = ColourScale.of(v, invert, valid, cmap)
    colours = colorize(v, cmap, vmin=scale.lo, vmax=scale.hi, valid=valid, invert=invert)
    h, w = v.shape
    zoom = min(max(min_height / h, 1.0), max_height / h, max_width / w)
    mh, mw = max(1, round(h * zoom)), max(1, round(w * zoom))
    shown = Image.fromarray(colours).resize((mw, mh), Image.NEAREST if zoom >= 1 else Image.BOX)

    font, small = _font(15), _font(13)
    margin, gap, bar_w, tick = 10, 12, 18, 5
    notes = [] if valid.all() else [("black: no valid value", (0, 0, 0))]
    if valid.any() and scale.hi - scale.lo <= 1e-9 * max(abs(scale.hi), 1.0):
        notes.append(("every valid pixel has the same value", (0, 0, 0)))
    lines = list(title)
    line_h = 20
    ticks = scale.ticks() if valid.any() else []
    tick_text = [f"{t} {unit}".strip() for t in _tick_labels(ticks)]
    text_w = max([int(small.getlength(t)) for t in tick_text] + [0])
    label_h = int(font.getbbox(label)[3]) + 4
    width = margin + mw + gap + bar_w + tick + 4 + text_w + 8 + label_h + margin
    width = max(width, margin * 2 + max([int(font.getlength(t)) for t, _ in lines + notes] + [0]))
    top = margin + line_h * len(lines)
    height = top + mh + line_h * len(notes) + margin
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i, (text, colour) in enumerate(lines):
        draw.text((margin, margin + i * line_h), text, fill=colour, font=font)
    canvas.paste(shown, (margin, top))
    for i, (text, colour) in enumerate(notes):
        draw.text((margin, top + mh + 4 + i * line_h), text, fill=colour, font=small)
    # the bar: top = hi (brightest), bottom = lo
    x0 = margin + mw + gap
    ramp = matplotlib.colormaps[cmap](np.linspace(1.0, 0.0, mh))[:, :3]
    bar = (np.repeat(ramp[:, None, :], bar_w, axis=1) * 255 + 0.5).astype(np.uint8)
    canvas.paste(Image.fromarray(bar), (x0, top))
    draw.rectangle((x0 - 1, top - 1, x0 + bar_w, top + mh), outline=(0, 0, 0))
    for value, text in zip(ticks, tick_text):
        y = top + round((1.0 - scale.position(value)) * (mh - 1))
        draw.line((x0 + bar_w, y, x0 + bar_w + tick, y), fill=(0, 0, 0))
        draw.text((x0 + bar_w + tick + 3, y), text, fill=(0, 0, 0), font=small, anchor="lm")
    # the quantity along the bar, reading upwards
    lw = int(font.getlength(label)) + 4
    strip = Image.new("RGB", (lw, label_h), (255, 255, 255))
    ImageDraw.Draw(strip).text((2, 0), label, fill=(0, 0, 0), font=font)
    strip = strip.rotate(90, expand=True)
    lx = x0 + bar_w + tick + 4 + text_w + 8
    canvas.paste(strip.crop((0, max(0, strip.height - mh), strip.width, strip.height)),
                 (lx, top + max(0, (mh - strip.height) // 2)))
    return np.asarray(canvas)
