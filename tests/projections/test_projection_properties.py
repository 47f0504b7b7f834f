"""For random valid histories, with corrections and late-recorded events: catching up step
by step, rebuilding, and a naive replay written here give the same answers, for random
as-of dates and as-known-at cut-offs, on both stores."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import fresh_tracker, snapshot

from projections import ReadModels, queries
from transfers.errors import ZovError
from transfers.path import ClientPath
from transfers.place import LeefhuisPlace
from transfers.vocab import CloseReason, Outcome, PlaceStage, Stage

PEILDATUM = date(2023, 4, 1)
DEADLINE = date(2023, 12, 31)
REFS = ["C-1", "C-2", "C-3"]
HULPVORMEN = ["MKD", "DB Xtra"]
GEMEENTEN = ["Stein", "Heerlen", "Vaals"]
COMBINATIES = ["Kracht van Dichtbij", "Zorgcoöperatie Limburg"]
PLACES = ["LH-A-01", "LH-E-01"]

# -- random histories ---------------------------------------------------------------------
# Each operation names a stream and what to do next, relative to where the stream stands,
# so that most operations are steps the domain accepts; the rest are refused and skipped.

days = st.integers(0, 45)
advance = st.tuples(st.just("advance"), st.integers(0, 9), days, st.integers(1, 4))
path_op = st.one_of(
    advance, advance, advance, advance, advance,
    st.tuples(st.just("again"), st.integers(0, 9), days),  # re-triage, reassign, replan
    st.tuples(st.just("amend"), st.sampled_from(GEMEENTEN),
              st.sampled_from([None, "JENS", "Overig"])),
    st.tuples(st.just("correct"), st.integers(0, 6)),  # 0: the latest event
)
place_op = st.one_of(
    advance, advance,
    st.tuples(st.just("occupancy"), st.booleans(), days),
    st.tuples(st.just("correct"), st.integers(0, 4)),
)
op = st.one_of(
    st.tuples(st.just("path"), st.sampled_from(REFS), st.sampled_from(HULPVORMEN), path_op),
    st.tuples(st.just("path"), st.sampled_from(REFS), st.sampled_from(HULPVORMEN), path_op),
    st.tuples(st.just("place"), st.sampled_from(PLACES), st.just(None), place_op),
)
# a history is recorded in sessions; between sessions a catch-up may run
sessions = st.lists(st.tuples(st.lists(op, min_size=4, max_size=20), st.booleans()),
                    min_size=1, max_size=4)

CLOSE_FOR = {Outcome.CONTINUE: CloseReason.CONTINUED, Outcome.ENDS: CloseReason.ENDED,
             Outcome.FOLLOW_UP: CloseReason.EDUCATION}
OUTCOMES = [Outcome.TRANSFER] * 6 + [Outcome.CONTINUE, Outcome.ENDS, Outcome.FOLLOW_UP, None]
PLANNED = [None, date(2023, 10, 1), date(2024, 2, 1)]


def _later(stream, days: int) -> date:
    base = stream.last_on if stream is not None and not stream.is_void else PEILDATUM
    return min(base + timedelta(days=days), date(2024, 6, 30))


def _path_step(tracker, ref, hulpvorm, path, verb, args) -> None:
    t = tracker
    if verb == "amend":
        t.amend(ref, "t", hulpvorm=hulpvorm, gemeente=args[0],
                cohort=args[1] if hulpvorm == "MKD" else None)
        return
    if verb == "correct":
        version = args[0] or len(path.steps)
        t.correct(ref, version, "wrong", "t", hulpvorm=hulpvorm)
        return
    choice, on = args[0], _later(path, args[1])
    stage, state = path.stage, path.state
    if verb == "again":
        if stage is Stage.TRIAGED:
            t.triage(ref, OUTCOMES[choice] or Outcome.ENDS, "t", on=on, hulpvorm=hulpvorm)
        elif stage is Stage.ASSIGNED and choice % 2:
            t.assign(ref, COMBINATIES[choice % 2], "t", on=on, hulpvorm=hulpvorm)
        elif stage is Stage.ASSIGNED:
            t.plan_handover(ref, PLANNED[1 + choice % 2], "t", on=on, hulpvorm=hulpvorm)
        elif stage in (Stage.REGISTERED, Stage.TRIAGED, Stage.HANDED_OVER) and choice == 9:
            t.close_path(ref, CloseReason.MOVED_AWAY, "t", on=on, hulpvorm=hulpvorm)
        return
    if stage is Stage.REGISTERED:
        outcome = OUTCOMES[choice]
        if outcome is None:
            t.close_path(ref, CloseReason.OTHER, "t", on=on, hulpvorm=hulpvorm)
        else:
            t.triage(ref, outcome, "t", on=on, hulpvorm=hulpvorm)
    elif stage is Stage.TRIAGED and state.outcome is Outcome.TRANSFER:
        t.assign(ref, COMBINATIES[choice % 2], "t", planned=PLANNED[choice % 3], on=on,
                 hulpvorm=hulpvorm)
    elif stage is Stage.TRIAGED:
        t.close_path(ref, CLOSE_FOR[state.outcome], "t", on=on, hulpvorm=hulpvorm)
    elif stage is Stage.ASSIGNED:
        t.hand_over(ref, "t", on=on, hulpvorm=hulpvorm)
    elif stage is Stage.HANDED_OVER:
        t.close_path(ref, CloseReason.TRANSFERRED, "t", on=on, hulpvorm=hulpvorm)


def _place_step(tracker, key, place, verb, args) -> None:
    t = tracker
    if verb == "correct":
        t.correct_place(key, args[0] or len(place.steps), "wrong", "t")
        return
    on = _later(place, args[1])
    if verb == "occupancy":
        t.set_occupancy(key, args[0], "t", ref="W-2" if args[0] else None, on=on)
        return
    choice, stage = args[0], place.stage
    if stage in (PlaceStage.REGISTERED, PlaceStage.KEPT) and choice < 6:
        t.decide_place_transfer(key, ["HOOM", "Combinatie XONAR"][choice % 2], "t", on=on)
    elif stage is PlaceStage.REGISTERED:
        t.keep_place(key, "t", on=on)
    elif stage is PlaceStage.TRANSFER_DECIDED and choice < 7:
        t.transfer_place(key, "t", on=on)
    elif stage is PlaceStage.TRANSFER_DECIDED:
        t.keep_place(key, "t", on=on)


def apply(tracker, operation) -> None:
    """Record one operation; one the domain refuses is simply not in the history."""
    kind, key, hulpvorm, (verb, *args) = operation
    try:
        if kind == "path":
            existing = [p for p in tracker.paths_of(key) if p.hulpvorm == hulpvorm]
            if existing and verb == "advance":  # one to four steps further
                for _ in range(args[2]):
                    path = tracker.path(key, hulpvorm)
                    _path_step(tracker, key, hulpvorm, path, verb, args[:2])
            elif existing:
                _path_step(tracker, key, hulpvorm, existing[0], verb, args)
            elif verb == "advance":
                choice, later, _ = args
                tracker.register(key, hulpvorm, GEMEENTEN[choice % 3], "t",
                                 arrangement_end=[None, date(2023, 11, 30),
                                                  date(2024, 6, 30)][choice % 3],
                                 cohort=["Overig", "Zorgklas", None][choice % 3]
                                 if hulpvorm == "MKD" else None,
                                 on=PEILDATUM + timedelta(days=later))
            return
        try:
            place = tracker.place(key)
        except ZovError:
            place = None
        if place is not None:
            _place_step(tracker, key, place, verb, args[:2])
        elif verb == "advance":
            occupied = args[0] % 2 == 0
            tracker.register_place(key, key[:4], "t", occupied=occupied,
                                   ref="W-1" if occupied else None,
                                   on=PEILDATUM + timedelta(days=args[1]))
    except ZovError:
        pass


# -- the naive replay: the domain's own aggregates, rebuilt per question ------------------


@dataclass
class Seen:
    """A stream as the naive replay sees it on (as_of, known)."""

    stream: object
    state: object  # state on as_of (None: not registered by then, or void)
    entries: dict  # stage value -> first date it was entered, by as_of


def naive_streams(tracker, as_of: date, known: datetime | None) -> list[Seen]:
    by_stream = defaultdict(list)
    for note in tracker.recorder.select_notifications(1, 100_000):
        event = tracker.mapper.to_domain_event(note)
        if isinstance(event, (ClientPath.Event, LeefhuisPlace.Event)):
            by_stream[note.originator_id].append(event)
    out = []
    for events in by_stream.values():
        aggregate = None
        for event in events:
            if known is None or event.timestamp <= known:
                aggregate = event.mutate(aggregate)
        if aggregate is None or aggregate.is_void:
            continue
        live = aggregate.live_steps()
        if live[0].on > as_of:
            continue
        kinds = aggregate.KINDS
        steps = [s for s in live if s.kind == "Registered" or not kinds[s.kind].dated
                 or s.on <= as_of]
        state = aggregate._fold(steps, strict=False)
        entries = {}
        for i in range(1, len(steps) + 1):
            if steps[i - 1].kind != "Registered" and not kinds[steps[i - 1].kind].dated:
                continue
            stage = aggregate._fold(steps[:i], strict=False).stage.value
            entries.setdefault(stage, steps[i - 1].on)
        out.append(Seen(aggregate, state, entries))
    return out


def naive_counts(tracker, seen, by):
    tally = defaultdict(lambda: defaultdict(int))
    for s in seen:
        if not isinstance(s.stream, ClientPath):
            continue
        group = {None: None, "gemeente": s.state.gemeente, "cohort": s.state.cohort,
                 "combinatie": s.state.combinatie,
                 "subregio": tracker.plan.gemeenten.get(s.state.gemeente)}[by]
        tally[(s.stream.hulpvorm, group)][s.state.stage.value] += 1
    return {k: dict(v) for k, v in tally.items()}


def projected_counts(result):
    names = {"registered": "registered", "triaged": "triaged", "assigned": "assigned",
             "handed_over": "handed-over", "closed": "closed"}
    return {(r.hulpvorm, r.group): {names[k]: v for k, v in r.as_dict().items()
                                    if k in names and v} for r in result.rows if r.total}


def naive_compliance(seen, as_of):
    out = {}
    for s in seen:
        if not isinstance(s.stream, ClientPath):
            continue
        state = s.state
        if state.stage is Stage.CLOSED:
            status, reasons = ("on_time" if state.closed_on <= DEADLINE else "late"), ()
        elif as_of > DEADLINE:
            status, reasons = "overdue", ()
        else:
            reasons = []
            if (state.stage is Stage.REGISTERED or (state.stage is Stage.TRIAGED
                                                    and state.outcome is Outcome.TRANSFER)) \
                    and as_of >= DEADLINE - timedelta(weeks=8):
                reasons.append("no-receiver")
            if state.stage is Stage.ASSIGNED and state.planned and state.planned > DEADLINE:
                reasons.append("planned-after-deadline")
            if state.stage is Stage.REGISTERED and state.arrangement_end \
                    and state.arrangement_end > DEADLINE:
                reasons.append("arrangement-past-deadline")
            status, reasons = ("at-risk" if reasons else "on_track"), tuple(reasons)
        out[(s.stream.ref, s.stream.hulpvorm)] = (status, reasons)
    return out


def projected_compliance(result):
    cases = {(c.ref, c.hulpvorm): (c.status, c.reasons) for c in result.cases}
    for p in result.rows:
        assert p.in_scope == p.on_time + p.late + p.open
        assert p.open == p.overdue + p.at_risk + p.on_track
    return cases, {r.hulpvorm: (r.in_scope, r.on_time, r.late, r.overdue, r.at_risk,
                                r.on_track) for r in result.rows if r.in_scope}


def naive_flow(seen, as_of):
    months = defaultdict(lambda: defaultdict(int))
    gaps = defaultdict(list)
    for s in seen:
        if not isinstance(s.stream, ClientPath):
            continue
        for stage, on in s.entries.items():
            months[on.strftime("%Y-%m")][stage] += 1
        for a, b in (("registered", "triaged"), ("triaged", "assigned"),
                     ("assigned", "handed-over")):
            if a in s.entries and b in s.entries:
                gaps[b].append((s.entries[b] - s.entries[a]).days)
    medians = {k: float(statistics.median(v)) for k, v in gaps.items()}
    return {k: dict(v) for k, v in months.items()}, medians


def projected_flow(result):
    names = {"registered": "registered", "triaged": "triaged", "assigned": "assigned",
             "handed_over": "handed-over", "closed": "closed"}
    months = {m.month: {names[k]: v for k, v in vars(m).items() if k in names and v}
              for m in result.months}
    total = result.medians[-1]
    medians = {k: v for k, v in (("triaged", total.registered_to_triaged),
                                 ("assigned", total.triaged_to_assigned),
                                 ("handed-over", total.assigned_to_handover)) if v is not None}
    return {k: v for k, v in months.items() if v}, medians


def naive_places(seen):
    tally = defaultdict(lambda: defaultdict(int))
    for s in seen:
        if not isinstance(s.stream, LeefhuisPlace):
            continue
        state = s.state
        receiver = state.combinatie if state.stage in (PlaceStage.TRANSFER_DECIDED,
                                                       PlaceStage.TRANSFERRED) else None
        t = tally[(state.leefhuis, receiver)]
        t[state.stage.value] += 1
        t["occupied" if state.occupied else "empty"] += 1
    return {k: dict(v) for k, v in tally.items()}


def projected_places(result):
    names = {"undecided": "registered", "kept": "kept", "transfer_decided": "transfer-decided",
             "transferred": "transferred", "occupied": "occupied", "empty": "empty"}
    return {(r.leefhuis, r.receiver): {names[k]: v for k, v in vars(r).items()
                                       if k in names and v}
            for r in result.rows if r.places}


def naive_list(seen):
    return sorted((s.stream.ref, s.stream.hulpvorm, s.state.stage.value, s.state.gemeente,
                   s.state.combinatie, s.state.planned, s.state.cohort)
                  for s in seen if isinstance(s.stream, ClientPath))


def projected_list(rows):
    return sorted((r.ref, r.hulpvorm, r.stage, r.gemeente, r.combinatie, r.planned, r.cohort)
                  for r in rows)


def answers(rm, as_of, known):
    """Everything the queries say for one (as_of, known), in comparable form."""
    return (queries.counts(rm, as_of, known), queries.counts(rm, as_of, known, "gemeente"),
            queries.counts(rm, as_of, known, "combinatie"), queries.compliance(rm, as_of, known),
            queries.flow(rm, as_of, known), queries.places(rm, as_of, known),
            queries.paths(rm, as_of, known))


def check_against_naive(tracker, rm, as_of, known):
    seen = naive_streams(tracker, as_of, known)
    for by in (None, "gemeente", "subregio", "combinatie", "cohort"):
        assert projected_counts(queries.counts(rm, as_of, known, by)) == \
            naive_counts(tracker, seen, by), (by, as_of, known)
    result = queries.compliance(rm, as_of, known)
    cases, _ = projected_compliance(result)
    expected = {k: v for k, v in naive_compliance(seen, as_of).items()
                if v[0] in ("at-risk", "overdue")}
    assert cases == expected
    naive_status = naive_compliance(seen, as_of)
    by_hulpvorm = defaultdict(lambda: defaultdict(int))
    for (_, h), (status, _) in naive_status.items():
        by_hulpvorm[h][status] += 1
    for row in result.rows:
        t = by_hulpvorm.get(row.hulpvorm, {})
        assert (row.on_time, row.late, row.overdue, row.at_risk, row.on_track) == (
            t.get("on_time", 0), t.get("late", 0), t.get("overdue", 0), t.get("at-risk", 0),
            t.get("on_track", 0))
    assert projected_flow(queries.flow(rm, as_of, known)) == naive_flow(seen, as_of)
    assert projected_places(queries.places(rm, as_of, known)) == naive_places(seen)
    assert projected_list(queries.paths(rm, as_of, known)) == naive_list(seen)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=sessions, data=st.data())
def test_step_by_step_rebuilt_and_naive_answers_agree(kind, history, data):
    with fresh_tracker(kind) as tracker:
        stepwise = ReadModels(tracker, batch_size=data.draw(st.integers(1, 5)))
        cut_offs: list[datetime | None] = [None]
        try:
            for operations, catch_up in history:
                for operation in operations:
                    apply(tracker, operation)
                time.sleep(0.001)
                cut_offs.append(datetime.now(UTC))
                if catch_up:
                    if data.draw(st.booleans()):  # another process, nothing in memory
                        with ReadModels(tracker, batch_size=3):
                            pass
                    else:
                        stepwise.catch_up()
            stepwise.catch_up()
            recorded = [tracker.mapper.to_domain_event(n).timestamp
                        for n in tracker.recorder.select_notifications(2, 10_000)]
            cut_offs += data.draw(st.lists(st.sampled_from(recorded), max_size=2)) \
                if recorded else []
            days = data.draw(st.lists(st.dates(date(2023, 3, 20), date(2024, 7, 31)),
                                      min_size=1, max_size=3))
            questions = [(as_of, data.draw(st.sampled_from(cut_offs))) for as_of in days]
            rows = snapshot(stepwise)
            said = [answers(stepwise, as_of, known) for as_of, known in questions]
            # the same tables, thrown away and folded again from the whole log (as a big log
            # is: by two processes, half of the streams each, or by one)
            two = data.draw(st.booleans())
            with ReadModels(tracker, catch_up=False, parallel_from=0 if two else 10**9) \
                    as rebuilt:
                rebuilt.rebuild()
                assert snapshot(rebuilt) == rows
                for (as_of, known), before in zip(questions, said, strict=True):
                    assert answers(rebuilt, as_of, known) == before
                    check_against_naive(tracker, rebuilt, as_of, known)
        finally:
            stepwise.close()
