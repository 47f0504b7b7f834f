"""Privacy commands: `zov keygen`, `zov forget`, `zov audit`."""

from __future__ import annotations

import click

from cli.commands import _by
from cli.main import Session, cli, pass_session
from cli.output import emit
from cli.params import DATE, FORMAT, hulpvorm_option


@cli.command()
def keygen() -> None:
    """Print a new random store key (for ZOV_CIPHER_KEY) on standard output.

    Set it before `zov init` of a new store: every event is then stored encrypted. Keep the
    key apart from the store and its backups (a password manager); without it the store
    cannot be read, by anyone.

    \b
    Example:
      (umask 077; zov keygen > ~/.config/zov/key)
      export ZOV_CIPHER_KEY=$(cat ~/.config/zov/key)
    """
    from transfers.privacy import new_secret

    click.echo(new_secret())


@cli.command()
@click.argument("ref")
@click.option("--reason", "-r", required=True,
              help="why (e.g. the request's number); logged for good, so no names")
@hulpvorm_option
@click.option("--by", envvar="ZOV_ACTOR", default=None,
              help="who forgets [default: $ZOV_ACTOR or your login name]")
@pass_session
def forget(session: Session, ref: str, reason: str, hulpvorm, by) -> None:
    """Erase a client's personal data for good (AVG art. 17, right to erasure).

    Deletes the keys that the reference, notes and correction reasons of the client's paths
    were encrypted with (and of the Leefhuis places that name the client, unless --hulpvorm
    picks one path). Counts and earlier memos' totals stay; the path shows as "(verwijderd)".
    The log records who forgot it, when and why. This cannot be undone.

    \b
    Example:
      zov forget C-0001 --reason "AVG-verzoek 2023-117"
    """
    from projections.readmodels import catch_up_if_present
    from transfers.path import ClientPath

    tracker = session.tracker
    streams = tracker.forget(ref, reason, _by(by), hulpvorm=hulpvorm)
    catch_up_if_present(tracker)  # the read models drop the references now, not later
    tracker.mapper.keys.purge(compact=True)
    names = ", ".join(f"{s.hulpvorm} path" if isinstance(s, ClientPath) else f"place {s.place}"
                      for s in streams)
    click.echo(f"{ref}: personal data erased ({names}); counts unchanged")


@cli.command()
@click.option("--since", type=DATE, help="only events recorded on or after this date (UTC)")
@click.option("--by", "who", help="only events recorded by this person (any case)")
@FORMAT
@pass_session
def audit(session: Session, since, who, fmt: str) -> None:
    """Who recorded what and when, from the event log itself.

    One line per event: position in the log, recording time, who, the event, the path or
    place (a forgotten client's shows as "(verwijderd)"), its event number there, and the
    reason of a correction or of forgetting. JSON keys: id, recorded_at, by, event, subject,
    event_no, details.

    \b
    Example:
      zov audit --since 2023-10-01 --by "J. de Vries"
      zov audit --format csv > audit.csv
    """
    from transfers.audit import audit_trail

    # vars, not dataclasses.asdict: that deep-copies every value, and took 45% of an audit
    rows = (dict(vars(r)) for r in audit_trail(session.tracker, since, who))
    columns = ["id", "recorded_at", "by", "event", "subject", "event_no", "details"]
    if fmt == "table":  # 80 columns: the minute, the event's kind, and its number in `zov show`
        rows = ({**row, "recorded_at": f"{row['recorded_at']:%Y-%m-%d %H:%M}",
                 "event": f"{row['event'].split('.')[-1]} #{row['event_no']}"} for row in rows)
        columns = ["recorded_at", "by", "event", "subject", "details"]
    emit(rows, fmt, columns)  # JSON and CSV as they come: a national log's is not held


@cli.command()
@click.option("--writer", required=True, help="role that records events (caseworkers' tool)")
@click.option("--reader", required=True, help="role that only reads (memos, counts)")
@pass_session
def grants(session: Session, writer: str, reader: str) -> None:
    """Print the SQL that lets two PostgreSQL roles use this store: one records, one reads.

    Run it as the store's owner (the role that ran `zov init`); it first creates any table
    the roles need and brings the read models up to date. Pipe its output to psql.

    \b
    Example:
      zov --db postgresql://zov@db/zorg?schema=zov grants --writer zov_writer \\
          --reader zov_reader | psql -h db zorg
    """
    from projections.readmodels import ReadModels
    from transfers.privacy import grant_statements

    tracker = session.tracker
    if tracker.store.kind != "postgresql":
        raise click.ClickException("roles are PostgreSQL's; a SQLite store is one file, "
                                   "readable by its owner only")
    tracker.mapper.keys.create_table()
    ReadModels(tracker).close()  # creates and catches up the read-model tables
    schema = tracker.recorder.datastore.schema
    click.echo(grant_statements(schema, f"{tracker.name.lower()}_events", writer, reader),
               nl=False)
