"""When the store itself fails: another writer holds the lock, the disk is full or read-only,
the file is damaged or is no zov store. Every time: one line on stderr, exit code 1, nothing
half-written, and the store works again once the cause is gone."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from checks import stored_events
from conftest import write_lock

from transfers.app import Tracker


def zov(url: str, *args: str, timeout_setting: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZOV_DB": url, "ZOV_ACTOR": "tester"}
    if timeout_setting is not None:
        env["ZOV_LOCK_TIMEOUT"] = timeout_setting
    return subprocess.run([str(Path(sys.executable).with_name("zov")), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def refused(result, *words: str) -> str:
    """The result is a refusal: exit 1 and one line on stderr naming `words`."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def store_with_a_client(url: str) -> int:
    """A store with the plan and client C-0001; returns its number of events."""
    tracker = Tracker.open(url)
    tracker.adopt_plan(None, "built-in", "test")
    tracker.register("C-0001", "MKD", "Stein", "test")
    count = len(stored_events(tracker))
    tracker.close()
    return count


def event_count(url: str) -> int:
    tracker = Tracker.open(url)
    try:
        return len(stored_events(tracker))
    finally:
        tracker.close()


# -- another writer holds the lock ------------------------------------------------------------


def test_a_second_writer_waits_for_the_lock_and_then_writes(store_url):
    before = store_with_a_client(store_url)
    release = threading.Event()

    def hold() -> None:
        with write_lock(store_url):
            held.set()
            release.wait(1.5)

    held = threading.Event()
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    t0 = time.monotonic()
    result = zov(store_url, "triage", "C-0001", "--outcome", "transfer", timeout_setting="10")
    waited = time.monotonic() - t0
    holder.join()
    assert result.returncode == 0, result.stderr
    assert waited >= 1.0  # it waited for the lock rather than failing
    assert event_count(store_url) == before + 1


def test_a_second_writer_gives_up_after_ZOV_LOCK_TIMEOUT_in_one_line(store_url):
    before = store_with_a_client(store_url)
    with write_lock(store_url):
        t0 = time.monotonic()
        result = zov(store_url, "triage", "C-0001", "--outcome", "transfer", timeout_setting="1")
        waited = time.monotonic() - t0
    refused(result, "ZOV_LOCK_TIMEOUT", "nothing was written")
    assert 1.0 <= waited < 8.0  # the setting, not eventsourcing's retries on top of it
    assert event_count(store_url) == before
    if store_url.startswith("sqlite"):
        assert integrity(Path(store_url[len("sqlite:///"):])) == "ok"
    assert zov(store_url, "triage", "C-0001", "--outcome", "transfer").returncode == 0



@contextmanager
def read_model_lock(url: str):
    """Hold the read models' lock, as a catch-up or a rebuild of another process does."""
    from projections.bitemporal import POSITION
    from projections.db import Database

    tracker = Tracker.open(url)
    db = Database(tracker.store)
    try:
        with db.transaction(write=True) as cursor:  # SQLite: the write lock
            if not db.sqlite:
                cursor.execute(f"SELECT * FROM {POSITION} FOR UPDATE")
            yield
    finally:
        db.close()
        tracker.close()


def test_a_read_command_gives_up_after_ZOV_LOCK_TIMEOUT_while_another_holds_the_read_models(
        store_url):
    store_with_a_client(store_url)
    assert zov(store_url, "counts").returncode == 0  # the read models exist and are current
    zov(store_url, "triage", "C-0001", "--outcome", "transfer")  # one event to catch up
    with read_model_lock(store_url):
        t0 = time.monotonic()
        result = zov(store_url, "counts", timeout_setting="1")
        waited = time.monotonic() - t0
    refused(result, "ZOV_LOCK_TIMEOUT")
    assert 1.0 <= waited < 8.0
    assert '"triaged": 1' in zov(store_url, "counts", "--format", "json").stdout

def test_a_bad_lock_timeout_setting_is_one_line(sqlite_url):
    store_with_a_client(sqlite_url)
    refused(zov(sqlite_url, "show", "C-0001", timeout_setting="2.5"), "ZOV_LOCK_TIMEOUT")


# -- a full or read-only disk (a real small filesystem) ---------------------------------------


@contextmanager
def small_disk(folder: Path, size: str):
    """A tmpfs of `size` mounted on `folder` (needs root, as in CI's container)."""
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                             str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        message = f"cannot mount a small filesystem here: {result.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI runs as root and can)")
        pytest.skip(message)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """Fill the filesystem until about `leave` bytes are free."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            f.write(b"\0" * max(free - leave, 0))
            f.flush()
        except OSError:
            pass
    return filler


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def clients_csv(path: Path, n: int) -> Path:
    rows = [f"F-{i:05d};MKD;Stein;MKD;31-12-2023" for i in range(n)]
    path.write_text("ref;hulpvorm;gemeente;arrangements;arrangement_end\n" + "\n".join(rows),
                    encoding="utf-8")
    return path


def test_a_full_disk_refuses_in_one_line_and_writes_nothing(tmp_path):
    with small_disk(tmp_path / "disk", "16m") as disk:
        url = f"sqlite:///{disk / 'zov.sqlite'}"
        before = store_with_a_client(url)
        assert zov(url, "counts").returncode == 0
        sheet = clients_csv(tmp_path / "overzicht.csv", 3000)  # some MB of events
        filler = fill(disk, leave=150_000)
        refused(zov(url, "import", "clients", str(sheet)), "disk is full", "nothing was written")
        assert event_count(url) == before
        assert integrity(disk / "zov.sqlite") == "ok"
        filler.unlink()
        filler = fill(disk, leave=0)  # not even room to open the store
        refused(zov(url, "show", "C-0001"), "disk", "full")
        refused(zov(url, "triage", "C-0001", "--outcome", "transfer"), "full")
        filler.unlink()
        assert zov(url, "import", "clients", str(sheet)).returncode == 0
        assert event_count(url) == before + 3000
        assert integrity(disk / "zov.sqlite") == "ok"


def test_a_read_only_disk_refuses_in_one_line(tmp_path):
    with small_disk(tmp_path / "disk", "4m") as disk:
        url = f"sqlite:///{disk / 'zov.sqlite'}"
        before = store_with_a_client(url)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            for args in (["triage", "C-0001", "--outcome", "transfer"], ["show", "C-0001"],
                         ["counts"], ["export"]):
                refused(zov(url, *args), "cannot be written", "read-only")
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert event_count(url) == before
        assert zov(url, "triage", "C-0001", "--outcome", "transfer").returncode == 0


# -- a file that is no (longer a) zov store ---------------------------------------------------


def damaged_copy(source: Path, target: Path, how: str) -> Path:
    data = bytearray(source.read_bytes())
    if how == "pages overwritten":
        page = 4096
        data[page:] = os.urandom(len(data) - page)  # the schema page survives, the rest not
    else:  # truncated
        data = data[: len(data) // 3]
    target.write_bytes(bytes(data))
    return target


BAD_FILES = ["random bytes", "text", "another program's SQLite database", "pages overwritten",
             "truncated"]
COMMANDS = [["info"], ["show", "C-0001"], ["counts"], ["list"],
            ["triage", "C-0001", "--outcome", "transfer"], ["export"], ["projections", "rebuild"],
            ["import", "clients", "CSV"]]


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_damaged_or_foreign_file_is_refused_in_one_line(tmp_path, kind, cli_runner):
    good = tmp_path / "good.sqlite"
    store_with_a_client(f"sqlite:///{good}")
    assert zov(f"sqlite:///{good}", "counts").returncode == 0
    bad = tmp_path / "bad.sqlite"
    if kind == "random bytes":
        bad.write_bytes(os.urandom(20_000))
    elif kind == "text":
        bad.write_text("ref;hulpvorm\nC-0001;MKD\n", encoding="utf-8")
    elif kind == "another program's SQLite database":
        with sqlite3.connect(bad) as conn:
            conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.close()
    else:
        damaged_copy(good, bad, kind)
    original = bad.read_bytes()
    sheet = clients_csv(tmp_path / "overzicht.csv", 3)
    url = f"sqlite:///{bad}"
    run = cli_runner(url, code=1)
    for args in COMMANDS:
        result = run(*[str(sheet) if a == "CSV" else a for a in args])
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, result.stderr)
        assert isinstance(result.exception, SystemExit), (args, result.exception)
    # And once through the real command, as a caseworker would meet it.
    message = refused(zov(url, "show", "C-0001"))
    if kind in ("random bytes", "text", "another program's SQLite database"):
        assert bad.read_bytes() == original  # not turned into a store behind its owner's back
        assert "not a SQLite database" in message or "not a zov store" in message


def test_an_unreachable_store_is_one_line(tmp_path):
    refused(zov("postgresql://postgres@127.0.0.1:1/test", "show", "C-0001"), "cannot open")
    refused(zov("mysql://db/zov", "counts"), "not understood")
    refused(zov(f"sqlite:///{tmp_path}", "counts"), "folder")
