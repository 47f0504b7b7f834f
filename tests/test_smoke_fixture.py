from transfers.vocab import Outcome, Stage


def test_a_path_is_registered_and_triaged_on_each_store(tracker):
    tracker.register("C-1", "MKD", "Stein", "tester")
    path = tracker.triage("C-1", Outcome.TRANSFER, "tester")
    assert tracker.path("C-1").stage is Stage.TRIAGED
    assert path.version == 2


def test_a_batch_writes_all_or_nothing(tracker):
    import pytest

    from transfers.errors import AlreadyExists

    with tracker.batch():
        tracker.register("C-1", "MKD", "Stein", "tester")
        tracker.triage("C-1", Outcome.TRANSFER, "tester")
        tracker.register("C-2", "MKD", "Beek", "tester")
        assert tracker.recorder.max_notification_id() == 1  # only the plan so far
    assert tracker.path("C-1").stage is Stage.TRIAGED
    with pytest.raises(AlreadyExists):
        with tracker.batch():
            tracker.register("C-3", "MKD", "Stein", "tester")
            tracker.register("C-3", "MKD", "Stein", "tester")
    assert tracker.paths_of("C-3") == []
