"""The `zov` entry point: a command goes to a running `zov serve`, else runs here.

`zov serve` (cli/forkserver.py) has loaded zov, eventsourcing, psycopg and click once, and forks a
fresh process for every command it is sent, with this process's arguments, environment,
working folder, umask and standard streams. Here only what Python loads anyway is imported,
so a command that goes there does not pay for those imports. `ZOV_SERVER` says whether to try:
`auto` (the default: use the server; when none listens, run here, then start one in the
background for the commands after this one), `use` (use one that runs, never start one), `off`
(never) or `only` (fail if none answers). A command that the server did not start runs here:
it is never run twice. With a server this costs one `stat` and a socket; without one, a
`stat`, and in `auto`, once the command is done, the start of one (a few system calls; the
server loads itself in its own process).
"""

from __future__ import annotations

import os
import sys
import time

MODES = ("auto", "use", "off", "only")
INSTALL = (sys.prefix, __file__)  # which Python environment, which copy of zov
AUTO_IDLE = 60  # minutes a server started by `zov` itself waits for a command, then stops
START_WAIT = 60  # seconds a start under way keeps other commands from starting another
INTERRUPTED = 130  # the exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells use


def socket_path() -> str:
    """`ZOV_SOCKET`, else a socket in a folder of this user's, one per installation of zov."""
    given = os.environ.get("ZOV_SOCKET", "").strip()
    if given:
        return given
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    install = os.stat(sys.prefix)  # this environment, named without hashing its path
    return os.path.join(base, f"zov-{os.getuid()}",
                        f"serve-{install.st_dev:x}-{install.st_ino:x}.sock")


def starting(path: str) -> str:
    """The marker of a server being started for `path`; the server removes it once it listens."""
    return path + ".starting"


def start_under_way(path: str) -> bool:
    """Whether a server is being started for `path`: its marker made less than START_WAIT
    seconds ago (an older one is a start that never came to listen)."""
    try:
        return os.stat(starting(path)).st_mtime > time.time() - START_WAIT
    except OSError:
        return False


def peer(conn) -> tuple[int, int]:
    """The process id and user id of the process at the other end of a Unix socket."""
    import socket

    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)  # pid, uid, gid
    return (int.from_bytes(creds[0:4], sys.byteorder),
            int.from_bytes(creds[4:8], sys.byteorder))


def private_folder(folder: str) -> bool:
    """Whether `folder`, made (mode 700) if missing, is this user's and writable by them
    alone: a server listens in no other. OSError if it cannot be made."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    info = os.stat(folder)
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def connect(path: str):
    """A connection to whatever listens on `path`; None if nothing does (no socket there, or
    one left by a server that was killed)."""
    if not os.path.exists(path):
        return None  # (without importing socket)
    import socket

    if not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        return None
    return conn


def request() -> bytes:
    """This process's command as the server needs it: arguments, environment, folder, umask."""
    import marshal

    umask = os.umask(0)
    os.umask(umask)
    return marshal.dumps({"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd(),
                          "umask": umask, "install": INSTALL})


def through_server(conn) -> int | None:
    """The exit code of the command run by the server on `conn`; None if it did not start it."""
    import signal
    import socket

    with conn:
        try:
            if peer(conn)[1] != os.getuid():  # someone else's socket: tell it nothing
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


def start_server(path: str) -> None:
    """Start `zov serve --socket PATH --idle AUTO_IDLE` in the background, for the commands
    after this one, unless one is being started already (`starting`). It loads everything
    before it listens, so commands that come meanwhile run by themselves. It runs in a session
    of its own, on no terminal, in the folder `/`, without this command's ZOV_ settings (it
    needs no store, and holds none of the command's secrets). What stands in its way is left
    unsaid here, where the command's own output matters: `zov serve` by hand says it."""
    if not sys.platform.startswith("linux"):
        return
    path = os.path.abspath(path)
    marker = starting(path)
    try:
        if not private_folder(os.path.dirname(path)):
            return  # `zov serve` refuses it
        try:
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            if start_under_way(path):
                return
            os.utime(marker)  # a start that never came to listen: try again
        # A start this command did not see may have come to listen while it ran (its marker
        # is removed only then, so with ours made, a server that listens is seen here).
        conn = connect(path)
        if conn is not None:
            conn.close()
            os.unlink(marker)
            return
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("ZOV_")}
        command = [sys.executable, "-P", "-c",  # in "/": it keeps no folder of yours busy
                   "import os; os.chdir('/'); from cli.client import main; main()",
                   "serve", "--socket", path, "--idle", str(AUTO_IDLE)]
        os.posix_spawn(sys.executable, command, env, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
            (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2)])
    except OSError:
        return


def main() -> None:
    """Console-script entry point."""
    mode = os.environ.get("ZOV_SERVER", "").strip().lower() or "auto"
    if mode not in MODES:
        print(f"zov: ZOV_SERVER is '{mode}'; set it to auto, use, off or only (or unset it)",
              file=sys.stderr)
        sys.exit(2)
    start = None
    if mode != "off" and "serve" not in sys.argv[1:]:  # a server is never started by one
        path = socket_path()
        conn = connect(path)
        code = through_server(conn) if conn else None
        if code is not None:
            sys.exit(code)
        if mode == "only":
            print(f"zov: no `zov serve` answers on {path}: start one with `zov serve`, or "
                  "unset ZOV_SERVER to run commands without it", file=sys.stderr)
            sys.exit(1)
        if mode == "auto" and conn is None:
            start = path
    interrupted = False
    try:
        from cli.main import main as run_here

        run_here()
    except KeyboardInterrupt:  # Ctrl-C while zov loads, before the command began
        interrupted = True
        print("zov: interrupted (Ctrl-C) before the command began; nothing was done",
              file=sys.stderr)
        sys.exit(INTERRUPTED)
    except SystemExit as done:
        interrupted = done.code == INTERRUPTED
        raise
    finally:
        if start and not interrupted:  # once the command is done: its loading would slow
            start_server(start)  # this one down; none when it was stopped by Ctrl-C
