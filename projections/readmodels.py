"""The handle queries take: the store's plan, a connection to its database, the projection."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from projections.bitemporal import POSITION, PROJECTION_NAME, PROJECTION_VERSION
from projections.db import Database
from transfers.errors import StoreError
from transfers.store import CIPHER_ENV, StoreURL

if TYPE_CHECKING:
    from projections.projector import Status


class ReadModels:
    """Read models of one store. Opening them catches up with the log (unless told not to),
    so every answer includes all events recorded before it was opened."""

    def __init__(self, tracker: Any, *, catch_up: bool = True,
                 progress: Callable[[int, int], None] | None = None, **options: Any) -> None:
        from projections.projector import Projector

        self.tracker = tracker
        self.db = Database(tracker.store)
        self.projector: Any = Projector(tracker, self.db, **options)
        self._plan: Any = None
        if catch_up:
            try:
                self.catch_up(progress)
            except BaseException:
                self.close()
                raise

    @classmethod
    def if_current(cls, store: StoreURL) -> ReadModels | None:
        """The read models, opened without the event store (neither eventsourcing nor the
        domain is loaded: a read command's quickest start), when they already hold every
        event of the log and the store has no store-wide key. None otherwise, or when
        anything is unusual: then open them with the tracker, which catches up, or says in
        one line what is wrong."""
        if os.environ.get(CIPHER_ENV, "").strip() or (
                store.sqlite_path is not None and not store.sqlite_path.is_file()):
            return None
        try:
            db = Database(store)
        except StoreError:  # the tracker reports it, as it always has
            return None
        try:
            with db.transaction() as cursor:  # one statement: one snapshot of log and models
                cursor.execute(db.sql(
                    f"SELECT position, version, plan_text, plan_source, (SELECT max({store.log_id}) "
                    f"FROM {store.events_table}) FROM {POSITION} WHERE name = ?"),
                    (PROJECTION_NAME,))
                row = cursor.fetchone()
        except StoreError:  # no read models yet, not a zov store, ...
            row = None
        if (row is None or row[1] != PROJECTION_VERSION or row[2] is None
                or row[0] != (row[4] or 0)):
            db.close()
            return None
        from transfers.plan import parse_plan

        rm = cls.__new__(cls)
        rm.tracker, rm.db, rm.projector = None, db, None
        rm._plan = parse_plan(row[2], row[3])
        return rm

    @property
    def plan(self):
        """The plan adopted in the store (hulpvormen, deadlines, risk rules, leefhuizen)."""
        if self._plan is None:
            self._plan = self.tracker.plan
        return self._plan

    def ref(self, stored: str) -> str:
        """A reference as a row holds it, readable (rows of an encrypted store hold it
        encrypted with the store key; see transfers.privacy)."""
        if self.tracker is None:  # opened without the store: a store without a key
            return stored
        from transfers.privacy import reveal_ref

        return reveal_ref(self.tracker.mapper.cipher, stored)

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Fold in the events recorded since the last catch-up; returns how many."""
        if self.projector is None:  # opened by `if_current`: nothing to fold in
            return 0
        return self.projector.catch_up(progress)

    def outdated(self) -> bool:
        """Whether the read models were written by another version of zov: the next
        catch-up rebuilds them from the log."""
        return self.projector.outdated()

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
    forgotten references, nor a side file a killed rebuild left); creates nothing, so it
    needs no SQLAlchemy."""
    from projections.projector import remove_stale_side_files

    remove_stale_side_files(tracker.store)
    with ReadModels(tracker, catch_up=False) as rm:
        if rm.status().version is not None:
            rm.catch_up()
