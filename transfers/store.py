"""Which store to open: `--db` / `ZOV_DB` as a URL, turned into eventsourcing's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from transfers.errors import StoreError


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

    @property
    def display(self) -> str:
        """The URL without any password, for messages and `zov info`."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url


def parse_store_url(url: str | None) -> StoreURL:
    """Parse `sqlite:///path` or `postgresql://user:pw@host:port/db?schema=s`."""
    url = (url or os.environ.get("ZOV_DB") or default_url()).strip()
    lock_timeout = os.environ.get("ZOV_LOCK_TIMEOUT", "10")
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
        query = parse_qs(parts.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname,
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or os.environ.get("USER", "postgres")),
            "POSTGRES_PASSWORD": unquote(parts.password or os.environ.get("PGPASSWORD", "")),
            "POSTGRES_SCHEMA": query.get("schema", [""])[0],
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": lock_timeout,
            "POSTGRES_POOL_SIZE": "2",
        }
        return StoreURL(url, "postgresql", env)
    raise StoreError(f"store URL '{url}' is not understood; use sqlite:///path/to/zov.sqlite "
                     "or postgresql://user@host:5432/dbname")


def prepare_sqlite_file(path: Path) -> None:
    """Create the SQLite file's folder and the file itself readable by the owner only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot create the store file {path}: {exc.strerror}") from None


def postgres_conninfo(store: StoreURL) -> dict[str, str]:
    """Connection keywords for psycopg, from the store's settings."""
    env = store.env
    return {"dbname": env["POSTGRES_DBNAME"], "host": env["POSTGRES_HOST"],
            "port": env["POSTGRES_PORT"], "user": env["POSTGRES_USER"],
            "password": env["POSTGRES_PASSWORD"], "connect_timeout": env["POSTGRES_CONNECT_TIMEOUT"]}


def ensure_postgres_schema(store: StoreURL) -> None:
    """Create the schema named in the URL (`?schema=`) if it does not exist yet."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(**postgres_conninfo(store), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(store.env["POSTGRES_SCHEMA"])))
    except psycopg.Error as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise StoreError(f"cannot open the store {store.display}: {first}") from None
