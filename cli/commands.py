"""Commands for the store and for client paths: parse, call the tracker, print."""

from __future__ import annotations

from pathlib import Path

import click

from cli.main import Session, cli, pass_session
from cli.output import cell, emit, emit_one
from cli.params import DATE, FORMAT, WordParam, hulpvorm_option, recorded_options
from transfers.vocab import CloseReason, Outcome


def _by(by: str | None) -> str:
    from transfers.app import actor_from_env

    return by or actor_from_env()


def _done(path, what: str) -> None:
    s = path.state
    click.echo(f"{path.key}: {what}; now {s.stage.value}")


@cli.command()
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML plan of another region [default: the built-in Zuid-Limburg 2023 plan]")
@click.option("--revise", is_flag=True, help="adopt a new version of the plan in a store that has one")
@click.option("--show-plan", is_flag=True, help="print the built-in plan (a template for your own)")
@click.option("--by", envvar="ZOV_ACTOR", default=None, help="who adopts the plan")
@pass_session
def init(session: Session, plan_file: Path | None, revise: bool, show_plan: bool,
         by: str | None) -> None:
    """Create the store (if needed) and adopt the phase-out plan.

    \b
    Example:
      zov init
      zov --db postgresql://zov@127.0.0.1/zov init --plan my-region.toml
    """
    if show_plan:
        from transfers.plan import default_plan_text

        click.echo(default_plan_text(), nl=False)
        return
    text = None
    source = "built-in"
    if plan_file:
        try:
            text = plan_file.read_text("utf-8")
        except UnicodeDecodeError:
            raise click.ClickException(f"{plan_file}: not UTF-8 text; save the plan as UTF-8") from None
        source = plan_file.name
    plan = session.open(create=True).adopt_plan(text, source, _by(by), revise=revise)
    click.echo(f"store {session.tracker.store.display} uses plan '{plan.name}' "
               f"(peildatum {plan.peildatum}, deadline {plan.deadline})")


@cli.command()
@FORMAT
@pass_session
def info(session: Session, fmt: str) -> None:
    """Where the store is, which plan it holds, how many events it has.

    \b
    Example:
      zov info --format json
    """
    tracker = session.tracker
    record = tracker.plan_record()
    plan = tracker.plan if record else None
    emit_one({
        "store": tracker.store.display,
        "kind": tracker.store.kind,
        "encrypted": tracker.mapper.cipher is not None,  # ZOV_CIPHER_KEY (README, Privacy)
        "file": str(tracker.store.sqlite_path) if tracker.store.sqlite_path else None,
        "events": tracker.recorder.max_notification_id() or 0,
        "plan": plan.name if plan else None,
        "peildatum": plan.peildatum if plan else None,
        "deadline": plan.deadline if plan else None,
        "hulpvormen": [h.code for h in plan.hulpvormen] if plan else [],
    }, fmt)


@cli.command()
@click.argument("ref")
@click.option("--hulpvorm", "-H", required=True, help="care type, e.g. MKD, 'DB Xtra'")
@click.option("--gemeente", "-g", required=True, help="municipality responsible for the client")
@click.option("--arrangement", "arrangements", multiple=True,
              help="running arrangement (repeat for several)")
@click.option("--arrangement-end", type=DATE, help="end date of the running arrangement")
@click.option("--cohort", help="cohort in the plan, e.g. JENS, Zorgklas")
@recorded_options(on_default="the plan's peildatum")
@pass_session
def register(session: Session, ref: str, hulpvorm: str, gemeente: str,
             arrangements: tuple[str, ...], arrangement_end, cohort, on, by, note) -> None:
    """Register a client's path from the peildatum overview (REF is pseudonymous).

    \b
    Example:
      zov register C-0001 --hulpvorm MKD --gemeente Stein --cohort Overig \\
          --arrangement MKD --arrangement-end 2023-12-31
    """
    path = session.tracker.register(ref, hulpvorm, gemeente, _by(by), arrangements=arrangements,
                                    arrangement_end=arrangement_end, cohort=cohort, on=on,
                                    note=note)
    _done(path, f"registered in {path.state.gemeente}")


@cli.command()
@click.argument("ref")
@click.option("--outcome", "-o", type=WordParam(Outcome), required=True, help="triage outcome")
@hulpvorm_option
@recorded_options()
@pass_session
def triage(session: Session, ref: str, outcome: Outcome, hulpvorm, on, by, note) -> None:
    """Record the outcome of re-triage: transfer, continue, ends or follow-up.

    \b
    Example:
      zov triage C-0001 --outcome transfer --on 2023-05-02
    """
    path = session.tracker.triage(ref, outcome, _by(by), on=on, hulpvorm=hulpvorm, note=note)
    _done(path, f"triaged: {outcome.value}")


@cli.command()
@click.argument("ref")
@click.option("--combinatie", "-c", required=True, help="receiving combination")
@click.option("--aanbieder", "-a", help="receiving provider within the combination")
@click.option("--planned", type=DATE, help="planned date of the warm handover")
@hulpvorm_option
@recorded_options()
@pass_session
def assign(session: Session, ref: str, combinatie: str, aanbieder, planned, hulpvorm, on, by,
           note) -> None:
    """Assign the receiving combination (again, to change it).

    \b
    Example:
      zov assign C-0001 --combinatie "Kracht van Dichtbij" --aanbieder Mutsaersstichting \\
          --planned 2023-09-01 --on 2023-06-12
    """
    path = session.tracker.assign(ref, combinatie, _by(by), aanbieder=aanbieder, planned=planned,
                                  on=on, hulpvorm=hulpvorm, note=note)
    _done(path, f"receiving party {path.state.combinatie}")


@cli.command("plan-handover")
@click.argument("ref")
@click.option("--planned", type=DATE, required=True, help="planned date of the warm handover")
@hulpvorm_option
@recorded_options()
@pass_session
def plan_handover(session: Session, ref: str, planned, hulpvorm, on, by, note) -> None:
    """Record or move the planned date of the warm handover.

    \b
    Example:
      zov plan-handover C-0001 --planned 2023-10-02
    """
    path = session.tracker.plan_handover(ref, planned, _by(by), on=on, hulpvorm=hulpvorm,
                                         note=note)
    _done(path, f"handover planned for {planned.isoformat()}")


@cli.command()
@click.argument("ref")
@hulpvorm_option
@recorded_options()
@pass_session
def handover(session: Session, ref: str, hulpvorm, on, by, note) -> None:
    """Record that the warm handover to the receiving party took place.

    \b
    Example:
      zov handover C-0001 --on 2023-09-28
    """
    path = session.tracker.hand_over(ref, _by(by), on=on, hulpvorm=hulpvorm, note=note)
    _done(path, "warm handover done")


@cli.command()
@click.argument("ref")
@click.option("--reason", "-r", type=WordParam(CloseReason), required=True, help="close reason")
@hulpvorm_option
@recorded_options()
@pass_session
def close(session: Session, ref: str, reason: CloseReason, hulpvorm, on, by, note) -> None:
    """Close the path with a reason.

    \b
    Example:
      zov close C-0001 --reason transferred --on 2023-10-01
    """
    path = session.tracker.close_path(ref, reason, _by(by), on=on, hulpvorm=hulpvorm, note=note)
    _done(path, f"closed: {reason.value}")


@cli.command()
@click.argument("ref")
@click.option("--gemeente", "-g", help="the right municipality")
@click.option("--arrangement", "arrangements", multiple=True,
              help="the right arrangement(s) (repeat for several)")
@click.option("--arrangement-end", type=DATE, help="the right end date of the arrangement")
@click.option("--cohort", help="the right cohort")
@hulpvorm_option
@recorded_options(dated=False)
@pass_session
def amend(session: Session, ref: str, gemeente, arrangements, arrangement_end, cohort, hulpvorm,
          by, note) -> None:
    """Correct registration details; the original stays visible in the history.

    \b
    Example:
      zov amend C-0001 --gemeente Meerssen --note "typo in overview"
    """
    path = session.tracker.amend(ref, _by(by), hulpvorm=hulpvorm, gemeente=gemeente,
                                 arrangements=arrangements or None,
                                 arrangement_end=arrangement_end, cohort=cohort, note=note)
    _done(path, "registration amended")


@cli.command()
@click.argument("ref")
@click.option("--event", "-e", "version", type=click.IntRange(min=1), required=True,
              help="number of the event to void (see `zov show`)")
@click.option("--reason", "-r", required=True, help="why the event was wrong")
@hulpvorm_option
@recorded_options(dated=False)
@pass_session
def correct(session: Session, ref: str, version: int, reason: str, hulpvorm, by, note) -> None:
    """Void a mistaken event by appending a correction (history is never edited).

    Voiding event 1 (the registration) withdraws the whole path.

    \b
    Example:
      zov correct C-0001 --event 4 --reason "handover was on the 28th"
    """
    path = session.tracker.correct(ref, version, reason, _by(by), hulpvorm=hulpvorm, note=note)
    _done(path, f"event {version} voided")


def _timeline_rows(tracker, stream) -> list[dict]:
    return [
        {
            "event_no": r.version,
            "on": r.on,
            "event": r.event,
            "details": ", ".join(f"{k}={cell(v)}" for k, v in r.details.items() if v not in
                                 (None, [], ())),
            "note": r.note,
            "by": r.by,
            "recorded_at": r.recorded_at,
            "voided": r.voided_by,
        }
        for r in tracker.timeline(stream)
    ]


@cli.command()
@click.argument("ref")
@hulpvorm_option
@FORMAT
@pass_session
def show(session: Session, ref: str, hulpvorm, fmt: str) -> None:
    """Show a client's path as a timeline (all paths of REF unless --hulpvorm).

    \b
    Example:
      zov show C-0001
    """
    tracker = session.tracker
    paths = [tracker.path(ref, hulpvorm)] if hulpvorm else tracker.paths_of(ref)
    if not paths:
        tracker.path(ref)  # raises the "no such path" refusal
    if fmt != "table":
        emit([{"ref": p.ref, "hulpvorm": p.hulpvorm, **row} for p in paths
              for row in _timeline_rows(tracker, p)], fmt,
             ["ref", "hulpvorm", "event_no", "on", "event", "details", "note", "by",
              "recorded_at", "voided"])
        return
    for p in paths:
        s = p.state
        click.echo(f"{p.key} — {s.stage.value}, gemeente {s.gemeente or '-'}"
                   + (f", receiving {s.combinatie}" if s.combinatie else ""))
        rows = _timeline_rows(tracker, p)
        for row in rows:
            row["recorded"] = f"{row['recorded_at']:%Y-%m-%d %H:%M} {row['by']}"
            row["event"] = row["event"] + (" [voided]" if row["voided"] else "")
        emit(rows, "table", ["event_no", "on", "event", "details", "recorded"])
        click.echo()
