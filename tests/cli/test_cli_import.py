"""`zov import` and `zov apply` with real files, through CliRunner, on both stores."""

from __future__ import annotations

import csv
import io
import json

import pytest

HEADER = "referentie;hulpvorm;gemeente;arrangement(en);einddatum_arrangement;cohort\r\n"
OVERVIEW = HEADER + (
    "ZL-1;MKD;Sittard;MKD;31-7-2023;Zorgklas\r\n"
    "ZL-2;DB Xtra;Gulpen-Wittem;\"Begeleiding Individueel; Behandeling Groep\";31-07-2023;\r\n"
    " ZL-3 ; echtscheidingenhulp ;Valkenburg a/d Geul;BOR 2-3/vrijwillig/Rechtbank;"
    "2023-12-31;\r\n"
    ";;;;;\r\n\r\n"
)


@pytest.fixture
def zov(store_url, cli_runner):
    """Run `zov --db URL ...` in-process; the store has the built-in plan."""
    run = cli_runner(store_url)
    run("init")
    return run


def events_in(zov) -> int:
    return len(zov("export").stdout.splitlines())


def test_a_semicolon_windows_1252_overview_is_imported(zov, tmp_path):
    path = tmp_path / "overzicht.csv"
    path.write_bytes(OVERVIEW.replace("Gulpen-Wittem", "Gülpen-Wittem").encode("cp1252"))
    result = zov("import", "clients", str(path))
    assert result.stdout.splitlines()[0] == "overzicht.csv: 3 rows; 3 registered, 0 unchanged"
    assert "Echtscheidingenhulp  1" in result.stdout
    shown = zov("show", "ZL-3", "--format", "json").stdout
    assert json.loads(shown)[0]["details"].startswith("gemeente=Valkenburg aan de Geul")


def test_importing_again_says_nothing_is_new(zov, tmp_path):
    path = tmp_path / "overzicht.csv"
    path.write_bytes(OVERVIEW.encode("cp1252"))
    zov("import", "clients", str(path))
    before = events_in(zov)
    result = zov("import", "clients", str(path))
    assert result.stdout == "overzicht.csv: nothing new; all 3 rows were already registered\n"
    assert events_in(zov) == before


def test_an_xlsx_made_with_openpyxl_is_imported(zov, tmp_path):
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Referentie", "Hulpvorm", "Gemeente", "Arrangementen",
                  "Einddatum arrangement", "Cohort", "Datum"])
    sheet.append(["ZL-10", "MKD", "Stein", "MKD", datetime(2023, 12, 31), "JENS",
                  datetime(2023, 4, 3)])
    sheet.append(["ZL-11", "MKD", "heerlen", "mkd", datetime(2023, 12, 31), "jens", None])
    path = tmp_path / "overzicht.xlsx"
    book.save(path)
    result = zov("import", "clients", str(path), "--format", "json")
    report = json.loads(result.stdout)
    assert (report["written"], report["errors"]) == (2, [])
    rows = json.loads(zov("show", "ZL-10", "--format", "json").stdout)
    assert rows[0]["on"] == "2023-04-03" and "arrangement_end=2023-12-31" in rows[0]["details"]


def test_five_different_bad_rows_are_all_reported_and_nothing_is_written(zov, tmp_path):
    path = tmp_path / "fouten.csv"
    path.write_bytes((HEADER
                      + "ZL-1;MKD;Stein;MKD;31-12-2023;JENS\r\n"          # good
                      + "ZL-2;MKD;Amsterdam;MKD;31-12-2023;JENS\r\n"      # unknown gemeente
                      + "ZL-3;Opvang;Stein;MKD;31-12-2023;\r\n"          # unknown hulpvorm
                      + "123456782;MKD;Stein;MKD;31-12-2023;\r\n"        # a BSN as ref
                      + "ZL-5;MKD;Stein;MKD;31-12-23;\r\n"               # two-digit year
                      + "ZL-6;MKD;Stein;Dagbesteding;31-12-2023;\r\n"    # unknown arrangement
                      + "ZL-7;MKD;Beek;MKD;31-12-2023;Overig\r\n").encode("cp1252"))  # good
    before = events_in(zov)
    result = zov("import", "clients", str(path), code=1)
    lines = result.stderr.splitlines()
    assert lines[:5] == [
        "fouten.csv:3: column gemeente: unknown gemeente 'Amsterdam'; use one of: Maastricht, "
        "Eijsden-Margraten, Gulpen-Wittem, Meerssen, Vaals, Valkenburg aan de Geul, "
        "Sittard-Geleen, Stein, Beek, Heerlen, Kerkrade, Landgraaf, Brunssum, Simpelveld, "
        "Voerendaal, Beekdaelen",
        "fouten.csv:4: column hulpvorm: unknown hulpvorm 'Opvang'; use one of: MKD, DB Xtra, "
        "Echtscheidingenhulp",
        "fouten.csv:5: column ref: reference '123456782' looks like a BSN (it passes the "
        "eleven-test); store a pseudonymous reference, never a citizen service number",
        "fouten.csv:6: column arrangement_end: '31-12-23' is not a date; write it as "
        "2023-07-31 or 31-7-2023",
        "fouten.csv:7: column arrangements: unknown arrangement for MKD 'Dagbesteding'; "
        "use one of: MKD",
    ]
    assert lines[5] == ("Error: fouten.csv: 5 of 7 rows refused (5 problems); nothing was "
                        "written — fix them and run again")
    assert result.stdout == ""
    assert events_in(zov) == before


def test_a_dry_run_reports_what_would_be_written(zov, tmp_path):
    path = tmp_path / "overzicht.csv"
    path.write_bytes(OVERVIEW.encode("cp1252"))
    before = events_in(zov)
    result = zov("import", "clients", str(path), "--dry-run")
    assert result.stdout.startswith("overzicht.csv: dry run, nothing written; of 3 rows 3 "
                                    "would be registered, 0 unchanged")
    assert events_in(zov) == before


def test_a_file_that_is_no_table_is_one_line_and_exit_1(zov, tmp_path):
    path = tmp_path / "brief.csv"
    path.write_text("Beste collega,\nhierbij de lijst.\n", encoding="utf-8")
    result = zov("import", "clients", str(path), code=1)
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: brief.csv: found no header row with the columns")
    result = zov("import", "clients", str(tmp_path / "nergens.csv"), code=2)
    assert "does not exist" in result.stderr


def test_an_event_sheet_in_json_lines_is_applied_and_can_be_applied_again(zov, tmp_path):
    path = tmp_path / "overzicht.csv"
    path.write_bytes(OVERVIEW.encode("cp1252"))
    zov("import", "clients", str(path))
    sheet = tmp_path / "mei.jsonl"
    sheet.write_text("\n".join(json.dumps(row) for row in [
        {"ref": "ZL-1", "event": "triage", "on": "2023-05-02", "outcome": "follow-up"},
        {"ref": "ZL-1", "event": "close", "on": "31-8-2023", "reason": "education",
         "by": "=HYPERLINK(\"x\")"},
        {"referentie": "ZL-2", "gebeurtenis": "Triage", "datum": "2-5-2023",
         "uitkomst": "voortzetting"},
    ]) + "\n", encoding="utf-8")
    result = zov("apply", str(sheet))
    assert result.stdout.splitlines()[0] == "mei.jsonl: 3 rows; 3 written, 0 unchanged"
    result = zov("apply", str(sheet), "--format", "json")
    assert json.loads(result.stdout)["unchanged"] == 3
    # A recorder's name that Excel would run as a formula is defused in CSV output.
    exported = zov("export", "--format", "csv").stdout
    by = [row["by"] for row in csv.DictReader(io.StringIO(exported))]
    assert by[-2] == "'=HYPERLINK(\"x\")"


def test_a_refused_event_names_line_column_and_rule(zov, tmp_path):
    path = tmp_path / "overzicht.csv"
    path.write_bytes(OVERVIEW.encode("cp1252"))
    zov("import", "clients", str(path))
    sheet = tmp_path / "events.csv"
    sheet.write_text("ref,event,on,reason\nZL-1,close,2023-09-01,transferred\n",
                     encoding="utf-8")
    result = zov("apply", str(sheet), code=1)
    assert result.stderr.splitlines()[0] == (
        "events.csv:2: column event: ZL-1 (MKD): closing as transferred needs the warm "
        "handover first (now: registered)")


def test_places_are_imported_from_a_sheet(zov, tmp_path):
    path = tmp_path / "plaatsen.csv"
    path.write_text("plaats;leefhuis;bezet;referentie\nLH-A-01;LH-A;ja;W001\n"
                    "LH-E-01;LH-E;nee;\n", encoding="utf-8")
    result = zov("import", "places", str(path))
    assert result.stdout.splitlines()[0] == "plaatsen.csv: 2 rows; 2 registered, 0 unchanged"
    assert "LH-A" in result.stdout and "leefhuis" in result.stdout


def test_every_bulk_command_has_help_with_an_example(zov):
    for args in (["import", "clients"], ["import", "places"], ["apply"], ["export"],
                 ["restore"], ["backup"]):
        assert "Example:" in zov(*args, "--help").stdout


def test_a_big_file_shows_progress_and_a_summary(zov, tmp_path):
    path = tmp_path / "groot.csv"
    gemeenten = ["Stein", "Beek", "Vaals", "Heerlen"]
    path.write_text(HEADER + "".join(f"ZL-{i};MKD;{gemeenten[i % 4]};MKD;31-12-2023;\r\n"
                                     for i in range(6_000)), encoding="utf-8")
    result = zov("import", "clients", str(path))
    assert "reading groot.csv" in result.stderr
    assert "writing 6,000 events in one transaction" in result.stderr
    assert result.stdout.splitlines()[0] == "groot.csv: 6000 rows; 6000 registered, 0 unchanged"
    again = zov("import", "clients", str(path))
    assert again.stdout == "groot.csv: nothing new; all 6000 rows were already registered\n"
