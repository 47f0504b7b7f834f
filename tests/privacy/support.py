"""What the privacy tests share: a small history with personal data, and the store's raw bytes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.conftest import PG_DSN
from transfers.app import Tracker
from transfers.vocab import Outcome

D = __import__("datetime").date

REF, OTHER, LODGER = "ZP-7731", "ZP-5120", "ZP-8842"
NOTE = "moeder belde vanuit Zwolle"
CORRECTION = "verkeerde datum volgens broer"
SECRETS = (REF, NOTE, CORRECTION, LODGER)


def fill(tracker: Tracker) -> None:
    """Two clients' paths, a correction, and a Leefhuis place occupied by the first."""
    tracker.register(REF, "MKD", "Stein", "anna", note=NOTE)
    tracker.triage(REF, Outcome.TRANSFER, "anna", on=D(2023, 5, 1), note=NOTE)
    tracker.correct(REF, 2, CORRECTION, "anna")
    tracker.triage(REF, Outcome.TRANSFER, "anna", on=D(2023, 5, 2))
    tracker.register(OTHER, "MKD", "Beek", "bert")
    tracker.register_place("LH-A-01", "LH-A", "bert", occupied=True, ref=REF)
    tracker.set_occupancy("LH-A-01", True, "bert", ref=LODGER, on=D(2023, 6, 1))


def stored_bytes(url: str) -> bytes:
    """Everything the store holds: the SQLite file with its WAL and shared-memory files and
    whatever else lies in its folder (a rebuild's side file, had it stayed), or the text of
    every row of every table in the PostgreSQL schema."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        assert path.exists()
        return b"".join(p.read_bytes() for p in sorted(path.parent.iterdir()) if p.is_file())
    import psycopg

    schema = parse_qs(urlsplit(url).query)["schema"][0]
    with psycopg.connect(PG_DSN) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
        assert len(tables) >= 5, tables  # events, keys, read models: the test sees them all
        text = [conn.execute(f'SELECT coalesce(string_agg(t::text, chr(10)), \'\') '
                             f'FROM "{schema}"."{name}" t').fetchone()[0] for name in tables]
    return "\n".join(text).encode("utf-8")
