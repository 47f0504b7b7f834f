"""Fixtures shared by all tests: a fresh store on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest

from transfers.app import Tracker

# The `zov` processes of the tests run the command themselves, whatever `zov serve` may be
# running on this machine; tests/e2e/test_server.py runs them through a server of its own.
os.environ["ZOV_SERVER"] = "off"

PG_DSN = os.environ.get("ZOV_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
STORES = ["sqlite", "postgres"]


def postgres_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_DSN.replace("postgresql://", "postgresql://", 1),
                             connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def require_postgres() -> None:
    """Skip locally without PostgreSQL, but fail loudly in CI (CI=true)."""
    if postgres_available():
        return
    message = f"PostgreSQL is not reachable at {PG_DSN}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI needs it: .ci/run starts it)")
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'zov.sqlite'}"


@contextmanager
def fresh_schema_url(prefix: str = "zov_test") -> Iterator[str]:
    """The URL of a PostgreSQL store in a fresh schema of its own, dropped afterwards."""
    require_postgres()
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG_DSN}?schema={schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def write_lock(url: str):
    """Hold the store's write lock (as a long write of another process would) until exit."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import psycopg

    tracker = Tracker.open(url)
    table = f'"{tracker.recorder.datastore.schema}"."{tracker.recorder.events_table_name}"'
    tracker.close()
    with psycopg.connect(PG_DSN) as conn:
        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        yield
        conn.rollback()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL store in a fresh schema of its own, dropped afterwards."""
    with fresh_schema_url() as url:
        yield url


@pytest.fixture(params=STORES)
def store_url(request) -> str:
    """The URL of an empty store, once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


@pytest.fixture
def tracker(store_url) -> Iterator[Tracker]:
    """A tracker on an empty store with the built-in plan adopted."""
    t = Tracker.open(store_url)
    t.adopt_plan(None, "built-in", "test")
    yield t
    t.close()


@pytest.fixture
def cli_runner(monkeypatch):
    """A factory: `run = cli_runner(url)`, then `run(*args)` runs `zov --db URL ARGS...`
    in-process (as ZOV_ACTOR=tester) and asserts the exit code (`code`, None: any)."""
    from click.testing import CliRunner

    from cli.main import cli

    monkeypatch.setenv("ZOV_ACTOR", "tester")

    def for_url(url: str, *, code: int | None = 0):
        runner = CliRunner()
        expected = code

        def run(*args: str, code: int | None = expected):
            result = runner.invoke(cli, ["--db", url, *args], catch_exceptions=False)
            if code is not None:
                assert result.exit_code == code, (result.output, result.stderr)
            return result

        return run

    return for_url


D = date  # short alias for readable test histories


@pytest.fixture
def dead_pid() -> int:
    """The id of a process that has ended (as a rebuild killed halfway has)."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
