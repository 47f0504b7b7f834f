"""Bad input, generated (hypothesis): any arguments to any command, and import files of
random bytes, wrong encodings, huge fields, formulas, control characters and impossible or
far-future dates. Never a traceback, never a partial write; refused with exit code 1 or 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import cli
from cli.params import DateParam, MomentParam
from transfers.app import Tracker
from transfers.vocab import Outcome

NASTY = [
    "", " ", "C-0001", "c-0001 ", "C-0002", "PL-01", "MKD", "DB Xtra", "Stein", "Kracht van Dichtbij",
    "transfer", "ended", "1", "2", "0", "-1", "99999999999999999999", "1e309", "NaN",
    "31-02-2023", "2023-02-30", "29-2-2023", "0-0-0", "2023-13-01", "9999-12-31", "31-12-9999",
    "1-1-1", "2100-01-01", "2023-07-31T25:00", "=HYPERLINK(\"http://x.invalid\",\"klik\")",
    "+1+1", "@SUM(A1)", "\t=1", "=cmd|' /C calc'!A0", "123456782", "a\nb", "\r", "\x1b[31mred",
    "\x07", "\u202e", "ë", "𝔘𝔫𝔦", "C-\udcff", "\udce9t\udce9", "x" * 5000, "C" * 41, "--",
    "-h", "--format", "json", "csv",
]
# A command line can hold no NUL; file names with / could reach outside the scratch folder.
VALUE = st.one_of(st.sampled_from(NASTY), st.text(
    alphabet=st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)),
    max_size=20))
# Values that pass, per parameter, so that examples get past the first check too.
PASSING = {
    "ref": ["C-0001", "C-0002", "C-0777", "PL-01"], "place": ["PL-01", "PL-02"],
    "hulpvorm": ["MKD", "DB Xtra"], "gemeente": ["Stein", "Beek"], "leefhuis": ["LH-A"],
    "combinatie": ["Kracht van Dichtbij"], "outcome": ["transfer", "continue"],
    "reason": ["ended", "transferred", "typo"], "version": ["1", "2", "3"],
    "on": ["2023-05-02", "3-5-2023"], "planned": ["2023-12-01"], "as_of": ["2023-09-30"],
    "arrangement_end": ["31-12-2023"], "arrangements": ["MKD"], "month": ["2023-09"],
    "cohort": ["JENS", "Overig"], "by": ["fuzzer"], "note": ["ok"],
}


def value_for(param: click.Parameter):
    passing = list(PASSING.get(param.name or "", []))
    if isinstance(param.type, click.Choice):
        passing += list(param.type.choices)
    if not passing:
        return VALUE
    return st.one_of(st.sampled_from(passing), VALUE)


def _commands() -> list[tuple[tuple[str, ...], click.Command]]:
    found = []

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name in group.list_commands(None):
            command = group.get_command(None, name)
            if isinstance(command, click.Group):
                walk(command, (*path, name))
            else:
                found.append(((*path, name), command))

    walk(cli, ())
    return found


COMMANDS = _commands()


@st.composite
def invocations(draw) -> list[str]:
    """A command with some of its own options, given nasty values, in any order."""
    path, command = draw(st.sampled_from(COMMANDS))
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument):
            if draw(st.integers(0, 9)):  # mostly given
                args.append(draw(value_for(param)))
            continue
        if not (param.required and draw(st.integers(0, 9))) and draw(st.booleans()):
            continue  # required options mostly given, others half of the time
        opt = draw(st.sampled_from(param.opts))
        args += [opt] if param.is_flag else [opt, draw(value_for(param))]
    if not draw(st.integers(0, 4)):
        args.append(draw(VALUE))  # a stray word
    return [*path, *args]


@pytest.fixture
def shared_store(store_url, tmp_path, monkeypatch):
    """A store with clients and a place, used by all examples of one test; the working
    directory is a scratch folder (commands may write files named by the examples)."""
    tracker = Tracker.open(store_url)
    tracker.adopt_plan(None, "built-in", "test")
    tracker.register("C-0001", "MKD", "Stein", "test")
    tracker.triage("C-0001", Outcome.TRANSFER, "test", on=tracker.plan.peildatum)
    tracker.register("C-0002", "MKD", "Beek", "test")
    tracker.register("C-0002", "DB Xtra", "Beek", "test", arrangements=["Behandeling Groep"])
    tracker.register_place("PL-01", "LH-A", "test")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("ZOV_ACTOR", "fuzzer")
    yield store_url, tracker
    tracker.close()


def invoke(url: str, args: list[str]):
    if args[:1] == ["serve"]:
        return serve_briefly(url, args)
    return CliRunner().invoke(cli, ["--db", url, *args])


def serve_briefly(url: str, args: list[str]) -> SimpleNamespace:
    """`zov serve` as a process: given arguments it takes, it serves until stopped, so it is
    stopped (as Ctrl-C would) once it says it listens; otherwise it refuses by itself."""
    zov = str(Path(sys.executable).with_name("zov"))
    env = {**os.environ, "ZOV_SOCKET": str(Path("fuzz.sock").absolute())}
    with subprocess.Popen([zov, "--db", url, *args], env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace") as proc:
        first = proc.stderr.readline()  # "listening" once it serves, else its refusal
        if first.startswith("zov serve: listening on "):
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    return SimpleNamespace(exit_code=proc.returncode, output=out + first + err,
                           stderr=first + err, exception=None)


def check(result, args: list[str], before: int, after: int) -> None:
    """Exit 0, 1 or 2; a refusal leaves the log as it was and is no traceback."""
    args = [a if len(a) < 60 else f"{a[:20]}…({len(a)} characters)" for a in args]
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    if result.exit_code != 0:
        assert after == before, (args, result.stderr)
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.stderr, (args, result.stderr)


FUZZ = settings(max_examples=int(os.environ.get("ZOV_FUZZ_EXAMPLES", "120")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(args=invocations())
def test_any_arguments_to_any_command_never_give_a_traceback(shared_store, args):
    url, tracker = shared_store
    before = tracker.recorder.max_notification_id()
    result = invoke(url, args)
    check(result, args, before, tracker.recorder.max_notification_id())


# -- import files --------------------------------------------------------------------------------

HEADERS = {
    ("import", "clients"): ["ref", "hulpvorm", "gemeente", "arrangements", "arrangement_end",
                            "cohort", "registered_on", "note"],
    ("import", "places"): ["place", "leefhuis", "occupied", "ref", "registered_on", "note"],
    ("apply",): ["ref", "hulpvorm", "event", "on", "outcome", "combinatie", "aanbieder",
                 "planned", "reason", "voids", "gemeente", "note"],
}
CELLS = st.one_of(VALUE, st.sampled_from([
    "MKD", "Stein", "Beek", "LH-A", "yes", "ja", "nee", "triage", "assign", "close", "handover",
    "plan-handover", "correct", "amend", "place-keep", "2023-05-02", "2-5-2023", "44000",
    "Zorgcoöperatie Limburg", "x" * 200_000, "\x00", "\"", "a;b", "1,5",
]))


@st.composite
def sheets(draw) -> tuple[tuple[str, ...], str, bytes]:
    """(command, file suffix, file content): a table with a valid header and nasty cells,
    in some encoding; or bytes that are no table at all."""
    command = draw(st.sampled_from(sorted(HEADERS)))
    if draw(st.integers(0, 5)) == 0:
        suffix = draw(st.sampled_from([".csv", ".xlsx", ".jsonl", ".txt"]))
        return command, suffix, draw(st.binary(max_size=300))
    header = HEADERS[command]
    columns = draw(st.lists(st.sampled_from(header), min_size=1, max_size=len(header),
                            unique=True))
    rows = draw(st.lists(st.lists(CELLS, min_size=len(columns), max_size=len(columns)),
                         max_size=4))
    suffix = draw(st.sampled_from([".csv", ".csv", ".jsonl"] if command == ("apply",)
                                  else [".csv"]))
    if suffix == ".jsonl":
        text = "\n".join(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False)
                         for row in rows)
    else:
        sep = draw(st.sampled_from([";", ",", "\t"]))
        lines = [sep.join(columns)] + [sep.join(_quote(c, sep) for c in row) for row in rows]
        text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "latin-1"]))
    return command, suffix, text.encode(encoding, errors="replace")


def _quote(cell: str, sep: str) -> str:
    if any(ch in cell for ch in (sep, '"', "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@FUZZ
@given(sheet=sheets(), dry_run=st.booleans())
def test_any_import_file_is_all_or_nothing_and_never_a_traceback(shared_store, sheet, dry_run):
    url, tracker = shared_store
    command, suffix, content = sheet
    path = Path.cwd() / f"sheet{suffix}"
    path.write_bytes(content)
    args = [*command, str(path), "--format", "json", *(["--dry-run"] if dry_run else [])]
    before = tracker.recorder.max_notification_id()
    result = invoke(url, args)
    after = tracker.recorder.max_notification_id()
    check(result, args, before, after)
    if result.exit_code == 0:
        report = json.loads(result.stdout)
        written = 0 if dry_run else report["written"]
        events = sum(1 for _ in tracker.recorder.select_notifications(
            start=before + 1, limit=10**6)) if after != before else 0
        assert events == written, (args, report)  # every row written, or none


# -- a few through the real command ------------------------------------------------------------

REAL_CASES = {
    "random bytes.csv": os.urandom(2000),
    "not a workbook.xlsx": b"PK\x03\x04" + os.urandom(500),
    "no header.csv": "C-9;MKD;Stein;MKD;31-12-2023\n".encode("utf-16"),
    "huge field.csv": b"ref;hulpvorm;gemeente;arrangements;arrangement_end\nC-9;MKD;"
                      + b"S" * 3_000_000 + b";MKD;31-12-2023\n",
    "formulas and dates.csv": b"ref;hulpvorm;gemeente;arrangements;arrangement_end;note\n"
                              b"=HYPERLINK(\"x\");MKD;Stein;MKD;31-02-2023;\x1b[2J\n"
                              b"C-10;MKD;@SUM(A1);MKD;31-12-9999;+1\n",
}


def test_bad_files_and_bytes_through_the_real_command(tmp_path):
    url = f"sqlite:///{tmp_path / 'zov.sqlite'}"
    zov = str(Path(sys.executable).with_name("zov"))
    env = {**os.environ, "ZOV_DB": url, "ZOV_ACTOR": "fuzzer"}
    assert subprocess.run([zov, "init"], env=env, capture_output=True).returncode == 0
    tracker = Tracker.open(url)
    before = tracker.recorder.max_notification_id()
    runs = []
    for name, content in REAL_CASES.items():
        path = tmp_path / name
        path.write_bytes(content)
        runs.append(subprocess.run([zov, "import", "clients", str(path)], env=env,
                                   capture_output=True))
    # Arguments that are not UTF-8 (a Latin-1 terminal), as the shell passes them.
    for raw in ([b"show", b"C-\xff"], [b"register", b"C-1", b"-H", b"MKD", b"-g", b"Stein",
                                       b"--note", b"caf\xe9"],
                [b"triage", b"C-1", b"--outcome", b"transfer", b"--by", b"\xff\xfe"]):
        runs.append(subprocess.run([zov.encode(), *raw], env=env, capture_output=True))
    for result in runs:
        stderr = result.stderr.decode("utf-8", "replace")
        assert result.returncode in (1, 2), (result.args, stderr)
        assert "Traceback" not in stderr and "Error: " in stderr, (result.args, stderr)
    assert tracker.recorder.max_notification_id() == before
    tracker.close()


# -- the ends of the calendar ------------------------------------------------------------------

EXTREME_DATES = ["0001-01-01", "9999-12-31", "29-2-2023"]


def test_dates_at_the_ends_of_the_calendar_in_every_read_command(shared_store):
    url, tracker = shared_store
    tried = 0
    for path, command in COMMANDS:
        dated = [p for p in command.params if isinstance(p.type, (DateParam, MomentParam))]
        needs = [p for p in command.params if p.required or isinstance(p, click.Argument)]
        if not dated or needs:
            continue
        for param in dated:
            for value in EXTREME_DATES:
                before = tracker.recorder.max_notification_id()
                result = invoke(url, [*path, param.opts[0], value])
                check(result, [*path, param.opts[0], value], before,
                      tracker.recorder.max_notification_id())
                tried += 1
    for month in ["0001-01", "9999-12", "2023-13", "2023-00", "10000-01", "2023-09"]:
        result = invoke(url, ["memo", month, "--format", "md"])
        check(result, ["memo", month], 0, 0)
        assert result.exit_code == (0 if month == "2023-09" else 1), result.stderr
    assert tried >= 15  # counts, list, compliance, flow, places … each with --as-of and more
