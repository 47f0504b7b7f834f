"""The `zov` entry point: a command goes to a running `zov serve` if there is one, else runs here.

`zov serve` (cli/forkserver.py) has loaded zov, eventsourcing, psycopg and click once, and forks a
fresh process for every command it is sent, with this process's arguments, environment,
working folder, umask and standard streams. Here only what Python loads anyway is imported,
so a command that goes there does not pay for those imports. `ZOV_SERVER` says whether to try:
`auto` (the default: when a server answers), `off` (never) or `only` (fail if none answers).
A command that the server did not start runs here: it is never run twice. Without a server
this costs one `stat` of the socket's path.
"""

from __future__ import annotations

import os
import sys

MODES = ("auto", "off", "only")
INSTALL = (sys.prefix, __file__)  # which Python environment, which copy of zov


def socket_path() -> str:
    """`ZOV_SOCKET`, else a socket in a folder of this user's, one per installation of zov."""
    given = os.environ.get("ZOV_SOCKET", "").strip()
    if given:
        return given
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    install = os.stat(sys.prefix)  # this environment, named without hashing its path
    return os.path.join(base, f"zov-{os.getuid()}",
                        f"serve-{install.st_dev:x}-{install.st_ino:x}.sock")


def peer_uid(conn) -> int:
    """The user id of the process at the other end of a Unix socket."""
    import socket

    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)  # pid, uid, gid
    return int.from_bytes(creds[4:8], sys.byteorder)


def request() -> bytes:
    """This process's command as the server needs it: arguments, environment, folder, umask."""
    import marshal

    umask = os.umask(0)
    os.umask(umask)
    return marshal.dumps({"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd(),
                          "umask": umask, "install": INSTALL})


def through_server(path: str) -> int | None:
    """The exit code of the command run by the server at `path`; None if it did not start it."""
    import signal
    import socket

    if not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return None
    with conn:
        try:
            conn.connect(path)
            if peer_uid(conn) != os.getuid():  # someone else's socket: tell it nothing
                return None
            payload = request()
            socket.send_fds(conn, [len(payload).to_bytes(4, "big")], [0, 1, 2])
            conn.sendall(payload)
            lines = _lines(conn)
            started = next(lines, b"")
        except OSError:
            return None
        if not started.startswith(b"pid ") or not started[4:].isdigit():
            return None  # "local": the server is stale, or another installation's
        pid = int(started[4:])
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, lambda signum, _frame: _forward(pid, signum))
        try:
            ended = next(lines, b"")
        except OSError:
            ended = b""
        if ended.startswith(b"exit ") and ended[5:].lstrip(b"-").isdigit():
            return int(ended[5:])
    print(f"zov: the command's process (pid {pid}) stopped before it finished; nothing of it "
          "is half-written: see with `zov show` whether it was recorded", file=sys.stderr)
    return 1


def _forward(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _lines(conn):
    """The server's answers, one line at a time."""
    buffer = b""
    while True:
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line
        chunk = conn.recv(64)
        if not chunk:
            return
        buffer += chunk


def main() -> None:
    """Console-script entry point."""
    mode = os.environ.get("ZOV_SERVER", "").strip().lower() or "auto"
    if mode not in MODES:
        print(f"zov: ZOV_SERVER is '{mode}'; set it to auto, off or only (or unset it)",
              file=sys.stderr)
        sys.exit(2)
    if mode != "off" and "serve" not in sys.argv[1:]:  # a server is never started by one
        path = socket_path()
        code = through_server(path) if os.path.exists(path) else None
        if code is not None:
            sys.exit(code)
        if mode == "only":
            print(f"zov: no `zov serve` answers on {path}: start one with `zov serve`, or "
                  "unset ZOV_SERVER to run commands without it", file=sys.stderr)
            sys.exit(1)
    from cli.main import main as run_here

    run_here()
