"""Near-object alert decisions: object distance, bands, direction, tracking and a policy that does not nag.

Pure logic (numpy only; no I/O, no torch, no clock): every decision is a function of the
detections, depth maps and timestamps given, so a run is reproducible from its inputs.

Pipeline per frame (:class:`AlertPolicy.update`):

1. **Distance** of each detection (:func:`object_distance`): a low percentile (default the
   15th) of the valid depth (finite, > 0, metres) inside its box, or inside its mask when the
   detector gives one — not the centre pixel, which may be a hole or the background.
2. **Tracking** (:class:`~litedepth.apps.assistant.tracker.IouTracker`): greedy matching of
   boxes to the previous frame's tracks by IoU (same label, IoU >= ``iou_threshold``); a track
   survives ``max_missed`` frames without a match, so an object keeps its identity through short
   detector drop-outs.
3. **Band** with hysteresis (:func:`band_with_hysteresis`): bands are ``near`` (< 1 m),
   ``close`` (< 2 m) and ``far`` by default; a tracked object changes band only when its
   distance is past the threshold by ``hysteresis_m``, so jitter around a threshold never
   flips it back and forth.
4. **Direction** (:func:`direction_of`): ``left`` / ``ahead`` / ``right`` from the box centre's
   horizontal position (image thirds by default).
5. **Alerts**: an object is announced when its band becomes more urgent than the band last
   announced for it (a new object in ``close`` or ``near``; ``close`` -> ``near``). Moving away is
   recorded silently. Candidates are ordered nearest band first, then by
   ``distance * (1 + centre_weight * |offset from centre|)`` (nearest and most central first).
   Limits: a new track must be seen ``min_hits`` frames; a **per-object cooldown** blocks a
   repeat of a band already announced for that object within ``cooldown_s`` (escalation to a
   more urgent band is never delayed by it); a **global rate limit** allows at most one alert
   per ``min_interval_s`` (and ``max_alerts_per_frame``). A blocked candidate stays pending and
   is announced later if still valid; one whose object has moved away is dropped.

Example:
    >>> policy = AlertPolicy(AlertConfig(min_hits=1))
    >>> det = Detection((40.0, 10.0, 80.0, 90.0), "person")
    >>> out = policy.update(0.0, 0, [Observation(det, 1.6)], image_width=120)
    >>> [a.message for a in out.alerts]
    ['person ahead, 1.6 metres']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from litedepth.apps.assistant.tracker import Box, IouTracker, box_iou
from litedepth.errors import ConfigError

__all__ = [
    "Alert",
    "AlertConfig",
    "AlertPolicy",
    "Detection",
    "FrameDecision",
    "IouTracker",  # litedepth.apps.assistant.tracker (re-exported here, where it was)
    "Observation",
    "TrackedObject",
    "band_with_hysteresis",
    "box_iou",  # litedepth.apps.assistant.tracker
    "classify_band",
    "direction_of",
    "object_distance",
]

_DIRECTION_WORDS = {"left": "on the left", "ahead": "ahead", "right": "on the right"}


# --------------------------------------------------------------------------------------------
# data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Detection:
    """One detected object.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in pixels of the frame (``x1``, ``y1`` exclusive).
        label: class name (e.g. COCO ``"person"``).
        score: detector confidence in ``[0, 1]``.
        mask: optional ``(H, W)`` bool instance mask at the frame's resolution.
    """

    box: Box
    label: str
    score: float = 1.0
    mask: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Observation:
    """A detection with its measured distance (metres; ``None`` = no valid depth in it)."""

    detection: Detection
    distance_m: float | None


@dataclass(frozen=True)
class Alert:
    """One announcement.

    Attributes:
        time_s: frame timestamp in seconds; frame: frame index; track_id: object identity;
        label, distance_m (metres), band (name), direction (``left``/``ahead``/``right``);
        message: the text shown and spoken, e.g. ``"chair on the left, 1.4 metres"``.
    """

    time_s: float
    frame: int
    track_id: int
    label: str
    distance_m: float
    band: str
    direction: str
    message: str

    def to_json(self) -> dict:
        """A JSON-ready dict (``distance_m`` rounded to millimetres)."""
        d = asdict(self)
        d["distance_m"] = round(float(self.distance_m), 3)
        d["time_s"] = round(float(self.time_s), 4)
        return d


@dataclass(frozen=True, eq=False)
class TrackedObject:
    """An object seen in this frame, with its identity and state (for drawing and logs).

    Attributes:
        track_id, label, box (pixels), score; distance_m (metres or ``None``); band (name, or
        ``None`` before any distance); direction; alerted: announced in this frame.
    """

    track_id: int
    label: str
    box: Box
    score: float
    distance_m: float | None
    band: str | None
    direction: str
    alerted: bool = False


@dataclass(frozen=True, eq=False)
class FrameDecision:
    """What :meth:`AlertPolicy.update` decided for one frame."""

    time_s: float
    frame: int
    objects: tuple[TrackedObject, ...]
    alerts: tuple[Alert, ...]


@dataclass(frozen=True)
class AlertConfig:
    """Options of :class:`AlertPolicy` (validated on construction).

    Attributes:
        bands_m: increasing band limits in metres; ``(1.0, 2.0)`` gives near < 1 m <= close
            < 2 m <= far.
        band_names: one name per band plus the last (never announced) band.
        hysteresis_m: margin in metres an object must pass a limit by to change band.
        cooldown_s: per-object: a band already announced for an object is not repeated within
            this time (escalation to a more urgent band is not delayed).
        min_interval_s: global: at least this long between two alerts (maximum alert rate).
        max_alerts_per_frame: at most this many alerts per frame (the alerts of one frame
            count as one announcement for ``min_interval_s``).
        min_hits: frames a new object must be seen before it can be announced.
        direction_edges: box-centre x (fraction of the width) splitting left | ahead | right.
        centre_weight: how much off-centre objects are deprioritised within a band.
        iou_threshold: minimum box IoU to continue a track.
        max_missed: frames a track survives without a matching detection.
        labels: only these labels are announced (``None``: all); others are still tracked.
        units: ``"metres"`` (distances are metric) or ``"relative"``: distances on an unknown
            scale, which announcements never call metres ("relative distance 0.21").
    """

    bands_m: tuple[float, ...] = (1.0, 2.0)
    band_names: tuple[str, ...] = ("near", "close", "far")
    hysteresis_m: float = 0.15
    cooldown_s: float = 5.0
    min_interval_s: float = 1.0
    max_alerts_per_frame: int = 1
    min_hits: int = 2
    direction_edges: tuple[float, float] = (1.0 / 3.0, 2.0 / 3.0)
    centre_weight: float = 0.5
    iou_threshold: float = 0.3
    max_missed: int = 5
    labels: tuple[str, ...] | None = None
    units: str = "metres"

    def __post_init__(self) -> None:
        if self.units not in ("metres", "relative"):
            raise ConfigError(f"alert units must be 'metres' or 'relative', got {self.units!r}")
        b = tuple(float(x) for x in self.bands_m)
        if not b or any(x <= 0 or not math.isfinite(x) for x in b) or any(y <= x for x, y in zip(b, b[1:])):
            raise ConfigError(f"distance bands must be positive and increasing, got {self.bands_m}")
        if len(self.band_names) != len(b) + 1:
            raise ConfigError(f"{len(b)} band limits need {len(b) + 1} band names, got {self.band_names}")
        lo, hi = self.direction_edges
        if not 0.0 < lo < hi < 1.0:
            raise ConfigError(f"direction_edges must satisfy 0 < left < right < 1, got {self.direction_edges}")
        for name in ("hysteresis_m", "cooldown_s", "min_interval_s", "centre_weight"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_alerts_per_frame < 1 or self.min_hits < 1 or self.max_missed < 0:
            raise ConfigError("max_alerts_per_frame and min_hits must be >= 1, max_missed >= 0")
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ConfigError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")
        object.__setattr__(self, "bands_m", b)

    @property
    def far_band(self) -> int:
        """Index of the last band (the one never announced)."""
        return len(self.bands_m)


# --------------------------------------------------------------------------------------------
# pure measurements
# --------------------------------------------------------------------------------------------


def _pixel_window(box: Sequence[float], height: int, width: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (float(v) for v in box)
    c0 = min(max(int(math.floor(x0)), 0), width)
    r0 = min(max(int(math.floor(y0)), 0), height)
    c1 = min(max(int(math.ceil(x1)), 0), width)
    r1 = min(max(int(math.ceil(y1)), 0), height)
    return r0, r1, c0, c1


def object_distance(
    depth: np.ndarray,
    box: Sequence[float],
    mask: np.ndarray | None = None,
    percentile: float = 15.0,
    min_valid: int = 4,
) -> float | None:
    """Robust distance to an object: a low percentile of the valid depth in its box or mask.

    Args:
        depth: ``(H, W)`` depth in metres; pixels that are not finite or ``<= 0`` are invalid.
        box: ``(x0, y0, x1, y1)`` pixels (clipped to the image).
        mask: optional ``(H, W)`` bool object mask; when given only mask pixels in the box count.
        percentile: in ``[0, 100]``; a low percentile reports the object's near side while
            ignoring a few outliers (0 = the minimum, 50 = the median).
        min_valid: fewer valid pixels than this gives ``None``.

    Returns:
        distance in metres, or ``None`` when the box holds too few valid depths.

    Example:
        >>> d = np.full((4, 4), 3.0, np.float32); d[1:3, 1:3] = 1.0
        >>> object_distance(d, (1, 1, 3, 3))
        1.0
    """
    if depth.ndim != 2:
        raise ValueError(f"depth must be (H, W), got shape {depth.shape}")
    if not 0.0 <= percentile <= 100.0:
        raise ConfigError(f"percentile must be in [0, 100], got {percentile}")
    h, w = depth.shape
    r0, r1, c0, c1 = _pixel_window(box, h, w)
    if r1 <= r0 or c1 <= c0:
        return None
    win = depth[r0:r1, c0:c1]
    valid = np.isfinite(win) & (win > 0)
    if mask is not None:
        if mask.shape != depth.shape:
            raise ValueError(f"mask shape {mask.shape} differs from depth shape {depth.shape}")
        valid &= mask[r0:r1, c0:c1].astype(bool)
    values = win[valid]
    if values.size < max(1, int(min_valid)):
        return None
    return float(np.percentile(values, percentile))


def classify_band(distance_m: float, bands_m: Sequence[float]) -> int:
    """Band index of a distance: 0 below ``bands_m[0]``, ..., ``len(bands_m)`` at or beyond the last."""
    return int(np.searchsorted(np.asarray(bands_m, dtype=np.float64), float(distance_m), side="right"))


def band_with_hysteresis(distance_m: float, current: int | None, bands_m: Sequence[float], margin_m: float) -> int:
    """Band of ``distance_m`` given the current band, changing only past a limit by ``margin_m``.

    Moving nearer to band ``k`` needs ``distance < bands_m[k] - margin``; moving farther to band
    ``k`` needs ``distance >= bands_m[k - 1] + margin``. Without a current band the plain band
    is returned.

    Example:
        >>> band_with_hysteresis(0.95, 1, (1.0, 2.0), 0.15)   # still "close"
        1
        >>> band_with_hysteresis(0.80, 1, (1.0, 2.0), 0.15)   # now "near"
        0
    """
    if current is None:
        return classify_band(distance_m, bands_m)
    nearer = classify_band(distance_m + margin_m, bands_m)
    if nearer < current:
        return nearer
    farther = classify_band(distance_m - margin_m, bands_m)
    if farther > current:
        return farther
    return current


def direction_of(box: Sequence[float], image_width: int, edges: tuple[float, float] = (1 / 3, 2 / 3)) -> str:
    """``"left"``, ``"ahead"`` or ``"right"`` from the box centre's x as a fraction of the width."""
    cx = 0.5 * (float(box[0]) + float(box[2])) / float(image_width)
    if cx < edges[0]:
        return "left"
    if cx > edges[1]:
        return "right"
    return "ahead"


# --------------------------------------------------------------------------------------------
# policy
# --------------------------------------------------------------------------------------------


@dataclass
class _Memory:
    band: int | None = None
    announced: int = 0  # set to the far band on creation
    last_alert_s: float | None = None
    last_alert_band: int | None = None


@dataclass
class AlertPolicy:
    """Stateful alert decisions over a stream of frames (see the module docstring).

    Args:
        config: the options.

    Attributes:
        tracker: the :class:`IouTracker` giving objects their identity.
    """

    config: AlertConfig = field(default_factory=AlertConfig)

    def __post_init__(self) -> None:
        self.tracker = IouTracker(self.config.iou_threshold, self.config.max_missed)
        self._memory: dict[int, _Memory] = {}
        self._last_alert_s: float | None = None

    def band_name(self, band: int | None) -> str | None:
        """Name of a band index (``None`` stays ``None``)."""
        return None if band is None else self.config.band_names[band]

    def message(self, label: str, distance_m: float, direction: str) -> str:
        """The announcement text, e.g. ``"person ahead, 0.8 metres"``; with relative units
        ``"person ahead, relative distance 0.21"`` (never metres)."""
        if self.config.units != "metres":
            return f"{label} {_DIRECTION_WORDS[direction]}, relative distance {distance_m:.2g}"
        return f"{label} {_DIRECTION_WORDS[direction]}, {distance_m:.1f} metres"

    def _priority(self, band: int, distance_m: float, box: Box, width: int) -> float:
        offset = abs(0.5 * (box[0] + box[2]) / width - 0.5) * 2.0  # 0 centre .. 1 edge
        return band * 1e6 + distance_m * (1.0 + self.config.centre_weight * offset)

    def update(self, time_s: float, frame: int, observations: Sequence[Observation], image_width: int) -> FrameDecision:
        """Track this frame's objects and decide its alerts.

        Args:
            time_s: frame timestamp in seconds (non-decreasing across calls).
            frame: frame index (reported in alerts).
            observations: detections with their distances.
            image_width: frame width in pixels (for directions).

        Returns:
            the frame's tracked objects and the alerts to announce now (most urgent first).
        """
        cfg = self.config
        dets = [o.detection for o in observations]
        ids = self.tracker.update([d.box for d in dets], [d.label for d in dets])
        for tid in self.tracker.removed:
            self._memory.pop(tid, None)
        candidates = []
        rows = []
        for obs, tid in zip(observations, ids):
            mem = self._memory.setdefault(tid, _Memory(announced=cfg.far_band))
            det = obs.detection
            direction = direction_of(det.box, image_width, cfg.direction_edges)
            if obs.distance_m is not None and math.isfinite(obs.distance_m):
                mem.band = band_with_hysteresis(obs.distance_m, mem.band, cfg.bands_m, cfg.hysteresis_m)
                if mem.band > mem.announced:
                    mem.announced = mem.band  # moved away: remembered, not announced
                allowed = cfg.labels is None or det.label in cfg.labels
                if allowed and mem.band < mem.announced and self.tracker.tracks[tid].hits >= cfg.min_hits:
                    cooling = (mem.last_alert_s is not None and time_s - mem.last_alert_s < cfg.cooldown_s
                               and mem.last_alert_band is not None and mem.band >= mem.last_alert_band)
                    if not cooling:
                        candidates.append((self._priority(mem.band, obs.distance_m, det.box, image_width), tid,
                                           len(rows)))
            rows.append((tid, det, obs.distance_m, mem.band, direction))
        candidates.sort()
        alerts: list[Alert] = []
        alerted: set[int] = set()
        # the alerts of one frame are one announcement for the rate limit
        rate_limited = self._last_alert_s is not None and time_s - self._last_alert_s < cfg.min_interval_s
        for _, tid, row in candidates:
            if rate_limited or len(alerts) >= cfg.max_alerts_per_frame:
                break
            _, det, dist, band, direction = rows[row]
            mem = self._memory[tid]
            alerts.append(Alert(float(time_s), int(frame), tid, det.label, float(dist), cfg.band_names[band],
                                direction, self.message(det.label, float(dist), direction)))
            mem.announced, mem.last_alert_s, mem.last_alert_band = band, float(time_s), band
            self._last_alert_s = float(time_s)
            alerted.add(tid)
        objects = tuple(
            TrackedObject(tid, det.label, det.box, float(det.score), dist, self.band_name(band), direction,
                          tid in alerted)
            for tid, det, dist, band, direction in rows
        )
        return FrameDecision(float(time_s), int(frame), objects, tuple(alerts))
