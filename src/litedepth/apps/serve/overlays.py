"""The web demo's alert overlays: what is near in the depth map, tinted and announced.

* :func:`near_region_overlay` (the default) works from the depth map alone, with the alert logic
  of :mod:`litedepth.apps.assistant.alerts`: pixels nearer than ``near_m`` / ``close_m`` are
  tinted, the distance of the left / ahead / right thirds of the image is printed on it, and
  near thirds are announced.
* :func:`detector_overlay` does the same for the boxes of an object detector
  (``litedepth serve --detector ...``, :mod:`litedepth.apps.assistant.detectors`).

Any callable with the signature of :data:`OverlayFn` can replace them
(``DepthService(overlay=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from litedepth.errors import ConfigError, DataError

__all__ = ["DIRECTIONS", "OverlayFn", "OverlayResult", "detector_overlay", "near_region_overlay"]

#: names of the image thirds, left to right
DIRECTIONS = ("left", "ahead", "right")
_NEAR_RGB = np.array([230, 30, 30], np.float32)
_CLOSE_RGB = np.array([255, 160, 0], np.float32)


@dataclass
class OverlayResult:
    """What an overlay function returns.

    Attributes:
        image: ``(H, W, 3)`` uint8 annotated image.
        messages: alert lines, most urgent first (empty: nothing to say).
        nearest_m: nearest distance found (units of the depth map), ``None`` if no valid pixel.
    """

    image: np.ndarray
    messages: list[str]
    nearest_m: float | None = None


#: ``overlay(rgb (H, W, 3) uint8, depth (H, W) float32, units, near_m, close_m) -> OverlayResult``
OverlayFn = Callable[[np.ndarray, np.ndarray, str, float, float], OverlayResult]


def near_region_overlay(
    rgb: np.ndarray,
    depth: np.ndarray,
    units: str = "metres",
    near_m: float = 1.0,
    close_m: float = 2.0,
    percentile: float = 15.0,
) -> OverlayResult:
    """Depth-only alert overlay: tint near / close pixels and announce near thirds of the view.

    Without an object detector, the left, ahead and right thirds of the image stand in for
    objects (label ``"obstacle"``). Each gets the distance, band and message of
    :mod:`litedepth.apps.assistant.alerts` (the alert logic of ``litedepth assist``): a low
    percentile of its valid depths (:func:`~litedepth.apps.assistant.alerts.object_distance`),
    bands ``near`` < ``near_m`` <= ``close`` < ``close_m``, and one stateless
    :class:`~litedepth.apps.assistant.alerts.AlertPolicy` decision (every region nearer than
    ``close_m`` announced, most urgent, nearest and most central first).

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        depth: ``(H, W)`` depth along the optical axis (metres, or relative units as ``units``
            says); non-finite and ``<= 0`` pixels are ignored.
        units: ``"metres"``, or a description of relative units (messages then say so).
        near_m: pixels nearer than this are tinted red (band ``near``).
        close_m: pixels nearer than this are tinted orange (band ``close``).
        percentile: percentile of a region's depths taken as its distance.

    Returns:
        :class:`OverlayResult` (same size as ``rgb``).

    Raises:
        DataError: ``rgb`` and ``depth`` sizes differ.
        ConfigError: ``not 0 < near_m < close_m``.

    Example:
        >>> depth = np.full((4, 6), 3.0, np.float32); depth[:, :2] = 0.5
        >>> near_region_overlay(np.zeros((4, 6, 3), np.uint8), depth).messages
        ['obstacle on the left, 0.5 metres']
        >>> near_region_overlay(np.zeros((4, 6, 3), np.uint8), depth, units="relative").messages
        ['obstacle on the left, relative distance 0.5']
    """
    from litedepth.apps.assistant.alerts import AlertConfig, AlertPolicy, Detection, Observation, object_distance

    rgb = np.asarray(rgb)
    depth = np.asarray(depth, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[:2] != depth.shape:
        raise DataError(None, f"image {rgb.shape} and depth {depth.shape} sizes differ")
    if not 0.0 < near_m < close_m:
        raise ConfigError(f"limits must satisfy 0 < near < close, got near={near_m}, close={close_m}")
    metric = units == "metres"
    out = _tint(rgb, depth, near_m, close_m)
    h, w = depth.shape
    edges = [0, w // 3, (2 * w) // 3, w]
    observations = []
    for i in range(3):
        box = (float(edges[i]), 0.0, float(edges[i + 1]), float(h))
        observations.append(Observation(Detection(box, "obstacle"),
                                        object_distance(depth, box, percentile=percentile, min_valid=1)))
    policy = AlertPolicy(AlertConfig(bands_m=(near_m, close_m), min_hits=1, min_interval_s=0.0, cooldown_s=0.0,
                                     max_alerts_per_frame=len(observations), units="metres" if metric else "relative"))
    decision = policy.update(0.0, 0, observations, image_width=w)
    messages = [a.message for a in decision.alerts]  # relative distances are never called metres
    labels = [(edges[i], d, o.distance_m) for i, (o, d) in enumerate(zip(observations, DIRECTIONS))]
    image = _draw_labels(out, labels, "m" if metric else "", edges)
    distances = [o.distance_m for o in observations if o.distance_m is not None]
    return OverlayResult(image, messages, min(distances) if distances else None)


def _tint(rgb: np.ndarray, depth: np.ndarray, near_m: float, close_m: float) -> np.ndarray:
    """``rgb`` with pixels nearer than ``near_m`` tinted red and than ``close_m`` orange."""
    valid = np.isfinite(depth) & (depth > 0)
    out = rgb.astype(np.float32)
    close = valid & (depth < close_m)
    near = valid & (depth < near_m)
    out[close & ~near] = 0.65 * out[close & ~near] + 0.35 * _CLOSE_RGB
    out[near] = 0.45 * out[near] + 0.55 * _NEAR_RGB
    return out.round().clip(0, 255).astype(np.uint8)


_BAND_RGB = {"near": (230, 30, 30), "close": (255, 160, 0), "far": (60, 200, 60), None: (160, 160, 160)}


def detector_overlay(detector: Any, percentile: float = 15.0) -> OverlayFn:
    """An overlay that announces detected objects instead of image thirds.

    Args:
        detector: anything with ``detect(frame) -> list[Detection]`` for a
            :class:`~litedepth.io.video.Frame`, e.g. from
            :func:`litedepth.apps.assistant.detectors.create_detector` (SSDlite, Faster R-CNN, YOLO).
        percentile: percentile of the valid depth inside a box (or mask) taken as the
            object's distance (:func:`~litedepth.apps.assistant.alerts.object_distance`).

    Returns:
        an :data:`OverlayFn`: near / close pixels tinted, each object boxed in its band's
        colour with its label and distance, and a stateless
        :class:`~litedepth.apps.assistant.alerts.AlertPolicy` decision announcing objects nearer than
        the close limit (near first, then nearest and most central).
    """
    from litedepth.apps.assistant.alerts import AlertConfig, AlertPolicy, Observation, object_distance
    from litedepth.io.video import Frame

    def overlay(rgb: np.ndarray, depth: np.ndarray, units: str, near_m: float, close_m: float) -> OverlayResult:
        from PIL import Image, ImageDraw, ImageFont

        depth = np.asarray(depth, dtype=np.float32)
        if rgb.shape[:2] != depth.shape:
            raise DataError(None, f"image {rgb.shape} and depth {depth.shape} sizes differ")
        detections = list(detector.detect(Frame(0, rgb, 0.0)))
        observations = [Observation(d, object_distance(depth, d.box, d.mask, percentile=percentile, min_valid=1))
                        for d in detections]
        policy = AlertPolicy(AlertConfig(bands_m=(near_m, close_m), min_hits=1, min_interval_s=0.0,
                                         cooldown_s=0.0, max_alerts_per_frame=max(1, len(observations)),
                                         units="metres" if units == "metres" else "relative"))
        decision = policy.update(0.0, 0, observations, image_width=depth.shape[1])
        pil = Image.fromarray(_tint(rgb, depth, near_m, close_m))
        draw = ImageDraw.Draw(pil)
        w = depth.shape[1]
        try:
            font = ImageFont.load_default(size=max(9, w // 40))
        except TypeError:  # Pillow < 10.1
            font = ImageFont.load_default()
        unit = "m" if units == "metres" else ""
        for obj in decision.objects:
            colour = _BAND_RGB.get(obj.band, _BAND_RGB[None])
            draw.rectangle(obj.box, outline=colour, width=max(1, w // (150 if obj.alerted else 300)))
            dist = "?" if obj.distance_m is None else f"{obj.distance_m:.2f}{unit}"
            draw.text((obj.box[0] + 2, obj.box[1] + 2), f"{obj.label} {dist}", fill=colour, font=font,
                      stroke_width=1, stroke_fill=(0, 0, 0))
        messages = [a.message for a in decision.alerts]
        distances = [o.distance_m for o in observations if o.distance_m is not None]
        return OverlayResult(np.asarray(pil), messages, min(distances) if distances else None)

    return overlay


def _draw_labels(image: np.ndarray, labels: list[tuple[int, str, float | None]], unit: str,
                 edges: list[int]) -> np.ndarray:
    """Third boundaries and each third's distance (font scaled to the image width)."""
    from PIL import Image, ImageDraw, ImageFont

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    h, w = image.shape[:2]
    try:
        font = ImageFont.load_default(size=max(9, w // 30))
    except TypeError:  # Pillow < 10.1: one bitmap size
        font = ImageFont.load_default()
    for x in edges[1:-1]:
        draw.line([(x, 0), (x, h - 1)], fill=(255, 255, 255), width=max(1, w // 400))
    for (x0, _, d), x1 in zip(labels, edges[1:]):
        text = f"{d:.2f}{unit}" if d is not None else "-"
        draw.text(((x0 + x1) / 2, 2), text, fill=(255, 255, 255), font=font, anchor="ma",
                  stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(pil)
