"""The tracker service on the real stores: SQLite and PostgreSQL."""

import subprocess
import sys
from datetime import date as D
from datetime import timedelta

import pytest

from transfers.app import Tracker
from transfers.errors import (
    AlreadyExists,
    Ambiguous,
    InvalidValue,
    NotFound,
    StepNotAllowed,
    StoreError,
    UnknownValue,
)
from transfers.vocab import CloseReason, Outcome, PlaceStage, Stage


def test_a_path_survives_a_reopen_of_the_store(tracker, store_url):
    tracker.register("C-1", "mkd", "valkenburg a/d geul", "anna", arrangements=["mkd"],
                     arrangement_end=D(2023, 8, 31), cohort="zorgklas")
    tracker.triage("C-1", Outcome.TRANSFER, "anna", on=D(2023, 5, 2))
    tracker.assign("C-1", "kvd", "anna", aanbieder="mutsaersstichting", on=D(2023, 6, 1),
                   planned=D(2023, 9, 1))
    tracker.hand_over("C-1", "bert", on=D(2023, 9, 1))
    tracker.close_path("C-1", CloseReason.TRANSFERRED, "bert", on=D(2023, 9, 2))
    with Tracker.open(store_url) as again:
        path = again.path("C-1")
        assert path.stage is Stage.CLOSED
        s = path.state
        assert (s.gemeente, s.cohort, s.arrangements) == ("Valkenburg aan de Geul", "Zorgklas",
                                                          ("MKD",))
        assert (s.combinatie, s.aanbieder) == ("Kracht van Dichtbij", "Mutsaersstichting")
        assert [r.by for r in again.timeline(path)] == ["anna"] * 3 + ["bert"] * 2


def test_registration_on_defaults_to_the_peildatum(tracker):
    path = tracker.register("C-1", "MKD", "Stein", "anna")
    assert path.state.registered_on == tracker.plan.peildatum


def test_a_second_registration_of_the_same_path_is_refused(tracker):
    tracker.register("C-1", "MKD", "Stein", "anna")
    with pytest.raises(AlreadyExists, match="C-1 \\(MKD\\) is already registered"):
        tracker.register("c-1", "MKD", "Beek", "anna")


def test_a_ref_with_several_paths_needs_the_hulpvorm(tracker):
    tracker.register("C-1", "DB Xtra", "Stein", "anna")
    tracker.register("C-1", "Echtscheidingenhulp", "Stein", "anna")
    with pytest.raises(Ambiguous, match="add --hulpvorm"):
        tracker.triage("C-1", Outcome.CONTINUE, "anna")
    tracker.triage("C-1", Outcome.CONTINUE, "anna", hulpvorm="db xtra")
    assert {p.hulpvorm: p.stage for p in tracker.paths_of("C-1")} == {
        "DB Xtra": Stage.TRIAGED, "Echtscheidingenhulp": Stage.REGISTERED}


def test_unknown_refs_and_values_are_refused_clearly(tracker):
    with pytest.raises(NotFound, match="register it first"):
        tracker.triage("C-404", Outcome.TRANSFER, "anna")
    with pytest.raises(UnknownValue, match="unknown hulpvorm 'Kinderopvang'"):
        tracker.register("C-1", "Kinderopvang", "Stein", "anna")
    tracker.register("C-1", "MKD", "Stein", "anna")
    tracker.triage("C-1", Outcome.TRANSFER, "anna")
    with pytest.raises(UnknownValue, match="does not receive MKD"):
        tracker.assign("C-1", "HOOM", "anna")


def test_dates_in_the_future_or_before_the_peildatum_are_refused(tracker):
    with pytest.raises(InvalidValue, match="before the plan's peildatum"):
        tracker.register("C-1", "MKD", "Stein", "anna", on=D(2023, 3, 31))
    tracker.register("C-1", "MKD", "Stein", "anna")
    with pytest.raises(InvalidValue, match="in the future"):
        tracker.triage("C-1", Outcome.TRANSFER, "anna", on=D.today() + timedelta(days=1))
    assert tracker.path("C-1").version == 1


def test_notes_with_a_bsn_are_refused(tracker):
    with pytest.raises(InvalidValue, match="looks like a BSN"):
        tracker.register("C-1", "MKD", "Stein", "anna", note="bsn 111222333 per mail")


def test_a_concurrent_change_is_rechecked_not_lost(tracker, store_url):
    tracker.register("C-1", "MKD", "Stein", "anna")
    tracker.triage("C-1", Outcome.TRANSFER, "anna", on=D(2023, 5, 1))
    other = Tracker.open(store_url)
    stale = tracker.path("C-1")
    other.assign("C-1", "Kracht van Dichtbij", "bert", on=D(2023, 6, 1))
    loads = iter([stale])

    def load():  # first hand out the copy loaded before the other caseworker's write
        return next(loads, None) or tracker.path("C-1")

    path = tracker._update(load, lambda p: p.assign("JENS", None, None, D(2023, 6, 2), "anna"))
    assert [r.event for r in tracker.timeline(path)] == [
        "Registered", "Triaged", "ReceiverAssigned", "ReceiverAssigned"]
    assert path.version == 4 and other.path("C-1").state.combinatie == "JENS"
    other.close()


def test_a_retry_rechecks_the_rules_against_what_changed(tracker, store_url):
    tracker.register("C-1", "MKD", "Stein", "anna")
    tracker.triage("C-1", Outcome.TRANSFER, "anna", on=D(2023, 5, 1))
    tracker.assign("C-1", "JENS", "anna", on=D(2023, 6, 1))
    other = Tracker.open(store_url)
    stale = tracker.path("C-1")
    other.correct("C-1", 3, "party not agreed yet", "bert")  # voids the assignment
    loads = iter([stale])
    with pytest.raises(StepNotAllowed, match="needs a receiving party"):
        tracker._update(lambda: next(loads, None) or tracker.path("C-1"),
                        lambda p: p.hand_over(D(2023, 7, 1), "anna"))
    assert tracker.path("C-1").stage is Stage.TRIAGED
    other.close()


def test_a_place_keeps_its_client_when_transferred(tracker):
    tracker.register_place("LH-E-01", "lh-e", "anna", occupied=True, ref="C-7")
    tracker.decide_place_transfer("LH-E-01", "hoom", "anna", on=D(2023, 5, 10))
    place = tracker.transfer_place("LH-E-01", "anna", on=D(2023, 7, 1))
    assert place.stage is PlaceStage.TRANSFERRED and place.state.ref == "C-7"
    with pytest.raises(UnknownValue, match="unknown leefhuis"):
        tracker.register_place("LH-Z-01", "LH-Z", "anna")


def test_a_plan_is_adopted_once_and_revised_on_request(tracker):
    with pytest.raises(AlreadyExists, match="add --revise"):
        tracker.adopt_plan(None, "built-in", "anna")
    text = tracker.plan_record().text.replace("deadline = 2023-12-31", "deadline = 2024-06-30")
    assert str(tracker.adopt_plan(text, "revised.toml", "anna", revise=True).deadline) == "2024-06-30"
    dropped = text.replace('code = "MKD"', 'code = "MKDX"')
    with pytest.raises(InvalidValue, match="drops hulpvorm MKD"):
        tracker.adopt_plan(dropped, "bad.toml", "anna", revise=True)


def test_a_store_without_plan_says_to_run_init(store_url):
    with Tracker.open(store_url) as t, pytest.raises(StoreError, match="run `zov init`"):
        t.register("C-1", "MKD", "Stein", "anna")


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        Tracker.open(f"sqlite:///{bogus}")


@pytest.mark.parametrize("url, message", [
    ("mysql://x/y", "not understood"),
    ("sqlite:///", "names no file"),
    ("postgresql://127.0.0.1:1/zov", "cannot open the store"),
    # Unquoted in eventsourcing's SQL, 'Zov' would be folded to zov (another schema) and
    # 'zov x' would be a syntax error in the middle of setting up the store.
    ("postgresql://127.0.0.1/zov?schema=Zov", "schema 'Zov' in the store URL is not a plain"),
    ("postgresql://127.0.0.1/zov?schema=zov%20x", "schema 'zov x' in the store URL is not a"),
    ("postgresql://127.0.0.1/zov?schema=a&schema=b", "gives 'schema' 2 times; give it once"),
    ("postgresql://127.0.0.1/zov?host=10.0.0.1", "gives 'host' as a parameter; write it in"),
])
def test_bad_store_urls_are_refused_clearly(url, message):
    with pytest.raises(StoreError, match=message):
        Tracker.open(url).plan_record()


def test_a_store_urls_connection_parameters_reach_every_connection(postgres_url):
    # A parameter such as sslmode=require must never be dropped unseen: eventsourcing's
    # settings cannot carry it, so zov hands it to the library's pool as to its own.
    with pytest.raises(StoreError, match='invalid sslmode value: "bogus"'):
        Tracker.open(postgres_url + "&sslmode=bogus")
    from projections.readmodels import ReadModels

    url = postgres_url + "&application_name=zov-url-test&sslpassword=secret"
    with Tracker.open(url) as tracker:
        with tracker.recorder.datastore.get_connection() as conn:  # the library's pool
            assert conn.execute("SHOW application_name").fetchone() == {
                "application_name": "zov-url-test"}
        read_models = ReadModels(tracker)
        assert read_models.db.raw.execute("SHOW application_name").fetchone() == (
            "zov-url-test",)
        read_models.close()
        assert "secret" not in tracker.store.display and "sslpassword=***" in (
            tracker.store.display)


def test_a_save_records_every_pending_event_of_its_aggregates_in_order(tracker):
    # Tracker.save collects the events itself (not through eventsourcing's collect_events):
    # what it records and returns must be what the library's save records and returns.
    first = tracker.register("C-1", "MKD", "Stein", "anna")
    head = tracker.recorder.max_notification_id()
    with tracker.batch():
        tracker.triage("C-1", Outcome.TRANSFER, "anna", on=D(2023, 5, 2))
        tracker.assign("C-1", "kvd", "anna", on=D(2023, 6, 1))
        second = tracker.register("C-2", "DB Xtra", "Beek", "anna")
        tracker.triage("C-2", Outcome.CONTINUE, "anna", on=D(2023, 5, 3))
    stored = tracker.recorder.select_notifications(head + 1, 10)
    assert [(n.originator_id, n.originator_version) for n in stored] == [
        (first.id, 2), (first.id, 3), (second.id, 1), (second.id, 2)]
    paths = [tracker.path("C-1"), tracker.path("C-2")]
    assert [p.stage for p in paths] == [Stage.ASSIGNED, Stage.TRIAGED]
    assert not any(p.pending_events for p in paths)
    assert tracker.save(*paths) == []  # nothing pending: nothing recorded
    assert tracker.recorder.max_notification_id() == head + 4


def test_sqlite_stores_bind_none_and_booleans_as_before_without_the_lookup(tmp_path):
    # The driver's adapter table is process-wide: seen from a fresh process, it is filled by
    # opening a SQLite store (the event store, and the read models' connection), and the
    # values go in as SQLite's own NULL and 1/0, as without it.
    code = """if True:
        import sqlite3, sys
        from projections.db import Database
        from transfers.app import Tracker
        from transfers.store import parse_store_url

        keys = [(kind, sqlite3.PrepareProtocol) for kind in (type(None), bool)]
        assert not any(key in sqlite3.adapters for key in keys)
        Tracker.open(sys.argv[1]).close()
        assert all(key in sqlite3.adapters for key in keys)
        for key in keys:
            del sqlite3.adapters[key]
        db = Database(parse_store_url(sys.argv[1]))
        assert all(key in sqlite3.adapters for key in keys)
        db.raw.execute("CREATE TEMP TABLE t (a, b, c)")
        db.raw.execute("INSERT INTO t VALUES (?, ?, ?)", (None, True, False))
        print(db.raw.execute("SELECT typeof(a), b, typeof(b), c, typeof(c) FROM t").fetchone())
    """
    done = subprocess.run([sys.executable, "-c", code, f"sqlite:///{tmp_path / 'zov.sqlite'}"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "('null', 1, 'integer', 0, 'integer')"
