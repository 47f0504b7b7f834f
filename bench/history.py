"""Synthetic histories for the benchmarks: client paths of about six events each, in a store
that is kept between runs.

Paths are made with the domain's own commands (so every rule holds) and saved in batches of
CHUNK paths through `Tracker.batch()`, the fastest way in: a million paths is some six million
events. A store is reused when the marker file beside it says it was filled completely with
the same number of paths; otherwise it is emptied and filled again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import tempfile
import time
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from transfers.app import Tracker
from transfers.memory import collector_paused
from transfers.path import ClientPath
from transfers.place import LeefhuisPlace
from transfers.store import parse_store_url, postgres_conninfo
from transfers.vocab import CloseReason, Outcome, Stage

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
HULPVORMEN = (("MKD", 0.57), ("DB Xtra", 0.31), ("Echtscheidingenhulp", 0.12))
RECEIVERS = {"MKD": ("Zorgcoöperatie Limburg", "Kracht van Dichtbij", "JENS"),
             "DB Xtra": ("Zorgcoöperatie Limburg", "Kracht van Dichtbij",
                         "Initiatiefgroep Jeugdhulp Zuid-Limburg"),
             "Echtscheidingenhulp": ("ECLG", "Kracht van Binnenuit",
                                     "Initiatiefgroep Jeugdhulp Zuid-Limburg")}
CHUNK = 10_000  # paths made and saved together
# Generating a million paths through the domain takes the better part of an hour; such a
# store is made in SQL from ten copies of the store a tenth its size.
REPLICATE_FROM = 1_000_000
BY = "bench"


def count(what: str):
    """An argparse type: a whole number, at least 1; else one line naming `what`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number of {what}; give a whole "
                                             "number, at least 1")
        return value
    return parse


def store_arguments(parser: argparse.ArgumentParser, paths: list[int]) -> None:
    """The options every benchmark takes: sizes, store kinds, PostgreSQL database, cache."""
    parser.add_argument("--paths", type=count("paths"), nargs="+", default=paths,
                        help=f"sizes of the histories {paths}")
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "postgresql"],
                        default=["sqlite", "postgresql"])
    parser.add_argument("--pg", default=os.environ.get("ZOV_TEST_PG", PG_DSN),
                        help="PostgreSQL database for the stores (a schema each)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "zov-bench",
                        help="folder for the stores kept between runs [/tmp/zov-bench]")


def parse_store_arguments(parser: argparse.ArgumentParser,
                          argv: list[str] | None) -> argparse.Namespace:
    """The arguments, with the PostgreSQL database reached first when it is asked for: one
    line (and exit 2) if it cannot be, not a traceback halfway through the runs."""
    args = parser.parse_args(argv)
    if "postgresql" in args.stores:
        import psycopg

        try:
            psycopg.connect(args.pg, connect_timeout=10).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0]
            parser.error(f"cannot reach the PostgreSQL database --pg {args.pg} ({reason}); "
                         "start it, pass another --pg, or leave it out with --stores sqlite")
    return args


def store_url(kind: str, paths: int, cache: Path, pg: str) -> str:
    """Where the history of `paths` paths is kept: a file in `cache`, or a schema in `pg`."""
    if kind == "sqlite":
        return f"sqlite:///{cache / f'zov-{paths}.sqlite'}"
    return f"{pg}{'&' if '?' in pg else '?'}schema=zov_bench_{paths}"


def _marker(kind: str, paths: int, cache: Path) -> Path:
    return cache / f"{kind}-{paths}.json"


def open_history(kind: str, paths: int, cache: Path, pg: str, fresh: bool = False,
                 say=print) -> tuple[Tracker, dict[str, Any]]:
    """The store with `paths` synthetic paths: reused if complete, else (re)generated."""
    cache.mkdir(parents=True, exist_ok=True)
    url, marker = store_url(kind, paths, cache, pg), _marker(kind, paths, cache)
    if marker.exists() and not fresh:
        info = json.loads(marker.read_text())
        tracker = Tracker.open(url)
        if (tracker.recorder.max_notification_id() or 0) >= info["events"]:
            return tracker, info
        tracker.close()
    marker.unlink(missing_ok=True)
    empty(kind, url)
    started = time.perf_counter()
    if paths >= REPLICATE_FROM and paths % 10 == 0:
        source, _ = open_history(kind, paths // 10, cache, pg, fresh, say)
        say(f"copying {paths // 10:,} paths ten times into {url} ...")
        replicate(source.store.url, url, 10)
        source.close()
        tracker = Tracker.open(url)
    else:
        tracker = Tracker.open(url)
        tracker.adopt_plan(None, "built-in", BY)
        say(f"generating {paths:,} paths on {kind} ({url}) ...")
        generate(tracker, paths)
    settle(kind, url)
    info = {"paths": paths, "events": tracker.recorder.max_notification_id(),
            "generate_s": round(time.perf_counter() - started, 1)}
    marker.write_text(json.dumps(info))
    say(f"  {info['events']:,} events in {info['generate_s']:.0f} s")
    return tracker, info


def settle(kind: str, url: str) -> None:
    """Leave a new store as a day of use would, not as its generation left it: SQLite's
    write-ahead log folded into the file and emptied; PostgreSQL's tables vacuumed and
    analysed (else the first reads of new rows write hint bits, and autovacuum runs during
    the timings)."""
    if kind == "sqlite":
        import sqlite3

        with closing(sqlite3.connect(parse_store_url(url).sqlite_path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    conn, schema = _postgres(url)
    with conn:
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                     (schema,)).fetchall():
            conn.execute(f'VACUUM (ANALYZE) "{schema}"."{table}"')


def empty(kind: str, url: str) -> None:
    """Remove the store at `url` (its SQLite file, or its PostgreSQL schema)."""
    if kind == "sqlite":
        path = parse_store_url(url).sqlite_path
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    conn, schema = _postgres(url)
    with conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _postgres(url: str) -> tuple[Any, str]:
    """A connection (autocommit) to the database of the PostgreSQL store at `url`, and the
    store's schema."""
    import psycopg

    store = parse_store_url(url)
    return (psycopg.connect(**postgres_conninfo(store), autocommit=True),
            store.env["POSTGRES_SCHEMA"])


def replicate(source: str, target: str, times: int) -> None:
    """Fill the empty store at `target` with the log at `source` and `times` - 1 copies of
    its client paths, each under new stream ids (with their keys): the copies carry the same
    (sealed) references, which no count looks at."""
    tracker = Tracker.open(target)  # creates the event table
    tracker.mapper.keys.create_table()
    tracker.close()
    if source.startswith("sqlite:"):
        _replicate_sqlite(str(parse_store_url(source).sqlite_path),
                          str(parse_store_url(target).sqlite_path), times)
    else:
        _replicate_postgres(source, target, times)


def _replicate_sqlite(source: str, target: str, times: int) -> None:
    import sqlite3
    from uuid import UUID

    def copy_id(stream_id: str, k: int) -> str:  # as md5(id || k) on PostgreSQL
        return str(UUID(bytes=hashlib.md5(f"{UUID(stream_id)}{k}".encode()).digest())).replace("-", "")

    conn = sqlite3.connect(target)
    conn.create_function("copy_id", 2, copy_id, deterministic=True)
    conn.execute("ATTACH DATABASE ? AS src", (source,))
    with conn:
        for k in range(times):
            stream = "originator_id" if k == 0 else f"copy_id(originator_id, {k})"
            paths_only = "" if k == 0 else "WHERE topic LIKE 'zov:ClientPath.%'"
            conn.execute(f"INSERT INTO stored_events SELECT {stream}, originator_version, topic, "
                         f"state FROM src.stored_events {paths_only} ORDER BY rowid")
            key = "stream_id" if k == 0 else f"copy_id(stream_id, {k})"
            conn.execute(f"INSERT INTO zov_stream_key SELECT {key}, generation, secret, "
                         "forgotten_at FROM src.zov_stream_key")
    conn.execute("ANALYZE")
    conn.close()


def _replicate_postgres(source: str, target: str, times: int) -> None:
    conn, src = _postgres(source)
    dst = parse_store_url(target).env["POSTGRES_SCHEMA"]
    with conn, conn.transaction():
        for k in range(times):
            stream = "originator_id" if k == 0 else f"md5(originator_id::text || '{k}')::uuid"
            paths_only = "" if k == 0 else "WHERE topic LIKE 'zov:ClientPath.%%'"
            conn.execute(f'INSERT INTO "{dst}".tracker_events (originator_id, '
                         f"originator_version, topic, state) SELECT {stream}, "
                         f'originator_version, topic, state FROM "{src}".tracker_events '
                         f"{paths_only} ORDER BY notification_id")
            key = ("stream_id" if k == 0 else
                   f"replace(md5(stream_id::uuid::text || '{k}')::uuid::text, '-', '')")
            conn.execute(f'INSERT INTO "{dst}".zov_stream_key SELECT {key}, generation, '
                         f'secret, forgotten_at FROM "{src}".zov_stream_key')
        for table in ("tracker_events", "zov_stream_key"):  # as autovacuum would, in time
            conn.execute(f'ANALYZE "{dst}".{table}')


def generate(tracker: Tracker, paths: int, seed: int = 2023) -> None:
    """Write `paths` synthetic client paths (and the plan's Leefhuis places)."""
    rng = random.Random(seed)
    plan = tracker.plan
    places = [LeefhuisPlace(place=f"{lh.name}-{i:02d}", leefhuis=lh.name, occupied=i <= 5,
                            ref=f"W-{lh.name}-{i}" if i <= 5 else None, on=plan.peildatum,
                            by=BY, note=None)
              for lh in plan.leefhuizen for i in range(1, lh.places + 1)]
    _save(tracker, places)
    for start in range(0, paths, CHUNK):
        with collector_paused():
            _save(tracker, [_path(rng, plan, i) for i in range(start, min(paths, start + CHUNK))])


def _save(tracker: Tracker, streams: list) -> None:
    with tracker.batch(creations_checked=True):
        tracker.keep_in_batch(*streams)


def _path(rng: random.Random, plan: Any, i: int) -> ClientPath:
    """One client's path: mostly the whole way to closed, some stopping earlier; now and
    then a changed receiver, a moved handover date, an amendment or a correction."""
    codes, weights = zip(*HULPVORMEN, strict=True)
    h = rng.choices(codes, weights)[0]
    p = ClientPath(ref=f"B-{i:07d}", hulpvorm=h, gemeente=rng.choice(list(plan.gemeenten)),
                   arrangements=[plan.hulpvorm(h).arrangements[0]],
                   arrangement_end=rng.choice([None, date(2023, 12, 31), date(2024, 6, 30)]),
                   cohort=rng.choice(["JENS", "Zorgklas", "Overig"]) if h == "MKD" else None,
                   on=plan.peildatum, by=BY, note=None)

    def day(lo: int, hi: int) -> date:
        return p.last_on + timedelta(days=rng.randint(lo, hi))

    if rng.random() < 0.2:
        p.amend(p.last_on, BY, gemeente=rng.choice(list(plan.gemeenten)))
    if rng.random() > 0.98:
        return p
    outcome = rng.choices(list(Outcome), [0.85, 0.05, 0.05, 0.05])[0]
    p.triage(outcome, day(10, 100), BY)
    if outcome is Outcome.TRANSFER and rng.random() < 0.95:
        p.assign(rng.choice(RECEIVERS[h]), None, None, day(5, 60), BY)
        if rng.random() < 0.1:
            p.assign(rng.choice(RECEIVERS[h]), None, None, day(1, 20), BY)
        if rng.random() < 0.9:
            p.plan_handover(day(20, 90), day(0, 10), BY)
            if rng.random() < 0.6:
                p.plan_handover(day(20, 90), day(0, 10), BY)
        if rng.random() < 0.9:
            p.hand_over(day(10, 90), BY)
    if rng.random() < 0.05 and p.steps[-1].kind != "Corrected" and len(p.steps) > 1:
        p.correct(len(p.steps), "logged by mistake", p.last_on, BY)
    s = p.state
    if rng.random() < 0.95 and s.is_open:
        if s.stage is Stage.HANDED_OVER:
            p.close(CloseReason.TRANSFERRED, day(0, 20), BY)
        elif s.stage is Stage.TRIAGED and s.outcome is not Outcome.TRANSFER:
            reason = {Outcome.CONTINUE: CloseReason.CONTINUED, Outcome.ENDS: CloseReason.ENDED,
                      Outcome.FOLLOW_UP: CloseReason.EDUCATION}[s.outcome]
            p.close(reason, day(0, 60), BY)
    return p


def ready_for_handover(tracker: Tracker, n: int, tag: str) -> list[str]:
    """Register, triage and assign `n` new clients (refs W<tag>-<i>); their handover is
    the write command the benchmark times."""
    refs = [f"W{tag}-{i}" for i in range(n)]
    on = tracker.plan.peildatum + timedelta(days=30)
    for ref in refs:
        tracker.register(ref, "MKD", "Stein", BY)
        tracker.triage(ref, Outcome.TRANSFER, BY, on=on)
        tracker.assign(ref, "JENS", BY, on=on)
    return refs


def more_events(tracker: Tracker, paths: int, n: int, seed: int) -> int:
    """Log `n` further events on random paths, one command each, as caseworkers do: an
    amendment (allowed in every stage but closed) or the path's next step. Returns how
    many were logged."""
    rng = random.Random(seed)
    head = tracker.recorder.max_notification_id()
    done, tried = 0, 0
    while done < n and tried < 20 * n:
        tried += 1
        found = tracker.paths_of(f"B-{rng.randrange(paths):07d}")
        if not found or not found[0].state.is_open:  # (copies share their originals' refs)
            continue
        path, s = found[0], found[0].state
        on = min(path.last_on + timedelta(days=3), date.today())
        if s.stage is Stage.REGISTERED:
            tracker.triage(path.ref, Outcome.TRANSFER, BY, on=on)
        elif s.stage is Stage.TRIAGED and s.outcome is Outcome.TRANSFER:
            tracker.assign(path.ref, RECEIVERS[path.hulpvorm][0], BY, on=on)
        elif s.stage is Stage.ASSIGNED:
            tracker.hand_over(path.ref, BY, on=on)
        else:
            tracker.amend(path.ref, BY, cohort=None, arrangement_end=date(2024, 12, 31))
        done += 1
    return tracker.recorder.max_notification_id() - head
