"""Owner-only files, and the audit trail read from the log."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import UTC, date, datetime

from tests.privacy.support import REF
from transfers.app import Tracker


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_its_wal_and_an_export_are_readable_by_the_owner_only(tmp_path, cli_runner,
                                                                        monkeypatch):
    monkeypatch.setattr("os.umask", lambda *_: 0o022)  # no help from a strict umask
    folder = tmp_path / "data" / "zov"
    db = folder / "zov.sqlite"
    run = cli_runner(f"sqlite:///{db}")
    run("init")
    tracker = Tracker.open(f"sqlite:///{db}")
    reader = sqlite3.connect(db)  # an open reader keeps the WAL and shared memory in place
    try:
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
        tracker.register(REF, "MKD", "Stein", "anna")
        files = [db, db.with_name("zov.sqlite-wal"), db.with_name("zov.sqlite-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert _mode(folder) == 0o700
    finally:
        reader.close()
        tracker.close()
    export = tmp_path / "log.jsonl"
    run("export", "-o", str(export))
    assert _mode(export) == 0o600 and REF in export.read_text("utf-8")


def test_the_audit_trail_says_who_recorded_what_and_when(sqlite_url, cli_runner):
    run = cli_runner(sqlite_url)
    start = datetime.now(UTC)
    run("init", "--by", "beheer")
    run("register", REF, "-H", "MKD", "-g", "Stein", "--by", "Anna de Wit")
    run("triage", REF, "--outcome", "transfer", "--on", "2023-05-02", "--by", "Bert")
    run("correct", REF, "--event", "2", "--reason", "wrong path", "--by", "Anna de Wit")
    run("forget", REF, "--reason", "AVG-verzoek 9", "--by", "Functionaris")

    rows = json.loads(run("audit", "--format", "json").output)
    assert [(r["id"], r["by"], r["event"], r["event_no"]) for r in rows] == [
        (1, "beheer", "Plan.Adopted", 1),
        (2, "Anna de Wit", "ClientPath.Registered", 1),
        (3, "Bert", "ClientPath.Triaged", 2),
        (4, "Anna de Wit", "ClientPath.Corrected", 3),
        (5, "Functionaris", "ClientPath.Forgotten", 4),
    ]
    assert {r["subject"] for r in rows[1:]} == {"(verwijderd) (MKD)"}  # forgotten everywhere
    assert rows[3]["details"] == "voids event 2: (verwijderd)"  # the reason was sealed
    assert rows[4]["details"] == "AVG-verzoek 9"
    assert all(datetime.fromisoformat(r["recorded_at"]) >= start.replace(microsecond=0)
               for r in rows)

    anna = run("audit", "--by", "anna de wit", "--format", "csv").output.splitlines()
    assert anna[0] == "id,recorded_at,by,event,subject,event_no,details" and len(anna) == 3
    assert run("audit", "--since", "2099-01-01", "--format", "json").output.strip() == "[]"
    table = run("audit", "--since", start.date().isoformat()).output
    assert "Forgotten #4" in table and "AVG-verzoek 9" in table


def test_the_audit_and_an_export_read_the_keys_a_page_of_the_log_at_a_time(store_url,
                                                                         monkeypatch):
    # One query per stream as its first event was decoded made both take 2.5-4x as long on
    # PostgreSQL at 100k paths (audit 96 -> 37 s, export 85 -> 22 s).
    from transfers.archive import export_records
    from transfers.audit import audit_trail

    with Tracker.open(store_url) as tracker:
        tracker.adopt_plan(None, "built-in", "test")
        with tracker.batch():
            for i in range(30):
                tracker.register(f"C-{i}", "MKD", "Stein", "anna")
    readers = [(lambda t: [r.subject for r in audit_trail(t, page=10)],
                ["plan"] + [f"C-{i} (MKD)" for i in range(30)]),
               (lambda t: [r["payload"].get("ref") for r in export_records(t, page=10)],
                [None] + [f"C-{i}" for i in range(30)])]
    for read, expected in readers:
        with Tracker.open(store_url) as tracker:
            queries: list = []
            real = tracker.mapper.keys._query
            monkeypatch.setattr(tracker.mapper.keys, "_query",
                                lambda *a, real=real, queries=queries: queries.append(a)
                                or real(*a))
            assert read(tracker) == expected
        assert len(queries) <= 4  # 31 events in pages of 10 (each page's keys in one query)


def test_audit_since_starts_where_that_day_begins_and_still_names_every_subject(store_url,
                                                                                monkeypatch):
    # Recording times come from eventsourcing's clock: set, one day per client.
    import eventsourcing.domain

    from transfers.audit import audit_trail
    from transfers.vocab import Outcome

    clock = [datetime(2023, 9, 1, 12, tzinfo=UTC)]
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: clock[0])
    with Tracker.open(store_url) as tracker:
        tracker.adopt_plan(None, "built-in", "beheer")
        for day in range(10):  # 1-10 September: C-<day> registered, the one before triaged
            clock[0] = datetime(2023, 9, 1 + day, 12, tzinfo=UTC)
            tracker.register(f"C-{day}", "MKD", "Stein", "anna")
            if day:
                tracker.triage(f"C-{day - 1}", Outcome.TRANSFER, "bert", on=date(2023, 5, 2))
        tracker.assign("C-0", "JENS", "bert", on=date(2023, 6, 1))  # registered 1 September
        full = [r for r in audit_trail(tracker, page=4)
                if r.recorded_at.date() >= date(2023, 9, 8)]
        starts: list[int] = []
        real = tracker.recorder.select_notifications
        monkeypatch.setattr(tracker.recorder, "select_notifications",
                            lambda start, limit, **k: (starts.append(start) if limit > 1
                                                       else None) or real(start, limit, **k))
        since = list(audit_trail(tracker, since=date(2023, 9, 8), page=4))
    assert since == full and [(r.event, r.subject) for r in since] == [
        ("ClientPath.Registered", "C-7 (MKD)"), ("ClientPath.Triaged", "C-6 (MKD)"),
        ("ClientPath.Registered", "C-8 (MKD)"), ("ClientPath.Triaged", "C-7 (MKD)"),
        ("ClientPath.Registered", "C-9 (MKD)"), ("ClientPath.Triaged", "C-8 (MKD)"),
        ("ClientPath.ReceiverAssigned", "C-0 (MKD)")]  # named by its registration, read apart
    assert starts[0] == 13  # 7 September (a day's margin): C-6's registration, not the 1st
