"""The monthly progress memo's view-model, built from the projection queries.

Every number in the memo comes from the same query functions the CLI prints, so memo and
`zov counts --format json` can never disagree. The templates only lay this out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from projections import queries as q
from projections.readmodels import ReadModels
from templates.chart import Chart, Series, burn_down
from templates.dutch import MONTHS, datum, getal, procent
from transfers.vocab import CloseReason, Stage

STAGE_VALUES = ("registered", "triaged", "assigned", "handed-over", "closed")
STAGE_FIELDS = ("registered", "triaged", "assigned", "handed_over", "closed")


@dataclass(frozen=True)
class StageRow:
    """One care type's paths by stage at the memo date."""

    hulpvorm: str
    counts: tuple[int, ...]  # in the order of Memo.stage_labels
    total: int
    open: int
    handed_over: int  # warm handover done (handed over, or closed as transferred)
    closed: int

    @property
    def waiting_to_close(self) -> int:
        """Handed over warmly, not closed yet."""
        return self.counts[STAGE_FIELDS.index("handed_over")]


@dataclass(frozen=True)
class ChangeRow:
    """What changed for one care type since the end of the previous month."""

    hulpvorm: str
    deltas: tuple[int, ...]  # per stage, in the order of Memo.stage_labels
    entered: int  # paths that entered the stage 'closed' during the month
    handed_over: int  # warm handovers during the month


@dataclass(frozen=True)
class ComplianceRow:
    hulpvorm: str
    deadline: date
    in_scope: int
    on_time: int
    late: int
    open: int
    overdue: int
    at_risk: int
    pct_on_time: float | None
    pct_late: float | None
    pct_open: float | None


@dataclass(frozen=True)
class RiskCase:
    ref: str
    hulpvorm: str
    stage: str
    reasons: str


@dataclass(frozen=True)
class PlaceRow:
    leefhuis: str
    capacity: int
    registered: int
    kept: int
    decided: int
    transferred: int
    occupied: int
    empty: int
    receiving: str


@dataclass(frozen=True)
class CombinatieRow:
    combinatie: str
    counts: tuple[int, ...]  # per care type, in the order of Memo.hulpvormen
    total: int


@dataclass(frozen=True)
class Memo:
    """Everything the memo shows, already counted and ordered."""

    title: str
    plan_name: str
    region: str
    provider: str
    month: date  # first day of the memo's month
    as_of: date  # last day of the month: the counting date
    previous_as_of: date
    peildatum: date
    deadline: date
    last_recorded: datetime | None  # recording time of the latest event that counts
    hulpvormen: tuple[str, ...]
    stage_labels: tuple[str, ...]
    stages: tuple[StageRow, ...]
    stage_total: StageRow
    changes: tuple[ChangeRow, ...]
    compliance: tuple[ComplianceRow, ...]
    compliance_total: ComplianceRow
    at_risk: tuple[RiskCase, ...]
    places: tuple[PlaceRow, ...]
    places_total: PlaceRow
    places_capacity: int
    places_keep: int
    combinaties: tuple[CombinatieRow, ...]
    chart: Chart
    summary: tuple[str, ...]  # the summary written out: a sentence per care type, then the total
    generated_at: datetime | None = None  # only with --stamp


# -- building it -----------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, date, date]:
    """First day, last day, and last day of the previous month, of 'YYYY-MM'."""
    from transfers.errors import InvalidValue

    try:
        year, mon = (int(part) for part in month.strip().split("-"))
        first = date(year, mon, 1)
        following = date(year + mon // 12, mon % 12 + 1, 1)
        previous = first - timedelta(days=1)
    except (ValueError, OverflowError):  # not YYYY-MM, or at the end of the calendar
        raise InvalidValue(f"month '{month}' is not a month; write it as 2023-09") from None
    return first, following - timedelta(days=1), previous


def _month_ends(start: date, end: date) -> list[date]:
    """Last days of the months from start's month to end's month (end itself for its month)."""
    out, first = [], date(start.year, start.month, 1)
    while first <= end:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        out.append(min(following - timedelta(days=1), end))
        first = following
    return out


def _paths(n: int, one: str, many: str) -> str:
    return f"{getal(n)} {one if n == 1 else many}"


def _summary(stages: tuple[StageRow, ...], total: ComplianceRow, as_of: date) -> tuple[str, ...]:
    """The key numbers written out, so that they add up as a reader adds them."""
    lines = []
    for s in stages:
        if not s.total:
            continue
        closed_after = s.handed_over - s.waiting_to_close
        closed = f"{getal(s.closed)} afgesloten" if s.closed else "nog geen afgesloten"
        line = (f"Van de {_paths(s.total, f'{s.hulpvorm}-cliënt', f'{s.hulpvorm}-cliënten')} "
                f"{'zijn' if s.closed > 1 else 'is'} er per {datum(as_of)} {closed}")
        if closed_after:
            line += f", van wie {getal(closed_after)} na een warme overdracht"
        line += f"; {_paths(s.open, 'pad loopt', 'paden lopen')} nog"
        if s.waiting_to_close:
            line += f", waarvan {getal(s.waiting_to_close)} al warm overgedragen"
        lines.append(line + ".")
    line = (f"Van alle {_paths(total.in_scope, 'pad', 'paden')} is {procent(total.pct_on_time)} "
            "vóór de deadline afgerond")
    if total.late:
        line += f" en {procent(total.pct_late)} na de deadline"
    if total.overdue:
        line += f". {_paths(total.overdue, 'pad staat', 'paden staan')} na de deadline nog open."
    elif total.at_risk:
        line += (f". {_paths(total.at_risk, 'open pad loopt', 'open paden lopen')} risico de "
                 "deadline niet te halen.")
    else:
        line += ". Geen open pad loopt risico de deadline niet te halen."
    return (*lines, line)


def build_memo(rm: ReadModels, month: str, as_known_at: datetime | None = None,
               stamp: datetime | None = None) -> Memo:
    """The memo for `month` ('YYYY-MM'), counted as of its last day, from the read models."""
    from transfers.errors import InvalidValue

    plan = rm.plan
    first, as_of, previous = month_bounds(month)
    if as_of < plan.peildatum:
        raise InvalidValue(f"month {month} lies before the plan's peildatum "
                           f"{plan.peildatum.isoformat()}; there is nothing to report yet")
    if first > date.today():
        raise InvalidValue(f"month {month} has not begun yet; a memo reports on a month that "
                           "has begun (or ended)")
    now = q.counts(rm, as_of, as_known_at)
    before = q.counts(rm, previous, as_known_at)
    by_combinatie = q.counts(rm, as_of, as_known_at, by="combinatie")
    comp = q.compliance(rm, as_of, as_known_at)
    houses = q.places(rm, as_of, as_known_at)
    codes = tuple(h.code for h in plan.hulpvormen)

    def transferred(c: q.Counts, code: str | None) -> int:
        return sum(r.count for r in c.closed_by_reason
                   if r.reason == CloseReason.TRANSFERRED.value and code in (None, r.hulpvorm))

    def stage_row(s: q.StageCounts, code: str | None, counts: q.Counts) -> StageRow:
        return StageRow(s.hulpvorm if code else "Totaal",
                        tuple(getattr(s, f) for f in STAGE_FIELDS), s.total, s.open,
                        s.handed_over + transferred(counts, code), s.closed)

    stages = tuple(stage_row(s, s.hulpvorm, now) for s in now.per_hulpvorm)
    earlier = {s.hulpvorm: stage_row(s, s.hulpvorm, before) for s in before.per_hulpvorm}
    changes = []
    for row in stages:
        old = earlier.get(row.hulpvorm) or StageRow(row.hulpvorm, (0,) * len(STAGE_FIELDS),
                                                    0, 0, 0, 0)
        changes.append(ChangeRow(row.hulpvorm,
                                 tuple(a - b for a, b in zip(row.counts, old.counts, strict=True)),
                                 row.closed - old.closed, row.handed_over - old.handed_over))

    def compliance_row(r: q.ComplianceRow, name: str) -> ComplianceRow:
        share = (lambda key: r.pct.get(key)) if r.in_scope else (lambda key: None)
        return ComplianceRow(name, r.deadline, r.in_scope, r.on_time, r.late, r.open, r.overdue,
                             r.at_risk, share("on_time"), share("late"), share("open"))

    risk = tuple(
        RiskCase(c.ref, c.hulpvorm, Stage(c.stage).label,
                 "; ".join(q.RISK_REASONS[r] for r in c.reasons) if c.reasons
                 else f"deadline {c.deadline.isoformat()} verstreken")
        for c in comp.cases)

    def place_row(p: q.PlaceCounts, receiving: str) -> PlaceRow:
        return PlaceRow(p.leefhuis if p.leefhuis != "total" else "Totaal", p.capacity or 0,
                        p.places, p.kept, p.transfer_decided, p.transferred, p.occupied,
                        p.empty, receiving)

    receivers: dict[str, list[str]] = {}
    for p in houses.rows:
        if p.receiver:
            receivers.setdefault(p.leefhuis, []).append(f"{p.receiver} ({p.places})")
    place_rows = tuple(place_row(p, ", ".join(receivers.get(p.leefhuis, [])) or "–")
                       for p in houses.houses)

    per_combinatie: dict[str, dict[str, int]] = {}
    for s in by_combinatie.rows:
        if s.group is not None:
            per_combinatie.setdefault(s.group, {})[s.hulpvorm] = s.total
    combinaties = tuple(
        CombinatieRow(name, tuple(per_combinatie[name].get(c, 0) for c in codes),
                      sum(per_combinatie[name].values()))
        for name in [c.name for c in plan.combinaties if c.name in per_combinatie]
        + sorted(set(per_combinatie) - {c.name for c in plan.combinaties}))

    chart_end = max(plan.deadline, as_of)
    series = []
    ends = _month_ends(plan.peildatum, as_of)
    monthly = [(day, q.counts(rm, day, as_known_at)) for day in [plan.peildatum, *ends]]
    for code in codes:
        series.append(Series(code, tuple(
            (day, next((s.open for s in c.per_hulpvorm if s.hulpvorm == code), 0))
            for day, c in monthly)))
    title = f"Voortgang zorgoverdracht {plan.provider} — {MONTHS[first.month - 1]} {first.year}"
    return Memo(
        title=title, plan_name=plan.name, region=plan.region, provider=plan.provider,
        month=first, as_of=as_of, previous_as_of=previous, peildatum=plan.peildatum,
        deadline=plan.deadline,
        last_recorded=q.last_recorded(rm, as_known_at),
        hulpvormen=codes, stage_labels=tuple(Stage(s).label for s in STAGE_VALUES),
        stages=stages, stage_total=stage_row(now.total, None, now), changes=tuple(changes),
        compliance=tuple(compliance_row(r, r.hulpvorm) for r in comp.rows),
        compliance_total=compliance_row(comp.total, "Totaal"), at_risk=risk,
        places=place_rows, places_total=place_row(houses.total, ""),
        places_capacity=houses.capacity, places_keep=houses.keep, combinaties=combinaties,
        chart=burn_down(series, plan.peildatum, chart_end, plan.deadline,
                        "Open paden per hulpvorm, einde van elke maand"),
        summary=_summary(stages, compliance_row(comp.total, "Totaal"), as_of),
        generated_at=stamp,
    )

