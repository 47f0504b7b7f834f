"""`zov serve`: commands run through a resident server do what they do without one."""

import base64
import functools
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_lock

ZOV = Path(sys.executable).with_name("zov")
REGISTER = ("register", "C-0001", "--hulpvorm", "MKD", "--gemeente", "Stein")
TRIAGE = ("triage", "C-0001", "--outcome", "transfer", "--on", "2023-05-02")


class Server:
    """A `zov serve` process of the test's own, on a socket in the test's folder."""

    started: list["Server"] = []  # killed after each test, whatever became of it

    def __init__(self, socket: Path, env: dict, command: list[str], *options: str) -> None:
        self.socket = socket
        self.process = subprocess.Popen([*command, "serve", "--socket", str(socket), *options],
                                        env=env, stderr=subprocess.PIPE, text=True)
        Server.started.append(self)
        self.said = self._line(60)
        assert "listening on" in self.said, self.said

    def _line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.process.stderr], [], [], timeout)
        return self.process.stderr.readline() if ready else ""

    def children(self) -> list[int]:
        """The processes the server has forked that are still running."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(entry.name))
        return found

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        return code, self.said + self.process.stderr.read()


@pytest.fixture(autouse=True)
def no_server_left():
    yield
    while Server.started:
        server = Server.started.pop()
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@pytest.fixture
def folder(tmp_path) -> Path:
    made = tmp_path / "run"
    made.mkdir(mode=0o700)
    return made


def through(server: Server, sqlite_url: str, *args: str) -> subprocess.Popen:
    """`zov ARGS` through `server` on the store, waiting up to 60 s for its lock (stderr
    piped)."""
    env = {**os.environ, "ZOV_SOCKET": str(server.socket), "ZOV_SERVER": "only",
           "ZOV_DB": sqlite_url, "ZOV_LOCK_TIMEOUT": "60"}
    return subprocess.Popen([str(ZOV), *args], env=env, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def serving(folder, tmp_path, store_url):
    """(server, run): run(*args, mode="only") runs `zov ARGS` through the server."""
    socket = folder / "zov.sock"
    base = {**os.environ, "HOME": str(tmp_path), "ZOV_SOCKET": str(socket)}
    base.pop("ZOV_DB", None)  # the server knows no store: each command brings its own
    server = Server(socket, base, [str(ZOV)])
    env = {**base, "ZOV_DB": store_url, "ZOV_ACTOR": "e2e"}

    def run(*args: str, mode: str = "only", **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([str(ZOV), *args], env={**env, "ZOV_SERVER": mode},
                              capture_output=True, text=True, timeout=60, **kwargs)

    yield server, run
    code, said = server.stop()
    assert code == 0, said
    assert not socket.exists()


def test_a_command_through_the_server_does_what_it_does_without_one(serving):
    server, zov = serving
    steps = [("init",), ("register", "C-0001", "--hulpvorm", "MKD", "--gemeente", "Stein"),
             ("triage", "C-0001", "--outcome", "transfer", "--on", "2023-05-02"),
             ("assign", "C-0001", "--combinatie", "JENS", "--on", "2023-06-12"),
             ("handover", "C-0001", "--on", "2023-09-01")]
    for step in steps:
        done = zov(*step)
        assert done.returncode == 0, done.stderr
    assert done.stdout == "C-0001 (MKD): warm handover done; now handed-over\n"
    shown = [zov("show", "C-0001", "--format", "json", mode=mode).stdout
             for mode in ("only", "off")]
    assert shown[0] == shown[1]
    events = json.loads(shown[0])
    assert [e["event"] for e in events][-1] == "HandoverDone"
    assert {e["by"] for e in events} == {"e2e"}  # the client's ZOV_ACTOR, not the server's
    refused = [zov("handover", "C-0001", mode=mode) for mode in ("only", "off")]
    assert [r.returncode for r in refused] == [1, 1]
    assert refused[0].stderr == refused[1].stderr
    assert refused[0].stderr.count("\n") == 1 and "Traceback" not in refused[0].stderr
    usage = zov("handover")
    assert usage.returncode == 2 and "Missing argument 'REF'" in usage.stderr
    assert server.process.poll() is None  # still serving


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_command_gets_the_client_s_folder_umask_and_standard_input(serving, tmp_path):
    _, zov = serving
    zov("init")
    zov("register", "C-0001", "--hulpvorm", "MKD", "--gemeente", "Stein")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("ref,event,on,outcome\nC-0001,triage,2023-05-02,transfer\n")
    work = tmp_path / "work"
    work.mkdir()
    with sheet.open() as stdin:  # named nowhere but in the client's standard input
        applied = zov("apply", "/dev/stdin", stdin=stdin)
    assert applied.returncode == 0, applied.stderr
    memo = zov("memo", "2023-09", "--format", "md", "-o", "memo.md", cwd=work, umask=0o077)
    assert memo.returncode == 0, memo.stderr
    assert (work / "memo.md").stat().st_mode & 0o777 == 0o600
    events = json.loads(zov("show", "C-0001", "--format", "json").stdout)
    assert [e["event"] for e in events] == ["Registered", "Triaged"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("sig, code, line", [
    (signal.SIGTERM, 1, "zov: the command's process (pid "),  # killed: `zov` says so
    (signal.SIGINT, 130, "Error: interrupted (Ctrl-C); nothing"),  # the command, at once
])
def test_a_signal_to_the_client_reaches_the_command_and_nothing_is_half_written(
        serving, sqlite_url, sig, code, line):
    server, zov = serving
    for step in [("init",), REGISTER]:
        assert zov(*step).returncode == 0
    with write_lock(sqlite_url):  # the command waits for it
        client = through(server, sqlite_url, *TRIAGE)
        said = signal_while_it_waits(client, sig, lambda: next(iter(server.children()), None),
                                     sqlite_url)
    assert client.returncode == code  # Ctrl-C: the command's own, passed on by the server
    assert said.count("\n") == 1 and said.startswith(line), said
    assert wait_for(lambda: not server.children())  # ended, and reaped by the server
    assert recorded(zov, "C-0001") == ["Registered"]
    assert server.process.poll() is None  # still serving


def test_a_command_through_the_server_writes_to_the_client_s_terminal(folder, tmp_path,
                                                                      sqlite_url):
    # A terminal session as a caseworker's: the server a background job of it, and the
    # terminal set to stop background jobs that write to it (`stty tostop`). The command's
    # process must still write to the terminal it was handed.
    import pty

    socket = folder / "zov.sock"
    script = (f"stty tostop; set -m; {ZOV} serve --socket {socket} 2>/dev/null & "
              f"for _ in $(seq 300); do [ -S {socket} ] && break; sleep 0.1; done; sleep 2; "
              f"ZOV_SERVER=only {ZOV} init; ZOV_SERVER=only {ZOV} info; echo exit=$?; "
              "kill %1; wait")
    env = {**os.environ, "ZOV_DB": sqlite_url, "ZOV_SOCKET": str(socket), "HOME": str(tmp_path),
           "TERM": "dumb"}
    pid, terminal = pty.fork()
    if pid == 0:
        os.execve("/bin/bash", ["bash", "-c", script], env)
    said, deadline = b"", time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([terminal], [], [], 1)
        if ready:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # the session has ended
                break
            if not chunk:
                break
            said += chunk
    os.close(terminal)
    ended, status = os.waitpid(pid, os.WNOHANG)
    while not ended and time.monotonic() < deadline + 10:
        time.sleep(0.05)
        ended, status = os.waitpid(pid, os.WNOHANG)
    if not ended:  # still running: something in the session was stopped
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    text = said.decode(errors="replace")
    assert "exit=0" in text, text
    assert "plan        Afbouw XONAR Zuid-Limburg 2023" in text
    assert os.waitstatus_to_exitcode(status) == 0, text


def test_a_server_hands_commands_back_and_stops_when_its_files_change(folder, tmp_path,
                                                                      sqlite_url):
    probe = tmp_path / "loaded" / "zov_probe.py"
    probe.parent.mkdir()
    probe.write_text("")
    socket = folder / "zov.sock"
    env = {**os.environ, "ZOV_SOCKET": str(socket), "ZOV_DB": sqlite_url,
           "PYTHONPATH": f"{probe.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    # a server that has loaded one file more than zov: the test's, which it then changes
    server = Server(socket, env, [sys.executable, "-c",
                                  "import sys, zov_probe; from cli.client import main; "
                                  "sys.argv[0] = 'zov'; main()"])
    upgrade = time.time() + 5
    os.utime(probe, (upgrade, upgrade))
    done = subprocess.run([str(ZOV), "init"], env={**env, "ZOV_SERVER": "auto"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # run by the client itself
    assert server.process.wait(timeout=30) == 0  # stopped by itself
    code, said = server.stop()
    assert code == 0 and "files changed" in said
    assert not socket.exists()
    again = subprocess.run([str(ZOV), "info"], env={**env, "ZOV_SERVER": "only"},
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert "no `zov serve` answers" in again.stderr


def test_a_socket_left_by_a_killed_server_is_no_obstacle(folder, tmp_path, sqlite_url):
    socket = folder / "zov.sock"
    env = {**os.environ, "ZOV_SOCKET": str(socket), "ZOV_DB": sqlite_url, "HOME": str(tmp_path)}
    killed = Server(socket, env, [str(ZOV)])
    killed.process.kill()
    killed.process.wait(timeout=30)
    assert socket.exists()
    used = subprocess.run([str(ZOV), "init"], env={**env, "ZOV_SERVER": "use"},
                          capture_output=True, text=True, timeout=60)
    assert used.returncode == 0, used.stderr
    server = Server(socket, env, [str(ZOV)])  # takes the place of the dead one
    second = subprocess.run([str(ZOV), "serve", "--socket", str(socket)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and "already listens" in second.stderr
    assert second.stderr.count("\n") == 1
    info = subprocess.run([str(ZOV), "info"], env={**env, "ZOV_SERVER": "only"},
                          capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    code, said = server.stop()
    assert code == 0, said


@pytest.mark.parametrize("mode, message", [(0o777, "must be yours and writable by you alone"),
                                           (0o755, None)])
def test_the_socket_s_folder_must_be_the_user_s_alone(tmp_path, mode, message):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    env = {**os.environ, "HOME": str(tmp_path)}
    if message:
        done = subprocess.run([str(ZOV), "serve", "--socket", str(shared / "zov.sock")],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and message in done.stderr
        assert done.stderr.count("\n") == 1 and not (shared / "zov.sock").exists()
    else:
        server = Server(shared / "zov.sock", env, [str(ZOV)])
        assert (shared / "zov.sock").stat().st_mode & 0o777 == 0o600
        assert server.stop()[0] == 0


def test_a_socket_path_that_cannot_be_one_is_refused_and_nothing_is_deleted(folder, tmp_path):
    kept = folder / "notes.txt"
    kept.write_text("keep me")
    too_long = folder / ("x" * 120) / "zov.sock"
    env = {**os.environ, "HOME": str(tmp_path)}
    for path, message in ((kept, "is no socket"), (too_long, "longer than the 107 bytes")):
        done = subprocess.run([str(ZOV), "serve", "--socket", str(path)], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and message in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1
    assert kept.read_text() == "keep me"
    assert not too_long.parent.exists()


def test_a_server_with_nothing_to_do_stops_after_its_idle_time(folder, tmp_path, sqlite_url):
    socket = folder / "zov.sock"
    env = {**os.environ, "ZOV_SOCKET": str(socket), "ZOV_DB": sqlite_url, "HOME": str(tmp_path)}
    started = time.monotonic()
    server = Server(socket, env, [str(ZOV)], "--idle", "0.05")  # three seconds
    done = subprocess.run([str(ZOV), "init"], env={**env, "ZOV_SERVER": "only"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert server.process.wait(timeout=60) == 0
    assert time.monotonic() - started >= 3
    assert "no command for 0.05 minutes" in server.stop()[1]
    assert not socket.exists()


def test_a_mistaken_zov_server_setting_is_one_line(tmp_path):
    done = subprocess.run([str(ZOV), "info"], env={**os.environ, "ZOV_SERVER": "always"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "set it to auto, use, off or only" in done.stderr


@pytest.mark.parametrize("idle, message", [("NaN", "NaN is not a number of minutes"),
                                           ("inf", "is not in the range 0<x<=10000000"),
                                           ("0", "is not in the range 0<x<=10000000")])
def test_an_idle_time_that_is_no_wait_is_refused_before_listening(folder, tmp_path, idle,
                                                                  message):
    socket = folder / "zov.sock"
    done = subprocess.run([str(ZOV), "serve", "--socket", str(socket), "--idle", idle],
                          env={**os.environ, "HOME": str(tmp_path)}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not socket.exists()


def test_an_idle_time_with_stop_is_refused_not_dropped(folder, tmp_path):
    socket = folder / "zov.sock"
    done = subprocess.run([str(ZOV), "serve", "--socket", str(socket), "--stop", "--idle", "5"],
                          env={**os.environ, "HOME": str(tmp_path)}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Error: --idle is for a server that starts; give it or --stop, not both" in done.stderr
    assert "Traceback" not in done.stderr and not socket.exists()


# -- the server `zov` starts by itself (ZOV_SERVER=auto, the default outside the tests) ------


def signal_while_it_waits(client: subprocess.Popen, sig: int, runs_it, sqlite_url: str) -> str:
    """Signal `client` (Ctrl-C: SIGINT) once the process that runs its command (`runs_it()`,
    a pid or None) waits for the store's write lock; what it said, at most 20 s later."""
    store = sqlite_url[len("sqlite:///"):]

    def opened() -> bool:
        pid = runs_it()
        try:
            return any(os.readlink(fd) == store for fd in Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            return False

    assert wait_for(opened)
    time.sleep(1)  # from opening the store to waiting for its lock: milliseconds of Python
    client.send_signal(sig)
    _, said = client.communicate(timeout=20)  # the lock would have kept it 60 s
    return said


def none_started(socket: Path) -> bool:
    """Whether no server was started on `socket` (a command starts one as it ends)."""
    time.sleep(1)
    return not servers_on(socket) and not Path(f"{socket}.starting").exists()


def recorded(zov, ref: str) -> list[str]:
    return [e["event"] for e in json.loads(zov("show", ref, "--format", "json").stdout)]


def test_ctrl_c_ends_a_command_waiting_for_the_store_at_once_and_starts_no_server(
        auto, sqlite_url):
    # Python acts on Ctrl-C only between steps of Python code; a command waiting inside
    # SQLite for another writer's lock used to wait out ZOV_LOCK_TIMEOUT first, print an
    # error from eventsourcing's connection pool, and then still start a server.
    socket, zov = auto
    for step in [("init",), REGISTER]:
        assert zov(*step, mode="off").returncode == 0
    with write_lock(sqlite_url):
        client = zov(*TRIAGE, background=True, ZOV_LOCK_TIMEOUT="60")
        said = signal_while_it_waits(client, signal.SIGINT, lambda: client.pid, sqlite_url)
    assert client.returncode == 130
    assert said.count("\n") == 1 and said.startswith("Error: interrupted (Ctrl-C); nothing"), said
    assert none_started(socket)
    assert recorded(functools.partial(zov, mode="off"), "C-0001") == ["Registered"]
    # and Ctrl-C in Python code (reading a sheet from a terminal that sends nothing)
    with zov("apply", "/dev/stdin", background=True) as reading:
        time.sleep(1.5)
        reading.send_signal(signal.SIGINT)
        _, said = reading.communicate(timeout=20)
    assert reading.returncode == 130 and said.startswith("Error: interrupted (Ctrl-C)"), said
    assert none_started(socket)


def servers_on(socket: Path) -> list[int]:
    """The processes of `zov serve` on this socket, however started."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"serve" in argv and os.fsencode(socket) in argv and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(check, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


@pytest.fixture
def auto(folder, tmp_path, sqlite_url):
    """(socket, run): run(*args, mode="auto") runs `zov ARGS` as a caseworker's shell would,
    with a secret and a store of its own; every server on the socket is killed afterwards."""
    socket = folder / "zov.sock"
    env = {**os.environ, "HOME": str(tmp_path), "ZOV_SOCKET": str(socket),
           "ZOV_DB": sqlite_url, "ZOV_ACTOR": "e2e",
           "ZOV_CIPHER_KEY": base64.b64encode(os.urandom(32)).decode()}  # not the server's

    def run(*args: str, mode: str = "auto", background: bool = False, **settings: str):
        """The command's CompletedProcess; with `background`, its Popen (stdin and stderr
        piped)."""
        command, settings = [str(ZOV), *args], {**env, "ZOV_SERVER": mode, **settings}
        if background:
            return subprocess.Popen(command, env=settings, stdin=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        return subprocess.run(command, env=settings, capture_output=True, text=True,
                              timeout=60)

    yield socket, run
    for pid in servers_on(socket):
        os.kill(pid, signal.SIGKILL)


def test_without_a_server_the_first_command_runs_itself_and_starts_one_for_the_next(auto):
    socket, zov = auto
    first = zov("init", mode="off")
    assert first.returncode == 0 and not servers_on(socket)  # off: none started
    used = zov("info", mode="use")
    assert used.returncode == 0 and not servers_on(socket)  # use: none started either
    done = zov("info")
    assert done.returncode == 0, done.stderr
    assert done.stdout == used.stdout and done.stderr == ""
    [pid] = servers_on(socket)  # started, in the background, before the command ended
    proc = Path(f"/proc/{pid}")
    assert (proc / "cmdline").read_bytes().split(b"\0")[-3:-1] == [b"--idle", b"60"]
    assert os.getsid(pid) == pid  # a session of its own: no terminal's Ctrl-C or hang-up
    assert {os.readlink(proc / "fd" / str(fd)) for fd in (0, 1, 2)} == {os.devnull}
    environ = (proc / "environ").read_bytes().split(b"\0")
    assert not [v for v in environ if v.startswith(b"ZOV_")]  # no store, no secret
    assert wait_for(socket.exists)
    assert not Path(f"{socket}.starting").exists()  # removed once it listened
    assert os.readlink(proc / "cwd") == "/"  # (changed to as it started, before it listened)
    served = zov("info", mode="only")
    assert served.returncode == 0, served.stderr
    assert served.stdout == used.stdout
    assert servers_on(socket) == [pid]  # the next commands use it, start no other
    stopped = zov("serve", "--stop")
    assert stopped.returncode == 0
    assert stopped.stderr == f"zov serve: stopped the server on {socket} (process {pid})\n"
    assert not socket.exists() and not servers_on(socket)
    again = zov("serve", "--stop")
    assert again.returncode == 0 and "no server listens" in again.stderr
    assert again.stderr.count("\n") == 1


def test_a_stop_right_after_the_start_waits_for_the_server_and_stops_it(auto):
    socket, zov = auto
    assert zov("init").returncode == 0
    [pid] = servers_on(socket)  # still loading: not listening yet
    stopped = zov("serve", "--stop")
    assert stopped.returncode == 0
    assert stopped.stderr == f"zov serve: stopped the server on {socket} (process {pid})\n"
    assert not servers_on(socket) and not socket.exists()
    assert not Path(f"{socket}.starting").exists()


@pytest.mark.parametrize("step, stop", [
    # `zov serve --stop` signals as soon as the socket answers: here the instant the socket
    # is made, before the server has done anything else (it used to kill the server and
    # leave the socket)
    ("_listen", "after"),
    # here before every removal of a file: the first as it starts to listen (its start
    # marker), the second in the cleanup after that stop (its socket; that second stop used
    # to end it with exit code 143, "Terminated")
    ("_unlink", "before"),
])
def test_a_stop_at_any_moment_ends_the_server_as_stopped_with_its_socket_removed(
        folder, step, stop):
    socket = folder / "zov.sock"
    kill = "    os.kill(os.getpid(), signal.SIGTERM)\n"
    script = ("import os, signal, cli.forkserver as f\n"
              f"step = f.{step}\n"
              "def stopped(path):\n"
              f"{kill if stop == 'before' else ''}"
              "    done = step(path)\n"
              f"{kill if stop == 'after' else ''}"
              "    return done\n"
              f"f.{step} = stopped\n"
              f"f.serve_forever({str(socket)!r}, None)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stderr) == (0, "zov serve: stopped\n")
    assert not socket.exists()


def test_one_start_at_a_time_and_one_that_never_listened_is_tried_again(auto):
    socket, zov = auto
    marker = Path(f"{socket}.starting")
    marker.touch()  # another command's start, under way
    done = zov("init")
    assert done.returncode == 0, done.stderr
    assert not servers_on(socket) and marker.exists()
    long_ago = time.time() - 120  # a start that never came to listen
    os.utime(marker, (long_ago, long_ago))
    done = zov("info")
    assert done.returncode == 0, done.stderr
    assert len(servers_on(socket)) == 1
    assert wait_for(lambda: not marker.exists())


def test_a_command_that_finds_a_server_listening_when_it_is_done_starts_none(auto, folder,
                                                                              tmp_path):
    # The race of commands run one after the other while the first server loads: one that
    # found none when it began, and ends after that server has come to listen.
    from cli.client import start_server

    socket, zov = auto
    server = Server(socket, {**os.environ, "HOME": str(tmp_path)}, [str(ZOV)])
    start_server(str(socket))  # what that command does when it is done
    time.sleep(0.2)  # (a process just started shows its command line only a moment later)
    assert servers_on(socket) == [server.process.pid]
    assert not Path(f"{socket}.starting").exists()
    assert zov("init").returncode == 0 and servers_on(socket) == [server.process.pid]
    assert server.stop()[0] == 0
    start_server(str(socket))  # and with none there, it starts one
    [started] = wait_for(lambda: servers_on(socket))
    assert started != server.process.pid


def test_a_socket_left_by_a_killed_server_is_replaced_by_the_next_command(auto):
    socket, zov = auto
    assert zov("init").returncode == 0
    [killed] = wait_for(lambda: servers_on(socket) if socket.exists() else [])
    assert zov("info", mode="only").returncode == 0
    os.kill(killed, signal.SIGKILL)
    assert wait_for(lambda: not servers_on(socket))
    assert socket.exists()  # left behind
    assert zov("info").returncode == 0  # nothing answers: runs itself, starts another
    [started] = servers_on(socket)
    assert started != killed
    assert wait_for(lambda: zov("info", mode="only").returncode == 0)


def test_a_folder_others_may_write_to_gets_no_server_and_commands_still_run(tmp_path,
                                                                             sqlite_url):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    socket = shared / "zov.sock"
    env = {**os.environ, "HOME": str(tmp_path), "ZOV_SOCKET": str(socket),
           "ZOV_DB": sqlite_url, "ZOV_SERVER": "auto"}
    done = subprocess.run([str(ZOV), "init"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and not servers_on(socket) and list(shared.iterdir()) == []
