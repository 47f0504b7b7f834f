"""A rebuild or an import file that cannot fit in the memory left is refused before anything
is done, in one line; what memory is left is read from the machine itself (/proc, cgroups,
`ulimit -v`)."""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

from transfers.app import Tracker
from transfers.memory import memory_available

# The address-space limit (what `ulimit -v` sets) of this process's size plus sys.argv[1] bytes.
SET_LIMIT = """
import resource, sys
from transfers.memory import _kilobytes, _read
size = _kilobytes(_read("/proc/self/status"), "VmSize")
resource.setrlimit(resource.RLIMIT_AS, (size + int(sys.argv[1]), resource.RLIM_INFINITY))
"""
# Runs zov's own entry point (its modules, and the store's driver, loaded first) under
# SET_LIMIT with MARGIN bytes: room for a command's first steps (PostgreSQL's connection pool
# starts three threads of 8 MB of stack each), less than a rebuild is said to need at the
# least (42 MB a process).
UNDER_LIMIT = """
import os, sys
import cli.main, cli.reports, projections.readmodels, projections.schema, transfers.app
if os.environ["ZOV_DB"].startswith("postgresql"):
    import psycopg
""" + SET_LIMIT + """
sys.argv = ["zov", *sys.argv[2:]]
cli.main.main()
"""
MARGIN = 40 << 20


# glibc gives a thread (a command's Ctrl-C watcher, PostgreSQL's pool workers) a malloc arena
# of its own, 64 MB of address space, when it can map one aligned: under the limit that
# succeeds or not by chance, and took the margin's room or not (a refusal ran out of memory
# while being said: seen once in CI, 2026-12-01). With one arena for all, the margin is the
# command's, every time.
ONE_ARENA = {"MALLOC_ARENA_MAX": "1"}


def zov_under_limit(url: str, *args: str, margin: int = MARGIN) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", UNDER_LIMIT, str(margin), *args],
                          env={**os.environ, **ONE_ARENA, "ZOV_DB": url, "ZOV_ACTOR": "tester"},
                          capture_output=True, text=True, timeout=120)


def test_what_memory_is_left_is_read_from_the_machine():
    together, own = memory_available()
    assert together is not None and together > 0  # Linux: /proc/meminfo at the least
    if resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY:
        assert own is None
    limit = 4 << 30
    found = subprocess.run(
        [sys.executable, "-c",
         "import resource; from transfers.memory import memory_available; "
         f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, resource.RLIM_INFINITY)); "
         "print(memory_available()[1])"],
        capture_output=True, text=True, check=True)
    own = int(found.stdout)
    assert 0 < own < limit  # the limit, less what the process already takes


def zov(url: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(Path(sys.executable).with_name("zov")), *args],
                            env={**os.environ, "ZOV_DB": url}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def test_a_rebuild_that_cannot_fit_is_refused_before_anything_is_done(store_url):
    tracker = Tracker.open(store_url)
    tracker.adopt_plan(None, "built-in", "tester")
    for i in range(30):
        tracker.register(f"M-{i:03d}", "MKD", "Stein", by="tester", on=date(2023, 4, 1))
    tracker.close()
    zov(store_url, "projections", "rebuild")
    before = zov(store_url, "projections", "status").stdout

    result = zov_under_limit(store_url, "projections", "rebuild")

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: rebuilding the read models from 31 events needs at "
                               "least "), lines[0]
    assert "`ulimit -v` leaves" in lines[0] and "nothing was changed" in lines[0]
    assert zov(store_url, "projections", "status").stdout == before


def test_a_file_that_cannot_fit_is_refused_before_any_line_is_taken_in(store_url, tmp_path):
    tracker = Tracker.open(store_url)
    tracker.adopt_plan(None, "built-in", "tester")
    tracker.close()
    overview = tmp_path / "clients.csv"
    with open(overview, "w", encoding="utf-8") as f:  # 100,000 lines: at least 150 MB
        f.write("referentie;hulpvorm;gemeente;arrangement;einddatum_arrangement\n")
        f.writelines(f"T-{i:05d};MKD;Stein;MKD;31-12-2023\n" for i in range(100_000))

    # (room for the file's text and, on PostgreSQL, the connection pool's threads)
    result = zov_under_limit(store_url, "import", "clients", str(overview), margin=2 * MARGIN)

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: clients.csv: its 100,00"), lines[0]
    assert "lines need at least 150 MB of memory and `ulimit -v` leaves" in lines[0]
    assert lines[0].endswith("split the file and take in the parts one after the other "
                             "(nothing was written)"), lines[0]
    shown = subprocess.run([str(Path(sys.executable).with_name("zov")), "show", "T-00000"],
                           env={**os.environ, "ZOV_DB": store_url}, capture_output=True,
                           text=True)
    assert shown.returncode == 1 and "no client path 'T-00000'" in shown.stderr


def test_with_room_to_spare_the_same_limit_lets_a_command_run(store_url):
    """The margin is room enough for a command that needs no rebuild: the refusal above is
    the check's, not a process that could not run at all."""
    tracker = Tracker.open(store_url)
    tracker.adopt_plan(None, "built-in", "tester")
    tracker.close()
    result = zov_under_limit(store_url, "projections", "status")
    assert result.returncode == 0, result.stderr


def registering_runs_out_in_one_line(url: str, margin: int) -> None:
    """`zov register` with `margin` bytes of room ends in the one line of running out, and
    registers nothing."""
    tracker = Tracker.open(url)
    tracker.adopt_plan(None, "built-in", "tester")
    tracker.close()
    result = zov_under_limit(url, "register", "M-001", "--hulpvorm", "MKD", "--gemeente",
                             "Stein", margin=margin)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["Error: out of memory: the command stopped and "
                                          "changed nothing; close other programs or run it on "
                                          "a machine with more memory"], result.stderr
    shown = subprocess.run([str(Path(sys.executable).with_name("zov")), "show", "M-001"],
                           env={**os.environ, "ZOV_DB": url}, capture_output=True, text=True)
    assert shown.returncode == 1 and "no client path 'M-001'" in shown.stderr


def test_a_command_without_room_for_its_first_steps_ends_in_one_line(store_url):
    """With 1 MB of room a command cannot get far: on PostgreSQL the connection pool cannot
    start its threads, on SQLite the cipher's compiled module cannot be mapped when the
    registration first needs it. Either way: the one line of running out, nothing written."""
    registering_runs_out_in_one_line(store_url, 1 << 20)


def test_only_running_out_of_memory_is_taken_for_it():
    from transfers.errors import out_of_memory

    assert out_of_memory(MemoryError())
    assert out_of_memory(RuntimeError("can't start new thread"))
    assert out_of_memory(ImportError("/x/_rust.abi3.so: failed to map segment from shared object"))
    assert out_of_memory(ImportError("libfoo.so: cannot map zero-fill pages: Cannot allocate memory"))
    # other failures stay what they are (a bug is reported as one, not as memory)
    assert not out_of_memory(RuntimeError("dictionary changed size during iteration"))
    assert not out_of_memory(ImportError("No module named 'psycopg'"))
    assert not out_of_memory(ImportError("/x.so: failed to map segment from shared object: "
                                         "Operation not permitted"))  # a noexec folder
    assert not out_of_memory(ValueError("can't start new thread"))


def sqlite_error(name: str) -> sqlite3.OperationalError:
    """An error as Python's sqlite3 raises it, with SQLite's own code."""
    exc = sqlite3.OperationalError("disk I/O error")
    exc.sqlite_errorname = name
    return exc


def test_sqlite_is_taken_at_its_word_and_a_failed_mapping_by_the_room_left():
    from eventsourcing.persistence import OperationalError

    from transfers.errors import out_of_memory

    assert out_of_memory(sqlite_error("SQLITE_IOERR_NOMEM"))
    wrapped = OperationalError("disk I/O error")  # as the event store raises it
    wrapped.__cause__ = sqlite_error("SQLITE_IOERR_NOMEM")
    assert out_of_memory(wrapped)
    assert not out_of_memory(sqlite_error("SQLITE_IOERR"))  # a disk error stays one
    # A mapping that failed with room to spare (a file system that cannot map files): no.
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY
    assert not out_of_memory(sqlite_error("SQLITE_IOERR_SHMMAP"))
    # With no room left: yes (the limit set in a process of its own).
    found = subprocess.run(
        [sys.executable, "-c",
         "import sqlite3\nfrom transfers.errors import out_of_memory\n" + SET_LIMIT +
         "exc = sqlite3.OperationalError('disk I/O error')\n"
         "exc.sqlite_errorname = 'SQLITE_IOERR_SHMMAP'\nprint(out_of_memory(exc))\n",
         str(1 << 20)],
        capture_output=True, text=True, check=True)
    assert found.stdout == "True\n"


def test_a_store_that_cannot_be_mapped_for_want_of_room_ends_in_the_same_line(sqlite_url):
    """SQLite maps its write-ahead log's index (the `-shm` file) when it opens a store; with
    no room left that fails as a "disk I/O error", which is memory, and says so."""
    registering_runs_out_in_one_line(sqlite_url, 0)
