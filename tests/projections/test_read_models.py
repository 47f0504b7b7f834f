"""The read models on both stores: effective dates, corrections, as-known-at, catch-up."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, date, datetime

import pytest
from support import snapshot

from projections import ReadModels, projector, queries
from transfers.app import Tracker
from transfers.errors import InvalidValue, StoreError
from transfers.vocab import CloseReason, Outcome, Stage

D = date


@pytest.fixture
def open_rm(tracker):
    """open_rm(**options) -> ReadModels on the test's store, closed afterwards."""
    opened = []

    def open_(**options) -> ReadModels:
        rm = ReadModels(tracker, **options)
        opened.append(rm)
        return rm

    yield open_
    for rm in opened:
        rm.close()


def stages(rm, as_of, as_known_at=None, hulpvorm="MKD") -> dict[str, int]:
    row = next(r for r in queries.counts(rm, as_of, as_known_at).rows if r.hulpvorm == hulpvorm)
    return {k: v for k, v in row.as_dict().items() if k in
            ("registered", "triaged", "assigned", "handed_over", "closed") and v}


def now() -> datetime:
    time.sleep(0.002)  # recording times are microseconds apart; keep the cut-off clean
    moment = datetime.now(UTC)
    time.sleep(0.002)
    return moment


def a_full_path(tracker, ref="C-1", gemeente="Stein"):
    tracker.register(ref, "MKD", gemeente, "t", arrangements=["MKD"])
    tracker.triage(ref, Outcome.TRANSFER, "t", on=D(2023, 5, 2))
    tracker.assign(ref, "Kracht van Dichtbij", "t", planned=D(2023, 9, 1), on=D(2023, 6, 1))
    tracker.hand_over(ref, "t", on=D(2023, 9, 1))
    tracker.close_path(ref, CloseReason.TRANSFERRED, "t", on=D(2023, 9, 4))


def test_a_path_counts_in_the_stage_it_had_reached_by_the_as_of_date(tracker, open_rm):
    a_full_path(tracker)
    rm = open_rm()
    assert stages(rm, D(2023, 3, 31)) == {}
    assert stages(rm, D(2023, 4, 1)) == {"registered": 1}
    assert stages(rm, D(2023, 5, 1)) == {"registered": 1}
    assert stages(rm, D(2023, 5, 2)) == {"triaged": 1}
    assert stages(rm, D(2023, 6, 30)) == {"assigned": 1}
    assert stages(rm, D(2023, 9, 1)) == {"handed_over": 1}
    assert stages(rm, D(2024, 1, 1)) == {"closed": 1}
    closed = queries.counts(rm, D(2024, 1, 1)).closed_by_reason
    assert [(r.hulpvorm, r.reason, r.count) for r in closed] == [("MKD", "transferred", 1)]


def test_steps_on_the_same_day_leave_the_path_in_the_last_stage(tracker, open_rm):
    tracker.register("C-1", "MKD", "Stein", "t")
    tracker.triage("C-1", Outcome.TRANSFER, "t", on=D(2023, 5, 2))
    tracker.assign("C-1", "KvD", "t", on=D(2023, 5, 2))
    rm = open_rm()
    assert stages(rm, D(2023, 5, 2)) == {"assigned": 1}
    entered = {m.month: (m.triaged, m.assigned) for m in queries.flow(rm, D(2023, 6, 1)).months}
    assert entered["2023-05"] == (1, 1)


def test_a_voided_event_counts_nowhere(tracker, open_rm):
    a_full_path(tracker)
    for version in (5, 4):
        tracker.correct("C-1", version, "logged on the wrong client", "t")
    rm = open_rm()
    assert stages(rm, D(2024, 1, 1)) == {"assigned": 1}
    assert [m.handed_over for m in queries.flow(rm, D(2024, 1, 1)).months] == [0] * 10
    tracker.register("C-2", "MKD", "Beek", "t")
    tracker.correct("C-2", 1, "not a client of ours", "t")
    rm.catch_up()
    assert stages(rm, D(2024, 1, 1)) == {"assigned": 1}
    assert [p.ref for p in queries.paths(rm, D(2024, 1, 1))] == ["C-1"]
    assert queries.flow(rm, D(2024, 1, 1)).months[0].registered == 1


def test_as_known_at_answers_with_the_events_recorded_by_then(tracker, open_rm):
    tracker.register("C-1", "MKD", "Stein", "t")
    tracker.triage("C-1", Outcome.TRANSFER, "t", on=D(2023, 5, 2))
    memo_sent = now()
    # logged late: the assignment happened in June, recorded after the memo went out
    tracker.assign("C-1", "KvD", "t", on=D(2023, 6, 1))
    tracker.register("C-3", "MKD", "Beek", "t")
    rm = open_rm()
    assert stages(rm, D(2023, 9, 30), memo_sent) == {"triaged": 1}
    assert stages(rm, D(2023, 9, 30)) == {"assigned": 1, "registered": 1}
    assert stages(rm, D(2023, 9, 30), datetime(2020, 1, 1, tzinfo=UTC)) == {}


def test_the_cut_off_includes_an_event_recorded_at_that_very_moment(tracker, open_rm):
    tracker.register("C-1", "MKD", "Stein", "t")
    path = tracker.triage("C-1", Outcome.ENDS, "t", on=D(2023, 5, 2))
    recorded = tracker.timeline(path)[-1].recorded_at
    rm = open_rm()
    assert stages(rm, D(2023, 6, 1), recorded) == {"triaged": 1}
    before = datetime.fromtimestamp(recorded.timestamp() - 0.000001, UTC)
    assert stages(rm, D(2023, 6, 1), before) == {"registered": 1}


def test_a_correction_is_known_from_when_it_was_recorded(tracker, open_rm):
    a_full_path(tracker)
    before = now()
    tracker.correct("C-1", 5, "not closed yet", "t")
    rm = open_rm()
    assert stages(rm, D(2023, 12, 1), before) == {"closed": 1}
    assert stages(rm, D(2023, 12, 1)) == {"handed_over": 1}


def test_an_amended_municipality_holds_for_all_time_from_when_it_was_recorded(tracker, open_rm):
    tracker.register("C-1", "MKD", "Stein", "t", cohort="Overig")
    before = now()
    tracker.amend("C-1", "t", gemeente="Meerssen", cohort="Zorgklas")
    rm = open_rm()
    by = {r.group: r.total for r in queries.counts(rm, D(2023, 4, 1), by="gemeente").rows}
    assert by == {"Meerssen": 1}
    by = {r.group: r.total for r in queries.counts(rm, D(2023, 4, 1), before, "gemeente").rows}
    assert by == {"Stein": 1}
    by = {r.group: r.total for r in queries.counts(rm, D(2023, 4, 1), by="cohort").rows}
    assert by == {"Zorgklas": 1}
    by = {r.group: r.total for r in queries.counts(rm, D(2023, 4, 1), by="subregio").rows}
    assert by == {"Maastricht-Heuvelland": 1}


def test_a_reassignment_changes_the_receiving_party_from_its_date(tracker, open_rm):
    tracker.register("C-1", "MKD", "Stein", "t")
    tracker.triage("C-1", Outcome.TRANSFER, "t", on=D(2023, 5, 2))
    tracker.assign("C-1", "KvD", "t", on=D(2023, 6, 1))
    tracker.assign("C-1", "ZCL", "t", on=D(2023, 7, 1))
    rm = open_rm()

    def receiving(day):
        return {r.group: r.total for r in queries.counts(rm, day, by="combinatie").rows}

    assert receiving(D(2023, 5, 15)) == {None: 1}
    assert receiving(D(2023, 6, 15)) == {"Kracht van Dichtbij": 1}
    assert receiving(D(2023, 7, 1)) == {"Zorgcoöperatie Limburg": 1}
    # entering "assigned" happened once, in June
    months = {m.month: m.assigned for m in queries.flow(rm, D(2023, 8, 1)).months}
    assert months == {"2023-04": 0, "2023-05": 0, "2023-06": 1, "2023-07": 0, "2023-08": 0}


def test_compliance_adds_up_and_names_each_risk(tracker, open_rm):
    a_full_path(tracker, "DONE-1")  # closed 4 Sept: on time
    tracker.register("SLOW-1", "MKD", "Stein", "t", arrangement_end=D(2024, 6, 30))
    tracker.register("SLOW-2", "MKD", "Beek", "t")
    tracker.triage("SLOW-2", Outcome.TRANSFER, "t", on=D(2023, 5, 1))
    tracker.assign("SLOW-2", "KvD", "t", planned=D(2024, 2, 1), on=D(2023, 6, 1))
    tracker.register("FINE-1", "MKD", "Vaals", "t")
    tracker.triage("FINE-1", Outcome.CONTINUE, "t", on=D(2023, 5, 1))
    rm = open_rm()
    early = queries.compliance(rm, D(2023, 10, 1))
    mkd = early.rows[0]
    assert (mkd.in_scope, mkd.on_time, mkd.late, mkd.open, mkd.overdue, mkd.at_risk,
            mkd.on_track) == (4, 1, 0, 3, 0, 2, 1)
    reasons = {c.ref: c.reasons for c in early.cases}
    assert reasons == {"SLOW-1": ("arrangement-past-deadline",),
                       "SLOW-2": ("planned-after-deadline",)}
    # eight weeks before the deadline a path without a receiving party is at risk too
    late = queries.compliance(rm, D(2023, 11, 6))
    assert {c.ref: c.reasons for c in late.cases}["SLOW-1"] == (
        "no-receiver", "arrangement-past-deadline")
    after = queries.compliance(rm, D(2024, 1, 2))
    mkd = after.rows[0]
    assert (mkd.on_time, mkd.open, mkd.overdue, mkd.at_risk) == (1, 3, 3, 0)
    assert round(sum(mkd.pct[k] for k in ("on_time", "late", "overdue", "at_risk",
                                          "on_track")), 1) == 100
    assert mkd.pct["on_time"] == 25.0
    assert after.total.in_scope == 4
    override = queries.compliance(rm, D(2023, 10, 1), deadline=D(2023, 9, 1))
    mkd = override.rows[0]
    assert (mkd.deadline, mkd.on_time, mkd.late, mkd.overdue) == (D(2023, 9, 1), 0, 1, 3)


def test_percentages_add_up_to_a_hundred():
    shares = queries._percentages({"a": 1, "b": 1, "c": 1}, 3)
    assert round(sum(shares.values()), 1) == 100.0
    assert sorted(shares.values()) == [33.3, 33.3, 33.4]


def test_flow_counts_stage_entries_per_month_and_the_median_lead_times(tracker, open_rm):
    a_full_path(tracker, "C-1")
    tracker.register("C-2", "DB Xtra", "Beek", "t")
    tracker.triage("C-2", Outcome.TRANSFER, "t", on=D(2023, 4, 11))
    tracker.assign("C-2", "KvD", "t", on=D(2023, 5, 11))
    rm = open_rm()
    result = queries.flow(rm, D(2023, 9, 30))
    assert [m.month for m in result.months] == [f"2023-{m:02d}" for m in range(4, 10)]
    april, may = result.months[0], result.months[1]
    assert (april.registered, april.triaged, may.triaged, may.assigned) == (2, 1, 1, 1)
    assert [m.open_at_end for m in result.months] == [2, 2, 2, 2, 2, 1]
    medians = {m.hulpvorm: m for m in result.medians}
    assert medians["MKD"].registered_to_triaged == 31
    assert medians["MKD"].assigned_to_handover == 92
    assert medians["total"].registered_to_triaged == 20.5
    assert medians["total"].n_assigned == 2
    only_mkd = queries.flow(rm, D(2023, 9, 30), hulpvorm="mkd")
    assert only_mkd.hulpvorm == "MKD" and only_mkd.months[0].registered == 1


def test_places_count_kept_decided_and_transferred_by_receiving_party(tracker, open_rm):
    tracker.register_place("LH-A-01", "LH-A", "t", occupied=True, ref="W-1")
    tracker.register_place("LH-E-01", "LH-E", "t")
    tracker.register_place("LH-E-02", "LH-E", "t")
    tracker.keep_place("LH-A-01", "t", on=D(2023, 5, 1))
    tracker.decide_place_transfer("LH-E-01", "HOOM", "t", on=D(2023, 5, 10))
    tracker.decide_place_transfer("LH-E-02", "HOOM", "t", on=D(2023, 5, 10))
    tracker.transfer_place("LH-E-02", "t", on=D(2023, 6, 1))
    tracker.set_occupancy("LH-A-01", False, "t", on=D(2023, 7, 1))
    rm = open_rm()
    result = queries.places(rm, D(2023, 6, 15))
    assert (result.capacity, result.keep) == (58, 30)
    t = result.total
    assert (t.places, t.kept, t.transfer_decided, t.transferred, t.occupied, t.empty) == (
        3, 1, 1, 1, 1, 2)
    hoom = [r for r in result.rows if r.receiver == "HOOM"]
    assert [(r.leefhuis, r.places, r.transfer_decided, r.transferred) for r in hoom] == [
        ("LH-E", 2, 1, 1)]
    assert result.remaining == 2
    assert queries.places(rm, D(2023, 7, 1)).total.occupied == 0
    assert queries.places(rm, D(2023, 5, 9)).total.undecided == 2


def test_the_list_filters_paths_and_keeps_its_keys(tracker, open_rm):
    a_full_path(tracker, "C-1")
    tracker.register("C-2", "DB Xtra", "Heerlen", "t", arrangements=["Behandeling Groep"])
    rm = open_rm()
    rows = queries.paths(rm, D(2023, 7, 1))
    assert [(r.ref, r.stage) for r in rows] == [("C-1", "assigned"), ("C-2", "registered")]
    assert set(rows[0].as_dict()) == {
        "ref", "hulpvorm", "stage", "since", "gemeente", "subregio", "cohort", "arrangements",
        "arrangement_end", "outcome", "combinatie", "aanbieder", "planned", "close_reason"}
    assert rows[1].arrangements == ("Behandeling Groep",) and rows[1].subregio == "Parkstad"
    assert [r.ref for r in queries.paths(rm, D(2023, 7, 1), hulpvorm="db xtra")] == ["C-2"]
    assert [r.ref for r in queries.paths(rm, D(2023, 10, 1), open_only=True)] == ["C-2"]
    assert [r.ref for r in queries.paths(rm, D(2023, 7, 1), stage=Stage.ASSIGNED)] == ["C-1"]
    assert [r.ref for r in queries.paths(rm, D(2023, 7, 1), gemeente="heerlen")] == ["C-2"]
    assert [r.ref for r in queries.paths(rm, D(2023, 7, 1), combinatie="KvD")] == ["C-1"]
    with pytest.raises(InvalidValue):
        queries.paths(rm, D(2023, 7, 1), stage=Stage.VOID)
    with pytest.raises(InvalidValue):
        queries.counts(rm, D(2023, 7, 1), by="aanbieder")


def test_catching_up_step_by_step_gives_the_same_rows_as_a_rebuild(tracker, open_rm, monkeypatch):
    rm = open_rm(batch_size=2)
    a_full_path(tracker, "C-1")
    rm.catch_up()
    tracker.register("C-2", "MKD", "Beek", "t")
    a_full_path(tracker, "C-3")
    tracker.correct("C-1", 5, "oops", "t")
    open_rm(batch_size=3).catch_up()  # another process, with nothing in memory
    tracker.amend("C-2", "t", gemeente="Stein")
    tracker.correct("C-1", 4, "oops", "t")
    tracker.register_place("LH-A-01", "LH-A", "t", occupied=True, ref="W-1")
    tracker.decide_place_transfer("LH-A-01", "HOOM", "t", on=D(2023, 5, 10))
    tracker.keep_place("LH-A-01", "t", on=D(2023, 5, 11))
    rm.catch_up()
    stepwise = snapshot(rm)
    assert rm.status().lag == 0
    rebuilt = open_rm(catch_up=False)
    rebuilt.rebuild()
    assert snapshot(rebuilt) == stepwise
    # A big log is folded in two processes, half of the streams each: the same rows.
    halves = open_rm(catch_up=False, parallel_from=0)
    halves.rebuild()
    assert snapshot(halves) == stepwise
    assert rebuild_leftovers(tracker) == []
    # PostgreSQL: the second process's rows as COPY data in many small chunks
    monkeypatch.setattr(projector._OtherHalf, "CHUNK", 200)
    halves.rebuild()
    assert snapshot(halves) == stepwise
    # Few rows go into tables indexed beforehand, many are indexed afterwards: the same rows
    # and the same indexes either way.
    indexes = []
    for first_below in (10**9, 0):
        sized = open_rm(catch_up=False, indexes_first_below=first_below)
        sized.rebuild()
        assert snapshot(sized) == stepwise
        indexes.append(index_names(sized.db))
    assert indexes[0] == indexes[1] == expected_indexes()


@pytest.mark.parametrize("half", [0, 1])
def test_a_damaged_log_stops_a_rebuild_in_either_process_with_one_line(tracker, open_rm, half):
    # Streams whose id ends in an even hex digit are folded by the first process, the others
    # by the second; the registration of one of them is removed behind the tool's back.
    refs = [f"C-{i}" for i in range(40)]
    for ref in refs:
        tracker.register(ref, "MKD", "Stein", "t")
        tracker.triage(ref, Outcome.TRANSFER, "t", on=D(2023, 5, 2))
    victim = next(tracker.path(r).id for r in refs if int(tracker.path(r).id.hex[-1], 16) % 2 == half)
    rm = open_rm(catch_up=False, parallel_from=0)
    table, _, _ = rm.projector._log_table()
    stored_id = victim.hex if rm.db.sqlite else victim
    mark = "?" if rm.db.sqlite else "%s"
    rm.db.raw.execute(f"DELETE FROM {table} WHERE originator_id = {mark} AND "
                      "originator_version = 1", (stored_id,))
    if rm.db.sqlite:
        rm.db.raw.commit()
    with pytest.raises(StoreError, match="continues a stream whose start is not in the log") as e:
        rm.rebuild()
    assert "\n" not in str(e.value)
    assert rebuild_leftovers(tracker) == []


def index_names(db) -> set[str]:
    """The indexes the read-model tables have in the store."""
    with db.transaction() as cursor:
        if db.kind == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                           "name LIKE 'ix_zov%'")
        else:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = "
                           "current_schema() AND indexname LIKE 'ix_zov%'")
        return {row[0] for row in cursor.fetchall()}


def expected_indexes() -> set[str]:
    from projections.schema import READ_MODELS

    return {index.name for table in READ_MODELS for index in table.indexes}


def rebuild_leftovers(tracker) -> list[str]:
    """Files a rebuild left beside a SQLite store (its second process's side file)."""
    folder = tracker.store.sqlite_path.parent if tracker.store.sqlite_path else None
    return sorted(p.name for p in folder.iterdir() if "rebuild" in p.name) if folder else []


def test_a_rebuild_deletes_the_side_files_of_killed_rebuilds_and_no_other(sqlite_url, dead_pid):
    tracker = Tracker.open(sqlite_url)
    try:
        tracker.adopt_plan(None, "built-in", "test")
        for i in range(3):
            a_full_path(tracker, f"C-{i}")
        folder = tracker.store.sqlite_path.parent
        stale = folder / f".zov-rebuild-{dead_pid}-a1b2.sqlite"
        running = folder / f".zov-rebuild-{os.getpid()}-c3d4.sqlite"  # a rebuild under way
        for side in (stale, running):
            side.write_bytes(b"rows")
        with ReadModels(tracker, catch_up=False, parallel_from=0) as rm:
            rm.rebuild()
        assert not stale.exists() and running.exists()
    finally:
        tracker.close()


def test_a_rebuild_whose_second_process_fails_handing_over_its_rows_changes_nothing(
        tracker, open_rm, monkeypatch):
    # The second process hands its rows over apart from the rest: on SQLite through a side
    # file, on PostgreSQL as COPY data. Here that fails in the second process.
    for i in range(30):
        a_full_path(tracker, f"C-{i}")
    before = snapshot(open_rm())
    first = os.getpid()
    final_rows = projector._Writes.final_rows

    def failing_in_the_second(self, shape):
        if os.getpid() != first:
            raise OSError(28, "No space left on device")
        return final_rows(self, shape)

    monkeypatch.setattr(projector._Writes, "final_rows", failing_in_the_second)
    rm = open_rm(catch_up=False, parallel_from=0)
    with pytest.raises(StoreError, match="the rebuild failed: OSError") as e:
        rm.rebuild()
    assert "\n" not in str(e.value)
    assert rebuild_leftovers(tracker) == []
    monkeypatch.undo()
    assert snapshot(open_rm(catch_up=False)) == before


def test_an_answer_includes_every_event_recorded_before_it_was_asked(tracker, open_rm):
    rm = open_rm()
    tracker.register("C-1", "MKD", "Stein", "t")
    assert open_rm().status().lag == 0  # opening catches up
    assert stages(open_rm(), D(2023, 4, 1)) == {"registered": 1}
    assert rm.status().lag == 0


def test_two_processes_catching_up_at_once_count_each_event_once(tracker, open_rm):
    for i in range(12):
        a_full_path(tracker, f"C-{i}")
    first, second = open_rm(catch_up=False, batch_size=1), open_rm(catch_up=False, batch_size=1)
    start = threading.Barrier(2)
    failures = []

    def run(rm):
        try:
            start.wait()
            rm.catch_up()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(rm,)) for rm in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert stages(first, D(2024, 1, 1)) == {"closed": 12}
    together = snapshot(first)
    reference = open_rm(catch_up=False)
    reference.rebuild()  # the same tables, folded once from scratch
    assert snapshot(reference) == together


def test_status_shows_the_lag_and_another_projection_version_is_rebuilt(tracker, open_rm):
    rm = open_rm()
    a_full_path(tracker)
    status = rm.status()
    assert (status.position, status.head, status.lag) == (1, 6, 5)
    rm.catch_up()
    assert rm.status().lag == 0 and rm.status().path_rows > 0
    with rm.db.transaction(write=True) as cursor:
        cursor.execute("UPDATE zov_projection_position SET version = 0")
    assert rm.status().needs_rebuild
    assert stages(open_rm(), D(2024, 1, 1)) == {"closed": 1}
    assert not rm.status().needs_rebuild


def test_a_rebuild_keeps_the_answers(tracker, open_rm):
    a_full_path(tracker)
    rm = open_rm()
    before = queries.counts(rm, D(2023, 7, 1))
    assert rm.rebuild() == 6
    assert queries.counts(rm, D(2023, 7, 1)) == before


def _latest_by_scan(rm) -> datetime | None:
    # what the rows themselves say: the scan `last_recorded` makes for an as-known-at moment
    return queries.last_recorded(rm, datetime(2999, 1, 1, tzinfo=UTC))


def test_the_latest_recording_time_kept_is_the_one_the_rows_hold(tracker, open_rm):
    rm = open_rm(batch_size=2)
    assert queries.last_recorded(rm) is None  # nothing folded yet
    a_full_path(tracker, "C-1")
    rm.catch_up()
    tracker.correct("C-1", 5, "oops", "t")
    a_full_path(tracker, "C-2")
    rm.catch_up()
    kept = queries.last_recorded(rm)
    assert kept is not None and kept == _latest_by_scan(rm)
    recorded = tracker.mapper.to_domain_event(
        tracker.recorder.select_notifications(tracker.recorder.max_notification_id(), 1)[0])
    assert kept == recorded.timestamp  # the last event changed the rows
    rebuilt = open_rm(catch_up=False, parallel_from=0)
    rebuilt.rebuild()
    assert queries.last_recorded(rebuilt) == kept


def test_read_models_of_an_earlier_version_without_the_kept_time_are_rebuilt(tracker, open_rm):
    a_full_path(tracker)
    rm = open_rm()
    with rm.db.transaction(write=True) as cursor:  # as projection version 4 left them
        for column in ("latest", "plan_text", "plan_source"):
            cursor.execute(f"ALTER TABLE zov_projection_position DROP COLUMN {column}")
        cursor.execute("UPDATE zov_projection_position SET version = 4")
    again = open_rm()
    assert not again.status().needs_rebuild
    assert queries.last_recorded(again) == _latest_by_scan(again) is not None
    with again.db.transaction() as cursor:
        cursor.execute("SELECT plan_text, plan_source FROM zov_projection_position")
        assert cursor.fetchall()


def test_a_rebuild_folds_alone_when_no_second_process_can_be_started(tracker, open_rm,
                                                                      monkeypatch):
    import multiprocessing.process

    for i in range(6):
        a_full_path(tracker, f"C-{i}")
    alone = open_rm(catch_up=False)
    alone.rebuild()

    def refuse(self):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)
    halves = open_rm(catch_up=False, parallel_from=0)
    assert halves.rebuild() == tracker.recorder.max_notification_id()
    assert snapshot(halves) == snapshot(alone)


def test_up_to_date_read_models_answer_alike_without_the_event_store(tracker, open_rm):
    a_full_path(tracker)
    a_full_path(tracker, "C-2", "Beek")
    tracker.correct("C-2", 5, "wrong date", "t")
    full = open_rm()
    light = ReadModels.if_current(tracker.store)
    assert light is not None and light.tracker is None
    try:
        for as_of in (D(2023, 5, 1), D(2023, 9, 2), D(2024, 1, 1)):
            assert queries.counts(light, as_of) == queries.counts(full, as_of)
            assert queries.compliance(light, as_of, cases=True) == \
                queries.compliance(full, as_of, cases=True)
            assert queries.paths(light, as_of) == queries.paths(full, as_of)
        assert light.plan == full.plan
    finally:
        light.close()
    tracker.register("C-3", "MKD", "Stein", "t")
    assert ReadModels.if_current(tracker.store) is None  # one event behind: catch up first
    open_rm()
    light = ReadModels.if_current(tracker.store)
    assert light is not None
    light.close()


def test_the_read_models_keep_the_plan_the_log_adopted_last(tracker, open_rm):
    from transfers.plan import default_plan_text

    open_rm()
    light = ReadModels.if_current(tracker.store)
    assert light.plan.deadline == D(2023, 12, 31)
    light.close()
    revised = default_plan_text().replace("deadline = 2023-12-31", "deadline = 2024-03-31", 1)
    tracker.adopt_plan(revised, "revised.toml", "t", revise=True)
    open_rm()
    light = ReadModels.if_current(tracker.store)
    assert light.plan.deadline == D(2024, 3, 31)
    light.close()
    for processes in (1, 2):  # a rebuild keeps it, whichever process folds the plan
        open_rm(catch_up=False, parallel_from=20_000 if processes == 1 else 1).rebuild()
        light = ReadModels.if_current(tracker.store)
        assert light.plan.deadline == D(2024, 3, 31)
        light.close()


def test_a_store_with_a_store_key_is_read_through_the_tracker(tracker, open_rm, monkeypatch):
    open_rm()
    monkeypatch.setenv("ZOV_CIPHER_KEY", "anything")  # its rows' references need the key
    assert ReadModels.if_current(tracker.store) is None


def test_the_store_names_the_event_table_as_the_recorder_does(tracker):
    assert tracker.store.events_table == tracker.recorder.events_table_name
