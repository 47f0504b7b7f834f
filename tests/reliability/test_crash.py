"""kill -9 in the middle of a large `zov import`, `zov apply` or `zov projections rebuild`:
the store then holds all of the file or none of it, and the next read command answers
exactly what a rebuild of the read models answers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from checks import assert_no_gaps, assert_read_models_equal_a_rebuild, stored_events
from click.testing import CliRunner

from cli.main import cli
from transfers.app import Tracker
from transfers.path import path_id

ROWS = 300  # rows per file: under a second of work, most of it before the one write
ROUNDS = 2  # of each command: once killed early, once late (maybe after it finished)


def zov() -> str:
    return str(Path(sys.executable).with_name("zov"))


def env(url: str) -> dict[str, str]:
    return {**os.environ, "ZOV_DB": url, "ZOV_ACTOR": "crash-test"}


def clients_file(folder: Path, batch: int, rows: int = ROWS) -> tuple[Path, list[str]]:
    refs = [f"K{batch}-{i:05d}" for i in range(rows)]
    path = folder / f"overzicht-{batch}.csv"
    lines = ["ref;hulpvorm;gemeente;arrangements;arrangement_end"]
    lines += [f"{ref};MKD;{('Stein', 'Beek', 'Vaals')[i % 3]};MKD;31-12-2023"
              for i, ref in enumerate(refs)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, refs


def events_file(folder: Path, batch: int, refs: list[str]) -> Path:
    path = folder / f"gebeurtenissen-{batch}.csv"
    lines = ["ref;event;on;outcome"]
    lines += [f"{ref};triage;{2 + i % 20}-5-2023;{('transfer', 'continue')[i % 2]}"
              for i, ref in enumerate(refs)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_and_kill(url: str, args: list[str], after: float) -> bool:
    """Start `zov ARGS`, kill -9 it after `after` seconds; True if it finished first."""
    proc = subprocess.Popen([zov(), *args], env=env(url), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=after)
        finished = True
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        finished = False
    _, err = proc.communicate()
    if finished:
        assert proc.returncode == 0, err
    return finished


def timed(url: str, args: list[str]) -> float:
    t0 = time.perf_counter()
    result = subprocess.run([zov(), *args], env=env(url), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return time.perf_counter() - t0


def read_command(url: str) -> str:
    """`zov list --format json` (in this process: it is the same code, and a process less)."""
    result = CliRunner().invoke(cli, ["--db", url, "list", "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def written(tracker: Tracker, refs: list[str], version: int) -> int:
    """How many of these clients' paths have an event `version` in the store."""
    ids = {path_id(ref, "MKD") for ref in refs}
    return sum(1 for e in stored_events(tracker)
               if e.originator_id in ids and e.originator_version == version)


def test_kill_9_mid_import_apply_or_rebuild_leaves_all_or_nothing(store_url, tmp_path):
    seed = int(os.environ.get("ZOV_CRASH_SEED", "0")) or random.randrange(10**6)
    rnd = random.Random(seed)
    tracker = Tracker.open(store_url)
    tracker.adopt_plan(None, "built-in", "test")
    # Undisturbed runs, to know how long each command takes.
    first, refs0 = clients_file(tmp_path, 0)
    took = {"import": timed(store_url, ["import", "clients", str(first)]),
            "apply": timed(store_url, ["apply", str(events_file(tmp_path, 0, refs0))]),
            "rebuild": timed(store_url, ["projections", "rebuild"])}
    imported = []  # files whose clients are in the store, not yet triaged
    for batch in range(100, 100 + ROUNDS):
        path, refs = clients_file(tmp_path, batch)
        timed(store_url, ["import", "clients", str(path)])
        imported.append(refs)
    outcomes = []
    # When to kill, as a fraction of the undisturbed run: once early, once late.
    moments = {what: rnd.sample([rnd.uniform(0.15, 0.6), rnd.uniform(0.7, 1.3)], ROUNDS)
               for what in took}
    plan = [what for _ in range(ROUNDS) for what in ("import", "rebuild", "apply")]
    for batch, what in enumerate(plan, start=1):
        after = took[what] * moments[what].pop()
        if what == "import":
            path, refs = clients_file(tmp_path, batch)
            finished = run_and_kill(store_url, ["import", "clients", str(path)], after)
            n, version = written(tracker, refs, 1), 1
        elif what == "apply":
            refs = imported.pop()
            path = events_file(tmp_path, batch, refs)
            finished = run_and_kill(store_url, ["apply", str(path)], after)
            n, version = written(tracker, refs, 2), 2
        else:
            finished = run_and_kill(store_url, ["projections", "rebuild"], after)
            n = version = 0
        outcomes.append((what, round(after, 2), finished, n))
        # All of the file, or none of it; and if the command said it finished, all of it.
        assert n in (0, ROWS if version else 0), (seed, outcomes)
        assert not finished or n == (ROWS if version else 0), (seed, outcomes)
        if (what == "import" and n) or (what == "apply" and not n):
            imported.append(refs)
        # The next read command answers what a rebuild answers.
        answer = read_command(store_url)
        assert_read_models_equal_a_rebuild(tracker)
        assert read_command(store_url) == answer, (seed, outcomes)
    print(f"\n[kill -9, {store_url.split(':')[0]}] seed {seed}; undisturbed "
          + ", ".join(f"{k} {v:.2f} s" for k, v in took.items())
          + "; (command, killed after s, finished, events of the file): " + str(outcomes))
    assert_no_gaps(tracker)
    tracker.close()
    killed = [o for o in outcomes if not o[2]]
    assert {o[0] for o in killed} >= {"import", "rebuild"}, outcomes
    paths = json.loads(read_command(store_url))
    assert len(paths) % ROWS == 0  # whole files only


def test_kill_9_while_a_large_import_writes_leaves_nothing(store_url, tmp_path):
    """A file large enough to say when it starts writing (over 5,000 rows): killed in that
    moment, between the check of the last row and the commit."""
    tracker = Tracker.open(store_url)
    tracker.adopt_plan(None, "built-in", "test")
    sheet, refs = clients_file(tmp_path, 9, rows=5_001)
    proc = subprocess.Popen([zov(), "import", "clients", str(sheet)], env=env(store_url),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    said = ""
    while "writing" not in said and proc.poll() is None:
        said = proc.stderr.readline()
    time.sleep(random.uniform(0.2, 1.6))  # the write takes some 2 s: mapping, then the INSERTs
    finished = proc.poll() is not None
    proc.kill()  # SIGKILL; a no-op when poll() above has already reaped it
    proc.communicate()
    n = written(tracker, refs, 1)
    outcome = "finished first" if finished else "killed"
    print(f"\n[kill -9 while writing, {store_url.split(':')[0]}] {outcome}; {n} of "
          f"{len(refs)} events of the file in the store")
    assert "writing 5,001 events" in said
    assert n in (0, len(refs))
    answer = read_command(store_url)
    assert_read_models_equal_a_rebuild(tracker)
    assert read_command(store_url) == answer
    tracker.close()


# `zov projections rebuild` whose second process takes a second to start folding
SLOW_SECOND = ("import time\n"
               "from projections.projector import Projector\n"
               "fold = Projector._fold_other_half\n"
               "def slowly(self, *args):\n"
               "    time.sleep(1)\n"
               "    return fold(self, *args)\n"
               "Projector._fold_other_half = slowly\n"
               "from cli.main import cli\n"
               "cli(['projections', 'rebuild'], prog_name='zov')\n")


@contextmanager
def rebuilding_in_two(store_url: str, tmp_path: Path, slow_start: bool = False
                      ) -> Iterator[tuple[subprocess.Popen, int]]:
    """A `zov projections rebuild` of 5,000 events, in a session of its own (as a terminal's
    foreground job), and its second process once past its first steps (with `slow_start`:
    the moment it is seen, a second before it begins); stderr piped. Both are killed
    afterwards, whatever became of them: neither may hold the test's schema."""
    sheet, refs = clients_file(tmp_path, 7, rows=2_500)
    timed(store_url, ["import", "clients", str(sheet)])
    timed(store_url, ["apply", str(events_file(tmp_path, 7, refs))])  # 5,000 events
    command = ([sys.executable, "-c", SLOW_SECOND] if slow_start
               else [zov(), "projections", "rebuild"])
    proc = subprocess.Popen(command, env=env(store_url),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    second = None
    try:
        while second is None and proc.poll() is None:
            second = next(iter(_children(proc.pid)), None)
        assert second is not None, "the rebuild ended before its second process was seen"
        if not slow_start:
            _waited(lambda: not _running(second) or _cpu_ticks(second) >= 2, 20, step=0.001)
        yield proc, second
    finally:  # the second first: left running, it would hold the first's stderr open
        if second is not None and _running(second):
            os.kill(second, signal.SIGKILL)
        proc.kill()
        proc.communicate()


def test_kill_9_of_a_rebuild_in_two_processes_takes_the_second_down_too(store_url, tmp_path):
    """From 4,000 events on a rebuild runs in two processes. Killed, the first leaves the
    second without anyone to hand its rows to: it must stop, wherever it is (not wait for
    ever on a full pipe, as it did while it held the pipe's other end too; not spin on,
    as it did when it ran out of memory), and the side file it was given on SQLite goes
    with the next rebuild. The second is stopped (SIGSTOP) before the first is killed: it
    cannot notice anything itself, the kernel must end it."""
    tracker = Tracker.open(store_url)
    tracker.adopt_plan(None, "built-in", "test")
    with rebuilding_in_two(store_url, tmp_path) as (proc, second):
        os.kill(second, signal.SIGSTOP)  # (past its first steps)
        assert _waited(lambda: _state(second) == "T", 5), "the second ended before it stopped"
        proc.kill()
        proc.wait()  # (not for its output: a second process left running would hold it open)
        assert _waited(lambda: not _running(second), 20), "the second process still runs"
    timed(store_url, ["projections", "rebuild"])
    assert sorted(p.name for p in tmp_path.iterdir() if "rebuild" in p.name) == []
    assert_read_models_equal_a_rebuild(tracker)
    tracker.close()


@pytest.mark.parametrize("slow_start", [False, True], ids=["while-both-fold", "as-it-starts"])
def test_ctrl_c_of_a_rebuild_in_two_processes_is_one_line_and_ends_both(store_url, tmp_path,
                                                                         slow_start):
    """Ctrl-C reaches both processes of a rebuild (the terminal signals its foreground
    job); the first says the one line and ends the second, which says nothing (it printed
    "Process ForkProcess-1:" and the start of a traceback), also when Ctrl-C comes before
    the second has begun to ignore it."""
    tracker = Tracker.open(store_url)
    tracker.adopt_plan(None, "built-in", "test")
    with rebuilding_in_two(store_url, tmp_path, slow_start) as (proc, second):
        os.killpg(proc.pid, signal.SIGINT)
        _, said = proc.communicate(timeout=30)
        assert proc.returncode == 130
        assert said == ("Error: interrupted (Ctrl-C); nothing of it is half-written: see "
                        "with `zov show` or `zov info` whether it was recorded\n")
        assert _waited(lambda: not _running(second), 20), "the second process still runs"
    assert len(json.loads(read_command(store_url))) == 2_500  # read models whole, caught up
    timed(store_url, ["projections", "rebuild"])
    assert sorted(p.name for p in tmp_path.iterdir() if "rebuild" in p.name) == []
    assert_read_models_equal_a_rebuild(tracker)
    tracker.close()


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux: from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (state first); [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _state(pid: int) -> str | None:
    return (_stat(pid) or [None])[0]


def _cpu_ticks(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0  # utime + stime


def _waited(condition, seconds: float, step: float = 0.01) -> bool:
    """Whether `condition()` came true within `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def _running(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended but not yet reaped, does not)."""
    return _state(pid) not in (None, "Z")
