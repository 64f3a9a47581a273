"""Object identity across frames: a greedy IoU tracker over detection boxes.

Pure logic (no I/O, no torch, no clock). Boxes are ``(x0, y0, x1, y1)`` in pixels of the frame.
:class:`~litedepth.apps.assistant.alerts.AlertPolicy` keeps one :class:`IouTracker` so that an
object keeps its identity (and its alert history) through short detector drop-outs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Box", "IouTracker", "box_iou"]

#: ``(x0, y0, x1, y1)`` in pixels
Box = tuple[float, float, float, float]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0 when disjoint or empty)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0



@dataclass
class _Track:
    id: int
    label: str
    box: Box
    hits: int = 1
    missed: int = 0


class IouTracker:
    """Greedy IoU tracker: objects keep an id across frames while their boxes overlap.

    Each update matches detections to live tracks in order of decreasing IoU (same label
    when ``match_labels``; IoU >= ``iou_threshold``), starts new tracks (ids 1, 2, ...) for the
    rest and drops tracks unmatched for more than ``max_missed`` consecutive frames.

    Example:
        >>> tr = IouTracker()
        >>> tr.update([(0, 0, 10, 10)], ["cup"]), tr.update([(1, 0, 11, 10)], ["cup"])
        ([1], [1])
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5, match_labels: bool = True) -> None:
        self.iou_threshold = float(iou_threshold)
        self.max_missed = int(max_missed)
        self.match_labels = match_labels
        self.tracks: dict[int, _Track] = {}
        self.removed: list[int] = []
        self._next_id = 1

    def update(self, boxes: Sequence[Box], labels: Sequence[str]) -> list[int]:
        """Assign a track id to each box (in order); ``self.removed`` lists ids dropped now."""
        pairs = []
        for tid, tr in self.tracks.items():
            for j, (box, label) in enumerate(zip(boxes, labels)):
                if self.match_labels and label != tr.label:
                    continue
                iou = box_iou(tr.box, box)
                if iou >= self.iou_threshold:
                    pairs.append((-iou, tid, j))
        pairs.sort()
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for _, tid, j in pairs:
            if tid in used or ids[j] is not None:
                continue
            used.add(tid)
            ids[j] = tid
            tr = self.tracks[tid]
            tr.box, tr.hits, tr.missed = tuple(float(v) for v in boxes[j]), tr.hits + 1, 0  # type: ignore[assignment]
        self.removed = []
        for tid in list(self.tracks):
            if tid not in used:
                self.tracks[tid].missed += 1
                if self.tracks[tid].missed > self.max_missed:
                    del self.tracks[tid]
                    self.removed.append(tid)
        for j, tid in enumerate(ids):
            if tid is None:
                tid = self._next_id
                self._next_id += 1
                self.tracks[tid] = _Track(tid, str(labels[j]), tuple(float(v) for v in boxes[j]))  # type: ignore[arg-type]
                ids[j] = tid
        return ids  # type: ignore[return-value]

