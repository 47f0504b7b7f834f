"""Bulk import and event sheets through the tracker, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import gc

import pytest

from transfers import bulk
from transfers.bulk import (
    CLIENT_COLUMNS,
    EVENT_COLUMNS,
    PLACE_COLUMNS,
    apply_events,
    import_clients,
    import_places,
)
from transfers.path import path_id
from transfers.sheets import open_sheet
from transfers.vocab import Stage

CLIENTS = ["ref", "hulpvorm", "gemeente", "arrangements", "arrangement_end", "cohort"]
EVENTS = ["ref", "hulpvorm", "event", "on", "outcome", "combinatie", "aanbieder", "planned",
          "reason", "voids", "gemeente", "note"]


def sheet(tmp_path, name, columns, rows, kinds):
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)
    return open_sheet(path, kinds)


def clients(tmp_path, rows, name="clients.csv"):
    return sheet(tmp_path, name, CLIENTS, rows, CLIENT_COLUMNS)


def events(tmp_path, rows, name="events.csv"):
    padded = [row + [""] * (len(EVENTS) - len(row)) for row in rows]
    return sheet(tmp_path, name, EVENTS, padded, EVENT_COLUMNS)


def count(tracker):
    return tracker.recorder.max_notification_id() or 0


OVERVIEW = [
    ["ZL-1", "MKD", "Stein", "MKD", "31-12-2023", "JENS"],
    ["ZL-2", "db xtra", "sittard", "Begeleiding Individueel; Behandeling Groep", "2023-07-31",
     ""],
    ["ZL-3", "Echtscheidingenhulp", "Gulpen", "BOR 2-3/vrijwillig/Rechtbank", "", ""],
]


def test_an_overview_registers_every_path_and_counts_per_hulpvorm(tracker, tmp_path):
    report = import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    assert (report.rows, report.written, report.unchanged, report.errors) == (3, 3, 0, [])
    assert {g: n["written"] for g, n in report.groups.items()} == {
        "MKD": 1, "DB Xtra": 1, "Echtscheidingenhulp": 1}
    path = tracker.path("ZL-2")
    assert (path.state.gemeente, path.state.arrangements) == (
        "Sittard-Geleen", ("Begeleiding Individueel", "Behandeling Groep"))
    assert path.state.registered_on == tracker.plan.peildatum
    assert path.steps[0].by == "anna"


def test_importing_the_same_file_again_registers_nothing(tracker, tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    before = count(tracker)
    report = import_clients(tracker, clients(tmp_path, OVERVIEW), "bert")
    assert (report.written, report.unchanged, report.errors) == (0, 3, [])
    assert count(tracker) == before


def test_a_different_gemeente_is_an_error_pointing_to_amend_not_an_overwrite(tracker, tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    before = count(tracker)
    changed = [OVERVIEW[0][:2] + ["Beek"] + OVERVIEW[0][3:], *OVERVIEW[1:]]
    report = import_clients(tracker, clients(tmp_path, changed), "anna")
    assert [(e.line, e.column) for e in report.errors] == [(2, "gemeente")]
    assert "already registered in the store with gemeente 'Stein', not 'Beek'" in \
        report.errors[0].message
    assert "zov amend ZL-1 --hulpvorm 'MKD' --gemeente 'Beek'" in report.errors[0].message
    assert count(tracker) == before


def test_reimporting_the_original_after_an_amendment_is_still_unchanged(tracker, tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    tracker.amend("ZL-1", "anna", gemeente="Beek")
    report = import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    assert (report.unchanged, report.errors) == (3, [])


def test_a_ref_known_for_another_hulpvorm_needs_several_paths(tracker, tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    second = [["ZL-1", "DB Xtra", "Stein", "Begeleiding Individueel", "", ""]]
    report = import_clients(tracker, clients(tmp_path, second, "second.csv"), "anna")
    assert [(e.column, "--several-paths" in e.message) for e in report.errors] == [
        ("hulpvorm", True)]
    report = import_clients(tracker, clients(tmp_path, second, "second.csv"), "anna",
                            several_paths=True)
    assert report.written == 1
    assert [p.hulpvorm for p in tracker.paths_of("ZL-1")] == ["MKD", "DB Xtra"]


def test_one_bad_row_among_good_ones_writes_nothing_and_names_all_problems(tracker, tmp_path):
    rows = [*OVERVIEW,
            ["123456782", "MKD", "Amsterdam", "MKD", "31-13-2023", "Klas 9"],
            ["ZL-5", "MKD", "Stein", "MKD", "", ""]]
    before = count(tracker)
    report = import_clients(tracker, clients(tmp_path, rows), "anna")
    assert sorted((e.line, e.column) for e in report.errors) == [
        (5, "arrangement_end"), (5, "cohort"), (5, "gemeente"), (5, "ref")]
    assert report.bad_rows == 1
    assert count(tracker) == before
    assert tracker.paths_of("ZL-1") == []


def test_the_same_path_twice_in_a_file_is_unchanged_or_a_conflict(tracker, tmp_path):
    report = import_clients(tracker, clients(tmp_path, [OVERVIEW[0], OVERVIEW[0]]), "anna")
    assert (report.written, report.unchanged) == (1, 1)
    first = ["ZL-7", *OVERVIEW[0][1:]]
    conflict = [first, first[:2] + ["Beek"] + first[3:]]
    report = import_clients(tracker, clients(tmp_path, conflict, "other.csv"), "anna")
    assert "ZL-7 (MKD) is already registered in line 2 of this file with gemeente 'Stein'" \
        in report.errors[0].message


def test_a_dry_run_checks_everything_and_writes_nothing(tracker, tmp_path):
    before = count(tracker)
    report = import_clients(tracker, clients(tmp_path, OVERVIEW), "anna", dry_run=True)
    assert (report.dry_run, report.written, report.errors) == (True, 3, [])
    assert count(tracker) == before


YEAR = [
    ["ZL-1", "", "triage", "2-5-2023", "transfer"],
    ["ZL-1", "", "assign", "2023-06-12", "", "KvD", "mutsaersstichting", "2023-09-01"],
    ["ZL-1", "", "plan-handover", "2023-08-01", "", "", "", "2023-10-02"],
    ["ZL-1", "", "handover", "2023-10-02"],
    ["ZL-1", "", "close", "2023-10-03", "", "", "", "", "transferred"],
    ["ZL-2", "DB Xtra", "Triage", "02-05-2023", "continue"],
    ["ZL-3", "", "amend", "", "", "", "", "", "", "", "Gulpen-Wittem"],
]


def test_an_event_sheet_runs_the_tracker_commands_in_file_order(tracker, tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    report = apply_events(tracker, events(tmp_path, YEAR), "bert")
    assert (report.written, report.unchanged, report.errors) == (6, 1, [])
    path = tracker.path("ZL-1")
    assert path.stage is Stage.CLOSED
    assert (path.state.combinatie, path.state.aanbieder, path.state.planned.isoformat()) == (
        "Kracht van Dichtbij", "Mutsaersstichting", "2023-10-02")
    assert tracker.path("ZL-2").stage is Stage.TRIAGED


def test_applying_a_sheet_again_is_unchanged_and_does_not_revive_voided_steps(tracker,
                                                                               tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    apply_events(tracker, events(tmp_path, YEAR), "bert")
    tracker.correct("ZL-1", 6, "closed too early", "anna")
    before = count(tracker)
    report = apply_events(tracker, events(tmp_path, YEAR), "bert")
    assert (report.written, report.unchanged, report.errors) == (0, 7, [])
    assert count(tracker) == before
    assert tracker.path("ZL-1").stage is Stage.HANDED_OVER


def test_a_refused_event_is_reported_with_the_rule_and_later_rows_point_back(tracker,
                                                                              tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    before = count(tracker)
    rows = [["ZL-1", "", "handover", "2023-10-02"],
            ["ZL-1", "", "close", "2023-10-03", "", "", "", "", "transferred"],
            ["ZL-2", "", "triage", "2023-05-02", "continue"]]
    report = apply_events(tracker, events(tmp_path, rows), "bert")
    assert [(e.line, e.column) for e in report.errors] == [(2, "event"), (3, "event")]
    assert "warm handover needs a receiving party first" in report.errors[0].message
    assert "(line 2 failed earlier for the same ZL-1 (MKD))" in report.errors[1].message
    assert count(tracker) == before


def test_event_rows_need_their_cells_and_a_known_path(tracker, tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    tracker.register("ZL-2", "MKD", "Stein", "anna")
    rows = [["ZL-9", "", "triage", "2023-05-02", "transfer"],
            ["ZL-2", "", "triage", "2023-05-02", "transfer"],
            ["ZL-1", "", "triage", "", "sideways"],
            ["ZL-1", "", "dance", "2023-05-02"],
            ["ZL-1", "", "triage", "2099-01-01", "transfer"],
            ["ZL-1", "", "correct", "", "", "", "", "", "", "x"]]
    report = apply_events(tracker, events(tmp_path, rows), "bert")
    found = {(e.line, e.column): e.message for e in report.errors}
    assert "no client path 'ZL-9'" in found[2, "ref"]
    assert "ZL-2 has paths for MKD and DB Xtra; fill in the hulpvorm column" in \
        found[3, "hulpvorm"]
    assert "write the date it happened" in found[4, "on"]
    assert "unknown outcome 'sideways'" in found[4, "outcome"]
    assert "unknown event 'dance'" in found[5, "event"]
    assert "in the future" in found[6, "on"]
    assert "not an event number" in found[7, "voids"]
    assert "write why the event was wrong" in found[7, "reason"]


def test_corrections_in_a_sheet_void_events_and_are_unchanged_the_second_time(tracker,
                                                                              tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    apply_events(tracker, events(tmp_path, YEAR[:4]), "bert")
    fix = [["ZL-1", "", "correct", "", "", "", "", "", "handover was later", "5"],
           ["ZL-1", "", "handover", "2023-10-09"]]
    assert apply_events(tracker, events(tmp_path, fix, "fix.csv"), "bert").written == 2
    again = apply_events(tracker, events(tmp_path, fix, "fix.csv"), "bert")
    assert (again.written, again.unchanged) == (0, 2)
    assert tracker.path("ZL-1").state.handover_on.isoformat() == "2023-10-09"


def test_places_are_imported_and_their_events_applied(tracker, tmp_path):
    places = sheet(tmp_path, "places.csv", ["plaats", "leefhuis", "bezet", "referentie"],
                   [["LH-A-01", "LH-A", "ja", "W001"], ["LH-E-01", "lh-e", "nee", ""],
                    ["LH-E-02", "LH-E", "", ""], ["LH-A-02", "LH-A", "", "W002"]],
                   PLACE_COLUMNS)
    report = import_places(tracker, places, "anna")
    assert (report.written, report.errors) == (4, [])
    assert tracker.place("LH-A-02").state.occupied
    rows = [["", "", "place-decide", "2023-05-10", "", "HOOM"],
            ["", "", "place-transfer", "2023-05-10"],
            ["W003", "", "place-occupy", "2023-06-01"]]
    path = tmp_path / "p.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["ref", "hulpvorm", "event", "on", "outcome", "combinatie", "place"])
        for row, place in zip(rows, ["LH-E-01", "LH-E-01", "LH-E-02"], strict=True):
            writer.writerow(row + [""] * (6 - len(row)) + [place])
    report = apply_events(tracker, open_sheet(path, EVENT_COLUMNS), "anna")
    assert (report.written, report.errors) == (3, [])
    assert {g: n["written"] for g, n in report.groups.items()} == {"Leefhuizen": 3}
    assert tracker.place("LH-E-01").state.combinatie == "HOOM"
    assert tracker.place("LH-E-02").state.ref == "W003"
    # The original overview again: as registered then, so unchanged (LH-E-02 is occupied now).
    again = import_places(tracker, open_sheet(tmp_path / "places.csv", PLACE_COLUMNS), "anna")
    assert (again.written, again.unchanged, again.errors) == (0, 4, [])
    moved = sheet(tmp_path, "moved.csv", ["place", "leefhuis", "occupied", "ref"],
                  [["LH-E-02", "LH-F", "yes", "W004"]], PLACE_COLUMNS)
    report = import_places(tracker, moved, "anna")
    assert [e.column for e in report.errors] == ["leefhuis", "ref"]
    assert "cannot move to another Leefhuis" in report.errors[0].message


@pytest.mark.parametrize("per_line", [0, 10**9])
def test_reading_the_log_once_or_looking_up_each_stream_gives_the_same_answers(
        tracker, tmp_path, monkeypatch, per_line):
    # 0: every file is small against the store, so each stream is looked up; 10**9: every
    # file is big, so the one-pass index (clients) and the one-pass rebuild of all streams
    # (events) are used.
    monkeypatch.setattr(bulk, "EVENTS_PER_LINE_READ", per_line)
    import_clients(tracker, clients(tmp_path, OVERVIEW[:2]), "anna")
    report = import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    assert (report.written, report.unchanged) == (1, 2)
    report = apply_events(tracker, events(tmp_path, YEAR), "bert")
    assert (report.written, report.unchanged, report.errors) == (6, 1, [])
    again = apply_events(tracker, events(tmp_path, YEAR), "bert")
    assert (again.written, again.unchanged) == (0, 7)
    assert tracker.path("ZL-1").stage is Stage.CLOSED


@pytest.mark.parametrize("per_line", [0, 100])
def test_a_sheet_reads_the_streams_it_names_a_few_queries_for_all(tracker, tmp_path,
                                                                  monkeypatch, per_line):
    # 0: the store is big against every file, so no index of it is read; 100: the index is
    # read, but the sheet is too short for the one-pass rebuild. Either way the existing
    # streams a part of the sheet names are read together (Tracker.preload): on PostgreSQL
    # one by one took 1-1.5 ms each, 9 s to import a 6,000-client overview again.
    monkeypatch.setattr(bulk, "EVENTS_PER_LINE_READ", per_line)
    many = [[f"ZL-{i}", "MKD", "Stein", "MKD", "31-12-2023", ""] for i in range(1, 1201)]
    import_clients(tracker, clients(tmp_path, many), "anna")
    streams, keys = [], []
    real_select, real_load = tracker.recorder.select_events, tracker.mapper.keys.load
    monkeypatch.setattr(tracker.recorder, "select_events",
                        lambda *a, **k: streams.append(a) or real_select(*a, **k))
    monkeypatch.setattr(tracker.mapper.keys, "load",
                        lambda *a, **k: keys.append(a) or real_load(*a, **k))
    again = import_clients(tracker, clients(tmp_path, many, "again.csv"), "anna")
    assert (again.written, again.unchanged, again.errors) == (0, 1200, [])
    triage = [[f"ZL-{i}", "", "triage", "2023-05-02", "transfer"] for i in range(1, 1201, 2)]
    report = apply_events(tracker, events(tmp_path, triage), "bert")
    assert (report.written, report.errors) == (600, [])
    assert streams == [] and len(keys) <= 6  # 3 parts of 500 rows, then 2
    monkeypatch.undo()
    assert [tracker.path(f"ZL-{i}").stage for i in (1, 2, 1199)] == [
        Stage.TRIAGED, Stage.REGISTERED, Stage.TRIAGED]


def test_preloaded_streams_are_the_ones_the_repository_gives(tracker, tmp_path):
    import_clients(tracker, clients(tmp_path, OVERVIEW), "anna")
    apply_events(tracker, events(tmp_path, YEAR + [["ZL-1", "", "correct", "", "", "", "",
                                                    "", "wrong day", "6"]]), "bert")
    tracker.register_place("LH-A-01", "LH-A", "anna", occupied=True, ref="W001")
    ids = [tracker.path("ZL-1").id, tracker.path("ZL-2").id, tracker.place("LH-A-01").id]
    with tracker.batch():
        found = tracker.preload(ids + [path_id("ZL-404", "MKD")])
        preloaded = [tracker._get(i) for i in ids]
    assert found == set(ids)
    for stream, stored in zip(preloaded, [tracker.repository.get(i) for i in ids],
                              strict=True):
        assert (stream.version, stream.state, stream.steps) == (
            stored.version, stored.state, stored.steps)
    # the close (event 6) voided, the place's occupant sealed: folded as the repository folds
    assert preloaded[0].state.stage is Stage.HANDED_OVER and preloaded[2].state.ref == "W001"


class _Collecting:
    """A progress that runs a full collection every few rows and keeps what each found."""

    def __init__(self) -> None:
        self.found: list[int] = []

    def advance(self, line: int) -> None:
        if line % 7 == 0:
            self.found.append(gc.collect())

    def writing(self, events: int) -> None:
        pass


def _left_behind(run):
    """A run's report, and how many unreachable objects a collection finds right after it
    (the collector stays off in between, as a process that exits next would leave it)."""
    gc.collect()
    gc.disable()
    try:
        report = run()
        return report, gc.collect()
    finally:
        gc.enable()


def test_no_run_leaves_cyclic_garbage_neither_row_by_row_nor_at_its_end(tracker, tmp_path):
    # A run pauses the collector until it ends (transfers.memory.collector_paused): garbage
    # that only a collection frees would pile up for the whole file, and garbage in a cycle
    # at the end (say, the run's streams held by a traceback or by a run's own bound
    # methods) waits for a collection that walks all of it, at the latest when the process
    # exits (half a second for 20,000 clients). Rows written, unchanged and refused (bad
    # cells and rules), runs abandoned and written, the first save of a store (no key table).
    many = [[f"ZL-{i}", "MKD", "Stein", "MKD", "31-12-2023", ""] for i in range(4, 20)]
    progress = _Collecting()
    report, left = _left_behind(lambda: import_clients(
        tracker, clients(tmp_path, OVERVIEW + many + [["ZL-0", "XYZ"]]), "anna",
        progress=progress))
    assert report.errors and len(progress.found) == 3 and not any(progress.found)
    assert left == 0
    report, left = _left_behind(lambda: import_clients(
        tracker, clients(tmp_path, OVERVIEW, "overview.csv"), "anna"))
    assert (report.written, left) == (3, 0)
    rows = YEAR * 3 + [["ZL-2", "", "handover", "2023-10-02"], ["ZL-9", "", "close", "x"]] * 9
    progress = _Collecting()
    report, left = _left_behind(lambda: apply_events(
        tracker, events(tmp_path, rows), "bert", progress=progress))
    assert report.errors and report.unchanged
    assert len(progress.found) == len(rows) // 7 and not any(progress.found)
    assert left == 0
    progress = _Collecting()
    report, left = _left_behind(lambda: apply_events(
        tracker, events(tmp_path, YEAR, "again.csv"), "bert", progress=progress))
    assert (report.written, report.errors, progress.found, left) == (6, [], [0], 0)
