"""The benchmark suite: every figure next to a baseline measured in the same run.

    python -m bench                                   # 1k, 100k and 1M paths, SQLite and PostgreSQL
    python -m bench --paths 1000 100000 --stores sqlite
    python -m bench --paths 200 --quick               # a smoke run: a few seconds

For each store kind and size it opens (or generates, see bench.history) a store of synthetic
client paths and measures, each against its yardstick:

- write: `zov handover REF` as a whole process, median of 20, against
  `python -c "import eventsourcing.application, click"`, the two taken in turns; once as
  `zov` runs by default (the first command starts a `zov serve`, the next go through it), once
  with ZOV_SERVER=off (every command loads everything itself, as the first of a session does);
- bulk: `zov import clients` + `zov apply` (the same code, in process) into an empty store,
  against eventsourcing's plain `Application.save(*aggregates)` of the same events, the two
  taken in turns three times, the median pair; and beside it, with no target, against the
  same aggregates made with their own methods and saved, both inside the clock;
- rebuild: `zov projections rebuild` (in process) against a bare `select_notifications` loop,
  the two taken in turns three times (once at 1M paths), the median pair;
- catch-up: 1,000 new events caught up in a fresh read-model handle, against reading them;
- counts, counts by gemeente, compliance: the `zov` command as a whole process, against a
  process running the equivalent hand-written SQL with the driver alone; judged with
  ZOV_SERVER=off, as the first command of a session runs, and shown beside it through the
  `zov serve` that the write commands started, as the commands after it run;
- memo: `zov memo 2023-09` as a whole process (no baseline; the target is absolute).

In-process baselines (bare save, bare loop) run with the garbage collector paused, as zov's
bulk and rebuild pause it. The factor is zov's time over the baseline's (for rates, the
baseline's rate over zov's): 2.0 means twice as slow. Timed processes run with Python's
bytecode cache on, as an installed zov does.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from bench import bulk as sheets
from bench.history import (
    count,
    empty,
    more_events,
    open_history,
    parse_store_arguments,
    ready_for_handover,
    store_arguments,
)
from transfers.memory import collector_paused

AS_OF = "2023-10-01"
MEMO_MONTH = "2023-09"
BASELINE_IMPORT = "import eventsourcing.application, click"
ZOV = str(Path(sys.executable).with_name("zov"))


@dataclass
class Row:
    measure: str
    store: str
    paths: int
    events: int
    zov: float  # seconds (or events/s when `unit` says so)
    baseline: float | None
    unit: str = "s"
    target: str = ""
    met: bool | None = None

    @property
    def factor(self) -> float | None:
        """zov's cost over the baseline's: how many times slower."""
        if not self.baseline:
            return None
        return self.baseline / self.zov if self.unit == "events/s" else self.zov / self.baseline


# -- helpers ---------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment of timed processes: bytecode cache on, as in an installed zov, and
    no `zov serve` unless the measure asks for one (`served`)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("ZOV_ACTOR", "bench")
    env["ZOV_SERVER"] = "off"
    return env


@contextmanager
def served(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The environment of commands run as `zov` runs by default: the first starts a
    `zov serve` (on a socket of the benchmark's own), the next go through it; stopped after."""
    with tempfile.TemporaryDirectory(prefix="zov-serve-") as folder:
        served_env = {**env, "ZOV_SOCKET": str(Path(folder) / "zov.sock"), "ZOV_SERVER": "auto"}
        try:
            yield served_env
        finally:
            said = subprocess.run([ZOV, "serve", "--stop"], env=served_env,
                                  capture_output=True, text=True).stderr
        if "stopped the server" not in said:  # the commands ran without one: not this measure
            raise RuntimeError(f"no zov serve was started by the commands: {said.strip()}")


def seconds(command: list[str], env: dict[str, str], check: bool = True) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return took


class Timings(NamedTuple):
    """Seconds of a baseline and of zov, taken one right after the other: (baseline, zov)
    pairs, ranked by zov's ratio to the baseline."""
    pairs: list[tuple[float, float]]

    @property
    def median_pair(self) -> tuple[float, float]:
        """The pair with the median ratio (of two, the slower): the figure where the factor is
        the target. A pair's two timings see the same load of this shared host, and the
        median leaves out the odd run in which one of them was held up."""
        return self.pairs[len(self.pairs) // 2]

    @property
    def medians(self) -> tuple[float, float]:
        """The median of each: the figure where the time itself is the target."""
        return (statistics.median(b for b, _ in self.pairs),
                statistics.median(z for _, z in self.pairs))

    @property
    def ratios(self) -> list[float]:
        return [z / b for b, z in self.pairs]

    @property
    def best(self) -> float:
        """zov's best against the baseline's best."""
        return min(z for _, z in self.pairs) / min(b for b, _ in self.pairs)


def in_turns(baseline: Callable[[int], float], zov: Callable[[int], float], runs: int,
             warm_up: bool = False) -> Timings:
    """`runs` timings of each (run `i` of each gets `i`), taken in turns so both see the same
    machine load; `warm_up`: after one untimed run each (processes: the disk cache)."""
    if warm_up:
        baseline(-1), zov(-1)
    pairs = [(baseline(i), zov(i)) for i in range(runs)]
    return Timings(sorted(pairs, key=lambda pair: pair[1] / pair[0]))


def zov_command(url: str, *args: str) -> list[str]:
    return [ZOV, "--db", url, *args]


def sql_process(url: str, kind: str, sql: str, params: list) -> list[str]:
    """A Python process that runs one query with the driver alone and prints the rows."""
    if kind == "sqlite":
        code = ("import sqlite3, sys, json\n"
                "c = sqlite3.connect(sys.argv[1])\n"
                "print(c.execute(sys.argv[2], json.loads(sys.argv[3])).fetchall())\n")
        target = url[len("sqlite:///"):]
    else:
        code = ("import psycopg, sys, json\n"
                "dsn, _, schema = sys.argv[1].rpartition('?schema=')\n"
                "c = psycopg.connect(dsn, options=f'-c search_path={schema}')\n"
                "print(c.execute(sys.argv[2].replace('?', '%s'), json.loads(sys.argv[3]))"
                ".fetchall())\n")
        target = url
    return [sys.executable, "-c", code, target, sql, json.dumps(params)]


# -- the measures ----------------------------------------------------------------------------


def write_latency(tracker: Any, url: str, runs: int, tag: str,
                  env: dict[str, str]) -> tuple[float, float]:
    """Median seconds of `zov handover REF` and of the baseline import, as processes."""
    refs = ready_for_handover(tracker, runs + 1, tag)
    zov = lambda i: seconds(zov_command(url, "handover", refs[i + 1]), env)  # noqa: E731
    base = lambda i: seconds([sys.executable, "-c", BASELINE_IMPORT], env)  # noqa: E731
    base_s, zov_s = in_turns(base, zov, runs, warm_up=True).medians
    return zov_s, base_s


def bare_loop(tracker: Any, start: int = 1, stop: int | None = None, page: int = 5000) -> float:
    """Seconds to read notifications start..stop through the library, and nothing else; with
    the garbage collector paused, as zov's rebuild pauses it (with it on, the loop's speed
    depends on how many objects the process happens to hold: three times as slow right after
    generating a store in the same process)."""
    gc.collect()
    with collector_paused():
        started = time.perf_counter()
        while True:
            notes = tracker.recorder.select_notifications(start, page, stop=stop)
            if not notes:
                break
            start = notes[-1].id + 1
        return time.perf_counter() - started


def rebuild(tracker: Any) -> float:
    from projections import ReadModels
    from projections.schema import READ_MODELS  # noqa: F401 - SQLAlchemy loads untimed

    gc.collect()
    with ReadModels(tracker, catch_up=False) as rm:
        started = time.perf_counter()
        rm.rebuild()
        return time.perf_counter() - started


def rebuild_pairs(tracker: Any, runs: int) -> Timings:
    """A bare loop and a rebuild in turns, `runs` times."""
    return in_turns(lambda i: bare_loop(tracker), lambda i: rebuild(tracker), runs)


THROUGHPUT_TARGET = 4  # rebuild and bulk within 4x their baselines: judged on the median pair


def catch_up(tracker: Any, paths: int, n: int, seed: int) -> tuple[int, float, float]:
    """Log `n` new events; (how many, seconds to catch them up in a fresh handle, seconds
    to just read them)."""
    from projections import ReadModels

    with ReadModels(tracker):  # up to date first
        pass
    head = tracker.recorder.max_notification_id()
    added = more_events(tracker, paths, n, seed)
    bare = bare_loop(tracker, head + 1)
    with ReadModels(tracker, catch_up=False) as rm:  # as a new process: nothing in memory
        started = time.perf_counter()
        rm.catch_up()
        return added, time.perf_counter() - started, bare


def bulk(kind: str, pg: str, cache: Path, clients: int, events: int) -> float:
    """Seconds of `zov import clients` + `zov apply` of `clients` and their `events` into an
    empty store."""
    from transfers.app import Tracker
    from transfers.bulk import CLIENT_COLUMNS, EVENT_COLUMNS, apply_events, import_clients
    from transfers.sheets import open_sheet

    with tempfile.TemporaryDirectory(prefix="zov-bench-") as tmp:
        overview, sheet = sheets.write_files(Path(tmp), clients, clients * sheets.STEPS)
        url = _scratch(kind, pg, cache, "bulk")
        tracker = Tracker.open(url)
        tracker.adopt_plan(None, "built-in", "bench")
        gc.collect()
        started = time.perf_counter()
        r1 = import_clients(tracker, open_sheet(overview, CLIENT_COLUMNS), "bench")
        r2 = apply_events(tracker, open_sheet(sheet, EVENT_COLUMNS), "bench")
        took = time.perf_counter() - started
        tracker.close()
        empty(kind, url)
    if r1.errors or r2.errors or r1.written + r2.written != events:
        raise RuntimeError(f"bulk import wrote {r1.written + r2.written} of {events} events: "
                           f"{(r1.errors + r2.errors)[:3]}")
    return took


def bare_save(kind: str, pg: str, cache: Path, clients: int, build: bool = False) -> float:
    """Seconds of eventsourcing's plain save of the same events into an empty store (`build`:
    and of making them first with the aggregates' own methods, as zov's bulk makes them)."""
    url = _scratch(kind, pg, cache, "bare")
    app = sheets.BareApplication.open(url)
    gc.collect()
    def make() -> list:
        return sheets.bare_aggregates(clients, clients * sheets.STEPS)

    with collector_paused():  # as zov's bulk pauses it
        made = None if build else make()
        started = time.perf_counter()
        app.save(*(make() if build else made))
        bare = time.perf_counter() - started
    app.close()
    empty(kind, url)
    return bare


def _scratch(kind: str, pg: str, cache: Path, name: str) -> str:
    name = f"{name}_{os.getpid()}"  # runs side by side do not meet
    url = (f"sqlite:///{cache / f'scratch-{name}.sqlite'}" if kind == "sqlite"
           else f"{pg}?schema=zov_bench_scratch_{name}")
    empty(kind, url)
    return url


def queries(url: str, kind: str, runs: int,
            env: dict[str, str] | None = None) -> list[tuple[str, float, float]]:
    """(name, median seconds of the zov command, of the hand-written SQL) for counts,
    counts by gemeente and compliance, each as a whole process (in `env`: by default, one
    that starts no server)."""
    env = env or child_env()
    now = "known_to = 9223372036854775807 AND valid_from <= ? AND valid_to > ?"
    cases = [
        ("zov counts", ["counts", "--as-of", AS_OF],
         f"SELECT hulpvorm, stage, close_reason, count(*) FROM zov_path_interval WHERE {now} "
         "GROUP BY hulpvorm, stage, close_reason"),
        ("zov counts --by gemeente", ["counts", "--as-of", AS_OF, "--by", "gemeente"],
         f"SELECT hulpvorm, stage, gemeente, count(*) FROM zov_path_interval WHERE {now} "
         "GROUP BY hulpvorm, stage, gemeente"),
        ("zov compliance --no-cases", ["compliance", "--as-of", AS_OF, "--no-cases"],
         "SELECT hulpvorm, stage, count(*), sum(CASE WHEN valid_from <= '2023-12-31' THEN 1 "
         "ELSE 0 END), sum(CASE WHEN planned > '2023-12-31' THEN 1 ELSE 0 END) "
         f"FROM zov_path_interval WHERE {now} GROUP BY hulpvorm, stage"),
    ]
    out = []
    for name, args, sql in cases:
        zov = lambda i, args=args: seconds(zov_command(url, *args), env)  # noqa: E731
        base = lambda i, sql=sql: seconds(sql_process(url, kind, sql, [AS_OF, AS_OF]), env)  # noqa: E731
        b, z = in_turns(base, zov, runs, warm_up=True).medians
        out.append((name, z, b))
    return out


def memo(url: str, runs: int) -> float:
    env = child_env()
    with tempfile.TemporaryDirectory(prefix="zov-bench-") as tmp:
        out = str(Path(tmp) / "memo.html")
        seconds(zov_command(url, "memo", MEMO_MONTH, "-o", out), env)  # warm-up
        return statistics.median(seconds(zov_command(url, "memo", MEMO_MONTH, "-o", out), env)
                                 for _ in range(runs))


# -- one store, all measures -----------------------------------------------------------------


def measure(kind: str, paths: int, args: argparse.Namespace, say) -> list[Row]:
    tracker, info = open_history(kind, paths, args.cache, args.pg, args.fresh, say)
    url = tracker.store.url
    runs = 3 if args.quick else 20
    seed = int(time.time())
    tag = format(seed, "x")[-6:].upper()
    rows: list[Row] = []

    def row(measure: str, zov: float, baseline: float | None, unit: str = "s",
            target: str = "", met: bool | None = None) -> None:
        events = tracker.recorder.max_notification_id() or 0
        rows.append(Row(measure, kind, paths, events, zov, baseline, unit, target, met))
        say(f"  {measure:34} {_figure(rows[-1])}")

    say(f"{kind}, {paths:,} paths, {info['events']:,} events")
    bare, took = rebuild_pairs(tracker, 1 if args.quick or paths >= 1_000_000 else 3).median_pair
    head = tracker.recorder.max_notification_id()
    row("projection rebuild", head / took, head / bare, "events/s", f"<= {THROUGHPUT_TARGET}x")
    rows[-1].met = rows[-1].factor <= THROUGHPUT_TARGET

    added, caught, read = catch_up(tracker, paths, 100 if args.quick else 1000, seed)
    row(f"catch-up of {added:,} new events", caught, read, target="∝ new events")

    for name, z, b in queries(url, kind, 1 if args.quick else 5):
        limit = (None if "--by" in name or kind != "postgresql"  # the targets are for PostgreSQL
                 else {100_000: 0.5, 1_000_000: 3.0}.get(paths))
        row(name, z, b, target=f"< {limit} s" if limit else "",
            met=(z < limit) if limit else None)
    m = memo(url, 1 if args.quick else 3)
    row(f"zov memo {MEMO_MONTH}", m, None, target="< 2 s" if paths == 100_000 else "",
        met=(m < 2) if paths == 100_000 else None)

    with served(child_env()) as env:
        z, b = write_latency(tracker, url, runs, f"{tag}S", env)
        row("zov handover (write command)", z, b, target="<= 2x", met=z / b <= 2)
        for name, z, b in queries(url, kind, 1 if args.quick else 5, env):
            row(f"{name}, through zov serve", z, b)
    z, b = write_latency(tracker, url, runs, tag, child_env())
    row("zov handover, ZOV_SERVER=off", z, b)
    tracker.close()

    clients = min(paths, args.bulk)
    if clients not in args.bulk_done.setdefault(kind, set()):
        args.bulk_done[kind].add(clients)
        events = clients * (1 + sheets.STEPS)
        bare, took = in_turns(lambda i: bare_save(kind, args.pg, args.cache, clients),
                              lambda i: bulk(kind, args.pg, args.cache, clients, events),
                              1 if args.quick else 3).median_pair
        rows.append(Row(f"bulk import + apply ({events:,} events)", kind, paths, events,
                        events / took, events / bare, "events/s", f"<= {THROUGHPUT_TARGET}x",
                        took / bare <= THROUGHPUT_TARGET))
        say(f"  {rows[-1].measure:34} {_figure(rows[-1])}")
        # The same, against a baseline that also makes the events (no target: shown so that
        # the part of zov's cost that is the domain's own commands can be told apart).
        built, took = in_turns(
            lambda i: bare_save(kind, args.pg, args.cache, clients, build=True),
            lambda i: bulk(kind, args.pg, args.cache, clients, events),
            1 if args.quick else 3).median_pair
        rows.append(Row("bulk, against the events made and saved bare", kind, paths, events,
                        events / took, events / built, "events/s"))
        say(f"  {rows[-1].measure:34} {_figure(rows[-1])}")
    return rows


def _figure(r: Row) -> str:
    def show(v: float | None) -> str:
        if v is None:
            return "—"
        if r.unit == "events/s":
            return f"{v:,.0f} ev/s"
        return f"{v * 1000:,.0f} ms" if v < 10 else f"{v:,.1f} s"

    factor = "—" if r.factor is None else f"{r.factor:.2f}x"
    return f"{show(r.zov)} | {show(r.baseline)} | {factor}"


def table(rows: list[Row]) -> str:
    lines = ["| measure | store | paths | events | zov | baseline | × baseline | target | met |",
             "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r.met]
        lines.append(f"| {r.measure} | {r.store} | {r.paths:,} | {r.events:,} | "
                     f"{_figure(r)} | {r.target} | {met} |")
    return "\n".join(lines)


def machine(kinds: list[str], pg: str) -> str:
    import sqlite3

    text = (f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"SQLite {sqlite3.sqlite_version}")
    if "postgresql" in kinds:
        import psycopg

        with psycopg.connect(pg) as conn:
            text += f", PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}"
    return f"{text}, {date.today().isoformat()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    store_arguments(parser, [1_000, 100_000, 1_000_000])
    parser.add_argument("--fresh", action="store_true", help="generate the stores again")
    parser.add_argument("--bulk", type=count("clients"), default=20_000,
                        help="clients in the bulk import (at most the size) [20000]")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parse_store_arguments(parser, argv)
    args.bulk_done = {}
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    rows: list[Row] = []
    for kind in args.stores:
        for paths in args.paths:
            rows += measure(kind, paths, args, say)
    print(f"{machine(args.stores, args.pg)}\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "factor": r.factor} for r in rows],
                                        indent=2))
