"""The `zov` command group: opens the store once, maps domain refusals to one-line errors."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import click

from cli.client import INTERRUPTED
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
        """The tracker; with `create`, a store that does not exist yet is created."""
        if self._tracker is None:
            from transfers.app import Tracker

            path = self.store.sqlite_path
            if not create and path is not None and not path.exists():
                raise StoreError(f"there is no store at {path}: create it with `zov init`, or "
                                 "name the right file with --db or ZOV_DB")
            self._tracker = Tracker(self.store, create)
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


STOPPED = ("interrupted (Ctrl-C); nothing of it is half-written: see with `zov show` or `zov info` "
           "whether it was recorded")


class Interrupted(click.ClickException):
    exit_code = INTERRUPTED

    def __init__(self) -> None:
        super().__init__(STOPPED)


class CtrlC:
    """Ctrl-C ends a command at once, also while it waits inside the database driver.

    Python acts on Ctrl-C only between steps of Python code: a command waiting for another
    writer's lock on a SQLite store (up to ZOV_LOCK_TIMEOUT, 10 s by default), or in one long
    SQL statement, would go on waiting. But Python's signal handler also writes the signal's
    number to a "wakeup" pipe the moment it comes, and a thread of this class reads it. If
    the command has not ended by itself GRACE seconds later, it is waiting in C: the thread
    says the line the command would have said and ends the process. Every command is one
    transaction, so the database undoes whatever it had not committed.
    """

    GRACE = 0.5  # seconds
    STACK = 256 << 10  # bytes of the thread's stack: it only reads, sleeps and writes
    before_exit: list[Callable[[int], None]] = []  # called with the exit code, before the
    # thread ends the process (a command run by `zov serve` tells `zov` its exit code)

    def __init__(self) -> None:
        self.said = threading.Lock()  # taken by whichever ends the command: it alone says so
        self.write = -1
        if os.name != "posix":  # (Windows' wakeup takes a socket): Ctrl-C as Python handles it
            return
        try:
            read, write = os.pipe()
        except OSError:  # no pipe to be had: as Python handles it
            return
        os.set_blocking(write, False)
        try:
            self.previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        except ValueError:  # not the main thread
            os.close(read)
            os.close(write)
            return
        self.write = write
        watch = threading.Thread(target=self._watch, args=(read,), name="zov-ctrl-c",
                                 daemon=True)
        try:
            stack = threading.stack_size(self.STACK)  # not the 8 MB a thread gets by default
        except (RuntimeError, ValueError):  # a platform that does not let it be set
            stack = None
        try:
            watch.start()
        except RuntimeError:  # no room for a thread (memory limits): as Python does
            os.close(read)
            self.close()
        finally:
            if stack is not None:
                threading.stack_size(stack)

    def _watch(self, read: int) -> None:
        with open(read, "rb", buffering=0) as pipe:
            while True:
                got = pipe.read(16)
                if not got:
                    return  # `close`: the command is done
                if signal.SIGINT in got:
                    break
            time.sleep(self.GRACE)
            if self.said.acquire(blocking=False):  # still running: stuck in C
                os.write(2, f"Error: {STOPPED}\n".encode())
                for call in self.before_exit:
                    call(INTERRUPTED)
                os._exit(INTERRUPTED)

    def interrupted(self) -> Interrupted:
        """The error to end with, when the command has stopped at Ctrl-C by itself."""
        self.close()
        return Interrupted()

    def close(self) -> None:
        """The command ends by itself: give the wakeup pipe back (the thread sees its end
        and stops). If the thread has begun to end the process, wait for that."""
        if self.write < 0:
            return
        if not self.said.acquire(blocking=False):
            time.sleep(60)  # the thread is ending the process this moment
        signal.set_wakeup_fd(self.previous)
        os.close(self.write)
        self.write = -1


class ZovCommand(click.Command):
    """A command whose arguments are checked to be text before it runs, and which Ctrl-C
    ends with one line and exit code 130, also while it waits for the store (`CtrlC`)."""

    handles_signals = False  # True for a command that handles Ctrl-C itself (zov serve)

    def invoke(self, ctx: click.Context) -> Any:
        refuse_undecodable(ctx)
        if self.handles_signals:
            return super().invoke(ctx)
        ctrl_c = CtrlC()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise ctrl_c.interrupted() from None
        finally:
            ctrl_c.close()


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
