"""Rebuild throughput alone, at chosen sizes: the projection issue's 100k and 1M events.

    python -m bench.rebuild --paths 17000 170000 --stores sqlite postgresql

On stores of the benchmark suite (bench.history; generated if missing; about six events a
path) it takes the best of two rebuilds and of two bare `select_notifications` loops, as
`python -m bench` does, and prints them as a table.
"""

from __future__ import annotations

import argparse
import os
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
    args = parser.parse_args(argv)
    print("| store | paths | events | rebuild | bare loop | × bare |\n|---|---:|---:|---:|---:|---:|")
    for kind in args.stores:
        for paths in args.paths:
            tracker, _ = open_history(kind, paths, args.cache, args.pg,
                                      say=lambda text: print(text, file=sys.stderr))
            bare = min(bare_loop(tracker) for _ in range(2))
            took = min(rebuild(tracker) for _ in range(2))
            events = tracker.recorder.max_notification_id()
            tracker.close()
            print(f"| {kind} | {paths:,} | {events:,} | {events / took:,.0f} ev/s | "
                  f"{events / bare:,.0f} ev/s | {took / bare:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
