"""The read commands (list, counts, compliance, flow, places, projections) on both stores."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from transfers.dates import parse_moment
from transfers.errors import InvalidValue


@pytest.fixture
def zov(store_url, cli_runner):
    """Run `zov --db URL ARGS...` in-process on a store with the plan and a few paths."""
    run = cli_runner(store_url)
    run("init")
    run("register", "C-1", "-H", "MKD", "-g", "Valkenburg", "--cohort", "Overig",
        "--arrangement", "MKD", "--arrangement-end", "2024-03-01")
    run("triage", "C-1", "-o", "transfer", "--on", "2023-05-02")
    run("assign", "C-1", "-c", "Initiatiefgroep Jeugdhulp Zuid-Limburg", "--aanbieder", "CECL",
        "--planned", "2024-01-15", "--on", "2023-06-01")
    run("register", "C-2", "-H", "Echtscheidingenhulp", "-g", "Eijsden-Margraten",
        "--arrangement", "BOR 2-3/vrijwillig/Rechtbank")
    run("triage", "C-2", "-o", "ends", "--on", "2023-05-10")
    run("close", "C-2", "-r", "ended", "--on", "2023-07-01")
    run("place", "register", "LH-A-01", "-l", "LH-A", "--occupied", "--ref", "W-1")
    run("place", "register", "LH-G-01", "-l", "LH-G")
    run("place", "decide", "LH-G-01", "-c", "Combinatie XONAR", "--on", "2023-05-23")
    return run


def fits_80_columns(text: str) -> bool:
    return all(len(line) <= 80 for line in text.splitlines())


@pytest.mark.parametrize("command", [
    ["list"], ["counts"], ["counts", "--by", "gemeente"], ["counts", "--by", "combinatie"],
    ["counts", "--by", "subregio"], ["counts", "--by", "cohort"], ["compliance"], ["flow"],
    ["places"], ["projections", "status"]])
def test_every_report_fits_an_80_column_terminal(zov, command):
    dated = [] if command[0] == "projections" else ["--as-of", "2023-11-15"]
    result = zov(*command, *dated)
    assert result.output.strip() and fits_80_columns(result.output), result.output


def test_counts_as_a_table_json_and_csv_say_the_same(zov):
    table = zov("counts", "--as-of", "2023-06-15").output
    assert "Paths per stage on 2023-06-15" in table
    mkd = next(line for line in table.splitlines() if line.startswith("MKD"))
    assert mkd.split()[1:] == ["0", "0", "1", "0", "0", "1"]
    data = json.loads(zov("counts", "--as-of", "2023-06-15", "--format", "json").output)
    assert set(data) == {"as_of", "as_known_at", "by", "rows", "per_hulpvorm", "total",
                         "closed_by_reason"}
    assert data["rows"][0] == {"hulpvorm": "MKD", "registered": 0, "triaged": 0,
                               "assigned": 1, "handed_over": 0, "closed": 0, "open": 1,
                               "total": 1}
    rows = list(csv.DictReader(io.StringIO(zov("counts", "--as-of", "2023-06-15", "--by",
                                               "gemeente", "--format", "csv").output)))
    assert rows == [
        {"hulpvorm": "MKD", "gemeente": "Valkenburg aan de Geul", "registered": "0",
         "triaged": "0", "assigned": "1", "handed_over": "0", "closed": "0", "open": "1",
         "total": "1"},
        {"hulpvorm": "Echtscheidingenhulp", "gemeente": "Eijsden-Margraten",
         "registered": "0", "triaged": "1", "assigned": "0", "handed_over": "0",
         "closed": "0", "open": "1", "total": "1"}]
    later = json.loads(zov("counts", "--as-of", "2023-08-01", "--format", "json").output)
    assert later["closed_by_reason"] == [
        {"hulpvorm": "Echtscheidingenhulp", "reason": "ended", "count": 1}]


def test_list_filters_and_keeps_its_json_keys(zov):
    rows = json.loads(zov("list", "--as-of", "2023-06-15", "--format", "json").output)
    assert [r["ref"] for r in rows] == ["C-1", "C-2"]
    assert set(rows[0]) == {"ref", "hulpvorm", "stage", "since", "gemeente", "subregio",
                            "cohort", "arrangements", "arrangement_end", "outcome",
                            "combinatie", "aanbieder", "planned", "close_reason"}
    assert rows[0]["combinatie"] == "Initiatiefgroep Jeugdhulp Zuid-Limburg"
    assert rows[0]["arrangements"] == ["MKD"] and rows[0]["planned"] == "2024-01-15"
    only = zov("list", "--open", "--as-of", "2023-08-01", "--format", "csv").output
    assert [r["ref"] for r in csv.DictReader(io.StringIO(only))] == ["C-1"]
    for args, refs in [(["--hulpvorm", "mkd"], ["C-1"]), (["--stage", "triaged"], ["C-2"]),
                       (["--gemeente", "Eijsden"], ["C-2"]), (["--combinatie", "IJZL"], ["C-1"])]:
        out = zov("list", "--as-of", "2023-06-15", *args, "--format", "json").output
        assert [r["ref"] for r in json.loads(out)] == refs, args
    assert "C-1" in zov("list").output


def test_compliance_lists_the_paths_at_risk_by_reference(zov):
    out = zov("compliance", "--as-of", "2023-11-15").output
    assert "C-1" in out and "planned-after-deadline" in out
    data = json.loads(zov("compliance", "--as-of", "2023-11-15", "--format", "json").output)
    assert data["total"]["in_scope"] == 2 and data["total"]["on_time"] == 1
    assert data["total"]["on_time_pct"] == 50.0
    assert [(c["ref"], c["reasons"]) for c in data["cases"]] == [
        ("C-1", ["planned-after-deadline"])]
    assert data["rules"]["no_receiver_weeks"] == 8
    override = json.loads(zov("compliance", "--deadline", "2023-06-30", "--as-of",
                              "2023-08-01", "--format", "json").output)
    assert (override["total"]["late"], override["total"]["overdue"]) == (1, 1)


def test_flow_and_places_reports(zov):
    flow = json.loads(zov("flow", "--as-of", "2023-07-31", "--format", "json").output)
    assert [m["month"] for m in flow["months"]] == ["2023-04", "2023-05", "2023-06", "2023-07"]
    assert flow["months"][-1]["closed"] == 1 and flow["months"][-1]["open_at_end"] == 1
    assert "Median days between stages" in zov("flow", "--as-of", "2023-07-31").output
    places = json.loads(zov("places", "--as-of", "2023-06-01", "--format", "json").output)
    assert (places["capacity"], places["keep"]) == (58, 30)
    assert places["total"]["transfer_decided"] == 1 and places["total"]["occupied"] == 1
    table = zov("places", "--as-of", "2023-06-01").output
    assert "→ Combinatie XONAR" in table


def test_as_known_at_reproduces_an_earlier_answer(zov):
    before = datetime.now(UTC) - timedelta(days=1)
    out = zov("counts", "--as-known-at", before.strftime("%Y-%m-%d %H:%M"), "--format",
              "json").output
    assert json.loads(out)["total"]["total"] == 0
    stamp = datetime.now(UTC).isoformat()
    assert json.loads(zov("counts", "--as-known-at", stamp, "--format",
                          "json").output)["total"]["total"] == 2


@pytest.mark.parametrize("args, message", [
    (["counts", "--as-of", "31-2-2023"], "not a date in the calendar"),
    (["counts", "--as-known-at", "yesterday"], "is not a timestamp"),
    (["counts", "--by", "aanbieder"], "Invalid value for '--by'"),
    (["list", "--stage", "lost"], "unknown stage 'lost'"),
])
def test_a_usage_mistake_is_one_clear_line_and_exit_code_2(zov, args, message):
    result = zov(*args, code=None)
    assert result.exit_code == 2 and message in result.output


def test_an_unknown_name_is_refused_in_one_line_with_exit_code_1(zov):
    result = zov("list", "--hulpvorm", "Kamers met Kansen", code=None)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: unknown hulpvorm 'Kamers met Kansen'; use one of: MKD, DB Xtra, "
        "Echtscheidingenhulp"]


def test_projections_status_and_rebuild(zov):
    status = json.loads(zov("projections", "status", "--format", "json").output)
    assert set(status) == {"position", "head", "lag", "version", "current_version",
                           "needs_rebuild", "path_rows", "place_rows"}
    zov("counts")
    status = json.loads(zov("projections", "status", "--format", "json").output)
    assert status["lag"] == 0 and status["position"] == status["head"]
    out = zov("projections", "rebuild").output
    assert out.startswith(f"rebuilt from {status['head']} events")
    assert json.loads(zov("projections", "status", "--format", "json").output)["lag"] == 0


def test_timestamps_are_utc_unless_an_offset_is_given():
    assert parse_moment("2023-10-02") == datetime(2023, 10, 2, 23, 59, 59, 999999, UTC)
    assert parse_moment("2-10-2023") == datetime(2023, 10, 2, 23, 59, 59, 999999, UTC)
    assert parse_moment("2023-10-02 17:30") == datetime(2023, 10, 2, 17, 30, tzinfo=UTC)
    assert parse_moment("2023-10-02T17:30:05.25Z") == datetime(2023, 10, 2, 17, 30, 5, 250000,
                                                               UTC)
    cest = timezone(timedelta(hours=2))
    assert parse_moment("2023-10-02T17:30+02:00") == datetime(2023, 10, 2, 17, 30, tzinfo=cest)
    assert parse_moment("2023-10-02 9:05 +0200") == datetime(2023, 10, 2, 9, 5, tzinfo=cest)
    for bad in ("2023-10-02 25:00", "2023-13-01", "soon"):
        with pytest.raises(InvalidValue):
            parse_moment(bad)


def test_a_write_command_does_not_load_sqlalchemy(sqlite_url):
    """`zov triage` and friends stay fast: the read models' libraries load only for reads."""
    probe = (
        "import sys\n"
        "from cli.main import cli\n"
        "for args in (['init'], ['register', 'C-1', '-H', 'MKD', '-g', 'Stein'],\n"
        "             ['triage', 'C-1', '-o', 'transfer']):\n"
        "    try:\n"
        "        cli(['--db', sys.argv[1], *args], standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sqlalchemy', 'jinja2', 'projections'})\n"
        "print('LOADED', loaded)\n"
    )
    env = dict(os.environ, ZOV_ACTOR="tester")
    out = subprocess.run([sys.executable, "-c", probe, sqlite_url], capture_output=True,
                         text=True, env=env, check=True).stdout
    assert out.strip().splitlines()[-1] == "LOADED []"


def test_a_read_on_up_to_date_read_models_does_not_open_the_event_store(store_url, cli_runner):
    """Read commands are quick: when the read models hold the whole log, neither
    eventsourcing nor the domain is loaded (nor `statistics`, which only the flow needs);
    after a write they are, to catch up."""
    run = cli_runner(store_url)
    run("init")
    run("register", "C-1", "-H", "MKD", "-g", "Stein")
    probe = (
        "import sys\n"
        "from cli.main import cli\n"
        "try:\n"
        "    cli(['--db', sys.argv[1], 'counts', '--format', 'csv'], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'eventsourcing', 'sqlalchemy'}"
        " | {m for m in sys.modules if m in ('transfers.app', 'transfers.path', 'statistics')})\n"
        "print('LOADED', loaded)\n"
    )

    def counts() -> tuple[str, str]:
        out = subprocess.run([sys.executable, "-c", probe, store_url], capture_output=True,
                             text=True, env=dict(os.environ, ZOV_ACTOR="tester"),
                             check=True).stdout.strip().splitlines()
        return "\n".join(out[:-1]), out[-1]

    answer, loaded = counts()  # catches up with the registration: opens the log
    assert "eventsourcing" in loaded and "MKD,1,0,0,0,0,1" in answer.replace("\r", "")
    answer_again, loaded = counts()  # up to date: answered from the read models alone
    assert loaded == "LOADED []" and answer_again == answer
    run("triage", "C-1", "-o", "transfer", "--on", "2023-05-02")
    answer, loaded = counts()  # behind by one event: opens the log, and counts it
    assert "eventsourcing" in loaded and "MKD,0,1,0,0,0,1" in answer.replace("\r", "")


def test_read_models_of_another_version_are_rebuilt_with_a_word_why(zov, store_url):
    from projections import ReadModels
    from transfers.app import Tracker

    before = zov("counts", "--format", "csv")
    tracker = Tracker.open(store_url)
    with ReadModels(tracker, catch_up=False) as rm, rm.db.transaction(write=True) as cursor:
        cursor.execute("UPDATE zov_projection_position SET version = 5")  # as zov 5 left them
    tracker.close()
    again = zov("counts", "--format", "csv")
    assert "rebuilding them from the log" in again.stderr
    assert again.stdout == before.stdout
    assert zov("counts", "--format", "csv").stderr == ""  # once
