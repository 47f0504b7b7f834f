"""The CLI's behaviour through click's CliRunner, on both stores."""

import json
import re
import signal
import threading
import time
from pathlib import Path

import click
import psycopg
import pytest
from click.testing import CliRunner
from conftest import PG_DSN, fresh_schema_url

from cli.main import cli

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def zov(store_url, cli_runner):
    """Run `zov --db URL ARGS...` in-process; the store starts with the built-in plan."""
    run = cli_runner(store_url, code=None)
    assert run("init").exit_code == 0
    return run


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # loads the lazily registered commands too
        command = group.get_command(ctx, name)
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += all_commands(command, f"{prefix}{name} ")
    return found


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    readme = README.read_text("utf-8")
    runner = CliRunner()
    for name, _ in all_commands(cli):
        result = runner.invoke(cli, [*name.split(), "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.output, f"zov {name} --help has no example"
        assert f"zov {name}" in readme, f"zov {name} is not in the README"


def test_a_full_path_is_logged_and_shown(zov):
    assert zov("register", "C-1", "-H", "MKD", "-g", "Stein", "--arrangement", "MKD").exit_code == 0
    assert zov("triage", "C-1", "--outcome", "transfer", "--on", "2-5-2023").exit_code == 0
    result = zov("assign", "C-1", "-c", "Kracht van Dichtbij", "--planned", "2023-09-01",
                 "--on", "2023-06-01")
    assert result.output.strip() == "C-1 (MKD): receiving party Kracht van Dichtbij; now assigned"
    assert zov("handover", "C-1", "--on", "2023-09-01").exit_code == 0
    assert zov("close", "C-1", "--reason", "overgedragen", "--on", "2023-09-02").exit_code == 0
    shown = json.loads(zov("show", "C-1", "--format", "json").output)
    assert [r["event"] for r in shown] == ["Registered", "Triaged", "ReceiverAssigned",
                                           "HandoverDone", "Closed"]
    assert list(shown[0]) == ["ref", "hulpvorm", "event_no", "on", "event", "details", "note",
                              "by", "recorded_at", "voided"]  # in the README's order
    assert shown[4]["details"] == "reason=transferred" and shown[4]["by"] == "tester"
    table = zov("show", "C-1").output
    assert table.startswith("C-1 (MKD) — closed, gemeente Stein, receiving Kracht van Dichtbij")
    assert max(len(line) for line in table.splitlines()) <= 80


def test_a_refusal_is_one_line_on_stderr_and_exit_code_1(zov):
    zov("register", "C-1", "-H", "MKD", "-g", "Stein")
    result = zov("handover", "C-1", "--on", "2023-05-01")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert "warm handover needs a receiving party first" in result.stderr


def wakeup_fd() -> int:
    """Python's signal wakeup fd as it stands (-1: none)."""
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


def test_ctrl_c_in_a_command_is_one_line_and_exit_code_130(zov, monkeypatch):
    from transfers.app import Tracker

    zov("register", "C-1", "-H", "MKD", "-g", "Stein")
    wakeup = wakeup_fd()

    def ctrl_c(*_args, **_kwargs):
        raise KeyboardInterrupt  # as Python raises it at Ctrl-C

    with monkeypatch.context() as patched:
        patched.setattr(Tracker, "save", ctrl_c)
        result = zov("triage", "C-1", "--outcome", "transfer", "--on", "2023-05-02")
    assert result.exit_code == 130
    assert result.stdout == ""
    assert result.stderr == ("Error: interrupted (Ctrl-C); nothing of it is half-written: see "
                             "with `zov show` or `zov info` whether it was recorded\n")
    assert [r["event"] for r in json.loads(zov("show", "C-1", "--format", "json").output)] == [
        "Registered"]
    # what watched for Ctrl-C is gone: Python's wakeup pipe given back, the thread ended
    assert wakeup_fd() == wakeup
    for _ in range(100):
        if "zov-ctrl-c" not in [t.name for t in threading.enumerate()]:
            break
        time.sleep(0.05)
    assert "zov-ctrl-c" not in [t.name for t in threading.enumerate()]


def test_a_command_runs_when_no_thread_can_be_started_to_watch_for_ctrl_c(zov, monkeypatch):
    wakeup = wakeup_fd()

    start = threading.Thread.start

    def no_room(thread):
        if thread.name == "zov-ctrl-c":
            raise RuntimeError("can't start new thread")  # as under a tight memory limit
        start(thread)

    with monkeypatch.context() as patched:
        patched.setattr(threading.Thread, "start", no_room)
        result = zov("register", "C-1", "-H", "MKD", "-g", "Stein")
    assert result.exit_code == 0, result.stderr
    assert wakeup_fd() == wakeup  # given back


@pytest.mark.parametrize("args, message", [
    (("triage", "C-1", "--outcome", "maybe"), "unknown outcome 'maybe'"),
    (("triage", "C-1", "--outcome", "transfer", "--on", "31-02-2023"), "not a date in the calendar"),
    (("plan-handover", "C-1", "--planned", "31-12-9999"), "not a year zov takes (1900-2199)"),
    (("flow", "--as-of", "9999-12-31"), "not a year zov takes"),
    (("correct", "C-1", "--event", "0", "--reason", "x"), "0 is not in the range"),
    (("register", "C-2", "-H", "MKD"), "Missing option '--gemeente'"),
])
def test_usage_mistakes_exit_with_code_2_and_say_what_to_fix(zov, args, message):
    result = zov(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_correction_shows_in_the_timeline(zov):
    zov("register", "C-1", "-H", "MKD", "-g", "Stein")
    zov("triage", "C-1", "--outcome", "ends", "--on", "2023-05-01")
    result = zov("correct", "C-1", "--event", "2", "--reason", "outcome was transfer")
    assert "event 2 voided; now registered" in result.output
    shown = json.loads(zov("show", "C-1", "--format", "json").output)
    assert shown[1]["voided"] == "outcome was transfer" and shown[2]["event"] == "Corrected"


def test_csv_output_defuses_spreadsheet_formulas(zov):
    zov("register", "C-1", "-H", "MKD", "-g", "Stein", "--note", "=HYPERLINK(\"x\")")
    out = zov("show", "C-1", "--format", "csv").output
    assert "'=HYPERLINK" in out and ",=HYPERLINK" not in out


def test_info_names_the_store_and_the_plan(zov, store_url):
    info = json.loads(zov("info", "--format", "json").output)
    assert info["plan"] == "Afbouw XONAR Zuid-Limburg 2023"
    assert info["events"] == 1 and info["kind"] in {"sqlite", "postgresql"}
    assert re.sub(r":[^@/]*@", "@", store_url) .split("?")[0][:10] in info["store"]


def test_the_place_commands_follow_a_place(zov):
    assert zov("place", "register", "LH-E-01", "--leefhuis", "LH-E", "--occupied",
               "--ref", "C-9").exit_code == 0
    assert zov("place", "decide", "LH-E-01", "-c", "HOOM", "--on", "2023-05-10").exit_code == 0
    result = zov("place", "transfer", "LH-E-01", "--on", "2023-07-01")
    assert result.output.strip() == "place LH-E-01: transferred; now transferred, occupied by C-9"
    refused = zov("place", "keep", "LH-E-01")
    assert refused.exit_code == 1 and "already transferred" in refused.stderr


def test_a_client_write_command_loads_no_read_bulk_memo_or_place_code(sqlite_url):
    """What keeps `zov triage` and friends quick to start: the other commands' modules, the
    Leefhuis place aggregate and importlib.resources load only when they are used."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "ZOV_ACTOR": "tester"}
    subprocess.run([sys.executable, "-c", "from cli.main import main; main()", "--db",
                    sqlite_url, "init"], env=env, check=True, capture_output=True)
    probe = (
        "import sys\n"
        "from cli.main import cli\n"
        "for args in (['register', 'C-1', '-H', 'MKD', '-g', 'Stein'],\n"
        "             ['triage', 'C-1', '-o', 'transfer'], ['show', 'C-1']):\n"
        "    cli(['--db', sys.argv[1], *args], standalone_mode=False)\n"
        "lazy = ('cli.reports', 'cli.bulk', 'cli.memo', 'cli.places', 'transfers.place',\n"
        "        'importlib.resources')\n"
        "print('LOADED', [m for m in lazy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, sqlite_url], capture_output=True,
                         text=True, env=env, check=True).stdout
    assert "C-1 (MKD): triaged: transfer" in out
    assert out.strip().splitlines()[-1] == "LOADED []"


def test_a_command_on_a_store_that_does_not_exist_creates_nothing(tmp_path, cli_runner):
    store = tmp_path / "typo" / "zov.sqlite"
    run = cli_runner(f"sqlite:///{store}")
    for args in (["counts"], ["register", "C-1", "-H", "MKD", "-g", "Stein"], ["info"]):
        result = run(*args, code=1)
        assert f"there is no store at {store}: create it with `zov init`" in result.stderr
        assert "Traceback" not in result.output and not store.parent.exists()
    run("init")  # creates it
    run("register", "C-1", "-H", "MKD", "-g", "Stein")
    assert store.exists()


def test_a_command_on_a_postgresql_schema_without_a_store_creates_nothing(cli_runner):
    def tables(schema: str) -> list:
        with psycopg.connect(PG_DSN) as conn:
            return conn.execute("SELECT schema_name FROM information_schema.schemata WHERE "
                                "schema_name = %s UNION ALL SELECT table_name FROM "
                                "information_schema.tables WHERE table_schema = %s",
                                (schema, schema)).fetchall()

    with fresh_schema_url() as url:
        schema = url.rsplit("schema=", 1)[1]
        run = cli_runner(url)
        for args in (["counts"], ["register", "C-1", "-H", "MKD", "-g", "Stein"], ["info"]):
            result = run(*args, code=1)
            assert result.stderr == (f"Error: there is no store in schema {schema} of {url}: "
                                     "create it with `zov init`, or name the right one with "
                                     "--db or ZOV_DB\n")
            assert tables(schema) == []
        run("init")  # creates it
        run("register", "C-1", "-H", "MKD", "-g", "Stein")
        assert len(tables(schema)) > 1


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_json_and_csv_are_printed_as_the_rows_come_the_same_as_all_at_once(fmt, capsys):
    # A national log's `zov audit --format csv` held every row in memory until the last
    # (481 MB at 573k events; 107 MB now). The bytes are those of printing the whole list.
    from datetime import date

    from cli.output import CHUNK, emit

    rows = [{"n": i, "text": f"=x{i}", "on": date(2023, 1, 1 + i % 28), "list": ["a", i]}
            for i in range(2 * CHUNK + 1)]
    printed_before_the_end = []

    def made():
        for i, row in enumerate(rows):
            if i == len(rows) - 1:
                printed_before_the_end.append(capsys.readouterr().out)
            yield row

    emit(made(), fmt, ["n", "text", "on", "list"])
    streamed = printed_before_the_end[0] + capsys.readouterr().out
    emit(rows, fmt, ["n", "text", "on", "list"])  # a list: the same path, checked below
    assert streamed == capsys.readouterr().out
    assert len(printed_before_the_end[0]) > len(streamed) // 2
    if fmt == "json":
        assert streamed == json.dumps(json.loads(streamed), ensure_ascii=False, indent=2) + "\n"
        assert json.loads(streamed)[5] == {"n": 5, "text": "=x5", "on": "2023-01-06",
                                           "list": ["a", 5]}
    else:
        lines = streamed.splitlines()
        assert lines[0] == "n,text,on,list" and lines[6] == "5,'=x5,2023-01-06,a; 5"
        assert len(lines) == len(rows) + 1
    empty = emit([], fmt, ["n"]) or capsys.readouterr().out
    assert empty == ("[]\n" if fmt == "json" else "n\n")
