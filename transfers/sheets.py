"""Reading tables as they come out of Excel: CSV, XLSX and JSON Lines, one row a record.

Pure reading, no domain rules: the caller names the columns it knows (with aliases), this
module finds the header, the delimiter and the encoding, and yields each non-empty row as
{canonical column: stripped text} with the line number a caseworker sees in Excel.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain
from pathlib import Path
from typing import Any

from transfers.dates import parse_date
from transfers.errors import InvalidValue

DELIMITERS = (";", ",", "\t")
HEADER_SEARCH = 10  # a title row or two above the header is common in overviews
# Whitespace Excel leaves around values: non-breaking and zero-width spaces, a stray BOM.
_JUNK = "\u00a0\u2007\u202f\u200b\ufeff"
_STRIP = " \t\r\n" + _JUNK
_MIDNIGHT = re.compile(r"^(.*\d)[ T]0?0:00(:00)?$")
_SEP_HINT = re.compile(r"^sep=(.)\r?\n")
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"


class SheetError(InvalidValue):
    """The file cannot be read as a table at all (wrong type, no header, missing column)."""


@dataclass(frozen=True)
class Column:
    """A column the caller understands: canonical name, accepted header aliases, required?"""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Row:
    """One non-empty row: its line (as Excel or an editor numbers it) and its cells."""

    line: int
    cells: dict[str, str]
    problem: str | None = None  # the row could not be read (a JSON line that is no object)

    def get(self, column: str) -> str | None:
        return self.cells.get(column)


@dataclass
class Sheet:
    """A table opened for reading; iterate `rows()` once."""

    name: str
    kind: str  # csv, xlsx or jsonl
    columns: list[str]  # canonical columns the header holds
    ignored: list[str] = field(default_factory=list)  # headers not understood
    total_lines: int | None = None  # for progress: lines in the file, roughly
    encoding: str | None = None
    delimiter: str | None = None
    _rows: Iterator[Row] | None = None

    def rows(self) -> Iterator[Row]:
        if self._rows is None:
            raise RuntimeError("rows() can be read only once")
        rows, self._rows = self._rows, None
        return rows


def header_key(text: str) -> str:
    """The matching key of a header: no accents, case, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum())


def clean_cell(value: Any) -> str:
    """A cell as stripped text: Excel dates as ISO, whole numbers without '.0'."""
    if type(value) is str:
        return value.strip(_STRIP)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "; ".join(clean_cell(v) for v in value)
    return str(value).strip(_STRIP)


def cell_date(text: str) -> date:
    """A date cell: 2023-07-31, 31-7-2023, 31-07-2023, also with a midnight time after it."""
    m = _MIDNIGHT.match(text.strip())
    return parse_date(m.group(1) if m else text)


_YES = {"yes", "y", "ja", "j", "true", "waar", "1", "x", "bezet", "occupied"}
_NO = {"no", "n", "nee", "false", "onwaar", "0", "leeg", "empty", "vrij"}


def cell_flag(text: str) -> bool:
    """A yes/no cell: yes/no, ja/nee, true/false, 1/0, x, bezet/leeg."""
    key = header_key(text)
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise InvalidValue(f"'{text}' is not yes or no; write yes/no (or ja/nee)")


def split_list(text: str) -> list[str]:
    """Several values in one cell, separated by ';' or line breaks (Alt+Enter in Excel)."""
    return [part.strip() for part in re.split(r"[;\n]", text) if part.strip()]


# -- opening ---------------------------------------------------------------------------------


def open_sheet(path: Path, columns: Sequence[Column], sheet: str | None = None) -> Sheet:
    """Open a CSV, XLSX or JSONL file; refuse with one sentence if it is not such a table."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise SheetError(f"{path.name}: cannot be read ({exc.strerror})") from None
    suffix = path.suffix.casefold()
    if head == _XLS_MAGIC or suffix == ".xls":
        raise SheetError(f"{path.name}: an old .xls workbook; save it from Excel as .xlsx "
                         "(Excel-werkmap) or as CSV")
    if head == _XLSX_MAGIC or suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(path, columns, sheet)
    if sheet:
        raise SheetError(f"{path.name}: --sheet is only for .xlsx workbooks")
    data = path.read_bytes()
    text, encoding = _decode(path.name, data)
    if suffix in (".jsonl", ".ndjson") or text.lstrip().startswith("{"):
        return _open_jsonl(path.name, text, encoding, columns)
    return _open_csv(path.name, text, encoding, columns)


def _decode(name: str, data: bytes) -> tuple[str, str]:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SheetError(f"{name}: not a text file; use CSV, .xlsx or JSON Lines")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"  # Excel's "Unicode text"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        raise SheetError(f"{name}: neither UTF-8 nor Windows-1252 text; save it from Excel as "
                         "'CSV UTF-8'") from None


class _Header:
    """Maps the cells of a header row onto canonical columns."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = columns
        self.by_key: dict[str, str] = {}
        for c in columns:
            for alias in (c.name, *c.aliases):
                self.by_key[header_key(alias)] = c.name

    def recognised(self, cells: Sequence[str]) -> int:
        return len({self.by_key[k] for k in map(header_key, cells) if k in self.by_key})

    def has_required(self, cells: Sequence[str]) -> bool:
        found = {self.by_key.get(header_key(c)) for c in cells}
        return all(c.name in found for c in self.columns if c.required)

    def resolve(self, name: str, cells: Sequence[str]) -> tuple[list[str | None], list[str]]:
        """Per header cell its canonical column (or None), and the ignored headers."""
        mapped: list[str | None] = []
        seen: dict[str, str] = {}
        ignored = []
        for raw in cells:
            text = clean_cell(raw)
            canonical = self.by_key.get(header_key(text)) if text else None
            if canonical is None:
                if text:
                    ignored.append(text)
                mapped.append(None)
                continue
            if canonical in seen:
                raise SheetError(f"{name}: columns '{seen[canonical]}' and '{text}' both mean "
                                 f"{canonical}; keep one")
            seen[canonical] = text
            mapped.append(canonical)
        missing = [c.name for c in self.columns if c.required and c.name not in seen]
        if missing:
            raise SheetError(
                f"{name}: missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} in the header row; the columns are "
                f"{', '.join(c.name for c in self.columns)}")
        return mapped, ignored

    def expected(self) -> str:
        return ", ".join(c.name for c in self.columns)


def _find_header(name: str, rows: list[tuple[int, list[str]]], header: _Header) -> int:
    """Index of the header among the first rows: the first that has the required columns."""
    for i, (_, cells) in enumerate(rows):
        if header.has_required(cells):
            return i
    if rows and header.recognised(rows[0][1]):
        return 0  # header row with some columns: resolve() names the missing ones
    raise SheetError(f"{name}: found no header row with the columns {header.expected()} "
                     "(Dutch names work too, e.g. referentie, gemeente)")


def _cells(mapped: Sequence[str | None], values: Sequence[Any]) -> dict[str, str]:
    out = {}
    for canonical, value in zip(mapped, values, strict=False):  # short rows are fine
        if canonical is not None and value is not None:
            text = value.strip(_STRIP) if type(value) is str else clean_cell(value)
            if text:
                out[canonical] = text
    return out


def _open_csv(name: str, text: str, encoding: str, columns: Sequence[Column]) -> Sheet:
    header = _Header(columns)
    delimiter = _sniff_delimiter(text, header)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: Iterator[tuple[int, list[str]]] = _numbered(name, reader)
    first: list[tuple[int, list[str]]] = []
    for line, cells in records:
        if any(clean_cell(c) for c in cells):
            first.append((line, cells))
            if len(first) == HEADER_SEARCH:
                break
    at = _find_header(name, first, header)
    mapped, ignored = header.resolve(name, first[at][1])

    width = len(mapped)

    def rows() -> Iterator[Row]:
        for line, cells in chain(first[at + 1:], records):
            if len(cells) > width and any(clean_cell(c) for c in cells[width:]):
                yield Row(line, {}, f"{len(cells)} cells where the header has {width} columns; "
                                    f"a value holding '{delimiter}' must be in quotes")
                continue
            found = _cells(mapped, cells)
            if found:
                yield Row(line, found)

    return Sheet(name, "csv", [c for c in mapped if c], ignored, text.count("\n") + 1,
                 encoding, delimiter, rows())


def _numbered(name: str, reader: Any) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each starts on (a quoted cell may span lines)."""
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise SheetError(f"{name}:{start}: not valid CSV ({exc}); nothing was written") from None


def _sniff_delimiter(text: str, header: _Header) -> str:
    """Excel's `sep=;` hint, else the delimiter under which the header has most known columns."""
    if m := _SEP_HINT.match(text):
        return m.group(1)
    lines = [ln for ln in text.splitlines()[:HEADER_SEARCH] if ln.strip()]
    best, best_score = DELIMITERS[0], (-1, -1)
    for delimiter in DELIMITERS:
        score = (-1, -1)
        for ln in lines:
            try:
                cells = next(csv.reader([ln], delimiter=delimiter), [])
            except csv.Error:  # the reader proper reports it, with its line
                continue
            score = max(score, (header.recognised(cells), len(cells)))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _open_jsonl(name: str, text: str, encoding: str, columns: Sequence[Column]) -> Sheet:
    header = _Header(columns)
    ignored: list[str] = []  # filled while reading: JSON Lines have no header row

    def rows() -> Iterator[Row]:
        for line, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield Row(line, {}, f"not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield Row(line, {}, "not a JSON object; write one {\"column\": value} per line")
                continue
            cells = {}
            for key, value in record.items():
                canonical = header.by_key.get(header_key(str(key)))
                if canonical is None:
                    if str(key) not in ignored:
                        ignored.append(str(key))
                    continue
                value = clean_cell(value)
                if value:
                    cells[canonical] = value
            if cells:
                yield Row(line, cells)

    return Sheet(name, "jsonl", [c.name for c in columns], ignored, text.count("\n") + 1,
                 encoding, None, rows())


def _open_xlsx(path: Path, columns: Sequence[Column], sheet: str | None) -> Sheet:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    name = path.name
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise SheetError(f"{name}: not a readable .xlsx workbook ({exc})") from None
    if sheet:
        if sheet not in workbook.sheetnames:
            raise SheetError(f"{name}: no sheet '{sheet}'; the sheets are "
                             f"{', '.join(workbook.sheetnames)}")
        worksheet = workbook[sheet]
    else:
        worksheet = workbook.worksheets[0]
    header = _Header(columns)
    records = ((line, list(values)) for line, values in
               enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1))
    first: list[tuple[int, list[Any]]] = []
    for line, values in records:
        if any(clean_cell(v) for v in values):
            first.append((line, [clean_cell(v) for v in values]))
            if len(first) == HEADER_SEARCH:
                break
    if not first:
        workbook.close()
        raise SheetError(f"{name}: sheet '{worksheet.title}' is empty")
    at = _find_header(f"{name} (sheet {worksheet.title})", first, header)
    mapped, ignored = header.resolve(name, first[at][1])

    def rows() -> Iterator[Row]:
        try:
            for line, values in chain(first[at + 1:], records):
                found = _cells(mapped, values)
                if found:
                    yield Row(line, found)
        finally:
            workbook.close()

    return Sheet(name, "xlsx", [c for c in mapped if c], ignored, worksheet.max_row, None,
                 None, rows())
