"""Read commands: list, counts, compliance, flow, places, and `zov projections ...`.

They answer from the read models (projections/), which they first bring up to date with the
event log, so an answer includes every event recorded before the command started. SQLAlchemy
is imported inside the commands only: the write commands stay light.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import click

from cli.main import Session, cli, pass_session
from cli.output import cell, emit, emit_one, plain
from cli.params import DATE, FORMAT, MOMENT, WordParam
from transfers.vocab import Stage

# -- parameters -------------------------------------------------------------------------------

def as_of_options(f: Callable) -> Callable:
    """--as-of (effective date) and --as-known-at (recording time) of every read command."""
    f = click.option("--as-known-at", type=MOMENT, default=None,
                     help="use only events recorded by then, to reproduce an earlier answer: "
                          "a date (its end) or '2023-10-02 17:30' [UTC unless an offset "
                          "like +02:00 is given; default: everything recorded]")(f)
    f = click.option("--as-of", type=DATE, default=None,
                     help="peildatum: paths as they stood at the end of this day, by the "
                          "dates things happened [default: today]")(f)
    return f


# -- opening the read models -------------------------------------------------------------------


class _Bar:
    """A progress bar on a terminal's stderr, for long runs (or always, when asked)."""

    def __init__(self, label: str, always: bool = False, threshold: int = 20_000) -> None:
        self.label, self.always, self.threshold = label, always, threshold
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if not sys.stderr.isatty() or not (self.always or total >= self.threshold):
                return
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr,
                                         show_pos=True)
            self.bar.__enter__()
        step = min(done, self.bar.length) - self.shown
        if step > 0:
            self.bar.update(step)
            self.shown += step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
            self.shown = 0


def answers(command: Callable) -> Callable:
    """Turn a database failure while answering into one line for the user."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from projections.db import database_error, errors

        try:
            return command(*args, **kwargs)
        except errors() as exc:
            session = click.get_current_context().find_object(Session)
            raise click.ClickException(str(database_error(exc, session.store))) from None

    return run


def read_models(session: Session, catch_up: bool = True):
    """The store's read models, caught up with the log (closed with the command); when they
    are up to date already, opened without the event store (see `ReadModels.if_current`)."""
    from projections import ReadModels

    light = ReadModels.if_current(session.store) if catch_up else None
    rm = light or ReadModels(session.tracker, catch_up=False)
    click.get_current_context().call_on_close(rm.close)
    if catch_up and light is None:
        if rm.outdated():  # say why this read takes longer than the others
            click.echo("the read models were written by another version of zov: rebuilding "
                       "them from the log (once)", err=True)
        bar = _Bar("catching up")
        try:
            rm.catch_up(bar)
        finally:
            bar.close()
    return rm


# -- printing reports ----------------------------------------------------------------------


def report_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                 headers: Mapping[str, str] | None = None, width: int = 80) -> str:
    """An aligned table, numbers right-aligned, long names shortened to fit `width`."""
    headers = headers or {}
    names = [headers.get(c, c) for c in columns]
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    numeric = [all(_NUMBER.match(v) or v in ("", "-") for v in values)
               and any(_NUMBER.match(v) for v in values)
               for values in zip(*cells, strict=False)] if cells else [False] * len(columns)
    widths = [max([len(n)] + [len(row[i]) for row in cells]) for i, n in enumerate(names)]
    while sum(widths) + 2 * (len(widths) - 1) > width:  # shorten the longest names
        texts = [i for i, num in enumerate(numeric) if not num and widths[i] > 12]
        if not texts:
            break
        widths[max(texts, key=lambda i: widths[i])] -= 1

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else (v if len(v) <= w else v[: w - 1] + "…").ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(names), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


_NUMBER = re.compile(r"^-?\d+(\.\d+)?%?(/\d+)?$")


def _heading(what: str, as_of: date, as_known_at: datetime | None) -> str:
    known = (f"as known at {as_known_at.isoformat(timespec='seconds')}" if as_known_at
             else "everything recorded")
    return f"{what} on {as_of.isoformat()} ({known})"


def _json(payload: Any) -> None:
    click.echo(json.dumps(plain(payload), ensure_ascii=False, indent=2))


# -- commands ----------------------------------------------------------------------------------


LIST_COLUMNS = ["ref", "hulpvorm", "stage", "since", "gemeente", "subregio", "cohort",
                "arrangements", "arrangement_end", "outcome", "combinatie", "aanbieder",
                "planned", "close_reason"]


@cli.command("list")
@click.option("--hulpvorm", "-H", help="only this care type")
@click.option("--stage", "-s", type=WordParam(Stage), help="only paths in this stage")
@click.option("--gemeente", "-g", help="only clients of this municipality")
@click.option("--combinatie", "-c", help="only paths going to this receiving party")
@click.option("--open", "open_only", is_flag=True, help="only paths not closed yet")
@as_of_options
@FORMAT
@pass_session
@answers
def list_paths(session: Session, hulpvorm, stage, gemeente, combinatie, open_only, as_of,
               as_known_at, fmt: str) -> None:
    """List client paths as they stood on a date, filtered.

    JSON/CSV keys (stable): ref, hulpvorm, stage, since (date of the last step), gemeente,
    subregio, cohort, arrangements (list), arrangement_end, outcome, combinatie, aanbieder,
    planned (handover date), close_reason. Stages and reasons are the stored words.

    \b
    Example:
      zov list --hulpvorm MKD --open --gemeente Stein
      zov list --stage assigned --format csv > assigned.csv
    """
    from projections import queries

    rows = queries.paths(read_models(session), as_of, as_known_at, hulpvorm=hulpvorm,
                         stage=stage, gemeente=gemeente, combinatie=combinatie,
                         open_only=open_only)
    records = [r.as_dict() for r in rows]
    if fmt == "table":
        emit(records, fmt, ["ref", "hulpvorm", "stage", "since", "gemeente", "combinatie",
                            "planned"])
    else:
        emit(records, fmt, LIST_COLUMNS)


STAGE_COLUMNS = ["registered", "triaged", "assigned", "handed_over", "closed", "total"]
STAGE_HEADERS = {"handed_over": "handover"}


@cli.command()
@click.option("--by", type=click.Choice(["gemeente", "subregio", "combinatie", "cohort"]),
              help="break the counts down (combinatie: the receiving party)")
@as_of_options
@FORMAT
@pass_session
@answers
def counts(session: Session, by: str | None, as_of, as_known_at, fmt: str) -> None:
    """Paths per hulpvorm and stage on a date; every path in exactly one stage.

    JSON: {as_of, as_known_at, by, rows: [{hulpvorm, <by>, registered, triaged,
    assigned, handed_over, closed, open, total}], per_hulpvorm, total,
    closed_by_reason: [{hulpvorm, reason, count}]}. CSV: the rows.

    \b
    Example:
      zov counts --as-of 2023-09-30
      zov counts --by gemeente --as-known-at '2023-10-02 17:00' --format json
    """
    from projections import queries

    result = queries.counts(read_models(session), as_of, as_known_at, by)
    rows = [r.as_dict(by) for r in result.rows]
    if fmt == "json":
        _json({"as_of": result.as_of, "as_known_at": result.as_known_at, "by": by,
               "rows": rows, "per_hulpvorm": [r.as_dict() for r in result.per_hulpvorm],
               "total": result.total.as_dict(),
               "closed_by_reason": [vars(r) for r in result.closed_by_reason]})
        return
    if fmt == "csv":
        emit(rows, "csv", ["hulpvorm", *([by] if by else []), *STAGE_COLUMNS[:-1], "open",
                           "total"])
        return
    click.echo(_heading("Paths per stage", result.as_of, result.as_known_at))
    if by is None:
        table = [*rows, {**result.total.as_dict(), "hulpvorm": "total"}]
        click.echo(report_table(table, ["hulpvorm", *STAGE_COLUMNS], STAGE_HEADERS))
    else:
        for h in result.per_hulpvorm:
            if not h.total:
                continue
            mine = [r for r in rows if r["hulpvorm"] == h.hulpvorm]
            for r in mine:
                r[by] = r[by] if r[by] is not None else "(none yet)" if by == "combinatie" \
                    else "(unknown)"
            click.echo(f"\n{h.hulpvorm}")
            click.echo(report_table([*mine, {**h.as_dict(), by: "total"}],
                                    [by, *STAGE_COLUMNS], STAGE_HEADERS))
    if result.closed_by_reason:
        click.echo("\nClosed, by reason")
        click.echo(report_table([vars(r) for r in result.closed_by_reason],
                                ["hulpvorm", "reason", "count"]))


COMPLIANCE_COLUMNS = ["in_scope", "on_time", "late", "open", "overdue", "at_risk", "on_track"]


@cli.command()
@click.option("--deadline", type=DATE, help="judge every hulpvorm against this date "
                                           "[default: each hulpvorm's deadline in the plan]")
@click.option("--cases/--no-cases", default=True, show_default=True,
              help="list the overdue and at-risk paths by reference (table output)")
@as_of_options
@FORMAT
@pass_session
@answers
def compliance(session: Session, deadline, cases: bool, as_of, as_known_at, fmt: str) -> None:
    """Deadline compliance per hulpvorm: completed on time or late, open, overdue, at risk.

    in_scope = on_time + late + open, and open = overdue + at_risk + on_track. A path is
    overdue when it is open after its deadline; at risk when it is open before it and a
    rule of the plan's [risk] table applies: no receiving party within no_receiver_weeks
    of the deadline (no-receiver), a handover planned after it (planned-after-deadline),
    or an arrangement running past it without a triage (arrangement-past-deadline).

    JSON: {as_of, as_known_at, deadline, rules, rows: [{hulpvorm, deadline, in_scope, ...,
    on_time_pct, ...}], total, cases: [{ref, hulpvorm, stage, since, deadline, status,
    reasons, ...}]}. CSV: the rows.

    \b
    Example:
      zov compliance --as-of 2023-11-01
      zov compliance --deadline 2023-10-31 --format json
    """
    from projections import queries

    # JSON always carries the cases (--no-cases is about the table); CSV never shows them.
    result = queries.compliance(read_models(session), as_of, as_known_at, deadline,
                                cases=fmt == "json" or (cases and fmt == "table"))
    rows = [r.as_dict() for r in result.rows]
    total = result.total.as_dict()
    if fmt == "json":
        _json({"as_of": result.as_of, "as_known_at": result.as_known_at,
               "deadline": result.deadline, "rules": result.rules, "rows": rows,
               "total": total, "cases": [vars(c) for c in result.cases]})
        return
    if fmt == "csv":
        emit(rows, "csv", ["hulpvorm", "deadline", *COMPLIANCE_COLUMNS,
                           *(f"{c}_pct" for c in COMPLIANCE_COLUMNS[1:])])
        return
    click.echo(_heading("Deadline compliance", result.as_of, result.as_known_at))
    deadlines = sorted({r.deadline for r in result.rows})
    click.echo("deadline " + ", ".join(
        f"{r.hulpvorm} {r.deadline}" for r in result.rows) if len(deadlines) > 1
        else f"deadline {deadlines[0] if deadlines else result.deadline}")
    table = []
    for r in [*rows, total]:
        table.append(r)
        if r["in_scope"]:
            table.append({"hulpvorm": "", "in_scope": "100%",
                          **{c: f"{r[f'{c}_pct']:g}%" for c in COMPLIANCE_COLUMNS[1:]}})
    click.echo(report_table(table, ["hulpvorm", *COMPLIANCE_COLUMNS],
                            {"in_scope": "in scope", "on_time": "on time", "at_risk": "at risk",
                             "on_track": "on track"}))
    if cases and result.cases:
        click.echo("\nOverdue and at risk")
        click.echo(report_table(
            [{**vars(c), "reasons": ", ".join(c.reasons)} for c in result.cases],
            ["ref", "hulpvorm", "stage", "since", "status", "reasons"]))


@cli.command()
@click.option("--hulpvorm", "-H", help="only this care type")
@as_of_options
@FORMAT
@pass_session
@answers
def flow(session: Session, hulpvorm, as_of, as_known_at, fmt: str) -> None:
    """Per month: paths entering each stage, closed, and open at month end; and the median
    days from registered to triaged, triaged to assigned, assigned to handover.

    JSON: {as_of, as_known_at, hulpvorm, months: [{month, registered, triaged, assigned,
    handed_over, closed, open_at_end}], medians: [{hulpvorm, registered_to_triaged,
    triaged_to_assigned, assigned_to_handover, n_triaged, n_assigned, n_handed_over}]}.
    CSV: the months.

    \b
    Example:
      zov flow --as-of 2023-12-31
      zov flow --hulpvorm MKD --format csv
    """
    from projections import queries

    result = queries.flow(read_models(session), as_of, as_known_at, hulpvorm)
    months = [vars(m) for m in result.months]
    if fmt == "json":
        _json({"as_of": result.as_of, "as_known_at": result.as_known_at,
               "hulpvorm": result.hulpvorm, "months": months,
               "medians": [vars(m) for m in result.medians]})
        return
    columns = ["month", "registered", "triaged", "assigned", "handed_over", "closed",
               "open_at_end"]
    if fmt == "csv":
        emit(months, "csv", columns)
        return
    click.echo(_heading("Flow per month" + (f" ({result.hulpvorm})" if result.hulpvorm
                                            else ""), result.as_of, result.as_known_at))
    click.echo(report_table(_quiet_months_together(months), columns,
                            {"handed_over": "handover", "open_at_end": "open at end"})
               if months else "(nothing)")
    click.echo("\nMedian days between stages")
    click.echo(report_table(
        [{k: (f"{v:g}" if isinstance(v, float) else "-" if v is None else v)
          for k, v in vars(m).items()} for m in result.medians],
        ["hulpvorm", "registered_to_triaged", "triaged_to_assigned", "assigned_to_handover"],
        {"registered_to_triaged": "registered→triaged",
         "triaged_to_assigned": "triaged→assigned",
         "assigned_to_handover": "assigned→handover"}))


def _quiet_months_together(months: list[dict]) -> list[dict]:
    """For people: three or more months in a row without any step become one line."""
    out: list[dict] = []
    quiet: list[dict] = []
    moves = ("registered", "triaged", "assigned", "handed_over", "closed")

    def flush() -> None:
        if len(quiet) >= 3:
            out.append({**quiet[-1], "month": f"{quiet[0]['month']}..{quiet[-1]['month']}"})
        else:
            out.extend(quiet)
        quiet.clear()

    for m in months:
        if any(m[k] for k in moves):
            flush()
            out.append(m)
        else:
            quiet.append(m)
    flush()
    return out


@cli.command("places")
@as_of_options
@FORMAT
@pass_session
@answers
def places_report(session: Session, as_of, as_known_at, fmt: str) -> None:
    """Leefhuis places per house and receiving party: kept, transfer decided,
    transferred or undecided; occupied or empty; against the plan's capacity.

    JSON: {as_of, as_known_at, capacity, keep, remaining, rows: [{leefhuis, receiver,
    capacity, places, undecided, kept, transfer_decided, transferred, occupied, empty}],
    houses, total}. CSV: the rows.

    \b
    Example:
      zov places --as-of 2023-06-01
    """
    from projections import queries

    result = queries.places(read_models(session), as_of, as_known_at)
    rows = [vars(r) for r in result.rows]
    columns = ["leefhuis", "receiver", "capacity", "places", "undecided", "kept",
               "transfer_decided", "transferred", "occupied", "empty"]
    if fmt == "json":
        _json({"as_of": result.as_of, "as_known_at": result.as_known_at,
               "capacity": result.capacity, "keep": result.keep,
               "remaining": result.remaining, "rows": rows,
               "houses": [vars(h) for h in result.houses], "total": vars(result.total)})
        return
    if fmt == "csv":
        emit(rows, "csv", columns)
        return
    click.echo(_heading("Leefhuis places", result.as_of, result.as_known_at))
    t = result.total
    click.echo(f"capacity {result.capacity} → keep {result.keep} (plan); registered "
               f"{t.places}: occupied {t.occupied}, empty {t.empty}")
    table = []
    for house in result.houses:
        table.append({**vars(house), "places": f"{house.places}/{house.capacity}"
                      if house.capacity is not None else house.places})
        for r in result.rows:
            if r.leefhuis == house.leefhuis and r.receiver is not None:
                table.append({**vars(r), "leefhuis": f" → {r.receiver}"})
    table.append({**vars(t), "leefhuis": "total", "places": f"{t.places}/{result.capacity}"})
    click.echo(report_table(table, ["leefhuis", "places", "kept", "transfer_decided",
                                    "transferred", "undecided", "occupied"],
                            {"leefhuis": "leefhuis → receiver", "transfer_decided": "decided"}))


@cli.group()
def projections() -> None:
    """The read models behind list, counts, compliance, flow and places.

    They are derived from the event log alone: every read command first folds in the
    events recorded since the last one; `rebuild` throws them away and folds the whole
    log again.

    \b
    Example:
      zov projections status
      zov projections rebuild
    """


@projections.command("status")
@FORMAT
@pass_session
@answers
def projections_status(session: Session, fmt: str) -> None:
    """Where the read models stand against the event log (lag: events not folded in yet).

    \b
    Example:
      zov projections status --format json
    """
    status = read_models(session, catch_up=False).status()
    emit_one({
        "position": status.position,
        "head": status.head,
        "lag": status.lag,
        "version": status.version,
        "current_version": status.current_version,
        "needs_rebuild": status.needs_rebuild,
        "path_rows": status.path_rows,
        "place_rows": status.place_rows,
    }, fmt)


@projections.command("rebuild")
@pass_session
@answers
def projections_rebuild(session: Session) -> None:
    """Drop the read models and fold the whole event log again.

    The store stays usable meanwhile: the log is folded first, then the tables are
    replaced in one transaction.

    \b
    Example:
      zov projections rebuild
    """
    import time as clock

    rm = read_models(session, catch_up=False)
    bar = _Bar("folding events", always=True)
    started = clock.perf_counter()
    def writing(rows: int) -> None:
        bar.close()
        if sys.stderr.isatty():
            click.echo(f"writing {rows} rows…", err=True)

    try:
        events = rm.rebuild(progress=bar, writing_rows=writing)
    finally:
        bar.close()
    seconds = clock.perf_counter() - started
    status = rm.status()
    click.echo(f"rebuilt from {events} events in {seconds:.1f}s: {status.path_rows} path "
               f"rows, {status.place_rows} place rows, position {status.position}")
