"""Rebuild throughput alone, at chosen sizes: the projection issue's 100k and 1M events.

    python -m bench.rebuild --paths 17000 170000 --stores sqlite postgresql [--runs 5]

On stores of the benchmark suite (bench.history; generated if missing; about six events a
path) it runs a bare `select_notifications` loop and a rebuild in turns, `--runs` times (two,
as `python -m bench` does), and prints as a table the best of each and their ratio, and how
far the ratio of each run's pair spreads (on a shared host it moves from run to run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.history import PG_DSN, open_history
from bench.suite import bare_loop, rebuild


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, nargs="+", default=[17_000, 170_000])
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "postgresql"],
                        default=["sqlite", "postgresql"])
    parser.add_argument("--pg", default=os.environ.get("ZOV_TEST_PG", PG_DSN))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "zov-bench")
    parser.add_argument("--runs", type=int, default=2, help="pairs of runs (default 2)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    print("| store | paths | events | rebuild | bare loop | × bare | each run: min, median, max |"
          "\n|---|---:|---:|---:|---:|---:|---:|")
    for kind in args.stores:
        for paths in args.paths:
            tracker, _ = open_history(kind, paths, args.cache, args.pg,
                                      say=lambda text: print(text, file=sys.stderr))
            pairs = [(bare_loop(tracker), rebuild(tracker)) for _ in range(args.runs)]
            bare, took = min(b for b, _ in pairs), min(t for _, t in pairs)
            each = sorted(t / b for b, t in pairs)
            events = tracker.recorder.max_notification_id()
            tracker.close()
            print(f"| {kind} | {paths:,} | {events:,} | {events / took:,.0f} ev/s | "
                  f"{events / bare:,.0f} ev/s | {took / bare:.2f}x | {each[0]:.2f}x, "
                  f"{statistics.median(each):.2f}x, {each[-1]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
