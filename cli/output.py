"""Printing rows as an 80-column table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

import click

# Cells Excel would run as a formula start with one of these; CSV output defuses them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def plain(value: Any) -> Any:
    """A JSON-ready value: dates as ISO text, enum members as their stored word."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def cell(value: Any) -> str:
    if value.__class__ is str:  # most cells: nothing to convert
        return value
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def csv_safe(text: str) -> str:
    """Prefix a quote to cells that spreadsheet programs would evaluate as formulas."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], width: int = 80) -> str:
    """Rows as an aligned text table no wider than `width`; long cells are shortened."""
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    while sum(widths) + 2 * (len(widths) - 1) > width and max(widths) > 8:
        widest = widths.index(max(widths))
        widths[widest] -= 1

    def line(values: Sequence[str]) -> str:
        parts = [(v if len(v) <= w else v[: w - 1] + "…").ljust(w)
                 for v, w in zip(values, widths, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def emit(rows: Iterable[Mapping[str, Any]], fmt: str, columns: Sequence[str]) -> None:
    """Print rows in the chosen format: JSON and CSV as the rows come (a whole log's audit
    is not held in memory), a table once all are in (its column widths)."""
    if fmt == "table":
        rows = list(rows)
        click.echo(table(rows, columns) if rows else "(nothing)")
        return
    for text in (_json_parts(rows) if fmt == "json" else _csv_parts(rows, columns)):
        click.echo(text, nl=False)


CHUNK = 1_000  # rows printed at a time


def _json_parts(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The text of json.dumps(list(rows), indent=2) and a newline, a chunk at a time."""
    parts, first = [], True
    for r in rows:
        item = json.dumps(plain(dict(r)), ensure_ascii=False, indent=2).replace("\n", "\n  ")
        parts.append(("[\n  " if first else ",\n  ") + item)
        first = False
        if len(parts) == CHUNK:
            yield "".join(parts)
            parts = []
    parts.append("[]\n" if first else "\n]\n")
    yield "".join(parts)


def _csv_parts(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for n, r in enumerate(rows, 1):
        writer.writerow([csv_safe(cell(r.get(c))) for c in columns])
        if n % CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def emit_one(record: Mapping[str, Any], fmt: str) -> None:
    """Print one record: key/value lines for people, an object for scripts."""
    if fmt == "json":
        click.echo(json.dumps(plain(dict(record)), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        emit([record], "csv", list(record))
    else:
        width = max(len(k) for k in record)
        for key, value in record.items():
            click.echo(f"{key.ljust(width)}  {cell(value)}")

