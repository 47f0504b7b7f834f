"""Bulk commands: `zov import clients|places`, `zov apply`, `zov export|restore|backup`."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from cli.commands import _by
from cli.main import Session, cli, pass_session
from cli.output import csv_safe, emit
from cli.params import OUTPUT

PROGRESS_FROM = 5_000  # lines; smaller files finish before a bar would help
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
SUMMARY_FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]),
                              default="table", show_default=True,
                              help="table for people; json for scripts (errors included)")


def _bulk_options(f):
    f = click.option("--by", envvar="ZOV_ACTOR", default=None,
                     help="who records this, unless a row's `by` cell says "
                          "[default: $ZOV_ACTOR or your login name]")(f)
    f = click.option("--dry-run", is_flag=True,
                     help="check every row and report what would be written; write nothing")(f)
    f = click.option("--sheet", help="the sheet of an .xlsx workbook [default: the first]")(f)
    return SUMMARY_FORMAT(f)


class _Bar:
    """A progress bar on stderr for big files, and a word before the one long write."""

    STEP = 1_000  # lines between redraws

    def __init__(self, sheet: Any) -> None:
        self.bar: Any = None
        self.shown = 0
        self.sheet = sheet if (sheet.total_lines or 0) > PROGRESS_FROM else None

    def advance(self, line: int) -> None:
        if self.sheet is not None:  # shown from the first line taken in: a file refused
            # before that (too big for the memory left) gets its one line and no bar
            self.bar = click.progressbar(length=self.sheet.total_lines,
                                         label=f"reading {self.sheet.name}", file=sys.stderr)
            self.bar.__enter__()
            self.sheet = None
        if self.bar is not None and line - self.shown >= self.STEP:
            self.bar.update(line - self.shown)
            self.shown = line

    def writing(self, events: int) -> None:
        if self.bar is not None:
            self.close()
            click.echo(f"writing {events:,} events in one transaction…", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _run_bulk(session: Session, file: Path, sheet_name: str | None, columns, run, by,
              fmt: str, **options: Any) -> None:
    from transfers.sheets import open_sheet

    sheet = open_sheet(file, columns, sheet_name)
    tracker = session.tracker
    tracker.plan  # noqa: B018  # a store without a plan is refused before reading rows
    bar = _Bar(sheet)
    try:
        report = run(tracker, sheet, _by(by), progress=bar, **options)
    finally:
        bar.close()
    _print_report(report, fmt)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


_VERBS = {"clients": "registered", "places": "registered", "events": "written"}
_GROUP = {"clients": "hulpvorm", "places": "leefhuis", "events": "hulpvorm"}


def _print_report(report: Any, fmt: str) -> None:
    from transfers.bulk import summary_rows

    verb, file = _VERBS[report.what], report.file
    if report.ignored_columns:
        click.echo(f"{file}: ignored columns: {', '.join(report.ignored_columns)}", err=True)
    if fmt == "json":
        click.echo(json.dumps({
            "file": file, "what": report.what, "dry_run": report.dry_run, "rows": report.rows,
            "written": 0 if report.errors else report.written, "unchanged": report.unchanged,
            "per_group": summary_rows(report), "ignored_columns": report.ignored_columns,
            "errors": [{"line": e.line, "column": e.column, "message": e.message}
                       for e in report.errors],
        }, ensure_ascii=False, indent=2))
    for error in report.errors:
        click.echo(error.render(file), err=True)
    if report.errors:
        raise click.ClickException(
            f"{file}: {report.bad_rows} of {report.rows} rows refused "
            f"({_plural(len(report.errors), 'problem')}); nothing was written — fix them and "
            "run again")
    if fmt == "json":
        return
    if report.dry_run:
        click.echo(f"{file}: dry run, nothing written; of {report.rows} rows "
                   f"{report.written} would be {verb}, {report.unchanged} unchanged")
    elif report.rows and not report.written:
        click.echo(f"{file}: nothing new; all {report.rows} rows were already {verb}")
        return
    else:
        click.echo(f"{file}: {report.rows} rows; {report.written} {verb}, "
                   f"{report.unchanged} unchanged")
    rows = [{_GROUP[report.what]: r["group"], verb: r["written"], "unchanged": r["unchanged"]}
            for r in summary_rows(report)]
    if rows:
        emit(rows, "table", [_GROUP[report.what], verb, "unchanged"])


@cli.group("import")
def import_group() -> None:
    """Import the peildatum overview from CSV, XLSX or JSON Lines: clients or places.

    \b
    Example:
      zov import clients overzicht-1-april-2023.xlsx --dry-run
      zov import places leefhuisplaatsen.csv
    """


@import_group.command("clients")
@click.argument("file", type=FILE)
@click.option("--several-paths", is_flag=True,
              help="allow a ref already registered for another hulpvorm (a client in two "
                   "care types)")
@_bulk_options
@pass_session
def import_clients(session: Session, file: Path, several_paths: bool, fmt: str, sheet, dry_run,
                   by) -> None:
    """Register client paths from the peildatum overview, all rows or none.

    Columns: ref, hulpvorm, gemeente, arrangements (several separated by ';'),
    arrangement_end, and optionally cohort, registered_on (default: the plan's peildatum),
    note, by. Dutch headers work too (referentie, arrangement(en), einddatum_arrangement,
    datum). Rows already registered with the same details are left unchanged.

    \b
    Example:
      zov import clients overzicht.csv --dry-run
      zov import clients overzicht.xlsx --sheet MKD
    """
    from transfers.bulk import CLIENT_COLUMNS
    from transfers.bulk import import_clients as run

    _run_bulk(session, file, sheet, CLIENT_COLUMNS, run, by, fmt, dry_run=dry_run,
              several_paths=several_paths)


@import_group.command("places")
@click.argument("file", type=FILE)
@_bulk_options
@pass_session
def import_places(session: Session, file: Path, fmt: str, sheet, dry_run, by) -> None:
    """Register Leefhuis places, all rows or none.

    Columns: place, leefhuis, occupied (yes/no, ja/nee), ref (the client in an occupied
    place), and optionally registered_on, note, by. An empty `occupied` cell means occupied
    when a ref is given.

    \b
    Example:
      zov import places leefhuisplaatsen.csv
    """
    from transfers.bulk import PLACE_COLUMNS
    from transfers.bulk import import_places as run

    _run_bulk(session, file, sheet, PLACE_COLUMNS, run, by, fmt, dry_run=dry_run)


@cli.command("apply")
@click.argument("file", type=FILE)
@_bulk_options
@pass_session
def apply_sheet(session: Session, file: Path, fmt: str, sheet, dry_run, by) -> None:
    """Append events from a sheet, one row one event, in file order; all rows or none.

    Columns: ref, hulpvorm (only needed when the ref has several paths), event, on, and per
    event: triage → outcome; assign → combinatie [aanbieder, planned]; plan-handover →
    planned; handover; close → reason; amend → gemeente/arrangements/arrangement_end/cohort;
    correct → voids (event number), reason. Leefhuis places (column place): place-decide →
    combinatie [aanbieder]; place-keep; place-transfer; place-occupy → ref; place-vacate;
    place-correct → voids, reason. Optional: note, by. A row that is already in the log
    (same event, date and details) is left unchanged, so a sheet can be applied again.

    \b
    Example:
      zov apply gebeurtenissen-mei.xlsx --dry-run
      zov apply events.csv
    """
    from transfers.bulk import EVENT_COLUMNS, apply_events

    _run_bulk(session, file, sheet, EVENT_COLUMNS, apply_events, by, fmt, dry_run=dry_run)


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True, help="jsonl (restorable) or csv (for reading in Excel)")
@click.option("-o", "--output", type=OUTPUT, help="write to this file [default: standard output]")
@pass_session
def export(session: Session, fmt: str, output: Path | None) -> None:
    """Export the whole event log in recording order.

    JSON Lines: one object per event with id, stream, version, topic, on, recorded_at, by,
    payload (the event's fields) and state (the stored bytes, for `zov restore`). CSV has the
    same columns without state, with payload as JSON text.

    \b
    Example:
      zov export -o zov-2023-12-31.jsonl
      zov export --format csv -o log.csv
    """
    from transfers.archive import FIELDS, export_records, jsonl_line

    records = export_records(session.tracker)

    def write(out: Any) -> None:
        if fmt == "jsonl":
            for record in records:
                out.write(jsonl_line(record) + "\n")
            return
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for record in records:
            writer.writerow([csv_safe(_csv_cell(record[f])) for f in FIELDS])

    if output is None:
        write(sys.stdout)
        return
    # A CSV file gets a BOM so that Excel reads its UTF-8 (ë, ï) right; stdout stays plain.
    # Written beside the target and renamed at the end: a failed export leaves no half file.
    partial = output.with_name(output.name + ".partial")
    try:  # owner-only: an export holds every reference and note in plain text
        os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
        with open(partial, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8",
                  newline="") as out:
            write(out)
        os.replace(partial, output)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


@cli.command("restore")
@click.argument("file", type=FILE)
@pass_session
def restore(session: Session, file: Path) -> None:
    """Restore a JSON Lines export into an empty store: the identical log, all or nothing.

    Events are written exactly as they were stored, with their recording times; nothing is
    re-run. A store that holds any event (even just a plan) is refused.

    \b
    Example:
      zov --db sqlite:///restored.sqlite restore zov-2023-12-31.jsonl
    """
    from transfers.archive import read_export, refuse_non_empty
    from transfers.archive import restore as run

    tracker = session.open(create=True)
    refuse_non_empty(tracker)
    events, errors = read_export(tracker, file)
    for error in errors:
        click.echo(error.render(file.name), err=True)
    if errors:
        raise click.ClickException(f"{file.name}: {len(errors)} bad lines; nothing was restored")
    count = run(tracker, events)
    click.echo(f"restored {count} events from {file.name} into {tracker.store.display}")


@cli.command("backup")
@click.argument("file", type=OUTPUT)
@pass_session
def backup(session: Session, file: Path) -> None:
    """Copy a SQLite store to FILE, consistently, while others keep working.

    Uses SQLite's online backup; for PostgreSQL use pg_dump.

    \b
    Example:
      zov backup ~/backups/zov-$(date +%F).sqlite
    """
    from transfers.archive import backup_sqlite
    from transfers.store import parse_store_url

    target = backup_sqlite(parse_store_url(session.db), file)
    size = target.stat().st_size
    click.echo(f"backup written to {target} ({size / 1_000_000:.1f} MB)")

