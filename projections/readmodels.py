"""The handle queries take: the tracker's plan, a connection to its database, the projection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from projections.db import Database
from projections.projector import Projector, Status
from transfers.privacy import reveal_ref


class ReadModels:
    """Read models of one store. Opening them catches up with the log (unless told not to),
    so every answer includes all events recorded before it was opened."""

    def __init__(self, tracker: Any, *, catch_up: bool = True,
                 progress: Callable[[int, int], None] | None = None, **options: Any) -> None:
        self.tracker = tracker
        self.db = Database(tracker.store)
        self.projector = Projector(tracker, self.db, **options)
        if catch_up:
            try:
                self.catch_up(progress)
            except BaseException:
                self.close()
                raise

    @property
    def plan(self):
        """The plan adopted in the store (hulpvormen, deadlines, risk rules, leefhuizen)."""
        return self.tracker.plan

    def ref(self, stored: str) -> str:
        """A reference as a row holds it, readable (rows of an encrypted store hold it
        encrypted with the store key; see transfers.privacy)."""
        return reveal_ref(self.tracker.mapper.cipher, stored)

    def today(self) -> date:
        return self.tracker.today()

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Fold in the events recorded since the last catch-up; returns how many."""
        return self.projector.catch_up(progress)

    def rebuild(self, progress: Callable[[int, int], None] | None = None,
                writing_rows: Callable[[int], None] | None = None) -> int:
        """Drop the read models and fold the whole log again; returns events read.
        `progress(done, total)` follows the folding, `writing_rows(n)` announces the write."""
        return self.projector.rebuild(progress, writing_rows)

    def status(self) -> Status:
        """Position against the head of the log (no catch-up)."""
        return self.projector.status()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ReadModels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def catch_up_if_present(tracker: Any) -> None:
    """Bring existing read models up to date (after `zov forget`: so that no row keeps the
    forgotten references); creates nothing, so it needs no SQLAlchemy."""
    with ReadModels(tracker, catch_up=False) as rm:
        if rm.status().version is not None:
            rm.catch_up()
