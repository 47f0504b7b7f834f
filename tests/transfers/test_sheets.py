"""Reading files as Excel writes them: pure, no store."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from transfers.bulk import CLIENT_COLUMNS, EVENT_COLUMNS
from transfers.errors import InvalidValue
from transfers.sheets import (
    Column,
    SheetError,
    cell_date,
    cell_flag,
    clean_cell,
    open_sheet,
    split_list,
)

COLUMNS = (Column("ref", ("referentie",), required=True), Column("gemeente", required=True),
           Column("cohort"))


def rows_of(path, columns=COLUMNS, **kw):
    sheet = open_sheet(path, columns, **kw)
    return sheet, list(sheet.rows())


def test_a_semicolon_windows_1252_csv_without_bom_is_read(tmp_path):
    path = tmp_path / "overzicht.csv"
    path.write_bytes("referentie;gemeente;cohort\r\nZL-1;Sittard-Geleen;Zorgklas\r\n"
                     "ZL-2;Gulpen-Wittem;Coöperatie\r\n".encode("cp1252"))
    sheet, rows = rows_of(path)
    assert (sheet.kind, sheet.delimiter, sheet.encoding) == ("csv", ";", "windows-1252")
    assert [r.cells for r in rows] == [
        {"ref": "ZL-1", "gemeente": "Sittard-Geleen", "cohort": "Zorgklas"},
        {"ref": "ZL-2", "gemeente": "Gulpen-Wittem", "cohort": "Coöperatie"}]
    assert [r.line for r in rows] == [2, 3]


def test_a_utf8_csv_with_bom_and_commas_is_read(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("\ufeffref,gemeente\nZL-1,Zorgcoöperatie\n".encode())
    sheet, rows = rows_of(path)
    assert (sheet.delimiter, sheet.encoding) == (",", "utf-8-sig")
    assert rows[0].cells == {"ref": "ZL-1", "gemeente": "Zorgcoöperatie"}


def test_stray_spaces_empty_rows_and_title_rows_are_forgiven(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("Overzicht cliënten per 1 april 2023;;\n\n REFERENTIE ; Gemeente \n"
                    " ZL-1 ;\u00a0Stein\u00a0;\n;;\n\nZL-2;Beek;\n;;\n\n", encoding="utf-8")
    _, rows = rows_of(path)
    assert [(r.line, r.cells) for r in rows] == [(4, {"ref": "ZL-1", "gemeente": "Stein"}),
                                                 (7, {"ref": "ZL-2", "gemeente": "Beek"})]


def test_excels_sep_hint_line_sets_the_delimiter(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("sep=,\nref,gemeente\nZL-1,\"Stein; Beek\"\n", encoding="utf-8")
    sheet, rows = rows_of(path)
    assert sheet.delimiter == ","
    assert rows[0].cells["gemeente"] == "Stein; Beek"


def test_a_quoted_cell_over_two_lines_keeps_the_line_numbers_right(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('ref;gemeente;cohort\nZL-1;"Stein\nBeek";x\nZL-2;Vaals;y\n',
                    encoding="utf-8")
    _, rows = rows_of(path)
    assert [r.line for r in rows] == [2, 4]


def test_a_row_with_more_cells_than_the_header_is_a_row_problem(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("ref;gemeente\nZL-1;Stein;Beek\n", encoding="utf-8")
    _, rows = rows_of(path)
    assert rows[0].problem and "must be in quotes" in rows[0].problem


def test_dutch_headers_are_aliases_of_the_canonical_columns(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("Referentie;Hulpvorm;Gemeente;Arrangement(en);Einddatum_arrangement;"
                    "Cohort;Datum;Naam\nZL-1;MKD;Stein;MKD;31-12-2023;JENS;1-4-2023;x\n",
                    encoding="utf-8")
    sheet, rows = rows_of(path, CLIENT_COLUMNS)
    assert sheet.columns == ["ref", "hulpvorm", "gemeente", "arrangements", "arrangement_end",
                             "cohort", "registered_on"]
    assert sheet.ignored == ["Naam"]
    assert rows[0].cells["arrangement_end"] == "31-12-2023"


def test_a_missing_required_column_is_named(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("ref;cohort\nZL-1;x\n", encoding="utf-8")
    with pytest.raises(SheetError, match="missing column gemeente"):
        open_sheet(path, COLUMNS)


def test_two_headers_meaning_the_same_column_are_refused(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("ref;referentie;gemeente\n", encoding="utf-8")
    with pytest.raises(SheetError, match="both mean ref"):
        open_sheet(path, COLUMNS)


def test_a_file_without_any_known_header_says_what_is_expected(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(SheetError, match="no header row with the columns ref, gemeente"):
        open_sheet(path, COLUMNS)


def test_old_xls_and_binary_files_are_refused_with_advice(tmp_path):
    xls = tmp_path / "oud.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(SheetError, match="save it from Excel as .xlsx"):
        open_sheet(xls, COLUMNS)
    binary = tmp_path / "foto.csv"
    binary.write_bytes(b"\x89PNG\x00\x00\x00")
    with pytest.raises(SheetError, match="not a text file"):
        open_sheet(binary, COLUMNS)


def test_an_xlsx_made_by_openpyxl_is_read_with_excel_row_numbers(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Overzicht per 1 april 2023"])
    sheet.append(["Referentie", "Gemeente", "Cohort"])
    sheet.append(["ZL-1", " Stein ", None])
    sheet.append([None, None, None])
    sheet.append(["ZL-2", "Beek", 7.0])
    other = book.create_sheet("Datums")
    other.append(["ref", "gemeente", "cohort"])
    other.append(["ZL-3", datetime(2023, 7, 31), True])
    path = tmp_path / "overzicht.xlsx"
    book.save(path)

    opened, rows = rows_of(path)
    assert opened.kind == "xlsx"
    assert [(r.line, r.cells) for r in rows] == [
        (3, {"ref": "ZL-1", "gemeente": "Stein"}),
        (5, {"ref": "ZL-2", "gemeente": "Beek", "cohort": "7"})]
    _, rows = rows_of(path, sheet="Datums")
    assert rows[0].cells == {"ref": "ZL-3", "gemeente": "2023-07-31", "cohort": "yes"}
    with pytest.raises(SheetError, match="no sheet 'Blad9'; the sheets are Sheet, Datums"):
        open_sheet(path, COLUMNS, sheet="Blad9")


def test_a_file_called_xlsx_that_is_not_a_workbook_is_refused(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SheetError, match="not a readable .xlsx workbook"):
        open_sheet(path, COLUMNS)


def test_json_lines_are_read_with_aliases_and_bad_lines_become_row_problems(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"ref": "ZL-1", "gebeurtenis": "triage", "datum": "2023-05-02", '
                    '"uitkomst": "transfer", "extra": 1}\n\n'
                    '[1, 2]\n{"ref": "ZL-2", "event": "close", "on": null}\n{oops\n',
                    encoding="utf-8")
    sheet, rows = rows_of(path, EVENT_COLUMNS)
    assert sheet.kind == "jsonl"
    assert rows[0].cells == {"ref": "ZL-1", "event": "triage", "on": "2023-05-02",
                             "outcome": "transfer"}
    assert (rows[1].line, rows[1].problem is not None) == (3, True)
    assert rows[2].cells == {"ref": "ZL-2", "event": "close"}
    assert rows[3].line == 5 and "not valid JSON" in rows[3].problem
    assert sheet.ignored == ["extra"]


@pytest.mark.parametrize("text, expected", [
    ("2023-07-31", date(2023, 7, 31)), ("31-7-2023", date(2023, 7, 31)),
    ("31-07-2023", date(2023, 7, 31)), ("31/07/2023", date(2023, 7, 31)),
    ("31-7-2023 00:00", date(2023, 7, 31)), ("2023-07-31 00:00:00", date(2023, 7, 31)),
])
def test_dates_as_excel_writes_them(text, expected):
    assert cell_date(text) == expected


def test_a_date_with_a_real_time_or_nonsense_is_refused():
    with pytest.raises(InvalidValue):
        cell_date("31-7-2023 14:30")
    with pytest.raises(InvalidValue, match="not a date in the calendar"):
        cell_date("31-02-2023")


def test_yes_no_and_lists():
    assert [cell_flag(t) for t in ("Ja", "yes", "X", "1", "bezet")] == [True] * 5
    assert [cell_flag(t) for t in ("nee", "No", "0", "leeg")] == [False] * 4
    with pytest.raises(InvalidValue, match="not yes or no"):
        cell_flag("misschien")
    assert split_list(" BOR 2-3/vrijwillig/Rechtbank ;Begeleiding Individueel;\n") == [
        "BOR 2-3/vrijwillig/Rechtbank", "Begeleiding Individueel"]
    assert clean_cell(3.0) == "3" and clean_cell(3.5) == "3.5"
