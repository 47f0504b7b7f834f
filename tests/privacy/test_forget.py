"""Right to erasure in an append-only log: forgetting a client deletes the keys of its data,
keeps every count, and is tolerated by projections, export and restore."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from projections import queries
from projections.projector import PATHS, PLACES
from projections.readmodels import ReadModels
from tests.privacy.support import LODGER, NOTE, OTHER, REF, SECRETS, D, fill, stored_bytes
from transfers.app import Tracker
from transfers.errors import AlreadyExists, NotFound, StepNotAllowed
from transfers.privacy import PLACEHOLDER, new_secret
from transfers.vocab import Outcome

AS_OF = D(2023, 11, 30)


def _answers(rm: ReadModels, known: datetime | None = None) -> dict:
    """What the read commands say: counts, compliance with its cases, the list, the places."""
    comp = queries.compliance(rm, AS_OF, known)
    return {
        "counts": queries.counts(rm, AS_OF, known).rows,
        "totals": comp.rows,
        "cases": sorted(c.ref for c in comp.cases),
        "list": [r.ref for r in queries.paths(rm, AS_OF, known)],
    }


def _rows(rm: ReadModels) -> list[tuple]:
    """Every read-model row but its surrogate id, in a fixed order, references decrypted
    (encrypted ones differ by their random nonce)."""
    out = []
    with rm.db.transaction() as cursor:
        for shape in (PATHS, PLACES):
            at = shape.insert_columns.index("ref")
            cursor.execute(f"SELECT {', '.join(shape.insert_columns)} FROM {shape.table} "
                           "ORDER BY stream_id, seq, known_from")
            out += [tuple(str(rm.ref(v) if i == at else v) for i, v in enumerate(row))
                    for row in cursor.fetchall()]
    return out


@pytest.fixture(params=["plain", "encrypted"])
def any_tracker(request, store_url, monkeypatch):
    """A tracker with the built-in plan, on a store without and with a store key."""
    if request.param == "encrypted":
        monkeypatch.setenv("ZOV_CIPHER_KEY", new_secret())
    tracker = Tracker.open(store_url)
    tracker.adopt_plan(None, "built-in", "test")
    yield tracker
    tracker.close()


def test_forgetting_erases_the_client_and_keeps_every_count(any_tracker):
    tracker = any_tracker
    fill(tracker)
    with ReadModels(tracker) as rm:
        before = _answers(rm)
    sent = datetime.now(UTC)  # a memo sent before the erasure was counted up to here
    forgotten = tracker.forget(REF, "AVG-verzoek 2023-117", "privacy officer")
    assert sorted(type(s).__name__ for s in forgotten) == ["ClientPath", "LeefhuisPlace"]

    with ReadModels(tracker) as rm:  # incremental catch-up over the Forgotten events
        after = _answers(rm)
        earlier_memo = _answers(rm, known=sent)
        incremental = _rows(rm)
        rm.rebuild()  # and the whole log folded again, keys deleted
        assert _rows(rm) == incremental
        assert _answers(rm) == after
        rm.projector.parallel_from = 0  # as a big log: by two processes, each half the streams
        rm.rebuild()
        assert _rows(rm) == incremental
    assert before["counts"] == after["counts"] == earlier_memo["counts"]
    assert before["totals"] == after["totals"] == earlier_memo["totals"]
    assert REF in before["cases"] and REF in before["list"]
    for answer in (after, earlier_memo):
        assert REF not in answer["cases"] + answer["list"]
        assert PLACEHOLDER in answer["cases"] and PLACEHOLDER in answer["list"]
        assert OTHER in answer["list"]
    assert not any(REF in str(row) for row in incremental)
    # The place's later occupant, sealed under a generation of its key of their own, stays.
    assert any(LODGER in str(row) and "LH-A-01" in str(row) for row in incremental)

    (path,) = tracker.paths_of(REF)  # the stream id still finds it (see README: limits)
    assert path.ref == PLACEHOLDER and path.stage.value == "triaged"
    assert [s.note for s in path.steps] == [None] * len(path.steps)
    correction = next(s for s in path.steps if s.kind == "Corrected")
    assert correction.details["reason"] == PLACEHOLDER
    last = path.steps[-1]
    assert (last.kind, last.by, last.details["reason"]) == ("Forgotten", "privacy officer",
                                                            "AVG-verzoek 2023-117")
    place = tracker.place("LH-A-01")
    assert [s.details.get("ref") for s in place.steps] == [PLACEHOLDER, LODGER, None]
    assert place.state.ref == LODGER and place.state.occupied


def test_forgetting_twice_an_unknown_ref_and_logging_after_are_refused(tracker):
    fill(tracker)
    tracker.forget(REF, "AVG 1", "officer")
    with pytest.raises(AlreadyExists, match=f"{REF} was already forgotten on .* by officer"):
        tracker.forget(REF, "AVG 1", "officer")
    with pytest.raises(NotFound, match="no client path or Leefhuis place names 'ZP-0000'"):
        tracker.forget("ZP-0000", "AVG 2", "officer")
    with pytest.raises(StepNotAllowed, match="erased .*nothing more can be logged"):
        tracker.triage(REF, Outcome.CONTINUE, "anna")
    with pytest.raises(StepNotAllowed, match="erased .*nothing more can be logged"):
        tracker.correct(REF, 4, "a reason that would be new personal data", "anna")
    # The place goes on, under a new key that a later forgetting can delete again.
    tracker.set_occupancy("LH-A-01", True, "bert", ref="ZP-9001", on=D(2023, 7, 1))
    assert tracker.place("LH-A-01").state.ref == "ZP-9001"
    tracker.forget("ZP-9001", "AVG 3", "officer")
    assert tracker.place("LH-A-01").state.ref == PLACEHOLDER


def test_the_store_keeps_no_trace_of_a_forgotten_client(store_url, cli_runner, tmp_path,
                                                        dead_pid):
    run = cli_runner(store_url)
    run("init")
    tracker = Tracker.open(store_url)
    fill(tracker)
    tracker.close()
    run("list")
    assert REF.encode() in stored_bytes(store_url)  # the read models held it until now
    if store_url.startswith("sqlite:///"):  # a rebuild killed halfway left its side file
        (tmp_path / f".zov-rebuild-{dead_pid}-x1y2.sqlite").write_bytes(REF.encode())
    sent = run("memo", "2023-11", "--format", "md").output
    assert f"| {REF} | MKD |" in sent  # at risk: no receiving party yet
    result = run("forget", REF, "--reason", "AVG-verzoek 2023-117")
    assert "personal data erased (MKD path, place LH-A-01)" in result.output
    # The memo as it was sent comes back with every figure; only the reference is gone.
    again = run("memo", "2023-11", "--format", "md", "--as-known-at",
                re.search(r"--as-known-at (\S+)`", sent)[1]).output
    assert f"| {PLACEHOLDER} | MKD |" in again and REF not in again
    assert [line for line in sent.splitlines() if REF not in line] == \
        [line for line in again.splitlines() if PLACEHOLDER not in line]
    data = stored_bytes(store_url)
    for secret in SECRETS:
        if secret != LODGER:  # the place's later occupant is not forgotten
            assert secret.encode() not in data, f"{secret!r} is still in the store"
    assert OTHER.encode() in data and LODGER.encode() in data

    # Export and restore carry the erasure: the forgotten stays forgotten, the rest readable.
    export = tmp_path / "log.jsonl"
    run("export", "-o", str(export))
    text = export.read_text("utf-8")
    assert REF not in text and NOTE not in text and OTHER in text
    restored = cli_runner(f"sqlite:///{tmp_path / 'restored.sqlite'}")
    restored("restore", str(export))
    assert restored("list", "--as-of", "2023-11-30").output == run("list", "--as-of",
                                                                    "2023-11-30").output
    shown = restored("show", REF, "--format", "json").output
    assert PLACEHOLDER in shown and "Forgotten" in shown
    restored("forget", REF, "--reason", "again", code=1)


def test_with_hulpvorm_one_path_is_forgotten_and_the_rest_later(tracker):
    tracker.register(REF, "MKD", "Stein", "anna")
    tracker.register(REF, "DB Xtra", "Stein", "anna")
    tracker.forget(REF, "AVG 4", "officer", hulpvorm="DB Xtra")
    assert sorted((p.hulpvorm, p.ref) for p in tracker.paths_of(REF)) == [
        ("DB Xtra", PLACEHOLDER), ("MKD", REF)]
    tracker.forget(REF, "AVG 4", "officer")  # the remaining path
    assert {p.ref for p in tracker.paths_of(REF)} == {PLACEHOLDER}


def test_a_path_recorded_before_sealing_is_not_pretended_erased(tracker, monkeypatch):
    with monkeypatch.context() as old_code:  # as the tracker wrote before per-stream keys
        old_code.setattr("transfers.privacy.personal_fields", lambda topic: ())
        old_code.setattr("transfers.privacy.StreamKeys.prepare", lambda self, *streams, **_: None)
        tracker.register(REF, "MKD", "Stein", "anna", note=NOTE)
    assert tracker.path(REF).steps[0].note == NOTE  # still readable: it was stored plain
    with pytest.raises(StepNotAllowed, match="recorded before personal data was encrypted"):
        tracker.forget(REF, "AVG 5", "officer")
    assert tracker.path(REF).forgotten is None  # nothing was logged


def test_forgetting_a_client_keeps_the_other_occupants_of_a_place(any_tracker):
    """Each change of occupant seals the place's later events under a new generation of its
    key: forgetting one occupant deletes only the generations that name them."""
    tracker = any_tracker
    tracker.register_place("LH-B-02", "LH-B", "bert", occupied=True, ref="ZP-0001")
    tracker.set_occupancy("LH-B-02", True, "bert", ref="ZP-0002", on=D(2023, 6, 1))
    tracker.set_occupancy("LH-B-02", True, "bert", ref="ZP-0003", on=D(2023, 8, 1))
    # A second handle on the store, caught up before the forgetting: it holds the steps and
    # the keys as they were, and must still erase what was forgotten.
    other = Tracker.open(tracker.store.url)
    with ReadModels(other) as stale:
        for ref, left in (("ZP-0002", ["ZP-0001", PLACEHOLDER, "ZP-0003"]),
                          ("ZP-0001", [PLACEHOLDER, PLACEHOLDER, "ZP-0003"])):
            tracker.forget(ref, "AVG 6", "officer")
            assert [s.details.get("ref") for s in tracker.place("LH-B-02").steps[:3]] == left
            stale.catch_up()
            incremental = _rows(stale)
            with ReadModels(tracker) as rm:
                rm.rebuild()
                assert _rows(rm) == incremental
            refs = {row[PLACES.insert_columns.index("ref")] for row in incremental}
            assert ref not in refs and "ZP-0003" in refs
        assert {r for r in refs if r.startswith("ZP")} == {"ZP-0003"}
    other.close()
    assert tracker.place("LH-B-02").state.ref == "ZP-0003"
    live = tracker.mapper.keys.generations(tracker.place("LH-B-02").id)
    assert sorted(g for g, secret in live.items() if secret) == [3]
