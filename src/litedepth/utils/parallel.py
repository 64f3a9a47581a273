"""An order-preserving map over a thread pool, for per-item work that releases the GIL.

Used by evaluation, where each item is a file decode (Pillow and zlib release the GIL) and
NumPy arithmetic (which does too): threads need no pickling, start in microseconds and are
safe in a process that has torch or CUDA loaded (unlike forked processes).

Example:
    >>> list(ordered_map(lambda x: x * x, range(5), workers=2))
    [0, 1, 4, 9, 16]
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | None, items: int | None = None) -> int:
    """The worker count to use: ``workers`` if given (>= 1), else :func:`available_cores`,
    never more than ``items`` when that is known."""
    n = available_cores() if workers is None else int(workers)
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return max(1, min(n, items)) if items is not None else n


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, window: int | None = None,
                name: str = "litedepth-worker") -> Iterator[R]:
    """``fn(item)`` for every item, in input order, computed by ``workers`` threads.

    At most ``window`` (default ``4 * workers``) items are in flight, so a long or lazy input
    is consumed as results are taken, not all at once. With ``workers == 1`` everything runs
    in the calling thread. An exception of ``fn`` is raised when its item's turn comes (so the
    first failing item in input order wins, as in a loop); items not started yet are cancelled.
    """
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    window = max(workers, window or 4 * workers)
    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    pending: deque[Future[Any]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
