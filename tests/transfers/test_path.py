"""The client path's state machine, without a database."""

from datetime import date

import pytest

from transfers.errors import StepNotAllowed
from transfers.path import ClientPath, path_id
from transfers.vocab import CloseReason, Outcome, Stage

D = date


def new_path(**overrides) -> ClientPath:
    fields = dict(ref="C-1", hulpvorm="MKD", gemeente="Stein", arrangements=["MKD"],
                  arrangement_end=D(2023, 12, 31), cohort="Overig", on=D(2023, 4, 1),
                  by="anna", note=None)
    fields.update(overrides)
    return ClientPath(**fields)


def assigned_path() -> ClientPath:
    p = new_path()
    p.triage(Outcome.TRANSFER, D(2023, 5, 1), "anna")
    p.assign("Kracht van Dichtbij", "Mutsaersstichting", D(2023, 9, 1), D(2023, 6, 1), "anna")
    return p


def replay(path: ClientPath) -> ClientPath:
    copy = None
    for e in path.collect_events():
        copy = e.mutate(copy)
    return copy


def test_a_full_path_goes_through_every_stage():
    p = assigned_path()
    assert p.stage is Stage.ASSIGNED and p.state.planned == D(2023, 9, 1)
    p.hand_over(D(2023, 9, 1), "bert")
    p.close(CloseReason.TRANSFERRED, D(2023, 9, 2), "bert")
    assert p.stage is Stage.CLOSED
    assert p.state.closed_on == D(2023, 9, 2) and p.state.reason is CloseReason.TRANSFERRED


def test_the_stream_id_is_stable_per_ref_and_hulpvorm():
    assert new_path().id == path_id("C-1", "MKD") == path_id("c-1", "mkd")
    assert path_id("C-1", "MKD") != path_id("C-1", "DB Xtra")


def test_handover_needs_a_receiving_party():
    p = new_path()
    p.triage(Outcome.TRANSFER, D(2023, 5, 1), "anna")
    with pytest.raises(StepNotAllowed, match="warm handover needs a receiving party"):
        p.hand_over(D(2023, 6, 1), "anna")


def test_assigning_needs_a_transfer_outcome():
    p = new_path()
    with pytest.raises(StepNotAllowed, match="needs a triage first"):
        p.assign("HOOM", None, None, D(2023, 5, 1), "anna")
    p.triage(Outcome.CONTINUE, D(2023, 5, 1), "anna")
    with pytest.raises(StepNotAllowed, match="outcome is 'continue'"):
        p.assign("HOOM", None, None, D(2023, 5, 2), "anna")


def test_nothing_happens_after_closed():
    p = new_path()
    p.close(CloseReason.MOVED_AWAY, D(2023, 5, 1), "anna")
    for step in (lambda: p.triage(Outcome.TRANSFER, D(2023, 6, 1), "a"),
                 lambda: p.close(CloseReason.OTHER, D(2023, 6, 1), "a")):
        with pytest.raises(StepNotAllowed, match="already closed"):
            step()


def test_a_date_before_the_previous_event_is_refused():
    p = new_path()
    p.triage(Outcome.TRANSFER, D(2023, 6, 1), "anna")
    with pytest.raises(StepNotAllowed, match="before the previous event"):
        p.assign("HOOM", None, None, D(2023, 5, 31), "anna")


def _live_last_on(p: ClientPath) -> date:
    """The date rule's reference, worked out from every step (as the stream keeps it up)."""
    return max(s.on for s in p.live_steps()
               if s.kind == p.REGISTERED or ClientPath.KINDS[s.kind].dated)


def test_the_date_rule_follows_corrections_and_survives_a_replay():
    p = new_path()
    p.triage(Outcome.TRANSFER, D(2023, 5, 1), "anna")
    p.amend(D(2023, 5, 2), "anna", gemeente="Beek")  # undated: moves no date
    p.assign("HOOM", None, None, D(2023, 6, 1), "anna")
    assert p.last_on == _live_last_on(p) == D(2023, 6, 1)
    p.correct(4, "wrong date", D(2023, 6, 2), "anna")  # voids the assignment
    assert p.last_on == _live_last_on(p) == D(2023, 5, 1)
    p.assign("HOOM", None, None, D(2023, 5, 20), "anna")  # before the voided one: allowed
    with pytest.raises(StepNotAllowed, match="before the previous event"):
        p.hand_over(D(2023, 5, 19), "anna")
    assert p.forgotten is None
    p.forget("request", D(2023, 6, 3), "anna")  # bookkeeping: moves no date either
    assert p.forgotten is p.steps[-1] and p.last_on == D(2023, 5, 20)
    copy = replay(p)
    assert copy.last_on == _live_last_on(copy) == D(2023, 5, 20)
    assert copy.forgotten == p.forgotten


@pytest.mark.parametrize("reason, outcome, ok", [
    (CloseReason.CONTINUED, Outcome.CONTINUE, True),
    (CloseReason.CONTINUED, Outcome.ENDS, False),
    (CloseReason.EDUCATION, Outcome.FOLLOW_UP, True),
    (CloseReason.EDUCATION, Outcome.TRANSFER, False),
    (CloseReason.ENDED, Outcome.TRANSFER, True),
    (CloseReason.TRANSFERRED, Outcome.TRANSFER, False),
])
def test_close_reasons_must_fit_the_triage_outcome(reason, outcome, ok):
    p = new_path()
    p.triage(outcome, D(2023, 5, 1), "anna")
    if ok:
        p.close(reason, D(2023, 6, 1), "anna")
        assert p.stage is Stage.CLOSED
    else:
        with pytest.raises(StepNotAllowed):
            p.close(reason, D(2023, 6, 1), "anna")
        assert p.stage is Stage.TRIAGED


def test_a_refused_command_records_nothing():
    p = new_path()
    p.collect_events()
    with pytest.raises(StepNotAllowed):
        p.hand_over(D(2023, 6, 1), "anna")
    assert p.collect_events() == [] and p.version == 1


def test_reassignment_changes_the_receiving_party():
    p = assigned_path()
    p.assign("Zorgcoöperatie Limburg", None, None, D(2023, 7, 1), "anna")
    assert p.state.combinatie == "Zorgcoöperatie Limburg" and p.state.planned is None


def test_a_correction_voids_the_event_and_the_state_follows():
    p = assigned_path()
    p.hand_over(D(2023, 9, 1), "bert")
    p.correct(4, "handover was later", D(2023, 9, 5), "bert")
    assert p.stage is Stage.ASSIGNED and p.state.handover_on is None
    p.hand_over(D(2023, 9, 8), "bert")
    assert p.state.handover_on == D(2023, 9, 8)
    assert [s.version for s in p.live_steps()] == [1, 2, 3, 6]


def test_voiding_an_event_that_later_events_depend_on_is_refused():
    p = assigned_path()
    p.hand_over(D(2023, 9, 1), "bert")
    with pytest.raises(StepNotAllowed, match="void the later events first: 4"):
        p.correct(3, "wrong party", D(2023, 9, 5), "bert")
    assert p.stage is Stage.HANDED_OVER


def test_a_reassignment_can_be_voided_back_to_the_first_party():
    p = assigned_path()
    p.assign("Zorgcoöperatie Limburg", None, None, D(2023, 7, 1), "anna")
    p.correct(4, "typed the wrong party", D(2023, 7, 2), "anna")
    assert p.state.combinatie == "Kracht van Dichtbij"


def test_corrections_cannot_be_voided_and_events_only_once():
    p = assigned_path()
    p.correct(3, "wrong", D(2023, 7, 2), "anna")
    with pytest.raises(StepNotAllowed, match="already voided"):
        p.correct(3, "again", D(2023, 7, 2), "anna")
    with pytest.raises(StepNotAllowed, match="is a correction"):
        p.correct(4, "undo", D(2023, 7, 2), "anna")
    with pytest.raises(StepNotAllowed, match="has no event 9"):
        p.correct(9, "?", D(2023, 7, 2), "anna")


def test_voiding_the_registration_withdraws_the_path():
    p = assigned_path()
    p.correct(1, "registered under the wrong care type", D(2023, 7, 2), "anna")
    assert p.stage is Stage.VOID
    with pytest.raises(StepNotAllowed, match="voided"):
        p.hand_over(D(2023, 8, 1), "anna")


def test_amending_corrects_registration_details_for_all_time():
    p = assigned_path()
    p.amend(D(2023, 8, 1), "anna", gemeente="Beek", arrangement_end=D(2024, 1, 31))
    assert p.state.gemeente == "Beek" and p.state.arrangement_end == D(2024, 1, 31)
    assert p.state.arrangements == ("MKD",)
    # amending is not dated: a later step may still carry an earlier effective date
    p.hand_over(D(2023, 7, 1), "anna")


def test_replaying_the_events_gives_the_same_state():
    p = assigned_path()
    p.hand_over(D(2023, 9, 1), "bert")
    p.correct(4, "later", D(2023, 9, 5), "bert")
    p.amend(D(2023, 9, 5), "bert", cohort="JENS")
    copy = replay(p)
    assert copy.state == p.state and copy.steps == p.steps and copy.voided == p.voided
