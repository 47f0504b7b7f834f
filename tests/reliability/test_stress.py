"""Eight caseworkers at once (bench/stress.py): half through the real `zov` command, half
through the Tracker in processes of their own, on shared and on their own clients. Nothing
reported as done may be missing or doubled, nothing refused may be half-written, every
refusal is one line, and the read models caught up meanwhile equal a rebuild."""

from __future__ import annotations

from collections import Counter

from checks import assert_no_gaps, assert_read_models_equal_a_rebuild

from bench import stress
from transfers.app import PLAN_ID, Tracker

SECONDS = 8.0


def test_eight_caseworkers_at_once_lose_nothing_and_double_nothing(store_url, tmp_path):
    stress.prepare(store_url)
    run = stress.run(store_url, SECONDS, tmp_path)
    kind = store_url.split(":")[0]
    print(f"\n[stress, {kind}]\n{run.figures()}")

    # Every command ended as done (0) or as a one-line refusal (1); reads always answered.
    for record in run.records:
        assert record["code"] in (0, 1), record
        assert "Traceback" not in record["stderr"], record
        if not record["ok"]:
            lines = record["stderr"].strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: "), record
    assert all(r["ok"] for r in run.records if r["kind"] == "read")
    # Own clients are nobody else's: nothing there may be refused, not even by a conflict.
    assert all(r["ok"] for r in run.writes if r["private"]), [
        r for r in run.writes if r["private"] and not r["ok"]]
    # Enough happened, through both ways in, to mean something.
    assert len(run.ok) >= 100 and run.by_command >= 4, run.figures()
    assert run.refused and run.conflicts, run.figures()

    tracker = Tracker.open(store_url)
    try:
        versions = assert_no_gaps(tracker)
        notes: Counter[str] = Counter()
        refs = {}
        for stream_id in versions:
            if stream_id == PLAN_ID:
                continue
            path = tracker.repository.get(stream_id)
            refs[path.ref] = path
            notes.update(step.note for step in path.steps if step.note)
        # Each command reported as done is in the log exactly once; a refused one not at all.
        assert all(notes[r["token"]] == 1 for r in run.ok)
        assert not any(notes[r["token"]] for r in run.refused)
        assert sum(notes.values()) == len(run.ok)
        # A registration race has one winner, whose registration is the stream's first event.
        raced = {r["ref"] for r in run.writes if r["kind"] == "register" and not r["private"]}
        for ref in raced:
            winners = [r for r in run.ok if r["kind"] == "register" and r["ref"] == ref]
            assert len(winners) == 1, ref
            assert refs[ref].steps[0].note == winners[0]["token"]
        assert_read_models_equal_a_rebuild(tracker)
    finally:
        tracker.close()
