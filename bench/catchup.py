"""How catch-up grows: with the number of new events, not with the store.

    python -m bench.catchup --paths 100000 --stores sqlite postgresql

On a store of the benchmark suite (bench.history; generated if missing) it logs batches of new
events (250, 1,000 and 4,000) in turns with catching them up in a fresh read-model handle (as a new
process would: nothing in memory), and prints the time per new event. Proportional to the new
events means a flat column; a cost that grew with the store would show as a rising one across
store sizes, not within one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.history import count, more_events, open_history, parse_store_arguments, store_arguments


def measure(kind: str, paths: int, cache: Path, pg: str,
            batches: list[int]) -> list[tuple[int, float]]:
    from projections import ReadModels

    tracker, _ = open_history(kind, paths, cache, pg, say=lambda text: print(text, file=sys.stderr))
    out = []
    try:
        for n in batches:
            with ReadModels(tracker):  # up to date first
                pass
            added = more_events(tracker, paths, n, seed=int(time.time()))
            with ReadModels(tracker, catch_up=False) as rm:
                started = time.perf_counter()
                rm.catch_up()
                out.append((added, time.perf_counter() - started))
    finally:
        tracker.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.catchup", description=__doc__.splitlines()[0])
    store_arguments(parser, [1_000, 100_000])
    parser.add_argument("--events", type=count("events"), nargs="+", default=[250, 1_000, 4_000],
                        help="new events per batch [250 1000 4000]")
    args = parse_store_arguments(parser, argv)
    print("| store | paths | new events | catch-up | per new event |\n|---|---:|---:|---:|---:|")
    for kind in args.stores:
        for paths in args.paths:
            for added, took in measure(kind, paths, args.cache, args.pg, args.events):
                print(f"| {kind} | {paths:,} | {added:,} | {took * 1000:,.0f} ms | "
                      f"{took / added * 1000:.2f} ms |", flush=True)


if __name__ == "__main__":
    main()
