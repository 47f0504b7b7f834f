"""The questions of the monitoring team, answered from the read models.

Every function takes a `ReadModels` (see `projections.ReadModels`) and returns frozen
dataclasses; the CLI's tables and JSON and the monthly memo are made from these, so their
numbers cannot disagree. All accept:

- `as_of`: the peildatum, a `date`; a path counts in the stage it had reached by the end of
  that day, by effective date (default: today).
- `as_known_at`: a timezone-aware `datetime` (naive means UTC); only events recorded by
  then count, so an earlier memo can be reproduced exactly (default: everything recorded).

A voided event counts nowhere; a voided registration removes the path from every answer.

    counts(rm, as_of, as_known_at, by)           -> Counts
    compliance(rm, as_of, as_known_at, deadline, cases) -> Compliance
    flow(rm, as_of, as_known_at, hulpvorm)       -> Flow
    places(rm, as_of, as_known_at)               -> Places
    paths(rm, as_of, as_known_at, hulpvorm=, stage=, gemeente=, combinatie=, open_only=)
                                                 -> tuple[PathRow, ...]
    last_recorded(rm, as_known_at)               -> datetime | None

`asdict(...)` of any result (or `.as_dict()` of a row) gives the keys the CLI's JSON uses;
they keep their meaning across versions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from projections.bitemporal import (
    PATH_INTERVAL,
    PLACE_INTERVAL,
    POSITION,
    PROJECTION_NAME,
    STAGE_DELTA,
    known_then,
    micros,
    moment,
    visible,
)
from projections.readmodels import ReadModels
from transfers.errors import InvalidValue
from transfers.plan import Plan
from transfers.vocab import COUNTED_STAGES, OPEN_STAGES, CloseReason, Outcome, PlaceStage, Stage

BREAKDOWNS = ("gemeente", "subregio", "combinatie", "cohort")

# Why an open path counts as at risk (codes are stable; labels are for the Dutch memo).
RISK_REASONS = {
    "no-receiver": "geen ontvangende partij, deadline nadert",
    "planned-after-deadline": "overdracht gepland na de deadline",
    "arrangement-past-deadline": "arrangement loopt door na de deadline, nog niet getrieerd",
}


# -- shared pieces ---------------------------------------------------------------------------


def _select(rm: ReadModels, *queries: tuple[str, list]) -> list[list[tuple]]:
    """Run the queries (SQL with ? markers, parameters) in one read transaction."""
    db = rm.db
    out = []
    with db.transaction() as cursor:
        for sql, params in queries:
            cursor.execute(db.sql(sql), params)
            out.append(cursor.fetchall())
    return out


def _moments(rm: ReadModels, as_of: date | None,
             as_known_at: datetime | None) -> tuple[date, int | None]:
    return (as_of or date.today()), (None if as_known_at is None else micros(as_known_at))


def _hulpvorm_order(plan: Plan, codes) -> list[str]:
    known = [h.code for h in plan.hulpvormen]
    return known + sorted(set(codes) - set(known))


def _percentages(parts: dict[str, int], total: int) -> dict[str, float]:
    """Shares of `total` in percent, one decimal, adding up to exactly 100 (largest
    remainder), so a table of percentages adds up like its counts."""
    if total == 0:
        return {k: 0.0 for k in parts}
    exact = {k: v * 1000 / total for k, v in parts.items()}
    tenths = {k: int(x) for k, x in exact.items()}
    short = 1000 - sum(tenths.values())
    for k in sorted(exact, key=lambda k: exact[k] - tenths[k], reverse=True)[:short]:
        tenths[k] += 1
    return {k: v / 10 for k, v in tenths.items()}


# -- counts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageCounts:
    """Paths per stage for one hulpvorm (and one group of a breakdown)."""

    hulpvorm: str
    group: str | None  # value of the breakdown (None: no breakdown, or not known yet)
    registered: int = 0
    triaged: int = 0
    assigned: int = 0
    handed_over: int = 0
    closed: int = 0

    @property
    def open(self) -> int:
        return self.registered + self.triaged + self.assigned + self.handed_over

    @property
    def total(self) -> int:
        return self.open + self.closed

    def as_dict(self, by: str | None = None) -> dict[str, Any]:
        """JSON keys: hulpvorm, [the breakdown], registered, triaged, assigned,
        handed_over, closed, open, total."""
        out: dict[str, Any] = {"hulpvorm": self.hulpvorm}
        if by:
            out[by] = self.group
        out.update(registered=self.registered, triaged=self.triaged, assigned=self.assigned,
                   handed_over=self.handed_over, closed=self.closed, open=self.open,
                   total=self.total)
        return out


@dataclass(frozen=True)
class ReasonCount:
    hulpvorm: str
    reason: str  # CloseReason value
    count: int


@dataclass(frozen=True)
class Counts:
    """Every path in exactly one stage, per hulpvorm (× group), on `as_of`."""

    as_of: date
    as_known_at: datetime | None
    by: str | None
    rows: tuple[StageCounts, ...]  # hulpvormen in plan order; groups by name, unknown last
    per_hulpvorm: tuple[StageCounts, ...]  # one row per hulpvorm of the plan (group None)
    total: StageCounts  # all hulpvormen (hulpvorm "total")
    closed_by_reason: tuple[ReasonCount, ...]


_STAGE_FIELD = {Stage.REGISTERED.value: "registered", Stage.TRIAGED.value: "triaged",
                Stage.ASSIGNED.value: "assigned", Stage.HANDED_OVER.value: "handed_over",
                Stage.CLOSED.value: "closed"}


def counts(rm: ReadModels, as_of: date | None = None, as_known_at: datetime | None = None,
           by: str | None = None) -> Counts:
    """Paths per hulpvorm × stage on `as_of`, optionally broken down `by` gemeente,
    subregio, combinatie (receiving party; None before one is assigned) or cohort; and
    closed paths by close reason."""
    if by is not None and by not in BREAKDOWNS:
        raise InvalidValue(f"cannot break down by '{by}'; use one of: {', '.join(BREAKDOWNS)}")
    day, known = _moments(rm, as_of, as_known_at)
    plan = rm.plan
    column = {None: None, "gemeente": "gemeente", "subregio": "gemeente",
              "combinatie": "combinatie", "cohort": "cohort"}[by]
    keys = ", ".join(["hulpvorm", "stage"] + ([column] if column else []))
    if known is None and by is None:  # as things stand: from the running totals
        totals = _select(rm, (
            f"SELECT hulpvorm, stage, close_reason, sum(delta) FROM {STAGE_DELTA} "
            "WHERE day <= ? GROUP BY hulpvorm, stage, close_reason", [rm.db.day(day)]))[0]
        totals = [t for t in totals if t[3]]
        stage_rows = [(h, stage, n) for h, stage, _, n in totals]
        reason_rows = [(h, reason, n) for h, stage, reason, n in totals
                       if stage == Stage.CLOSED.value]
    else:
        where, params = visible(day, known, rm.db.day)
        stage_rows, reason_rows = _select(
            rm,
            (f"SELECT {keys}, count(*) FROM {PATH_INTERVAL} WHERE {where} GROUP BY {keys}",
             params),
            (f"SELECT hulpvorm, close_reason, count(*) FROM {PATH_INTERVAL} "
             f"WHERE {where} AND stage = ? GROUP BY hulpvorm, close_reason",
             [*params, Stage.CLOSED.value]))

    tally: dict[tuple[str, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_h: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in stage_rows:
        hulpvorm, stage, n = row[0], row[1], row[-1]
        group = row[2] if column is not None else None
        if by == "subregio" and group is not None:
            group = plan.gemeenten.get(group)
        name = _STAGE_FIELD[stage]
        tally[(hulpvorm, group)][name] += n
        per_h[hulpvorm][name] += n
    order = _hulpvorm_order(plan, per_h)
    rows = [StageCounts(h, g, **tally[(h, g)])
            for h in order
            for g in sorted({g for (hh, g) in tally if hh == h},
                            key=lambda g: (g is None, g or ""))]
    if by is None:
        rows = [StageCounts(h, None, **per_h.get(h, {})) for h in order]
    per_hulpvorm = tuple(StageCounts(h, None, **per_h.get(h, {})) for h in order)
    total = StageCounts("total", None, **{
        name: sum(getattr(r, name) for r in per_hulpvorm) for name in _STAGE_FIELD.values()})
    reasons = tuple(
        ReasonCount(h, r.value, n)
        for h in order for r in CloseReason
        for n in [sum(c for hh, rr, c in reason_rows if hh == h and rr == r.value)] if n)
    return Counts(day, as_known_at, by, tuple(rows), per_hulpvorm, total, reasons)


# -- deadline compliance -------------------------------------------------------------------


@dataclass(frozen=True)
class ComplianceRow:
    """Deadline compliance of one hulpvorm. in_scope = on_time + late + open and
    open = overdue + at_risk + on_track; the percentages are of in_scope."""

    hulpvorm: str
    deadline: date
    in_scope: int
    on_time: int  # closed on or before the deadline
    late: int  # closed after the deadline
    open: int
    overdue: int  # open while the as-of date is past the deadline
    at_risk: int  # open, not overdue, and at least one risk rule applies
    on_track: int  # open, not overdue, not at risk
    pct: dict[str, float] = field(default_factory=dict)  # same keys as the counts

    def as_dict(self) -> dict[str, Any]:
        """JSON keys: hulpvorm, deadline, in_scope, on_time, late, open, overdue, at_risk,
        on_track, and each with a _pct suffix."""
        out = {k: v for k, v in asdict(self).items() if k != "pct"}
        out.update({f"{k}_pct": v for k, v in self.pct.items()})
        return out


@dataclass(frozen=True)
class RiskCase:
    """An open path at risk or overdue, by pseudonymous reference only."""

    ref: str
    hulpvorm: str
    stage: str
    since: date  # date of its last step
    deadline: date
    status: str  # "at-risk" or "overdue"
    reasons: tuple[str, ...]  # codes of RISK_REASONS (empty when overdue for lateness only)
    combinatie: str | None
    planned: date | None
    arrangement_end: date | None


@dataclass(frozen=True)
class Compliance:
    as_of: date
    as_known_at: datetime | None
    deadline: date | None  # the --deadline override, if any
    rules: dict[str, Any]  # the risk rules applied (from the plan's [risk])
    rows: tuple[ComplianceRow, ...]  # per hulpvorm, plan order
    total: ComplianceRow  # all hulpvormen (deadline: the latest of theirs)
    cases: tuple[RiskCase, ...]  # overdue and at-risk paths, by hulpvorm and reference


def risk_reasons(plan: Plan, *, stage: str, outcome: str | None, planned: date | None,
                 arrangement_end: date | None, as_of: date, deadline: date) -> tuple[str, ...]:
    """The risk rules of the plan that an open path meets on `as_of` (before its deadline).

    - no-receiver: no receiving party yet (not triaged, or triaged for transfer and not
      assigned) while the deadline is `no_receiver_weeks` weeks away or closer;
    - planned-after-deadline: receiving party assigned, handover planned after the deadline;
    - arrangement-past-deadline: not triaged yet and the running arrangement ends after
      the deadline (an arrangement without a known end date does not count).
    """
    rules = plan.risk
    found = []
    needs_receiver = stage == Stage.REGISTERED.value or (
        stage == Stage.TRIAGED.value and outcome == Outcome.TRANSFER.value)
    if needs_receiver and as_of >= deadline - timedelta(weeks=rules.no_receiver_weeks):
        found.append("no-receiver")
    if (rules.planned_after_deadline and stage == Stage.ASSIGNED.value and planned
            and planned > deadline):
        found.append("planned-after-deadline")
    if (rules.arrangement_past_deadline_untriaged and stage == Stage.REGISTERED.value
            and arrangement_end and arrangement_end > deadline):
        found.append("arrangement-past-deadline")
    return tuple(found)


def compliance(rm: ReadModels, as_of: date | None = None, as_known_at: datetime | None = None,
               deadline: date | None = None, cases: bool = True) -> Compliance:
    """Per hulpvorm: paths in scope, completed on time or late, open, overdue and at risk
    against the plan's deadline (or `deadline` for all); with the cases by reference
    (unless `cases` is false)."""
    day, known = _moments(rm, as_of, as_known_at)
    plan = rm.plan
    deadlines = {h.code: deadline or h.deadline for h in plan.hulpvormen}
    where, params = visible(day, known, rm.db.day)
    as_date = rm.db.as_date

    def standing(hulpvorm: str, stage: str, outcome: str | None, planned: date | None,
                 arr_end: date | None, closed_on: date | None) -> tuple[str, date, tuple]:
        """(on_time, late, overdue, at_risk or on_track; the deadline; the risk reasons)"""
        due = deadlines.get(hulpvorm) or deadline or plan.deadline
        if stage == Stage.CLOSED.value:
            return ("on_time" if closed_on <= due else "late"), due, ()
        if day > due:
            return "overdue", due, ()
        reasons = risk_reasons(plan, stage=stage, outcome=outcome, planned=planned,
                               arrangement_end=arr_end, as_of=day, deadline=due)
        return ("at_risk" if reasons else "on_track"), due, reasons

    # The figures from the paths grouped by what decides their standing (a few thousand
    # groups, however many paths): for a closed path only its closing date.
    closed = Stage.CLOSED.value
    open_only = f"CASE WHEN stage = '{closed}' THEN NULL ELSE {{}} END"
    groups = _select(rm, (
        f"SELECT hulpvorm, stage, {open_only.format('outcome')}, {open_only.format('planned')}, "
        f"{open_only.format('arrangement_end')}, CASE WHEN stage = '{closed}' THEN valid_from "
        f"END, count(*) FROM {PATH_INTERVAL} WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6",
        params))[0]
    tally: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    flagged = False
    for hulpvorm, stage, outcome, planned, arr_end, closed_on, n in groups:
        status = standing(hulpvorm, stage, outcome, as_date(planned), as_date(arr_end),
                          as_date(closed_on))[0]
        t = tally[hulpvorm]
        t["in_scope"] += n
        t[status] += n
        if stage != closed:
            t["open"] += n
        flagged = flagged or status in ("overdue", "at_risk")
    found = []
    if cases and flagged:  # then the open paths themselves, for the ones at risk or overdue
        for ref, hulpvorm, stage, outcome, planned, arr_end, since, combinatie in _select(rm, (
                "SELECT ref, hulpvorm, stage, outcome, planned, arrangement_end, valid_from, "
                f"combinatie FROM {PATH_INTERVAL} WHERE {where} AND stage <> ?",
                [*params, closed]))[0]:
            planned, arr_end = as_date(planned), as_date(arr_end)
            status, due, reasons = standing(hulpvorm, stage, outcome, planned, arr_end, None)
            if status in ("overdue", "at_risk"):
                found.append(RiskCase(rm.ref(ref), hulpvorm, stage, as_date(since), due,
                                      status.replace("_", "-"), reasons, combinatie, planned,
                                      arr_end))
    order = _hulpvorm_order(plan, tally)
    out = tuple(_compliance_row(h, deadlines.get(h) or deadline or plan.deadline, tally[h])
                for h in order)
    summed: dict[str, int] = defaultdict(int)
    for h in order:
        for k, v in tally[h].items():
            summed[k] += v
    latest = max((r.deadline for r in out), default=deadline or plan.deadline)
    order_index = {h: i for i, h in enumerate(order)}
    found.sort(key=lambda c: (order_index[c.hulpvorm], c.status != "overdue", c.ref))
    return Compliance(day, as_known_at, deadline, asdict(plan.risk), out,
                      _compliance_row("total", latest, summed), tuple(found))


def _compliance_row(hulpvorm: str, deadline: date, t: dict[str, int]) -> ComplianceRow:
    n = {k: t.get(k, 0) for k in ("in_scope", "on_time", "late", "open", "overdue",
                                  "at_risk", "on_track")}
    pct = _percentages({k: n[k] for k in ("on_time", "late", "overdue", "at_risk",
                                          "on_track")}, n["in_scope"])
    pct["open"] = round(pct["overdue"] + pct["at_risk"] + pct["on_track"], 1)
    pct = {k: pct[k] for k in ("on_time", "late", "open", "overdue", "at_risk", "on_track")}
    return ComplianceRow(hulpvorm, deadline, pct=pct, **n)


# -- flow ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowMonth:
    """Paths that entered each stage during one month, and those open at its end."""

    month: str  # "2023-09"
    registered: int
    triaged: int
    assigned: int
    handed_over: int
    closed: int
    open_at_end: int  # open at the end of the month (or on as_of, for its month)


@dataclass(frozen=True)
class Lead:
    """Median days between two stages, over the paths that reached both by as_of."""

    hulpvorm: str  # or "total"
    registered_to_triaged: float | None
    triaged_to_assigned: float | None
    assigned_to_handover: float | None
    n_triaged: int  # paths the first median is taken over
    n_assigned: int
    n_handed_over: int


@dataclass(frozen=True)
class Flow:
    as_of: date
    as_known_at: datetime | None
    hulpvorm: str | None
    months: tuple[FlowMonth, ...]  # from the first month with a path to as_of's month
    medians: tuple[Lead, ...]  # per hulpvorm, then "total"


def flow(rm: ReadModels, as_of: date | None = None, as_known_at: datetime | None = None,
         hulpvorm: str | None = None) -> Flow:
    """Per month: paths entering each stage and closing, open at month end; and median
    days from registered to triaged, triaged to assigned, assigned to handover."""
    day, known = _moments(rm, as_of, as_known_at)
    plan = rm.plan
    code = plan.hulpvorm(hulpvorm).code if hulpvorm else None
    when, params = known_then(known)
    where = f"{when} AND enters = ? AND valid_from <= ?"
    params = [*params, True, rm.db.day(day)]
    if code:
        where += " AND hulpvorm = ?"
        params.append(code)
    opened = ", ".join(f"'{s.value}'" for s in OPEN_STAGES)
    per_day, firsts = _select(
        rm,
        (f"SELECT stage, valid_from, count(*) FROM {PATH_INTERVAL} WHERE {where} "
         "GROUP BY stage, valid_from", params),
        (f"SELECT stream_id, hulpvorm, stage, valid_from FROM {PATH_INTERVAL} "
         f"WHERE {where} AND stage IN ({opened})", params))
    as_date = rm.db.as_date
    entered: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for stage, on, n in per_day:
        entered[as_date(on).strftime("%Y-%m")][_STAGE_FIELD[stage]] += n
    months = []
    if entered:
        year, mon = (int(part) for part in min(entered).split("-"))
        still_open = 0
        while (year, mon) <= (day.year, day.month):
            month = f"{year:04d}-{mon:02d}"
            e = entered.get(month, {})
            still_open += e.get("registered", 0) - e.get("closed", 0)
            months.append(FlowMonth(month, *(e.get(f, 0) for f in _STAGE_FIELD.values()),
                                    open_at_end=still_open))
            year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)

    reached: dict[str, dict[str, date]] = defaultdict(dict)
    hulpvorm_of: dict[str, str] = {}
    for sid, h, stage, on in firsts:
        reached[sid][stage] = as_date(on)
        hulpvorm_of[sid] = h
    gaps: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    steps = ((Stage.REGISTERED, Stage.TRIAGED), (Stage.TRIAGED, Stage.ASSIGNED),
             (Stage.ASSIGNED, Stage.HANDED_OVER))
    for sid, on in reached.items():
        for a, b in steps:
            if a.value in on and b.value in on:
                days = (on[b.value] - on[a.value]).days
                gaps[hulpvorm_of[sid]][b.value].append(days)
                gaps["total"][b.value].append(days)
    order = [h for h in _hulpvorm_order(plan, gaps) if h != "total" and (not code or h == code)]
    medians = tuple(_lead(h, gaps.get(h, {})) for h in [*order, "total"])
    return Flow(day, as_known_at, code, tuple(months), medians)


def _lead(hulpvorm: str, gaps: dict[str, list[int]]) -> Lead:
    import statistics  # (here: only the flow needs it; counts and compliance load faster)

    def median(stage: Stage) -> float | None:
        values = gaps.get(stage.value, [])
        return float(statistics.median(values)) if values else None

    return Lead(hulpvorm, median(Stage.TRIAGED), median(Stage.ASSIGNED),
                median(Stage.HANDED_OVER), len(gaps.get(Stage.TRIAGED.value, [])),
                len(gaps.get(Stage.ASSIGNED.value, [])),
                len(gaps.get(Stage.HANDED_OVER.value, [])))


# -- Leefhuis places -------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceCounts:
    """Places of one Leefhuis going to one receiving party (None: staying, or undecided)."""

    leefhuis: str
    receiver: str | None  # receiving combinatie of decided/transferred places
    capacity: int | None  # the Leefhuis's places in the plan (on rows with receiver None)
    places: int
    undecided: int
    kept: int
    transfer_decided: int
    transferred: int
    occupied: int
    empty: int


@dataclass(frozen=True)
class Places:
    as_of: date
    as_known_at: datetime | None
    capacity: int  # contracted capacity in the plan (58)
    keep: int  # places the provider keeps in the plan (30)
    rows: tuple[PlaceCounts, ...]  # per Leefhuis (plan order) and receiving party
    houses: tuple[PlaceCounts, ...]  # per Leefhuis, all receivers together
    total: PlaceCounts  # all Leefhuizen ("total")

    @property
    def remaining(self) -> int:
        """Places still with the provider: registered minus transferred."""
        return self.total.places - self.total.transferred


def places(rm: ReadModels, as_of: date | None = None,
           as_known_at: datetime | None = None) -> Places:
    """Leefhuis places per house and receiving party: kept, transfer decided, transferred,
    undecided; occupied or empty; against the plan's capacity and the places to keep."""
    day, known = _moments(rm, as_of, as_known_at)
    plan = rm.plan
    where, params = visible(day, known, rm.db.day)
    keys = "leefhuis, combinatie, stage, occupied"
    found = _select(rm, (f"SELECT {keys}, count(*) FROM {PLACE_INTERVAL} WHERE {where} "
                         f"GROUP BY {keys}", params))[0]
    field_of = {PlaceStage.REGISTERED.value: "undecided", PlaceStage.KEPT.value: "kept",
                PlaceStage.TRANSFER_DECIDED.value: "transfer_decided",
                PlaceStage.TRANSFERRED.value: "transferred"}
    capacity = {lh.name: lh.places for lh in plan.leefhuizen}
    tally: dict[tuple[str, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for leefhuis, combinatie, stage, occupied, n in found:
        receiver = combinatie if stage in (PlaceStage.TRANSFER_DECIDED.value,
                                           PlaceStage.TRANSFERRED.value) else None
        for key in ((leefhuis, receiver), (leefhuis, "\0house"), ("\0total", None)):
            t = tally[key]
            t["places"] += n
            t[field_of[stage]] += n
            t["occupied" if occupied else "empty"] += n
    houses = list(capacity) + sorted({lh for lh, _ in tally if lh not in capacity
                                      and lh != "\0total"})

    def make(leefhuis: str, receiver: str | None, key: tuple, cap: int | None) -> PlaceCounts:
        t = tally.get(key, {})
        return PlaceCounts(leefhuis, receiver, cap, *(t.get(f, 0) for f in (
            "places", "undecided", "kept", "transfer_decided", "transferred", "occupied",
            "empty")))

    rows = []
    for lh in houses:
        receivers = sorted({r for (h, r) in tally if h == lh and r not in (None, "\0house")})
        rows.append(make(lh, None, (lh, None), capacity.get(lh)))
        rows.extend(make(lh, r, (lh, r), None) for r in receivers)
    return Places(day, as_known_at, plan.leefhuis_capacity, plan.leefhuis_keep, tuple(rows),
                  tuple(make(lh, None, (lh, "\0house"), capacity.get(lh)) for lh in houses),
                  make("total", None, ("\0total", None), plan.leefhuis_capacity))


# -- the list of paths -----------------------------------------------------------------------


@dataclass(frozen=True)
class PathRow:
    """One path as it stood on as_of (the keys of `zov list --format json`)."""

    ref: str
    hulpvorm: str
    stage: str  # Stage value
    since: date  # effective date of its last step by as_of
    gemeente: str
    subregio: str | None
    cohort: str | None
    arrangements: tuple[str, ...]
    arrangement_end: date | None
    outcome: str | None  # Outcome value, once triaged
    combinatie: str | None  # receiving party, once assigned
    aanbieder: str | None
    planned: date | None  # planned handover date
    close_reason: str | None  # CloseReason value, once closed

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))  # as asdict gives it, without deep-copying every value


@dataclass(frozen=True)
class _Listed:
    ref: str
    hulpvorm: str
    stage: str
    valid_from: date
    gemeente: str
    cohort: str | None
    arrangements: str
    arrangement_end: date | None
    outcome: str | None
    combinatie: str | None
    aanbieder: str | None
    planned: date | None
    close_reason: str | None


def paths(rm: ReadModels, as_of: date | None = None, as_known_at: datetime | None = None, *,
          hulpvorm: str | None = None, stage: Stage | None = None,
          gemeente: str | None = None, combinatie: str | None = None,
          open_only: bool = False) -> tuple[PathRow, ...]:
    """The paths on as_of, filtered; ordered by hulpvorm (plan order) and reference."""
    day, known = _moments(rm, as_of, as_known_at)
    plan = rm.plan
    where, params = visible(day, known, rm.db.day)
    if hulpvorm:
        where += " AND hulpvorm = ?"
        params.append(plan.hulpvorm(hulpvorm).code)
    if stage is not None:
        if stage not in COUNTED_STAGES:
            raise InvalidValue(f"no path is listed in stage '{stage.value}'")
        where += " AND stage = ?"
        params.append(stage.value)
    if gemeente:
        where += " AND gemeente = ?"
        params.append(plan.gemeente(gemeente))
    if combinatie:
        where += " AND combinatie = ?"
        params.append(plan.combinatie(combinatie).name)
    if open_only:
        where += " AND stage <> ?"
        params.append(Stage.CLOSED.value)
    found = _select(rm, (
        "SELECT ref, hulpvorm, stage, valid_from, gemeente, cohort, arrangements, "
        "arrangement_end, outcome, combinatie, aanbieder, planned, close_reason "
        f"FROM {PATH_INTERVAL} WHERE {where}", params))[0]
    as_date = rm.db.as_date
    rows = [_Listed(rm.ref(r[0]), *r[1:3], as_date(r[3]), *r[4:7], as_date(r[7]), *r[8:11],
                    as_date(r[11]), r[12]) for r in found]
    order = {h: i for i, h in enumerate(_hulpvorm_order(plan, {r.hulpvorm for r in rows}))}
    return tuple(
        PathRow(r.ref, r.hulpvorm, r.stage, r.valid_from, r.gemeente,
                plan.gemeenten.get(r.gemeente), r.cohort,
                tuple(a for a in r.arrangements.split("; ") if a), r.arrangement_end,
                r.outcome, r.combinatie, r.aanbieder, r.planned, r.close_reason)
        for r in sorted(rows, key=lambda r: (order[r.hulpvorm], r.ref.casefold())))


# -- freshness -------------------------------------------------------------------------------


def last_recorded(rm: ReadModels, as_known_at: datetime | None = None) -> datetime | None:
    """Recording time of the latest event that changed any read model (by `as_known_at`).

    Rendering again with this moment as `as_known_at` reproduces the same answers.
    """
    if as_known_at is None:  # kept by the projection as it folds
        latest = _select(rm, (f"SELECT latest FROM {POSITION} WHERE name = ?",
                              [PROJECTION_NAME]))[0][0][0]
        return moment(latest) if latest else None
    known = micros(as_known_at)
    found = [rows[0][0] for rows in _select(rm, *(
        (f"SELECT max({column}) FROM {table} WHERE {column} <= ?", [known])
        for table in (PATH_INTERVAL, PLACE_INTERVAL)
        for column in ("known_from", "end_known", "known_to")))]
    found = [v for v in found if v is not None]
    return moment(max(found)) if found else None
