"""PostgreSQL recorder that can save a bulk import's hundreds of thousands of events at once.

eventsourcing 9.5 writes every save as one statement in psycopg's pipeline mode. With
psycopg 3.3 that statement hangs for ever (the server waits in ClientRead) once its
parameters pass a few megabytes, about 30,000 events. A large save here runs as an
ordinary transaction instead: the same table lock and NOTIFY, then the same INSERT in
slices, all committed together. Small saves take eventsourcing's own path unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.utils import retry

TOPIC = "transfers.pgstore:BulkSafeRecorder"


class BulkSafeRecorder(PostgresApplicationRecorder):
    """An application recorder whose large saves avoid pipeline mode."""

    SLICE = 5_000  # events per INSERT: well under the size where pipelining hangs

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) <= self.SLICE or self.datastore.enable_db_functions:
            return super().insert_events(stored_events, **kwargs)
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
