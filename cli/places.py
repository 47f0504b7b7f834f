"""Commands for Leefhuis places: `zov place ...`."""

from __future__ import annotations

import click

from cli.commands import _by, _timeline_rows
from cli.main import Session, cli, pass_session
from cli.output import emit
from cli.params import FORMAT, recorded_options


def _done(place, what: str) -> None:
    s = place.state
    occupancy = f"occupied by {s.ref}" if s.occupied else "empty"
    click.echo(f"{place.key}: {what}; now {s.stage.value}, {occupancy}")


@cli.group()
def place() -> None:
    """Leefhuis places: register, decide transfer or keep, transfer, occupancy.

    \b
    Example:
      zov place register LH-A-01 --leefhuis LH-A --occupied --ref C-0450
      zov place decide LH-A-01 --combinatie HOOM --on 2023-05-10
    """


@place.command("register")
@click.argument("place_code", metavar="PLACE")
@click.option("--leefhuis", "-l", required=True, help="the Leefhuis the place belongs to")
@click.option("--occupied/--empty", default=False, help="is a client living there")
@click.option("--ref", help="pseudonymous reference of the client in an occupied place")
@recorded_options(on_default="the plan's peildatum")
@pass_session
def register_place(session: Session, place_code: str, leefhuis: str, occupied: bool, ref, on,
                   by, note) -> None:
    """Register a Leefhuis place, occupied or empty.

    \b
    Example:
      zov place register LH-A-01 --leefhuis LH-A --occupied --ref C-0450
    """
    p = session.tracker.register_place(place_code, leefhuis, _by(by), occupied=occupied, ref=ref,
                                       on=on, note=note)
    _done(p, f"registered in {p.state.leefhuis}")


@place.command("decide")
@click.argument("place_code", metavar="PLACE")
@click.option("--combinatie", "-c", required=True, help="receiving combination")
@click.option("--aanbieder", "-a", help="receiving provider within the combination")
@recorded_options()
@pass_session
def decide(session: Session, place_code: str, combinatie: str, aanbieder, on, by, note) -> None:
    """Record the decision to transfer the place (again, to change the receiving party).

    \b
    Example:
      zov place decide LH-E-03 --combinatie HOOM --on 2023-05-10
    """
    p = session.tracker.decide_place_transfer(place_code, combinatie, _by(by),
                                              aanbieder=aanbieder, on=on, note=note)
    _done(p, f"transfer to {p.state.combinatie} decided")


@place.command("keep")
@click.argument("place_code", metavar="PLACE")
@recorded_options()
@pass_session
def keep(session: Session, place_code: str, on, by, note) -> None:
    """Record that the provider keeps the place.

    \b
    Example:
      zov place keep LH-A-01 --on 2023-05-23
    """
    _done(session.tracker.keep_place(place_code, _by(by), on=on, note=note), "kept")


@place.command("transfer")
@click.argument("place_code", metavar="PLACE")
@recorded_options()
@pass_session
def transfer(session: Session, place_code: str, on, by, note) -> None:
    """Record that the place went over to the receiving party; its client stays put.

    \b
    Example:
      zov place transfer LH-E-03 --on 2023-07-01
    """
    _done(session.tracker.transfer_place(place_code, _by(by), on=on, note=note), "transferred")


@place.command("occupy")
@click.argument("place_code", metavar="PLACE")
@click.option("--ref", required=True, help="pseudonymous reference of the client moving in")
@recorded_options()
@pass_session
def occupy(session: Session, place_code: str, ref: str, on, by, note) -> None:
    """Record that a client lives in the place from now on.

    \b
    Example:
      zov place occupy LH-A-02 --ref C-0451 --on 2023-06-01
    """
    p = session.tracker.set_occupancy(place_code, True, _by(by), ref=ref, on=on, note=note)
    _done(p, "occupied")


@place.command("vacate")
@click.argument("place_code", metavar="PLACE")
@recorded_options()
@pass_session
def vacate(session: Session, place_code: str, on, by, note) -> None:
    """Record that the place became empty.

    \b
    Example:
      zov place vacate LH-A-02 --on 2023-08-15
    """
    _done(session.tracker.set_occupancy(place_code, False, _by(by), on=on, note=note), "vacated")


@place.command("correct")
@click.argument("place_code", metavar="PLACE")
@click.option("--event", "-e", "version", type=click.IntRange(min=1), required=True,
              help="number of the event to void (see `zov place show`)")
@click.option("--reason", "-r", required=True, help="why the event was wrong")
@recorded_options(dated=False)
@pass_session
def correct_place(session: Session, place_code: str, version: int, reason: str, by,
                  note) -> None:
    """Void a mistaken event of a place by appending a correction.

    \b
    Example:
      zov place correct LH-E-03 --event 2 --reason "decided for LH-F, not LH-E"
    """
    p = session.tracker.correct_place(place_code, version, reason, _by(by), note=note)
    _done(p, f"event {version} voided")


@place.command("show")
@click.argument("place_code", metavar="PLACE")
@FORMAT
@pass_session
def show_place(session: Session, place_code: str, fmt: str) -> None:
    """Show a place's history as a timeline.

    \b
    Example:
      zov place show LH-E-03
    """
    p = session.tracker.place(place_code)
    rows = _timeline_rows(session.tracker, p)
    if fmt != "table":
        emit([dict(r, place=p.place) for r in rows], fmt,
             ["place", "event_no", "on", "event", "details", "note", "by", "recorded_at",
              "voided"])
        return
    s = p.state
    click.echo(f"{p.key} in {s.leefhuis} — {s.stage.value}"
               + (f", to {s.combinatie}" if s.combinatie else ""))
    for row in rows:
        row["recorded"] = f"{row['recorded_at']:%Y-%m-%d %H:%M} {row['by']}"
    emit(rows, "table", ["event_no", "on", "event", "details", "recorded"])
