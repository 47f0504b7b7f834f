"""Rebuild throughput alone, at chosen sizes: the projection issue's 100k and 1M events.

    python -m bench.rebuild --paths 17000 170000 --stores sqlite postgresql [--runs N]

On stores of the benchmark suite (bench.history; generated if missing; about six events a
path) it runs a bare `select_notifications` loop and a rebuild in turns, `--runs` times, and
prints as a table the pair with the median ratio (as `python -m bench` does; the target, at
most 4x, is judged on it), how far the ratios of all pairs spread (on a shared host they move
from run to run), and the best rebuild against the best bare loop.
"""

from __future__ import annotations

import argparse
import sys

from bench.history import count, open_history, parse_store_arguments, store_arguments
from bench.suite import THROUGHPUT_TARGET, rebuild_pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild",
                                     description=__doc__.splitlines()[0])
    store_arguments(parser, [17_000, 170_000])
    parser.add_argument("--runs", type=count("pairs of runs"), default=5,
                        help="pairs of runs (default 5)")
    args = parse_store_arguments(parser, argv)
    print(f"| store | paths | events | rebuild | bare loop | × bare | ≤ {THROUGHPUT_TARGET}x | "
          "all pairs: min, max | best against best |"
          "\n|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for kind in args.stores:
        for paths in args.paths:
            tracker, _ = open_history(kind, paths, args.cache, args.pg,
                                      say=lambda text: print(text, file=sys.stderr))
            timings = rebuild_pairs(tracker, args.runs)
            events = tracker.recorder.max_notification_id()
            tracker.close()
            (bare, took), ratios = timings.median_pair, timings.ratios
            met = "yes" if took / bare <= THROUGHPUT_TARGET else "**no**"
            print(f"| {kind} | {paths:,} | {events:,} | {events / took:,.0f} ev/s | "
                  f"{events / bare:,.0f} ev/s | {took / bare:.2f}x | {met} | {ratios[0]:.2f}x, "
                  f"{ratios[-1]:.2f}x | {timings.best:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
