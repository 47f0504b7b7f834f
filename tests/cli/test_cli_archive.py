"""`zov export`, `zov restore` and `zov backup`: the log out and back in, unchanged."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import date

import pytest
from conftest import fresh_schema_url

from transfers.app import Tracker
from transfers.vocab import Outcome


@pytest.fixture
def other_url(store_url, tmp_path):
    """A second, empty store of the same kind."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    with fresh_schema_url() as url:
        yield url


@pytest.fixture
def filled(store_url, tmp_path, cli_runner):
    """A store with clients, places, a year of events, a correction and an amendment."""
    from sheetgen import EVENT_COLUMNS, PLACE_COLUMNS, generate, write_csv, write_jsonl

    year = generate()
    zov = cli_runner(store_url)
    zov("init")
    clients = tmp_path / "clients.jsonl"
    write_jsonl(clients, year.clients[:40] + year.clients[150:])
    zov("import", "clients", str(clients))
    zov("import", "places", str(write_csv(tmp_path / "places.csv", year.places,
                                          PLACE_COLUMNS)))
    refs = {c["ref"] for c in year.clients[:40] + year.clients[150:]}
    sheet = [e for e in year.events if e.get("ref") in refs or e.get("place")]
    zov("apply", str(write_csv(tmp_path / "events.csv", sheet, EVENT_COLUMNS)))
    return zov


def test_export_restore_gives_the_identical_log_and_answers(filled, other_url, tmp_path,
                                                            cli_runner):
    exported = tmp_path / "log.jsonl"
    filled("export", "-o", str(exported))
    restored = cli_runner(other_url)
    result = restored("restore", str(exported))
    lines = exported.read_text("utf-8").splitlines()
    assert result.stdout.startswith(f"restored {len(lines)} events from log.jsonl")
    assert restored("export").stdout == exported.read_text("utf-8")
    assert restored("export", "--format", "csv").stdout == filled("export", "--format",
                                                                   "csv").stdout
    for ref in ("ZL0001", "ZL0031", "ZL0160", "ZL0184"):
        assert restored("show", ref).stdout == filled("show", ref).stdout
    assert restored("place", "show", "LH-A-02").stdout == filled("place", "show",
                                                                 "LH-A-02").stdout
    assert info(restored) == info(filled)
    counts_agree(filled, restored)


def info(run) -> dict:
    """`zov info` without the parts that name the store itself."""
    found = json.loads(run("info", "--format", "json").stdout)
    return {k: v for k, v in found.items() if k not in ("store", "file")}


def counts_agree(original, restored) -> None:
    """Every read model answers the same, the memo to the byte, also as known back then."""
    for args in (["counts", "--as-of", "2023-12-31", "--format", "json"],
                 ["counts", "--by", "combinatie", "--as-of", "2023-09-30", "--format", "csv"],
                 ["compliance", "--as-of", "2024-01-31", "--format", "json"],
                 ["places", "--as-of", "2023-12-31", "--format", "json"],
                 ["memo", "2023-12", "--format", "html"],
                 ["memo", "2023-09", "--format", "md"]):
        assert restored(*args).stdout == original(*args).stdout, args
    when = json.loads(original("export").stdout.splitlines()[100])["recorded_at"]
    args = ["memo", "2023-12", "--format", "md", "--as-known-at", when]
    assert restored(*args).stdout == original(*args).stdout


def test_the_export_format_is_one_documented_object_per_event(filled, tmp_path):
    records = [json.loads(line) for line in filled("export").stdout.splitlines()]
    assert [r["id"] for r in records] == list(range(1, len(records) + 1))
    assert list(records[0]) == ["id", "stream", "version", "topic", "on", "recorded_at", "by",
                                "payload", "state"]
    triage = next(r for r in records if r["topic"] == "zov:ClientPath.Triaged.v1")
    assert triage["payload"]["outcome"] in ("transfer", "continue", "ends", "follow-up")
    assert triage["on"] == triage["payload"]["on"] and triage["by"] == "tester"
    assert triage["recorded_at"].endswith("+00:00")


def test_a_csv_export_to_a_file_opens_in_excel(filled, tmp_path):
    path = tmp_path / "log.csv"
    filled("export", "--format", "csv", "-o", str(path))
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfid,stream,version,topic,on,recorded_at,by,payload\n")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert json.loads(rows[1]["payload"])["ref"] == "ZL0001"
    assert not list(tmp_path.glob("*.partial"))


def test_restore_refuses_a_store_that_is_not_empty(filled, tmp_path):
    exported = tmp_path / "log.jsonl"
    filled("export", "-o", str(exported))
    result = filled("restore", str(exported), code=1)
    assert "is not empty" in result.stderr and "restore only into a new, empty store" in \
        result.stderr


def test_an_edited_export_is_refused_whole(filled, other_url, tmp_path, cli_runner):
    lines = filled("export").stdout.splitlines()
    edited = [json.loads(line) for line in lines]
    edited[3]["payload"]["gemeente"] = "Amsterdam"
    del edited[6]
    path = tmp_path / "edited.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in edited) + "\n{}\n", encoding="utf-8")
    restored = cli_runner(other_url)
    result = restored("restore", str(path), code=1)
    errors = result.stderr.splitlines()
    assert errors[0].startswith("edited.jsonl:4: payload does not match the stored state")
    assert errors[-1] == "Error: edited.jsonl: 3 bad lines; nothing was restored"
    assert restored("export").stdout == ""


def test_a_restore_can_move_a_log_from_sqlite_to_postgresql(tmp_path, cli_runner):
    source = cli_runner(f"sqlite:///{tmp_path / 'a.sqlite'}")
    source("init")
    source("register", "ZL-1", "-H", "MKD", "-g", "Stein")
    source("triage", "ZL-1", "--outcome", "transfer", "--on", "2023-05-02")
    exported = tmp_path / "log.jsonl"
    source("export", "-o", str(exported))
    with fresh_schema_url() as url:
        target = cli_runner(url)
        target("restore", str(exported))
        assert target("export").stdout == exported.read_text("utf-8")
        assert target("show", "ZL-1").stdout == source("show", "ZL-1").stdout


def test_a_backup_of_sqlite_is_a_consistent_copy_while_others_write(tmp_path, cli_runner):
    url = f"sqlite:///{tmp_path / 'zov.sqlite'}"
    zov = cli_runner(url)
    zov("init")
    writer = Tracker.open(url)
    stop = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            writer.register(f"ZL-{n}", "MKD", "Stein", "bert")
            writer.triage(f"ZL-{n}", Outcome.TRANSFER, "bert", on=date(2023, 5, 2))

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        backups = []
        for i in range(3):
            result = zov("backup", str(tmp_path / f"backup-{i}.sqlite"))
            assert result.stdout.startswith("backup written to ")
            backups.append(tmp_path / f"backup-{i}.sqlite")
    finally:
        stop.set()
        thread.join()
        writer.close()
    final = zov("export").stdout.splitlines()
    for backup in backups:
        assert oct(backup.stat().st_mode)[-3:] == "600"
        with sqlite3.connect(backup) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copy = cli_runner(f"sqlite:///{backup}")("export").stdout.splitlines()
        assert copy == final[:len(copy)]  # a prefix of the log: consistent, nothing torn


def test_backup_refuses_to_overwrite_and_points_postgresql_to_pg_dump(store_url, tmp_path,
                                                                      cli_runner):
    zov = cli_runner(store_url)
    zov("init")
    target = tmp_path / "b.sqlite"
    if store_url.startswith("postgresql"):
        assert "use pg_dump" in zov("backup", str(target), code=1).stderr
        return
    zov("backup", str(target))
    assert "a backup never overwrites" in zov("backup", str(target), code=1).stderr


def test_restoring_a_csv_export_says_it_needs_the_json_lines(filled, other_url, tmp_path,
                                                             cli_runner):
    path = tmp_path / "log.csv"
    filled("export", "--format", "csv", "-o", str(path))
    result = cli_runner(other_url)("restore", str(path), code=1)
    assert result.stderr == ("Error: log.csv: not a zov export; restore reads the JSON Lines "
                             "that `zov export` writes (not its CSV)\n")
