"""Helpers for the projection tests: fresh stores inside property tests, table snapshots."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import fresh_schema_url

from projections import ReadModels
from projections.schema import READ_MODELS
from transfers.app import Tracker


@contextmanager
def fresh_tracker(kind: str) -> Iterator[Tracker]:
    """A tracker on a new, empty store with the built-in plan: for tests that need many
    stores in one test function (hypothesis examples)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            tracker = Tracker.open(f"sqlite:///{Path(folder) / 'zov.sqlite'}")
            tracker.adopt_plan(None, "built-in", "test")
            try:
                yield tracker
            finally:
                tracker.close()
        return
    with fresh_schema_url("zov_prop") as url:
        tracker = Tracker.open(url)
        try:
            tracker.adopt_plan(None, "built-in", "test")
            yield tracker
        finally:
            tracker.close()


def snapshot(rm: ReadModels) -> dict[str, list[tuple]]:
    """Every row of the read models (without surrogate ids), sorted: for comparing two
    ways of building them."""
    out = {}
    with rm.db.transaction() as cursor:
        for table in READ_MODELS:
            columns = ", ".join(c.name for c in table.c if c.name != "id")
            cursor.execute(f"SELECT {columns} FROM {table.name}")
            rows = [tuple(r) for r in cursor.fetchall()]
            out[table.name] = sorted(rows, key=lambda r: [(v is None, v if v is not None
                                                          else 0) for v in r])
    return out
