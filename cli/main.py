"""The `zov` command group: opens the store once, maps domain refusals to one-line errors."""

from __future__ import annotations

from typing import Any

import click

from transfers.errors import ZovError


class Session:
    """What every command shares: the store URL, and the tracker opened on first use."""

    def __init__(self, db: str | None) -> None:
        self.db = db
        self._tracker: Any = None

    @property
    def tracker(self):
        if self._tracker is None:
            from transfers.app import Tracker

            self._tracker = Tracker.open(self.db)
        return self._tracker

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()


pass_session = click.make_pass_decorator(Session)


class ZovGroup(click.Group):
    """A group whose domain refusals become one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZovError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=ZovGroup, context_settings={"help_option_names": ["-h", "--help"],
                                             "max_content_width": 100})
@click.option("--db", envvar="ZOV_DB", metavar="URL",
              help="store: sqlite:///path/zov.sqlite or postgresql://user@host/db "
                   "[default: $ZOV_DB, else a SQLite file in your data folder]")
@click.version_option(package_name="zorgoverdracht")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Track care transfers (zorgoverdracht): every client's path from the peildatum
    overview to a warm handover and a closed file, as an append-only event log.

    \b
    Start:   zov init
    Log:     zov register C-0001 --hulpvorm MKD --gemeente Stein
             zov triage C-0001 --outcome transfer --on 2023-05-02
    Look:    zov show C-0001
    """
    session = Session(db)
    ctx.obj = session
    ctx.call_on_close(session.close)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="zov")


# Imported for their side effect of registering commands on `cli`.
from cli import bulk, commands, memo, places, reports  # noqa: E402, F401
