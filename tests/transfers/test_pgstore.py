"""PostgreSQL saves of bulk size: no hang, one transaction, all or nothing."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from transfers import pgstore
from transfers.app import Tracker
from transfers.errors import ChangedMeanwhile
from transfers.path import ClientPath
from transfers.pgstore import BulkSafeRecorder


@pytest.fixture
def pg_tracker(postgres_url):
    tracker = Tracker.open(postgres_url)
    tracker.adopt_plan(None, "built-in", "test")
    yield tracker
    tracker.close()


def test_the_tracker_on_postgresql_uses_the_bulk_safe_recorder(pg_tracker):
    assert isinstance(pg_tracker.recorder, BulkSafeRecorder)


def test_a_save_of_forty_thousand_events_does_not_hang(pg_tracker):
    # eventsourcing's pipelined insert hangs from about 30,000 events (a few MB) on.
    paths = [ClientPath(ref=f"ZL-{i}", hulpvorm="MKD", gemeente="Stein", arrangements=["MKD"],
                        arrangement_end=None, cohort=None, on=date(2023, 4, 1), by="test",
                        note=None) for i in range(40_000)]
    done = threading.Event()

    def save() -> None:
        pg_tracker.save(*paths)
        done.set()

    worker = threading.Thread(target=save, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert done.is_set(), "the save did not finish within two minutes"
    ids = [n.id for n in pg_tracker.recorder.select_notifications(1, 50_000)]
    assert ids == list(range(1, 40_002))  # the plan, then the batch, without gaps


def test_a_sliced_batch_is_one_transaction(pg_tracker, monkeypatch):
    monkeypatch.setattr(pgstore.BulkSafeRecorder, "SLICE", 10)
    before = pg_tracker.recorder.max_notification_id()
    with pytest.raises(ChangedMeanwhile):
        with pg_tracker.batch():
            for i in range(35):
                pg_tracker.register(f"ZL-{i}", "MKD", "Stein", "test")
            # Someone else registers a stream of the last slice meanwhile.
            other = Tracker.open(pg_tracker.store.url)
            other.register("ZL-34", "MKD", "Beek", "other")
            other.close()
    assert pg_tracker.recorder.max_notification_id() >= before + 1
    assert [p.ref for i in range(35) for p in pg_tracker.paths_of(f"ZL-{i}")] == ["ZL-34"]
    assert pg_tracker.path("ZL-34").state.gemeente == "Beek"
