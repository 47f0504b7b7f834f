"""Which store to open: `--db` / `ZOV_DB` as a URL, turned into eventsourcing's settings."""

from __future__ import annotations

import os
import re
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from transfers.errors import MORE_MEMORY, OUT_OF_MEMORY, StoreError, out_of_memory

CIPHER_ENV = "ZOV_CIPHER_KEY"  # the store-wide key (see transfers.privacy)


def default_url() -> str:
    """A SQLite file in the user's data directory (XDG_DATA_HOME, else ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'zov' / 'zov.sqlite'}"


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL: its kind, a safe display form, and eventsourcing settings."""

    url: str
    kind: str  # "sqlite" or "postgresql"
    env: dict[str, str]
    sqlite_path: Path | None = None
    libpq: dict[str, str] = field(default_factory=dict)  # the URL's other connection
    # parameters (sslmode, sslrootcert, application_name ...), passed to every connection

    @property
    def schema(self) -> str:
        """The PostgreSQL schema the store lives in."""
        return self.env.get("POSTGRES_SCHEMA") or "public"

    @property
    def events_table(self) -> str:
        """The event store's table, as eventsourcing names it for the application Tracker."""
        return "stored_events" if self.kind == "sqlite" else "tracker_events"

    @property
    def log_id(self) -> str:
        """The column of that table holding the notification id."""
        return "rowid" if self.kind == "sqlite" else "notification_id"

    @property
    def display(self) -> str:
        """The URL without any password (nor a key file's: sslpassword), for messages and
        `zov info`."""
        parts = urlsplit(self.url)
        if not (parts.password or "sslpassword" in self.libpq):
            return self.url
        netloc = (parts.netloc.replace(f":{parts.password}@", ":***@") if parts.password
                  else parts.netloc)
        query = re.sub(r"(?<![^&])sslpassword=[^&]*", "sslpassword=***", parts.query)
        return parts._replace(netloc=netloc, query=query).geturl()


def parse_store_url(url: str | None) -> StoreURL:
    """Parse `sqlite:///path` or `postgresql://user:pw@host:port/db?schema=s`."""
    url = (url or os.environ.get("ZOV_DB") or default_url()).strip()
    lock_timeout = lock_timeout_setting()
    if url.startswith("sqlite:///"):
        path = Path(unquote(url[len("sqlite:///"):])).expanduser()
        if not path.name:
            raise StoreError(f"store URL '{url}' names no file; use sqlite:///path/to/zov.sqlite")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": lock_timeout,
        }
        return StoreURL(url, "sqlite", env, path)
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        dbname = parts.path.lstrip("/")
        if not dbname or not parts.hostname:
            raise StoreError(f"store URL '{url}' needs a host and a database name, e.g. "
                             "postgresql://user@127.0.0.1:5432/zov")
        query = parse_qs(parts.query, keep_blank_values=True)
        for name, values in query.items():
            if len(values) > 1:
                raise StoreError(f"store URL gives '{name}' {len(values)} times; give it once")
        libpq = {name: values[0] for name, values in query.items() if name != "schema"}
        if taken := sorted(set(libpq) & URL_PARTS):
            raise StoreError(f"store URL gives '{taken[0]}' as a parameter; write it in the URL "
                             "itself: postgresql://user:password@host:port/dbname")
        schema = query.get("schema", [""])[0]
        if schema and not PLAIN_NAME.fullmatch(schema):
            raise StoreError(f"schema '{schema}' in the store URL is not a plain name; use "
                             "lower-case letters, digits and _ (at most 63), e.g. schema=zov")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname,
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or os.environ.get("USER", "postgres")),
            "POSTGRES_PASSWORD": unquote(parts.password or os.environ.get("PGPASSWORD", "")),
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": lock_timeout,
            "POSTGRES_POOL_SIZE": "2",
        }
        return StoreURL(url, "postgresql", env, libpq=libpq)
    raise StoreError(f"store URL '{url}' is not understood; use sqlite:///path/to/zov.sqlite "
                     "or postgresql://user@host:5432/dbname")


# Written in the URL's own parts, never as parameters (which would override them unseen).
URL_PARTS = frozenset({"dbname", "host", "hostaddr", "port", "user", "password"})
# A schema name PostgreSQL takes unquoted and unchanged: eventsourcing writes it into its
# SQL as it is, so a capital (folded to lower case) or a space would name another schema.
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def lock_timeout_setting() -> str:
    """ZOV_LOCK_TIMEOUT: whole seconds a writer waits for another (default 10)."""
    text = os.environ.get("ZOV_LOCK_TIMEOUT", "").strip() or "10"
    if not text.isdigit():
        raise StoreError(f"ZOV_LOCK_TIMEOUT={text!r} is not a number of seconds; "
                         "set it to a whole number such as 10, or unset it")
    return text


def bind_directly() -> None:
    """Have Python's SQLite driver bind None and True/False straight away. For every value
    not of an exact base type (int, float, str; so None and bool too) it first looks for an
    adapter, asking the protocol and the value for `__adapt__` and `__conform__`, which costs
    more than binding it; a rebuild binds a row of twenty values, about five of them None or
    a bool, for every event. With adapters for the two found in its table it binds the same
    values as before (NULL, 1/0), and a rebuild does 5% fewer instructions (callgrind, 1k
    paths in one process: 183.5k an event, against 193.9k). Process-wide, as the driver's
    adapter table is."""
    import sqlite3

    sqlite3.register_adapter(type(None), _unchanged)
    sqlite3.register_adapter(bool, int)


def _unchanged(value: object) -> object:
    return value


def prepare_sqlite_file(path: Path) -> None:
    """Create the SQLite file's folder and the file itself readable by the owner only;
    refuse a file that is not a SQLite database, or a database that is not a zov store.

    An existing file is only ever opened through SQLite: closing any other handle on it
    would release the locks this process's open connections hold on it (POSIX locks belong
    to the process), and another process could then overwrite what they are writing.
    """
    if path.is_dir():
        raise StoreError(f"the store {path} is a folder; name a file, e.g. {path / 'zov.sqlite'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    except FileExistsError:
        pass  # another process created it meanwhile
    except OSError as exc:
        raise StoreError(f"cannot create the store file {path}: {exc.strerror}") from None
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise StoreError(f"the store file {path} cannot be written (a read-only disk, or no "
                         "permission on the file or its folder); zov writes beside it even to "
                         "read, so copy it to a writable folder or fix the permissions")
    if path.stat().st_size:
        _check_zov_file(path)


def _check_zov_file(path: Path) -> None:
    import sqlite3

    try:
        with closing(sqlite3.connect(path)) as conn:
            tables = {name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        if "not a database" in str(exc):
            raise StoreError(f"{path} is not a SQLite database (another kind of file, or "
                             "damaged); restore it from a backup or name another file with "
                             "--db") from None
        if _disk_full(path):
            raise StoreError(f"the disk holding the store {path} is full; free some space "
                             "and run it again") from None
        raise store_failure(exc, f"cannot open the store file {path}") from None
    if tables and "stored_events" not in tables:
        others = ", ".join(sorted(tables)[:3])
        raise StoreError(f"{path} is a SQLite database but not a zov store (it holds the "
                         f"tables {others}); name another file with --db")


def _disk_full(path: Path) -> bool:
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def store_failure(exc: BaseException, what: str = "the store cannot be used") -> StoreError | None:
    """A failure of the store itself (a damaged file, a full or read-only disk, a lock held
    too long, a lost server) as one line for the user, `what: reason; hint` (or the line of
    running out of memory, when the driver's error is that); None for any other exception."""
    import sqlite3
    import sys

    from eventsourcing.persistence import MapperDeserialisationError, PersistenceError

    kinds: list[type[BaseException]] = [PersistenceError, sqlite3.Error]
    if "psycopg" in sys.modules:
        kinds.append(sys.modules["psycopg"].Error)
    if isinstance(exc, MapperDeserialisationError):
        return StoreError("a stored event cannot be read (the store is damaged, or was "
                          "written with another key); restore it from a backup")
    if not isinstance(exc, tuple(kinds)):
        return None
    if out_of_memory(exc):
        return StoreError(OUT_OF_MEMORY)
    first = first_line(exc)
    lowered = first.lower()
    for words, hint in _HINTS:
        if any(w in lowered for w in words):
            return StoreError(f"{what}: {first}; {hint}")
    return StoreError(f"{what}: {first}")


_HINTS = (
    (("permission denied", "must be owner"), "this database role may not do that (a read-only "
                                            "role?); see README, Privacy, for the roles"),
    (("malformed", "not a database"), "the file is damaged: restore it from a backup"),
    (("disk is full", "no space"), "the disk is full: free some space and run it again"),
    (("readonly", "read-only", "read only"), "the store cannot be written here: check the "
                                             "file's and folder's permissions and the disk"),
    (("locked", "lock timeout"), "another process kept the store busy; run it again, or "
                                 "raise ZOV_LOCK_TIMEOUT (seconds)"),
    (("out of memory",), MORE_MEMORY),
)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (drivers add detail lines)."""
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


def postgres_conninfo(store: StoreURL) -> dict[str, str]:
    """Connection keywords for psycopg, from the store's settings."""
    env = store.env
    return {"dbname": env["POSTGRES_DBNAME"], "host": env["POSTGRES_HOST"],
            "port": env["POSTGRES_PORT"], "user": env["POSTGRES_USER"],
            "password": env["POSTGRES_PASSWORD"], "connect_timeout": env["POSTGRES_CONNECT_TIMEOUT"],
            **store.libpq}


def ensure_postgres_schema(store: StoreURL, events_table: str, create: bool = True) -> bool:
    """True if the store's event table exists already (then nothing need be created: roles
    without the right to create, such as a read-only one, can open it). Otherwise, with
    `create`, create the schema named in the URL (`?schema=`) if it is missing; without it,
    refuse, as for a SQLite file that does not exist (a mistyped URL creates nothing)."""
    import psycopg
    from psycopg import sql

    schema = store.schema
    try:
        with psycopg.connect(**postgres_conninfo(store), autocommit=True) as conn:
            if conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                            (f'"{schema}".{events_table}',)).fetchone()[0]:
                return True
            if create and not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                           (schema,)).fetchone():
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    sql.Identifier(schema)))
    except psycopg.Error as exc:
        raise StoreError(f"cannot open the store {store.display}: {first_line(exc)}") from None
    if not create:
        raise StoreError(f"there is no store in schema {schema} of {store.display}: create it "
                         "with `zov init`, or name the right one with --db or ZOV_DB")
    return False
