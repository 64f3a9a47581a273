"""Benchmarks of litedepth (not part of the test suite): run with ``make bench``.

Each ``bench_*`` module prints one rich table and writes ``benchmarks/results/<name>.json``;
:mod:`benchmarks.run_all` runs them all and writes ``benchmarks/results/summary.md``.
"""
