"""Drawing the assistant's view of a frame: boxes coloured by band, track ids and distances,
a depth inset and the latest alert (the frames of ``annotated.mp4``)."""

from __future__ import annotations

import numpy as np

from litedepth.apps.assistant.pipeline import FrameResult

__all__ = ["annotate"]

# RGB colours per band index (near, close, far...) and for "no distance"
_BAND_COLOURS = [(255, 40, 40), (255, 160, 0), (60, 200, 60), (60, 160, 255)]
_UNKNOWN = (170, 170, 170)


def _band_colour(band: str | None, names: tuple[str, ...]) -> tuple[int, int, int]:
    if band is None:
        return _UNKNOWN
    return _BAND_COLOURS[min(names.index(band), len(_BAND_COLOURS) - 1)]


def annotate(result: FrameResult, band_names: tuple[str, ...] = ("near", "close", "far"),
             banner: str | None = None, inset: bool = True, max_range_m: float = 8.0) -> np.ndarray:
    """The frame with boxes, labels, distances, a depth inset and a text banner.

    Args:
        result: a processed frame.
        band_names: the policy's band names (box colours: red, orange, green, ...).
        banner: text drawn at the bottom (e.g. the latest alert).
        inset: draw the depth map (near = bright, 0.3 to ``max_range_m`` metres) top right.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    import cv2

    from litedepth.utils.visualize import colorize

    img = result.frame.rgb.copy()
    h, w = img.shape[:2]
    scale = max(0.35, min(h, w) / 600.0)
    thick = max(1, round(2 * scale))
    if inset and result.depth_m is not None:
        iw = max(8, w // 4)
        ih = max(4, round(h * iw / w))
        small = cv2.resize(result.depth_m, (iw, ih), interpolation=cv2.INTER_NEAREST)
        img[:ih, w - iw:] = colorize(small, vmin=1.0 / max_range_m, vmax=1.0 / 0.3, invert=True)
        cv2.rectangle(img, (w - iw, 0), (w - 1, ih - 1), (255, 255, 255), 1)
    for obj in result.decision.objects:
        x0, y0, x1, y1 = (int(round(v)) for v in obj.box)
        colour = _band_colour(obj.band, band_names)
        cv2.rectangle(img, (x0, y0), (x1, y1), colour, thick * (2 if obj.alerted else 1))
        dist = "?" if obj.distance_m is None else f"{obj.distance_m:.1f} m"
        text = f"#{obj.track_id} {obj.label} {dist}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, 1)
        ty = max(th + base, y0)
        cv2.rectangle(img, (x0, ty - th - base), (x0 + tw, ty), colour, -1)
        cv2.putText(img, text, (x0, ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 0, 0), 1, cv2.LINE_AA)
    if banner:
        (tw, th), base = cv2.getTextSize(banner, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thick)
        cv2.rectangle(img, (0, h - th - 2 * base), (min(w, tw + 2 * base), h), (0, 0, 0), -1)
        cv2.putText(img, banner, (base, h - base), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 0), thick,
                    cv2.LINE_AA)
    return img
