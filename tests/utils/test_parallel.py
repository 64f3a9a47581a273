"""ordered_map: input order, errors in input order, lazy consumption; worker counts."""

from __future__ import annotations

import threading

import pytest

from litedepth.utils.parallel import available_cores, ordered_map, resolve_workers


def test_results_come_in_input_order_whatever_finishes_first() -> None:
    last_done = threading.Event()

    def job(x: int) -> int:
        if x == 0:
            assert last_done.wait(timeout=10)  # item 0 finishes after item 11
        if x == 11:
            last_done.set()
        return x * x

    assert list(ordered_map(job, range(12), workers=4)) == [x * x for x in range(12)]


def test_several_threads_do_the_work() -> None:
    seen: set[str] = set()
    barrier = threading.Barrier(2, timeout=10)

    def job(x: int) -> int:
        seen.add(threading.current_thread().name)
        if x < 2:
            barrier.wait()  # both first items must run at the same time, or this times out
        return x

    assert list(ordered_map(job, range(4), workers=2, name="t")) == [0, 1, 2, 3]
    assert len(seen) == 2 and all(n.startswith("t") for n in seen)


def test_first_error_in_input_order_wins() -> None:
    item3_failed = threading.Event()

    def job(x: int) -> int:
        if x == 1:
            assert item3_failed.wait(timeout=10)  # fails later in time than item 3
            raise ValueError("item 1")
        if x == 3:
            item3_failed.set()
            raise ValueError("item 3")
        return x

    out = []
    with pytest.raises(ValueError, match="item 1"):
        for r in ordered_map(job, range(6), workers=4):
            out.append(r)
    assert out == [0]


def test_input_is_consumed_within_the_window() -> None:
    pulled = []

    def source():
        for i in range(100):
            pulled.append(i)
            yield i

    it = ordered_map(lambda x: x, source(), workers=2, window=4)
    assert next(it) == 0
    assert len(pulled) <= 5  # the window, not the whole input
    it.close()


def test_one_worker_runs_in_the_calling_thread() -> None:
    names = list(ordered_map(lambda _: threading.current_thread().name, range(3), workers=1))
    assert names == [threading.current_thread().name] * 3


def test_resolve_workers() -> None:
    assert resolve_workers(None) == available_cores() >= 1
    assert resolve_workers(8, items=3) == 3 and resolve_workers(None, items=0) == 1
    assert resolve_workers(2) == 2
    with pytest.raises(ValueError, match=">= 1"):
        resolve_workers(0)
