"""Benchmark of bulk import: `zov import clients` + `zov apply` against a bare save.

    python -m bench.bulk --clients 100000 --events 500000 --store sqlite
    python -m bench.bulk --clients 100000 --events 500000 --store postgres

Writes an overview CSV (semicolon, Windows-1252, as Dutch Excel saves it) and an event sheet
(five events per client: triage, assign, plan-handover, handover, close), imports both through
the same code as the CLI, then saves the same events in a second, empty store with a bare
`Application.save(*aggregates)`. Prints the rates and their ratio; the target is >= 0.25.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

GEMEENTEN = ["Maastricht", "Eijsden-Margraten", "Gulpen-Wittem", "Meerssen", "Vaals",
             "Valkenburg aan de Geul", "Sittard-Geleen", "Stein", "Beek", "Heerlen", "Kerkrade",
             "Landgraaf", "Brunssum", "Simpelveld", "Voerendaal", "Beekdaelen"]
HULPVORMEN = [("MKD", "MKD", "Kracht van Dichtbij"),
              ("DB Xtra", "Begeleiding Individueel", "Zorgcoöperatie Limburg"),
              ("Echtscheidingenhulp", "BOR 2-3/vrijwillig/Rechtbank", "ECLG")]
STEPS = 5  # events per client in the sheet
PG_DSN = os.environ.get("ZOV_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def client(i: int) -> dict[str, str]:
    code, arrangement, _ = HULPVORMEN[i % 3]
    return {"referentie": f"B{i:07d}", "hulpvorm": code, "gemeente": GEMEENTEN[i % 16],
            "arrangement(en)": arrangement, "einddatum_arrangement": "31-12-2023"}


def dates(i: int) -> list[date]:
    start = date(2023, 4, 3) + timedelta(days=i % 150)
    return [start + timedelta(days=d) for d in (0, 14, 21, 60, 61)]


def events(i: int) -> list[dict[str, str]]:
    c = client(i)
    combinatie = HULPVORMEN[i % 3][2]
    triage, assign, plan, handover, close = dates(i)
    base = {"ref": c["referentie"]}
    return [
        {**base, "event": "triage", "on": f"{triage.day}-{triage.month}-{triage.year}",
         "outcome": "transfer"},
        {**base, "event": "assign", "on": assign.isoformat(), "combinatie": combinatie,
         "planned": (handover - timedelta(days=7)).isoformat()},
        {**base, "event": "plan-handover", "on": plan.isoformat(), "planned": handover.isoformat()},
        {**base, "event": "handover", "on": handover.isoformat()},
        {**base, "event": "close", "on": close.isoformat(), "reason": "transferred"},
    ]


def write_files(folder: Path, clients: int, n_events: int) -> tuple[Path, Path]:
    overview, sheet = folder / "overzicht.csv", folder / "gebeurtenissen.csv"
    with open(overview, "w", encoding="cp1252", newline="") as f:
        w = csv.DictWriter(f, list(client(0)), delimiter=";", lineterminator="\r\n")
        w.writeheader()
        w.writerows(client(i) for i in range(clients))
    columns = ["ref", "event", "on", "outcome", "combinatie", "planned", "reason"]
    with open(sheet, "w", encoding="cp1252", newline="") as f:
        w = csv.DictWriter(f, columns, delimiter=";", lineterminator="\r\n")
        w.writeheader()
        # In rounds: first every client's triage, then every assign, ... as a year goes by.
        per_client = [events(i) for i in range(min(clients, -(-n_events // STEPS)))]
        written = 0
        for step in range(STEPS):
            for rows in per_client:
                if written == n_events:
                    break
                w.writerow(rows[step])
                written += 1
    return overview, sheet


def bare_aggregates(clients: int, n_events: int) -> list:
    """The same events as the files, made with the aggregates' own methods, no Tracker."""
    from transfers.path import ClientPath
    from transfers.vocab import CloseReason, Outcome

    paths = []
    budget = n_events
    for i in range(clients):
        c = client(i)
        code, arrangement, combinatie = HULPVORMEN[i % 3]
        p = ClientPath(ref=c["referentie"], hulpvorm=code, gemeente=c["gemeente"],
                       arrangements=[arrangement], arrangement_end=date(2023, 12, 31),
                       cohort=None, on=date(2023, 4, 1), by="bench", note=None)
        triage, assign, plan, handover, close = dates(i)
        steps = [(p.triage, (Outcome.TRANSFER, triage, "bench")),
                 (p.assign, (combinatie, None, handover - timedelta(days=7), assign, "bench")),
                 (p.plan_handover, (handover, plan, "bench")),
                 (p.hand_over, (handover, "bench")),
                 (p.close, (CloseReason.TRANSFERRED, close, "bench"))]
        for command, arguments in steps[:min(STEPS, budget)]:
            command(*arguments)
        budget -= min(STEPS, budget)
        paths.append(p)
    return paths


def store_url(kind: str, folder: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / (name + '.sqlite')}"
    return f"{PG_DSN}?schema=zov_bench_{name}_{uuid.uuid4().hex[:8]}"


def drop(url: str) -> None:
    if "schema=" in url:
        import psycopg

        schema = url.split("schema=")[1]
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--profile", action="store_true", help="profile the zov run (pyinstrument)")
    args = parser.parse_args()

    from transfers.app import Tracker
    from transfers.bulk import CLIENT_COLUMNS, EVENT_COLUMNS, apply_events, import_clients
    from transfers.sheets import open_sheet

    with tempfile.TemporaryDirectory(prefix="zov-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        overview, sheet = write_files(folder, args.clients, args.events)
        print(f"files: {args.clients} clients, {args.events} events "
              f"({time.perf_counter() - t0:.1f}s to write)")

        url = store_url(args.store, folder, "zov")
        tracker = Tracker.open(url)
        tracker.adopt_plan(None, "built-in", "bench")
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        t0 = time.perf_counter()
        r1 = import_clients(tracker, open_sheet(overview, CLIENT_COLUMNS), "bench")
        t1 = time.perf_counter()
        r2 = apply_events(tracker, open_sheet(sheet, EVENT_COLUMNS), "bench")
        t2 = time.perf_counter()
        if profiler:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        assert not r1.errors and not r2.errors, (r1.errors[:3], r2.errors[:3])
        written = r1.written + r2.written
        tracker.close()
        drop(url)
        gc.collect()

        bare = [bare_save(args, folder, collector) for collector in ("on", "off")]

    zov_rate = written / (t2 - t0)
    print(f"store: {args.store} ({versions(args.store)})")
    print(f"zov import clients: {r1.written} paths in {t1 - t0:.1f}s")
    print(f"zov apply:          {r2.written} events in {t2 - t1:.1f}s")
    print(f"zov total:          {written} events in {t2 - t0:.1f}s = {zov_rate:,.0f} events/s")
    for (make, save), collector in zip(bare, ("on", "off"), strict=True):
        save_rate = written / save
        print(f"bare save, GC {collector + ':':4} {written} events in {save:.1f}s = "
              f"{save_rate:,.0f} events/s (making the aggregates took another {make:.1f}s)")
        print(f"  ratio zov / bare save: {zov_rate / save_rate:.2f} (target >= 0.25); "
              f"zov / bare make+save: {zov_rate / (written / (make + save)):.2f}")


def bare_save(args: argparse.Namespace, folder: Path, collector: str) -> tuple[float, float]:
    """Seconds to make the aggregates, and to save them with Application.save in one go."""
    from transfers.app import Tracker

    gc.collect()
    url = store_url(args.store, folder, f"bare_gc_{collector}")
    app = Tracker.open(url)  # for its transcoder and recorder only; no Tracker code runs
    t0 = time.perf_counter()
    aggregates = bare_aggregates(args.clients, args.events)
    if collector == "off":
        gc.disable()
    try:
        t1 = time.perf_counter()
        super(Tracker, app).save(*aggregates)  # eventsourcing's own Application.save
        t2 = time.perf_counter()
    finally:
        gc.enable()
    app.close()
    drop(url)
    return t1 - t0, t2 - t1


def versions(kind: str) -> str:
    import platform
    import sqlite3

    text = f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    if kind == "sqlite":
        return f"{text}, SQLite {sqlite3.sqlite_version}"
    import psycopg

    with psycopg.connect(PG_DSN) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    return f"{text}, PostgreSQL {server}"


if __name__ == "__main__":
    main()
