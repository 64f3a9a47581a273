"""Alert policy with scripted detections and depths: band changes, hysteresis, priority,
cooldown, rate limit, tracking identity, and the distance statistic."""

from __future__ import annotations

import numpy as np
import pytest

from litedepth.apps.assistant.alerts import (
    AlertConfig,
    AlertPolicy,
    Detection,
    Observation,
    band_with_hysteresis,
    classify_band,
    direction_of,
    object_distance,
)
from litedepth.apps.assistant.tracker import IouTracker, box_iou
from litedepth.errors import ConfigError

W = 300  # image width in pixels: left third < 100 <= ahead <= 200 < right third
CENTRE = (130.0, 40.0, 170.0, 200.0)
LEFT = (20.0, 40.0, 60.0, 200.0)
RIGHT = (240.0, 40.0, 280.0, 200.0)


def run(policy: AlertPolicy, script: list[list[tuple[tuple, str, float | None]]], fps: float = 10.0):
    """Feed ``script[frame] = [(box, label, distance_m), ...]``; return all alerts."""
    alerts = []
    for i, objs in enumerate(script):
        obs = [Observation(Detection(box, label), d) for box, label, d in objs]
        alerts.extend(policy.update(i / fps, i, obs, W).alerts)
    return alerts


def test_person_approaching_gets_exactly_the_band_change_alerts():
    dists = np.round(np.linspace(3.0, 0.8, 23), 3)  # 0.1 m per frame at 10 fps
    policy = AlertPolicy(AlertConfig())  # near < 1 m, close < 2 m, hysteresis 0.15 m
    alerts = run(policy, [[(CENTRE, "person", float(d))] for d in dists])
    # close once below 2 - 0.15 m, near once below 1 - 0.15 m; nothing else.
    first_close = int(np.argmax(dists < 1.85))
    first_near = int(np.argmax(dists < 0.85))
    assert [(a.band, a.frame) for a in alerts] == [("close", first_close), ("near", first_near)]
    assert [a.track_id for a in alerts] == [1, 1]
    assert alerts[0].message == f"person ahead, {dists[first_close]:.1f} metres"
    assert alerts[1].direction == "ahead" and alerts[1].distance_m == pytest.approx(dists[first_near])
    # the escalation to near is not held back by the 5 s per-object cooldown
    assert alerts[1].time_s - alerts[0].time_s < AlertConfig().cooldown_s


@pytest.mark.parametrize("centre", [1.0, 2.0])
def test_jitter_around_a_threshold_does_not_repeat(centre):
    rng = np.random.default_rng(0)
    dists = centre + rng.uniform(-0.12, 0.12, 200)  # 20 s of jitter, within the 0.15 m margin
    alerts = run(AlertPolicy(AlertConfig()), [[(CENTRE, "chair", float(d))] for d in dists])
    assert len(alerts) <= 1
    # the same jitter without hysteresis nags (repeats every cooldown)
    nagging = run(AlertPolicy(AlertConfig(hysteresis_m=0.0)), [[(CENTRE, "chair", float(d))] for d in dists])
    assert len(nagging) > 2


def test_two_objects_nearer_central_one_first():
    # both appear in the close band at once; the central one is nearer
    script = [[(LEFT, "chair", 1.8), (CENTRE, "person", 1.5)]] * 30
    alerts = run(AlertPolicy(AlertConfig()), script)
    assert [(a.label, a.direction) for a in alerts] == [("person", "ahead"), ("chair", "left")]
    assert alerts[1].time_s - alerts[0].time_s == pytest.approx(1.0)  # global rate limit
    # a near object beats a central close one; within a band, central beats slightly nearer off-centre
    script = [[(CENTRE, "person", 1.5), (RIGHT, "door", 0.9), (LEFT, "chair", 1.45)]] * 40
    alerts = run(AlertPolicy(AlertConfig()), script)
    assert [a.label for a in alerts] == ["door", "person", "chair"]


def test_per_object_cooldown():
    # near -> away to close -> near again every second: re-announced only after the cooldown
    script = [[(CENTRE, "person", 0.5 if (i // 10) % 2 == 0 else 1.5)] for i in range(140)]
    alerts = run(AlertPolicy(AlertConfig(cooldown_s=5.0)), script)
    assert [a.band for a in alerts] == ["near"] * len(alerts)
    times = [a.time_s for a in alerts]
    # 0.1 s (second sighting, min_hits = 2); the near spells at 2 s and 4 s are inside the
    # cooldown, the one at 6 s is announced at its start; likewise 10 s is held, 12 s announced
    assert times == pytest.approx([0.1, 6.0, 12.0])


def test_maximum_alert_rate():
    boxes = [(10.0 + 55 * k, 40.0, 50.0 + 55 * k, 200.0) for k in range(5)]
    script = [[(b, f"obj{k}", 0.6 + 0.05 * k) for k, b in enumerate(boxes)]] * 26  # 2.5 s
    alerts = run(AlertPolicy(AlertConfig(min_interval_s=1.0)), script)
    assert [a.time_s for a in alerts] == pytest.approx([0.1, 1.1, 2.1])
    fast = run(AlertPolicy(AlertConfig(min_interval_s=0.0, max_alerts_per_frame=2)), script[:3])
    assert [a.frame for a in fast] == [1, 1, 2, 2]  # two per frame, most urgent first
    assert len({a.track_id for a in fast}) == 4
    # with a rate limit too, the alerts of one frame count as one announcement
    paced = run(AlertPolicy(AlertConfig(min_interval_s=1.0, max_alerts_per_frame=2)), script)
    assert [a.time_s for a in paced] == pytest.approx([0.1, 0.1, 1.1, 1.1, 2.1])


def test_min_hits_and_label_filter():
    script = [[(CENTRE, "person", 0.5)], [], [(RIGHT, "cat", 0.5)], [(RIGHT, "cat", 0.5)]]
    assert run(AlertPolicy(AlertConfig(min_hits=2, labels=("person",))), script) == []
    assert len(run(AlertPolicy(AlertConfig(min_hits=1, min_interval_s=0.0)), script)) == 2


def test_tracker_keeps_identity():
    tr = IouTracker(iou_threshold=0.3, max_missed=2)
    a, b = [0.0, 0.0, 40.0, 40.0], (100.0, 0.0, 140.0, 40.0)
    ids = []
    for _ in range(5):  # a moves 5 px per frame, b stays
        ids.append(tr.update([tuple(a), b], ["person", "chair"]))
        a = [a[0] + 5, a[1], a[2] + 5, a[3]]
    assert ids == [[1, 2]] * 5
    assert tr.update([b], ["chair"]) == [2]  # a missed once
    assert tr.update([b], ["chair"]) == [2]  # twice
    assert tr.update([tuple(a), b], ["person", "chair"]) == [1, 2]  # back within max_missed
    for _ in range(3):
        tr.update([], [])
    assert tr.removed == [1, 2]
    assert tr.update([b], ["chair"]) == [3]  # a new identity after the track was dropped
    assert tr.update([b], ["dog"]) == [4]  # another label never continues a track
    # order of detections does not change identities
    tr2 = IouTracker()
    tr2.update([(0, 0, 10, 10), (50, 50, 60, 60)], ["x", "x"])
    assert tr2.update([(51, 50, 61, 60), (1, 0, 11, 10)], ["x", "x"]) == [2, 1]


def test_policy_tracks_objects_in_decisions():
    policy = AlertPolicy(AlertConfig(min_hits=1))
    d0 = policy.update(0.0, 0, [Observation(Detection(LEFT, "chair", 0.9), 3.0),
                                Observation(Detection(CENTRE, "person", 0.8), None)], W)
    assert [(o.track_id, o.band, o.direction, o.alerted) for o in d0.objects] == [
        (1, "far", "left", False), (2, None, "ahead", False)]
    d1 = policy.update(0.1, 1, [Observation(Detection(CENTRE, "person"), 1.2)], W)
    assert [(o.track_id, o.band, o.alerted) for o in d1.objects] == [(2, "close", True)]
    assert d1.alerts[0].to_json() == {"time_s": 0.1, "frame": 1, "track_id": 2, "label": "person",
                                      "distance_m": 1.2, "band": "close", "direction": "ahead",
                                      "message": "person ahead, 1.2 metres"}


def test_object_distance_is_a_robust_low_percentile():
    depth = np.full((40, 60), 4.0, np.float32)
    depth[10:30, 20:40] = np.linspace(1.0, 2.0, 20)[None, :]  # the object, slanted
    depth[20, 30] = 0.0  # a hole at the box centre
    depth[11, 21] = 0.05  # one outlier
    box = (20, 10, 40, 30)
    d = object_distance(depth, box, percentile=15)
    assert 1.1 < d < 1.25  # near side of the object, not the centre (hole) nor the outlier
    assert object_distance(depth, box, percentile=0) == pytest.approx(0.05)
    mask = np.zeros_like(depth, bool)
    mask[10:30, 35:40] = True
    assert object_distance(depth, box, mask=mask, percentile=0) == pytest.approx(np.linspace(1, 2, 20)[15])
    assert object_distance(np.zeros((8, 8)), (0, 0, 8, 8)) is None
    assert object_distance(depth, (70, 0, 90, 10)) is None  # outside the image
    with pytest.raises(ConfigError):
        object_distance(depth, box, percentile=150)


def test_bands_hysteresis_direction_iou():
    assert [classify_band(d, (1.0, 2.0)) for d in (0.5, 1.0, 1.99, 2.0, 9)] == [0, 1, 1, 2, 2]
    assert band_with_hysteresis(1.9, None, (1.0, 2.0), 0.15) == 1
    assert band_with_hysteresis(1.9, 2, (1.0, 2.0), 0.15) == 2
    assert band_with_hysteresis(0.5, 2, (1.0, 2.0), 0.15) == 0  # jumps two bands
    assert band_with_hysteresis(2.1, 1, (1.0, 2.0), 0.15) == 1
    assert band_with_hysteresis(2.2, 1, (1.0, 2.0), 0.15) == 2
    assert [direction_of(b, W) for b in (LEFT, CENTRE, RIGHT)] == ["left", "ahead", "right"]
    assert direction_of(LEFT, W, edges=(0.05, 0.95)) == "ahead"
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    with pytest.raises(ConfigError):
        AlertConfig(bands_m=(2.0, 1.0))
    with pytest.raises(ConfigError):
        AlertConfig(bands_m=(1.0,), band_names=("near", "close", "far"))
