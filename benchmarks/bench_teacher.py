"""Teacher labelling throughput (issue 7, benchmark 4).

Images per second of the pseudo-label command with a tiny local teacher at KITTI resolution
(375x1242), batch sizes 1 and 8. The command does not exist yet in litedepth (no
``litedepth.teachers`` package, no ``pseudo-label`` CLI): until it does, this script reports
"skipped" with the reason, writes that to its JSON, and exits with status 0.

Run: ``python -m benchmarks.bench_teacher``
"""

from __future__ import annotations

import importlib.util
import sys

from benchmarks.common import BenchResult, base_parser, finish, set_threads

KITTI_SIZE = (375, 1242)


def pseudo_label_available() -> str | None:
    """``None`` when a pseudo-label implementation is importable, else why not."""
    if importlib.util.find_spec("litedepth.teachers") is None:
        return ("no pseudo-label command yet: litedepth.teachers is absent (issue 7 benchmark 4 "
                "runs once the teacher / pseudo-label code lands)")
    return None


def run(threads: int = 2) -> BenchResult:
    threads = set_threads(threads)
    res = BenchResult(name="teacher", title="Teacher labelling throughput (CPU; images / s at 375x1242)",
                      columns=["teacher", "batch", "images / s"], threads=threads)
    reason = pseudo_label_available()
    if reason is not None:
        res.skipped = reason
        return res
    # The teacher API is not defined yet; refuse to guess it rather than time the wrong thing.
    res.skipped = ("litedepth.teachers exists but this benchmark has not been wired to its "
                   "pseudo-label API yet")
    return res


def main(argv: list[str] | None = None) -> BenchResult:
    p = base_parser(__doc__.splitlines()[0])
    args = p.parse_args(argv)
    res = run(args.threads)
    finish(res, args.out, args.device)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
