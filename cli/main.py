"""The `zov` command group: opens the store once, maps domain refusals to one-line errors."""

from __future__ import annotations

import os
from typing import Any

import click

from transfers.errors import OUT_OF_MEMORY, StoreError, ZovError, out_of_memory


class Session:
    """What every command shares: the store URL, and the tracker opened on first use."""

    def __init__(self, db: str | None) -> None:
        self.db = db
        self._tracker: Any = None
        self._store: Any = None

    @property
    def store(self):
        """The parsed store URL (without opening the store)."""
        if self._store is None:
            from transfers.store import parse_store_url

            self._store = parse_store_url(self.db)
        return self._store

    @property
    def tracker(self):
        """The tracker on an existing store (`zov init` and `zov restore` create one)."""
        return self.open(create=False)

    def open(self, create: bool = True):
        """The tracker; with `create`, a SQLite store that does not exist yet is created."""
        if self._tracker is None:
            from transfers.app import Tracker

            path = self.store.sqlite_path
            if not create and path is not None and not path.exists():
                raise StoreError(f"there is no store at {path}: create it with `zov init`, or "
                                 "name the right file with --db or ZOV_DB")
            self._tracker = Tracker(self.store)
        return self._tracker

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()


pass_session = click.make_pass_decorator(Session)


def refuse_undecodable(ctx: click.Context) -> None:
    """A usage error for an argument that is not UTF-8 text (typed in a terminal with another
    encoding, or a file name in one): it could be neither stored nor shown."""
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            text = os.fspath(item) if isinstance(item, os.PathLike) else item
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise click.BadParameter(
                        f"'{_as_bytes(text)}' is not UTF-8 text; retype it (or rename the "
                        "file) in UTF-8", ctx=ctx, param=param) from None


def _as_bytes(text: str) -> str:
    """Text with the bytes that are no UTF-8 shown as \\xe9, as the terminal passed them."""
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeError:
        return text.encode("utf-8", "backslashreplace").decode()


class ZovCommand(click.Command):
    """A command whose arguments are checked to be text before it runs."""

    def invoke(self, ctx: click.Context) -> Any:
        refuse_undecodable(ctx)
        return super().invoke(ctx)


class ZovGroup(click.Group):
    """A group whose domain refusals become one line on stderr and exit code 1."""

    command_class = ZovCommand
    group_class = type  # subgroups (zov place, zov import, ...) are ZovGroups too

    def invoke(self, ctx: click.Context) -> Any:
        refuse_undecodable(ctx)
        try:
            return super().invoke(ctx)
        except ZovError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:  # running out of memory, a failing store (damaged, full,
            # locked): one line too
            if out_of_memory(exc):
                raise click.ClickException(OUT_OF_MEMORY) from None
            from transfers.store import store_failure

            failure = store_failure(exc)
            if failure is None:
                raise
            raise click.ClickException(str(failure)) from None

    # The write commands (cli.commands) load with the group, the others only when one of
    # them is asked for: `zov handover` does not pay for importing reports, bulk and memo.
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None:
            _load_other_commands()
            found = super().get_command(ctx, cmd_name)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        _load_other_commands()
        return super().list_commands(ctx)


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


def _load_other_commands() -> None:
    """Import the modules that register the read, bulk, memo, place and serve commands."""
    from cli import bulk, memo, places, privacy, reports, server  # noqa: F401


# Imported for its side effect of registering the write commands on `cli`.
from cli import commands  # noqa: E402, F401
