"""Learning-rate schedules of the Monodepth2 and Lite-Mono recipes."""

from __future__ import annotations

import math

import pytest

from litedepth.tasks.schedules import cosine_restarts_schedule, step_schedule


def test_step_schedule_monodepth2():
    f = step_schedule(15, 0.1)
    assert [f(e) for e in (0, 14, 15, 29, 30)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])


def test_cosine_restarts_lite_mono_depth_and_pose():
    depth = cosine_restarts_schedule(1e-4, 5e-6, period=31, restart_decay=0.9)
    assert depth(0) * 1e-4 == pytest.approx(1e-4)
    # half way through the first period: the mean of peak and floor
    assert depth(31 / 2) * 1e-4 == pytest.approx((1e-4 + 5e-6) / 2)
    # end of the period approaches the floor; the restart peaks at 0.9 x
    assert depth(30) * 1e-4 == pytest.approx(5e-6 + (1e-4 - 5e-6) * 0.5 * (1 + math.cos(math.pi * 30 / 31)))
    assert depth(31) * 1e-4 == pytest.approx(0.9e-4)
    assert depth(62) * 1e-4 == pytest.approx(0.81e-4)
    pose = cosine_restarts_schedule(1e-4, 1e-5, period=31)
    assert min(pose(e) for e in range(31)) * 1e-4 > 1e-5
    with pytest.raises(ValueError):
        cosine_restarts_schedule(1e-4, 1e-3)
