"""A DB-API connection to the store's own database, and the transactions the projection takes.

The read models live beside the event store: in the same SQLite file, or in the same
PostgreSQL schema. Their tables are defined and created with SQLAlchemy (projections.schema);
catching up and answering run plain SQL on this connection, so a read command loads no more
than the drivers the event store already uses (SQLAlchemy takes longer to import than a
whole `zov counts` may take).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from transfers.errors import StoreError
from transfers.store import StoreURL, bind_directly, postgres_conninfo, store_failure

PAGE_CACHE = 64 << 20  # bytes of SQLite's page cache per connection to a store


class Database:
    """One connection to the store's database, used by one thread at a time."""

    def __init__(self, store: StoreURL) -> None:
        self.store = store
        self.kind = store.kind
        try:
            if store.kind == "sqlite":
                bind_directly()
                self.raw: Any = sqlite3.connect(
                    store.sqlite_path, isolation_level=None, check_same_thread=False,
                    timeout=float(store.env.get("SQLITE_LOCK_TIMEOUT", "10")))
                # The read models can always be rebuilt from the log: a commit need not wait
                # for the disk (in WAL mode this never corrupts, it may lose the last commits
                # on power loss); a larger page cache keeps catch-ups fast.
                self.raw.execute("PRAGMA synchronous = NORMAL")
                self.raw.execute(f"PRAGMA cache_size = -{PAGE_CACHE >> 10}")
            else:
                import psycopg

                # A catch-up waits for another one (or a rebuild) at most ZOV_LOCK_TIMEOUT
                # seconds, then says so in one line, as a writer does.
                conninfo = postgres_conninfo(store)
                settings = [conninfo.pop("options", ""),
                            f"-c lock_timeout={int(store.env['POSTGRES_LOCK_TIMEOUT'])}s"]
                if store.env.get("POSTGRES_SCHEMA"):
                    settings.append(f"-c search_path={store.schema}")  # a plain name
                self.raw = psycopg.connect(**conninfo, autocommit=True,
                                           options=" ".join(settings).strip())
        except errors() as exc:
            raise database_error(exc, store) from None

    @property
    def sqlite(self) -> bool:
        return self.kind == "sqlite"

    def sql(self, text: str) -> str:
        """`text` with ? as parameter markers, in this driver's style."""
        return text if self.sqlite else text.replace("?", "%s")

    def day(self, value: date) -> Any:
        """A date as this database's DATE columns take it (SQLite: ISO text)."""
        return value.isoformat() if self.sqlite else value

    def as_date(self, value: Any) -> date | None:
        """A DATE column's value as a date."""
        return date.fromisoformat(value) if isinstance(value, str) else value

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Any]:
        """A transaction, as a cursor. A writing one on SQLite holds the write lock from its
        first statement (BEGIN IMMEDIATE), so what it reads cannot go stale; a reading one on
        PostgreSQL sees one snapshot for all its statements."""
        cursor = self.raw.cursor()
        try:
            if self.sqlite:
                cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield cursor
                except BaseException:
                    self.raw.rollback()
                    raise
                self.raw.commit()
            else:
                with self.raw.transaction():
                    if not write:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, "
                                       "READ ONLY")
                    yield cursor
        except errors() as exc:
            raise database_error(exc, self.store) from None
        finally:
            cursor.close()

    def has_table(self, cursor: Any, name: str) -> bool:
        if self.sqlite:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           (name,))
            return cursor.fetchone() is not None
        cursor.execute("SELECT to_regclass(%s)", (name,))
        return cursor.fetchone()[0] is not None

    def advisory_lock(self, cursor: Any) -> None:
        """On PostgreSQL, serialise creating and dropping the read-model tables."""
        if not self.sqlite:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('zov_projections'))")

    def close(self) -> None:
        self.raw.close()


def errors() -> tuple[type[BaseException], ...]:
    """The drivers' error classes (psycopg's only if it is loaded already)."""
    import sys

    found: list[type[BaseException]] = [sqlite3.Error]
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        found.append(psycopg.Error)
    return tuple(found)


def database_error(exc: BaseException, store: StoreURL) -> StoreError:
    """One line for the user about a database failure while projecting or querying."""
    return store_failure(exc, f"the read models in {store.display} cannot be used")
