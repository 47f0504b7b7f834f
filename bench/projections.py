"""Benchmark of the read models: rebuild throughput, catch-up, and `zov counts` latency.

    python -m bench.projections --events 100000
    python -m bench.projections --events 1000000 --keep        # keep the store for reruns
    python -m bench.projections --paths 100000 --db 'postgresql://postgres@127.0.0.1/test?schema=bench'

It fills a fresh store with synthetic client paths (logged phase by phase, as caseworkers
would: all registrations, then triages, assignments, handovers and closures, with some
reassignments, amendments and corrections), then measures:

- a bare loop over `recorder.select_notifications` (pages of 5000): the cost of just
  reading the log through the library, the yardstick;
- `zov projections rebuild` (in process): events per second, and its ratio to the bare
  loop (target: at least 0.25); both are run twice, the best of each is reported;
- catching up 1,000 new events in a fresh process state (nothing in memory);
- `queries.counts(..., as_of=...)` in process, and `zov counts --as-of` as a command.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from projections import ReadModels, queries
from transfers.app import Tracker
from transfers.path import ClientPath
from transfers.place import LeefhuisPlace
from transfers.vocab import CloseReason, Outcome, Stage

HULPVORMEN = (("MKD", 0.57), ("DB Xtra", 0.31), ("Echtscheidingenhulp", 0.12))
RECEIVERS = {"MKD": ("Zorgcoöperatie Limburg", "Kracht van Dichtbij", "JENS"),
             "DB Xtra": ("Zorgcoöperatie Limburg", "Kracht van Dichtbij",
                         "Initiatiefgroep Jeugdhulp Zuid-Limburg"),
             "Echtscheidingenhulp": ("ECLG", "Kracht van Binnenuit",
                                     "Initiatiefgroep Jeugdhulp Zuid-Limburg")}
EVENTS_PER_PATH = 3.55  # what the mix below produces, on average
SAVE_EVERY = 2_000  # aggregates per save


def generate(tracker: Tracker, paths: int, seed: int = 2023) -> None:
    """Write `paths` synthetic client paths (and the 58 places of the plan)."""
    rng = random.Random(seed)
    plan = tracker.plan
    gemeenten = list(plan.gemeenten)
    peildatum = plan.peildatum
    streams: list[ClientPath] = []
    codes = [h for h, _ in HULPVORMEN]
    weights = [w for _, w in HULPVORMEN]
    for i in range(paths):
        h = rng.choices(codes, weights)[0]
        streams.append(ClientPath(
            ref=f"B-{i:07d}", hulpvorm=h, gemeente=rng.choice(gemeenten),
            arrangements=[plan.hulpvorm(h).arrangements[0]],
            arrangement_end=rng.choice([None, date(2023, 12, 31), date(2024, 6, 30)]),
            cohort=rng.choice(["JENS", "Zorgklas", "Overig"]) if h == "MKD" else None,
            on=peildatum, by="bench", note=None))
    places = [LeefhuisPlace(place=f"{lh.name}-{i:02d}", leefhuis=lh.name, occupied=i <= 5,
                            ref=f"W-{lh.name}-{i}" if i <= 5 else None, on=peildatum,
                            by="bench", note=None)
              for lh in plan.leefhuizen for i in range(1, lh.places + 1)]
    _save(tracker, streams + places)

    def phase(act) -> None:
        touched = []
        order = list(streams)
        rng.shuffle(order)  # caseworkers log clients in no particular order
        for path in order:
            if act(path):
                touched.append(path)
        _save(tracker, touched)

    def day(path: ClientPath, lo: int, hi: int) -> date:
        return path.last_on + timedelta(days=rng.randint(lo, hi))

    def triage(p: ClientPath) -> bool:
        if rng.random() < 0.92:
            outcome = rng.choices(list(Outcome), [0.75, 0.1, 0.1, 0.05])[0]
            p.triage(outcome, day(p, 10, 100), "bench")
            return True
        return False

    def assign(p: ClientPath) -> bool:
        s = p.state
        if s.stage is Stage.TRIAGED and s.outcome is Outcome.TRANSFER and rng.random() < 0.85:
            planned = day(p, 30, 150) if rng.random() < 0.4 else None
            p.assign(rng.choice(RECEIVERS[p.hulpvorm]), None, planned, day(p, 5, 60), "bench")
            if rng.random() < 0.05:  # changed receiving party
                p.assign(rng.choice(RECEIVERS[p.hulpvorm]), None, None, day(p, 1, 20),
                         "bench")
            return True
        return False

    def hand_over(p: ClientPath) -> bool:
        if p.stage is Stage.ASSIGNED and rng.random() < 0.75:
            p.hand_over(day(p, 10, 90), "bench")
            return True
        return False

    def close(p: ClientPath) -> bool:
        s = p.state
        if rng.random() > 0.8:
            return False
        if s.stage is Stage.HANDED_OVER:
            p.close(CloseReason.TRANSFERRED, day(p, 0, 20), "bench")
        elif s.stage is Stage.TRIAGED and s.outcome is not Outcome.TRANSFER:
            reason = {Outcome.CONTINUE: CloseReason.CONTINUED, Outcome.ENDS: CloseReason.ENDED,
                      Outcome.FOLLOW_UP: CloseReason.EDUCATION}[s.outcome]
            p.close(reason, day(p, 0, 60), "bench")
        else:
            return False
        return True

    def mend(p: ClientPath) -> bool:
        if rng.random() < 0.02:
            p.amend(p.last_on, "bench", gemeente=rng.choice(gemeenten))
            return True
        if rng.random() < 0.03 and len(p.steps) > 1 and p.steps[-1].kind != "Corrected":
            p.correct(len(p.steps), "logged by mistake", p.last_on, "bench")
            return True
        return False

    for act in (triage, assign, hand_over, close, mend):
        phase(act)


def _save(tracker: Tracker, aggregates: list) -> None:
    for start in range(0, len(aggregates), SAVE_EVERY):
        tracker.save(*aggregates[start:start + SAVE_EVERY])


def more_events(tracker: Tracker, paths: int, n: int, seed: int = 7) -> int:
    """Log `n` further events on random open paths (the next step of each), one command
    each, as caseworkers do; returns how many were logged."""
    rng = random.Random(seed)
    head = tracker.recorder.max_notification_id()
    done, tried = 0, 0
    while done < n and tried < 20 * n:
        tried += 1
        for path in tracker.paths_of(f"B-{rng.randrange(paths):07d}"):
            s, on = path.state, min(path.last_on + timedelta(days=3), tracker.today())
            try:
                if s.stage is Stage.REGISTERED:
                    tracker.triage(path.ref, Outcome.TRANSFER, "bench", on=on)
                elif s.stage is Stage.TRIAGED and s.outcome is Outcome.TRANSFER:
                    tracker.assign(path.ref, RECEIVERS[path.hulpvorm][0], "bench", on=on)
                elif s.stage is Stage.ASSIGNED:
                    tracker.hand_over(path.ref, "bench", on=on)
                elif s.stage is Stage.HANDED_OVER:
                    tracker.close_path(path.ref, CloseReason.TRANSFERRED, "bench", on=on)
                else:
                    continue
                done += 1
            except Exception:  # noqa: BLE001 - a refused step is simply not logged
                continue
    return tracker.recorder.max_notification_id() - head


def bare_loop(tracker: Tracker, page: int = 5000) -> float:
    """Events per second of just reading the log through the library."""
    gc.collect()
    started, start, n = time.perf_counter(), 1, 0
    while True:
        notes = tracker.recorder.select_notifications(start, page)
        if not notes:
            break
        n += len(notes)
        start = notes[-1].id + 1
    return n / (time.perf_counter() - started)


def rebuild(tracker: Tracker) -> tuple[float, float, int]:
    """Rebuild in a fresh read-model handle: (events/s, seconds, events)."""
    gc.collect()
    with ReadModels(tracker, catch_up=False) as rm:
        started = time.perf_counter()
        events = rm.rebuild()
        seconds = time.perf_counter() - started
    return events / seconds, seconds, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--events", type=int, help="about this many events")
    size.add_argument("--paths", type=int, help="this many client paths")
    parser.add_argument("--db", help="store URL [default: a SQLite file in /tmp]")
    parser.add_argument("--keep", action="store_true", help="reuse the store if it is full")
    parser.add_argument("--repeat", type=int, default=2, help="runs of bare loop and rebuild")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    paths = args.paths or round(args.events / EVENTS_PER_PATH)
    url = args.db or f"sqlite:////tmp/zov-bench-{paths}.sqlite"
    if url.startswith("sqlite:///") and not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(url[len("sqlite:///"):] + suffix).unlink(missing_ok=True)
    tracker = Tracker.open(url)
    figures: dict = {"store": tracker.store.kind, "url": tracker.store.display}
    if tracker.plan_record() is None:
        tracker.adopt_plan(None, "built-in", "bench")
    if (tracker.recorder.max_notification_id() or 0) <= 1:
        started = time.perf_counter()
        generate(tracker, paths)
        figures["generate_s"] = round(time.perf_counter() - started, 1)
    figures["events"] = tracker.recorder.max_notification_id()
    figures["paths"] = paths
    say = (lambda *a: None) if args.json else print
    say(f"{figures['store']}: {figures['events']} events, {paths} paths")

    bares, rebuilds = [], []
    for _ in range(args.repeat):
        bares.append(bare_loop(tracker))
        rate, seconds, _ = rebuild(tracker)
        rebuilds.append((rate, seconds))
        say(f"  bare select loop {bares[-1]:>9,.0f} events/s   rebuild {rate:>8,.0f} events/s"
            f" ({seconds:.1f}s)")
    figures["bare_events_per_s"] = round(max(bares))
    figures["rebuild_events_per_s"] = round(max(r for r, _ in rebuilds))
    figures["rebuild_s"] = round(min(s for _, s in rebuilds), 1)
    figures["ratio"] = round(figures["rebuild_events_per_s"] / figures["bare_events_per_s"], 3)
    say(f"  best: rebuild/bare = {figures['ratio']:.3f} (target >= 0.25)")

    added = more_events(tracker, paths, 1000)
    with ReadModels(tracker, catch_up=False) as rm:  # a new process: nothing in memory
        started = time.perf_counter()
        caught = rm.catch_up()
        figures["catch_up_events"] = caught
        figures["catch_up_s"] = round(time.perf_counter() - started, 2)
        say(f"  catch-up of {added} new events (fresh process state): "
            f"{figures['catch_up_s']:.2f}s")
        as_of = date(2023, 10, 1)
        for by in (None, "gemeente"):
            times = []
            for _ in range(5):
                started = time.perf_counter()
                queries.counts(rm, as_of, by=by)
                times.append(time.perf_counter() - started)
            key = "counts_query_s" if by is None else "counts_by_gemeente_query_s"
            figures[key] = round(statistics.median(times), 3)
            say(f"  queries.counts(as_of={as_of}{', by=' + by if by else ''}): "
                f"{figures[key] * 1000:.0f} ms")
    zov = Path(sys.executable).with_name("zov")
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([str(zov), "--db", url, "counts", "--as-of", "2023-10-01"], check=True,
                       capture_output=True, env=dict(os.environ))
        times.append(time.perf_counter() - started)
    figures["zov_counts_s"] = round(statistics.median(times), 3)
    say(f"  zov counts --as-of 2023-10-01 (whole command, incl. start-up): "
        f"{figures['zov_counts_s'] * 1000:.0f} ms")
    if args.json:
        print(json.dumps(figures, indent=2))
    tracker.close()


if __name__ == "__main__":
    main()
