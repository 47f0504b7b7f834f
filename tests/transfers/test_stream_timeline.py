"""The read-model helpers of the domain: steps from stored fields, effective-dated states."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transfers.errors import StepNotAllowed
from transfers.path import ClientPath
from transfers.place import LeefhuisPlace
from transfers.stream import evolve
from transfers.vocab import CloseReason, Outcome, Stage

D = date


def a_path() -> ClientPath:
    return ClientPath(ref="C-1", hulpvorm="MKD", gemeente="Stein", arrangements=["MKD"],
                      arrangement_end=None, cohort="Overig", on=D(2023, 4, 1), by="t", note=None)


def steps_from_events(stream_class, events):
    return [stream_class.step_of(e.originator_version, type(e).__name__, vars(e))
            for e in events]


def test_a_step_rebuilt_from_stored_fields_equals_the_aggregates_own():
    path = a_path()
    path.triage(Outcome.TRANSFER, D(2023, 5, 2), "t", "spoke to the school")
    path.assign("Kracht van Dichtbij", "Mutsaersstichting", D(2023, 9, 1), D(2023, 6, 1), "t")
    path.amend(D(2023, 6, 2), "t", gemeente="Meerssen")
    path.correct(3, "wrong party", D(2023, 6, 3), "t")
    assert steps_from_events(ClientPath, path.collect_events()) == path.steps
    place = LeefhuisPlace(place="LH-A-01", leefhuis="LH-A", occupied=True, ref="W-1",
                          on=D(2023, 4, 1), by="t", note=None)
    place.decide_transfer("HOOM", None, D(2023, 5, 10), "t")
    assert steps_from_events(LeefhuisPlace, place.collect_events()) == place.steps


def test_effective_states_follow_the_dates_and_amendments_hold_for_all_time():
    path = a_path()
    path.triage(Outcome.TRANSFER, D(2023, 5, 2), "t")
    path.assign("Kracht van Dichtbij", None, None, D(2023, 6, 1), "t")
    path.amend(D(2023, 6, 2), "t", gemeente="Meerssen")
    timeline = path.state_timeline()
    assert [(step.on, state.stage) for step, state in timeline] == [
        (D(2023, 4, 1), Stage.REGISTERED), (D(2023, 5, 2), Stage.TRIAGED),
        (D(2023, 6, 1), Stage.ASSIGNED)]
    assert {state.gemeente for _, state in timeline} == {"Meerssen"}
    assert timeline[-1][1] == path.state


def test_a_voided_registration_has_no_timeline():
    path = a_path()
    path.correct(1, "not our client", D(2023, 4, 2), "t")
    assert path.state_timeline() == []


moves = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(moves)
def test_for_any_history_the_fold_of_stored_fields_matches_the_aggregate(history):
    path = a_path()
    for move, days in history:
        if path.is_void:
            break
        on = path.last_on + timedelta(days=days)
        try:
            if move == 0:
                path.triage(Outcome.TRANSFER if days % 3 else Outcome.ENDS, on, "t")
            elif move == 1:
                path.assign("JENS", None, on + timedelta(days=30), on, "t")
            elif move == 2:
                path.hand_over(on, "t")
            elif move == 3:
                reason = (CloseReason.TRANSFERRED if path.stage is Stage.HANDED_OVER
                          else CloseReason.ENDED)
                path.close(reason, on, "t")
            elif move == 4:
                path.amend(on, "t", gemeente=["Beek", "Vaals"][days % 2])
            elif move == 5 and len(path.steps) > 1:
                path.correct(len(path.steps) - days % 2, "wrong", on, "t")
            elif move == 6:
                path.plan_handover(on + timedelta(days=days), on, "t")
        except StepNotAllowed:
            continue
    steps = steps_from_events(ClientPath, path.collect_events())
    assert steps == path.steps
    timeline = ClientPath.effective_states(steps, path.voided)
    if path.is_void:
        assert timeline == []
        return
    assert timeline[-1][1] == path.state
    dates = [step.on for step, _ in timeline]
    assert dates == sorted(dates)


def test_evolve_copies_a_state_with_changes_and_refuses_unknown_fields():
    state = a_path().state
    later = evolve(state, stage=Stage.TRIAGED, outcome=Outcome.TRANSFER)
    assert (later.stage, later.outcome, later.gemeente) == (Stage.TRIAGED, Outcome.TRANSFER,
                                                             "Stein")
    assert state.stage is Stage.REGISTERED  # the original is untouched
    with pytest.raises(TypeError, match=r"no fields \['colour', 'mood'\]"):
        evolve(state, stage=Stage.CLOSED, mood="good", colour="red")
