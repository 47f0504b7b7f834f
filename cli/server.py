"""`zov serve`: the command. The server itself (cli/forkserver.py) is loaded only when it
runs, so the other commands that load this module with theirs do not pay for it."""

from __future__ import annotations

import math

import click

from cli.client import socket_path
from cli.main import ZovCommand, cli

IDLE_MAX = 10_000_000  # minutes (19 years): a socket's wait cannot be much longer


def _not_nan(_ctx: click.Context, _param: click.Parameter, minutes: float | None
             ) -> float | None:
    """NaN passes every range check (it compares false with everything): refused here."""
    if minutes is not None and math.isnan(minutes):
        raise click.BadParameter("NaN is not a number of minutes; give one above 0, e.g. 480")
    return minutes


class ServeCommand(ZovCommand):
    handles_signals = True  # Ctrl-C and SIGTERM stop the server (forkserver.serve_forever)


@cli.command(cls=ServeCommand)
@click.option("--socket", "path", metavar="PATH",
              help="where to listen [default: $ZOV_SOCKET, else a socket in "
                   "$XDG_RUNTIME_DIR/zov-UID or /tmp/zov-UID]")
@click.option("--idle", type=click.FloatRange(min=0, max=IDLE_MAX, min_open=True),
              callback=_not_nan, metavar="MINUTES",
              help="stop after this many minutes without a command [default: never]")
@click.option("--stop", is_flag=True, help="stop the server listening on the socket, and exit")
def serve(path: str | None, idle: float | None, stop: bool) -> None:
    """Keep zov loaded, so that each command starts in a few milliseconds.

    Every `zov` command of yours (with the same installation) then runs in a fresh process
    forked from this one, with your arguments, environment, folder and terminal. When none
    runs, `zov` starts one by itself (in the background, stopping after 60 minutes without
    a command); start one by hand to choose its socket or idle time. It stops with Ctrl-C,
    `kill` or `zov serve --stop`, and when zov is upgraded. ZOV_SERVER=use makes `zov` use
    a running server but never start one, ZOV_SERVER=off makes `zov` ignore it,
    ZOV_SERVER=only makes `zov` fail without it.

    \b
    Example:
      zov serve --idle 480 2>/dev/null &
      zov serve --stop
    """
    from cli import forkserver

    if stop and idle is not None:  # it would be dropped without a word
        raise click.UsageError("--idle is for a server that starts; give it or --stop, "
                               "not both")
    if stop:
        forkserver.stop(path or socket_path())
    else:
        forkserver.serve_forever(path or socket_path(), idle)
