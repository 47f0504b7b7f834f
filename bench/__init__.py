"""Benchmarks, runnable as `python -m bench.NAME` from the repository root."""
