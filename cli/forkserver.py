"""The server behind `zov serve` (cli/server.py): zov loaded once, a fresh process forked
from it for every command.

A command as a process spends most of its time importing (on PostgreSQL, psycopg alone takes
longer than the rest of a write command). The server imports everything once and, for each
command the `zov` entry point (cli/client.py) sends it, forks a child that takes over the
client's standard streams (passed over the socket), environment, working folder and umask,
runs the command as `zov` would, and reports its exit code. Each command still runs in its own
process with its own connection to the store: nothing is shared between commands but code.

Only the user who started the server may use it (the socket is theirs alone, and both ends
check who is at the other). When any file it has loaded changes (an upgrade), the server
hands the command back to the client, which runs it itself, and stops.
"""

from __future__ import annotations

import fcntl
import io
import locale
import marshal
import os
import signal
import socket
import stat
import sys
import threading
import time
import traceback
from importlib import import_module

import click

from cli.client import INSTALL, connect, peer, private_folder, start_under_way, starting
from cli.main import CtrlC, cli

MAX_PATH = 107  # bytes of a Unix socket's path (Linux)

# Everything a command may import, loaded before the first fork.
PRELOAD = (
    "cli.bulk", "cli.memo", "cli.places", "cli.privacy", "cli.reports", "transfers.app",
    "transfers.bulk", "transfers.pgstore", "transfers.privacy", "eventsourcing.postgres",
    "eventsourcing.sqlite", "projections.readmodels", "projections.projector",
    "projections.queries", "projections.memo", "projections.schema", "templates.render",
    "openpyxl",
)


def serve_forever(path: str, idle: float | None) -> None:
    """Listen on `path` and serve commands until stopped, idle for `idle` minutes, or
    upgraded; one line for what stands in the way."""
    if not hasattr(os, "fork") or not hasattr(socket, "SO_PEERCRED"):
        raise click.ClickException("zov serve needs Linux (fork and Unix socket credentials); "
                                   "run commands without it")
    _load()  # before listening: a command that came now would wait longer than it runs alone
    # A stop (SIGTERM, or Ctrl-C) ends the server through the `finally` that removes its
    # socket. `zov serve --stop` sends it as soon as the socket answers, so it is held back
    # from before the socket is made until that `finally` covers it, and while it runs.
    term = {signal.SIGTERM}
    signal.signal(signal.SIGTERM, _stop)
    signal.pthread_sigmask(signal.SIG_BLOCK, term)
    try:
        listener = _listen(path)
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, term)
            _unlink(starting(path))
            Server(listener, path).run(idle)
        finally:
            signal.pthread_sigmask(signal.SIG_BLOCK, term)
            listener.close()
            _unlink(path)
    except KeyboardInterrupt:
        click.echo("zov serve: stopped", err=True)
    finally:  # a stop that came during the cleanup is dropped: it is stopping already
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, term)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def stop(path: str) -> None:
    """Stop the server listening on `path`, and wait until it has; say what was done. One
    being started (by a command, a moment ago) is waited for: it listens once loaded."""
    conn = connect(path)
    while conn is None and start_under_way(path):
        time.sleep(0.05)
        conn = connect(path)
    if conn is None:
        click.echo(f"zov serve: no server listens on {path}; nothing to stop", err=True)
        return
    with conn:  # closed unused: the server takes it for a client that went away
        pid, uid = peer(conn)
    if uid != os.getuid():
        raise click.ClickException(f"the server on {path} is another user's; only they can "
                                   "stop it")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:  # it ended meanwhile
        pass
    deadline = time.monotonic() + 30
    while _running(pid):
        if time.monotonic() > deadline:
            raise click.ClickException(f"the server on {path} (process {pid}) did not stop "
                                       f"within 30 s; end it with `kill -9 {pid}`")
        time.sleep(0.02)
    click.echo(f"zov serve: stopped the server on {path} (process {pid})", err=True)


def _load() -> None:
    """Import everything a command may import, once."""
    for name in PRELOAD:
        import_module(name)
    if threading.active_count() != 1:  # forking a process with threads is not safe
        raise click.ClickException("zov serve: a thread started while loading; cannot fork")


def _listen(path: str) -> socket.socket:
    """A socket at `path` that only this user can reach; one line if that cannot be."""
    if len(os.fsencode(path)) > MAX_PATH:
        raise click.ClickException(f"the socket's path {path} is longer than the {MAX_PATH} "
                                   "bytes a Unix socket's may be; name a shorter one with --socket")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        private = private_folder(folder)
    except OSError as exc:
        raise click.ClickException(f"cannot make the folder {folder}: {exc.strerror}; name "
                                   "another with --socket") from None
    if not private:
        raise click.ClickException(f"{folder} must be yours and writable by you alone: "
                                   f"chmod 700 {folder}, or name another with --socket")
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise click.ClickException(f"{path} is there and is no socket; name another with "
                                       "--socket")
        listening = connect(path)
        if listening is not None:
            listening.close()
            raise click.ClickException(f"a zov server already listens on {path}; stop it "
                                       "first, or name another socket with --socket")
        _unlink(path)  # a socket left by a server that was killed
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mask = os.umask(0o177)
    try:
        listener.bind(path)
    except OSError as exc:
        listener.close()
        raise click.ClickException(f"cannot listen on {path}: {exc.strerror or exc}; name "
                                   "another with --socket") from None
    finally:
        os.umask(mask)
    listener.listen(64)
    return listener


def _running(pid: int) -> bool:
    """Whether process `pid` is still running (not ended, nor ended and not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Server:
    """The accept loop: check who asks and whether the code is still the same, then fork."""

    def __init__(self, listener: socket.socket, path: str) -> None:
        self.listener = listener
        self.path = path

    def run(self, idle: float | None) -> None:
        self.files = _loaded_files()
        signal.signal(signal.SIGCHLD, _reap)
        self.listener.settimeout(idle * 60 if idle else None)
        click.echo(f"zov serve: listening on {self.path} (Ctrl-C to stop)", err=True)
        while True:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                click.echo(f"zov serve: no command for {idle:g} minutes; stopped", err=True)
                return
            with conn:
                if not self.serve(conn):
                    click.echo("zov serve: zov's files changed (an upgrade?); stopped: "
                               "start it again", err=True)
                    return

    def serve(self, conn: socket.socket) -> bool:
        """Fork a child for the command on `conn`; False when the server should stop."""
        fds: list[int] = []
        try:
            conn.settimeout(5)
            if peer(conn)[1] != os.getuid():
                return True
            head, fds, _, _ = socket.recv_fds(conn, 4, 3)
            size = int.from_bytes(head, "big") if len(head) == 4 else 0
            data = _receive(conn, size)
            if len(fds) != 3 or len(data) != size:
                return True
            asked = marshal.loads(data)
            current = not _changed(self.files)
            if not current or tuple(asked["install"]) != INSTALL:
                conn.sendall(b"local\n")
                return current
            if os.fork() == 0:
                _child(self.listener, conn, fds, asked)
            return True
        except (OSError, EOFError, ValueError, KeyError, TypeError):
            return True  # a client that went away or sent nonsense: the next one
        finally:
            for fd in fds:
                os.close(fd)


def _receive(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _loaded_files() -> dict[str, int]:
    """The modification time of every module file loaded: a changed one means an upgrade."""
    stamps = {}
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if name:
            try:
                stamps[name] = os.stat(name).st_mtime_ns
            except OSError:
                stamps[name] = -1
    return stamps


def _changed(files: dict[str, int]) -> bool:
    """Whether any of these files has changed since (modules loaded later do not count)."""
    for name, stamp in files.items():
        try:
            if os.stat(name).st_mtime_ns != stamp:
                return True
        except OSError:
            if stamp != -1:
                return True
    return False


def _reap(_signum, _frame) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _stop(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _child(listener: socket.socket, conn: socket.socket, fds: list[int], asked: dict) -> None:
    """In the forked child: become the client's process, run its command, report, exit.
    If it cannot become the client's process, it says nothing: the client, which has not
    been told a pid, runs the command itself."""
    code, started = 1, False
    try:
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setsid()  # off the server's terminal: the client's terminal is passed in
        listener.close()
        conn.settimeout(None)
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) for fd in fds]  # clear of 0-2
        for target, fd in enumerate(moved):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(asked["cwd"])
        os.umask(asked["umask"])
        os.environ.clear()
        os.environ.update(asked["env"])
        time.tzset()
        sys.argv = asked["argv"]
        _standard_streams()
        conn.sendall(f"pid {os.getpid()}\n".encode())
        started = True
        CtrlC.before_exit.append(lambda code: _tell_exit(conn, code))
        code = _run()
    except BaseException:
        if started:  # as Python would report it, then exit
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        _tell_exit(conn, code)
        os._exit(code)


def _tell_exit(conn: socket.socket, code: int) -> None:
    """Tell `zov` the command's exit code (unless it has gone)."""
    try:
        conn.sendall(f"exit {code}\n".encode())
    except OSError:
        pass


def _standard_streams() -> None:
    """sys.stdin/stdout/stderr on the client's streams, as Python would set them up."""
    try:
        locale.setlocale(locale.LC_CTYPE, "")  # the client's LANG / LC_ALL / LC_CTYPE
    except locale.Error:
        pass
    encoding = os.environ.get("PYTHONIOENCODING", "").split(":")[0] or (
        "utf-8" if sys.flags.utf8_mode else locale.getpreferredencoding(False))
    sys.stdin = open(0, encoding=encoding, closefd=False)
    sys.stdout = open(1, "w", encoding=encoding, closefd=False)
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), encoding=encoding,
                                  errors="backslashreplace", line_buffering=True)


def _run() -> int:
    """The command's exit code, as `zov` would end with it."""
    try:
        cli.main(args=sys.argv[1:], prog_name="zov")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    return 0
