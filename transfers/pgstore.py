"""PostgreSQL recorder that saves without psycopg's pipeline mode.

eventsourcing 9.5 writes every save as one statement in psycopg's pipeline mode. With
psycopg 3.3 that statement hangs for ever (the server waits in ClientRead) once its
parameters pass a few megabytes, about 30,000 events; and when a statement of a save fails
(a read-only role's "permission denied"), leaving the pipeline sometimes raises "pipeline
aborted" instead, and the reason is lost. Every save here runs as an ordinary transaction:
the same table lock and NOTIFY, then the same INSERT (in slices for a bulk import), all
committed together, so a failure always says what went wrong.

It also sets up the tables only when they are missing, and one process at a time:
eventsourcing recreates its insert function (CREATE OR REPLACE FUNCTION) every time a store is
opened, and two processes doing that at the same moment fail with "tuple concurrently updated".

And a writer that waited ZOV_LOCK_TIMEOUT seconds for another one's lock on the log gives up:
eventsourcing retries every failed save ten times (and did so twice over, through its own
retrying method and this one's), which turned a 10-second wait into a quarter of an hour.
Lost connections are still retried.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from psycopg.errors import LockNotAvailable

TOPIC = "transfers.pgstore:BulkSafeRecorder"


class BulkSafeRecorder(PostgresApplicationRecorder):
    """An application recorder whose saves avoid pipeline mode."""

    SLICE = 5_000  # events per INSERT: well under the size where pipelining hangs
    ATTEMPTS = 10  # saves tried when the connection is lost, as eventsourcing does
    SETUP_LOCK = "SELECT pg_advisory_lock(hashtext('zov_store_setup'))"
    SETUP_UNLOCK = "SELECT pg_advisory_unlock(hashtext('zov_store_setup'))"

    def create_table(self) -> None:
        """eventsourcing's table setup, when the log's table is missing, one process at a
        time (a session advisory lock). Run on every start it would also take a SHARE lock
        on the log (CREATE INDEX IF NOT EXISTS) and make each command queue behind writers."""
        table = f'"{self.datastore.schema}"."{self.events_table_name}"'
        with self.datastore.get_connection() as conn:
            if conn.execute("SELECT to_regclass(%s) AS found", (table,)).fetchone()["found"]:
                self.datastore.register_type_adapters()
                return
            conn.execute(self.SETUP_LOCK)
            try:
                super().create_table()
            finally:
                conn.execute(self.SETUP_UNLOCK)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        attempt = 1
        while True:
            try:
                return self._insert_once(stored_events, **kwargs)
            except (InterfaceError, OperationalError) as exc:
                if isinstance(exc.__cause__, LockNotAvailable) or attempt == self.ATTEMPTS:
                    raise
            attempt += 1
            time.sleep(0.2)

    def _insert_once(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                     ) -> Sequence[int] | None:
        if self.datastore.enable_db_functions:  # no pipeline: eventsourcing's own save,
            # without its retrying decorator
            return PostgresApplicationRecorder.insert_events.__wrapped__(
                self, stored_events, **kwargs)
        ids: list[int] = []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            self._lock_table(curs)
            self._notify_channel(curs)
            for start in range(0, len(stored_events), self.SLICE):
                part = stored_events[start:start + self.SLICE]
                # The plain INSERT ... FROM unnest(...) of the aggregate recorder, without
                # taking the lock again for every slice.
                PostgresAggregateRecorder._insert_stored_events(self, curs, part, **kwargs)
                ids.extend(self._fetch_ids_after_insert_events(curs, part, **kwargs))
        return ids
