"""The projection: folds the notification log into the interval tables, exactly once.

Each catch-up transaction locks the position row (SQLite: the database's write lock, taken by
BEGIN IMMEDIATE; PostgreSQL: SELECT ... FOR UPDATE), reads the position inside that lock,
folds the next notifications, and writes their rows and the new position together. Two
processes catching up at once therefore take turns, and each event is counted once.

Folding uses the domain's own meaning of every step (`Stream.step_of` and
`Stream.effective_states`); nothing here decides what a step does. Streams touched recently
are kept in memory; one that is not is loaded from its own events in the store.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from projections.bitemporal import (
    FAR_DATE,
    NEVER,
    PATH_INTERVAL,
    PLACE_INTERVAL,
    POSITION,
    PROJECTION_NAME,
    PROJECTION_VERSION,
    STAGE_DELTA,
    micros,
)
from projections.db import PAGE_CACHE, Database
from transfers.errors import OUT_OF_MEMORY, StoreError, out_of_memory
from transfers.memory import collector_paused, shortfall, size_text
from transfers.path import ClientPath, PathState
from transfers.place import LeefhuisPlace, PlaceState
from transfers.privacy import PLACEHOLDER, SEALED, protect_ref, reveal_ref
from transfers.store import parse_store_url
from transfers.stream import Step, StepKind, Stream


def _fast_decoder(mapper: Any) -> Callable[[bytes], dict[str, Any]] | None:
    """Decode stored JSON with the transcoder's own JSON decoder and type hooks, minus the
    per-call wrapper (a third of the cost); None when the state is encrypted or compressed."""
    if mapper.cipher is not None or mapper.compressor is not None:
        return None
    scanner = getattr(getattr(mapper.transcoder, "decoder", None), "scan_once", None)
    if scanner is None:
        return mapper.transcoder.decode

    def decode(state: bytes) -> dict[str, Any]:
        try:
            return scanner(state.decode("utf8"), 0)[0]
        except (ValueError, StopIteration):  # not JSON: encrypted (no key given), or damaged
            raise mapper.unreadable(state) from None

    return decode


def _uuid(oid: Any) -> UUID:
    return oid if isinstance(oid, UUID) else UUID(str(oid))


def _hex(oid: Any) -> str:
    """A stream id as the tables hold it: 32 hex digits (as the log's rows mostly give it)."""
    return oid if isinstance(oid, str) and len(oid) == 32 else _uuid(oid).hex


# -- how a stream's state becomes columns -------------------------------------------------


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: used as a dict key
class Shape:
    """How one kind of stream is written: its table, identity columns and state columns."""

    stream: type[Stream]
    table: str
    identity: tuple[str, ...]  # registration fields, in column order
    columns: tuple[str, ...]  # state columns, in the order `content` gives them
    content: Callable[[Any], tuple]
    dates: tuple[str, ...]  # the state columns that are dates

    @property
    def insert_columns(self) -> tuple[str, ...]:
        return ("stream_id", "seq", *self.identity, *self.columns, "enters", "valid_from",
                "valid_to", "end_known", "known_from", "known_to")

    @property
    def pg_types(self) -> list[str]:
        """PostgreSQL types of the inserted columns, for a binary COPY."""
        special = {**dict.fromkeys((*self.dates, "valid_from", "valid_to"), "date"),
                   "seq": "int2", "enters": "bool", "occupied": "bool", "end_known": "int8",
                   "known_from": "int8", "known_to": "int8"}
        return [special.get(name, "varchar") for name in self.insert_columns]

    @property
    def date_positions(self) -> tuple[int, ...]:
        dates = {*self.dates, "valid_from", "valid_to"}
        return tuple(i for i, name in enumerate(self.insert_columns) if name in dates)


# An enum member's `_value_` is its value without the descriptor `.value` goes through
# (a third of the cost of building a row's content, made for every event folded).


def _path_content(s: PathState) -> tuple:
    return (s.gemeente, s.cohort, "; ".join(s.arrangements), s.arrangement_end, s.stage._value_,
            s.outcome._value_ if s.outcome else None, s.combinatie, s.aanbieder, s.planned,
            s.reason._value_ if s.reason else None)


def _place_content(s: PlaceState) -> tuple:
    return (s.leefhuis, s.stage._value_, s.occupied, s.ref, s.combinatie, s.aanbieder)


PATHS = Shape(ClientPath, PATH_INTERVAL, ("ref", "hulpvorm"),
              ("gemeente", "cohort", "arrangements", "arrangement_end", "stage", "outcome",
               "combinatie", "aanbieder", "planned", "close_reason"), _path_content,
              ("arrangement_end", "planned"))
PLACES = Shape(LeefhuisPlace, PLACE_INTERVAL, ("place",),
               ("leefhuis", "stage", "occupied", "ref", "combinatie", "aanbieder"),
               _place_content, ())
SHAPES = (PATHS, PLACES)

Progress = Callable[[int, int], None]  # (done, total)

# Positions of the stage and the close reason in a path's state columns.
STAGE, REASON = 4, 9

# Positions counted from the end of an inserted row (see Shape.insert_columns).
VALID_FROM, VALID_TO, END_KNOWN, KNOWN_FROM, KNOWN_TO = -5, -4, -3, -2, -1

# An interval: (state columns, enters a new stage, valid_from, valid_to).
Interval = tuple[tuple, bool, date, date]


class Track:
    """What the projection keeps of one stream: its steps, its latest state and its
    current intervals."""

    __slots__ = ("shape", "sid", "ident", "steps", "voided", "state", "intervals", "pending",
                 "known")

    def __init__(self, shape: Shape, sid: str, ident: tuple) -> None:
        self.shape, self.sid, self.ident = shape, sid, ident
        self.steps: list[Step] = []
        self.voided: dict[int, str] = {}
        self.state: Any = None  # state after the last dated step (None: void)
        self.intervals: list[Interval] = []
        self.pending: dict[int, list] = {}  # seq -> row inserted in this transaction
        self.known = 0  # recording time of the latest event, microseconds

    def refold(self) -> None:
        states = self.shape.stream.effective_states(self.steps, self.voided)
        self.state = states[-1][1] if states else None
        self.intervals = intervals_of(self.shape, states)


def intervals_of(shape: Shape, states: list[tuple[Step, Any]]) -> list[Interval]:
    """A stream's intervals from its effective-dated states."""
    starts: list[date] = []
    for step, _ in states:  # dates are non-decreasing; older histories are clamped
        starts.append(step.on if not starts or step.on >= starts[-1] else starts[-1])
    out = []
    for i, (_, state) in enumerate(states):
        end = starts[i + 1] if i + 1 < len(states) else FAR_DATE
        enters = i == 0 or state.stage is not states[i - 1][1].stage
        out.append((shape.content(state), enters, starts[i], end))
    return out


@dataclass(frozen=True)
class _Topic:
    shape: Shape | None  # None: the plan's
    kind: str
    fast: bool  # the stored JSON can be decoded directly (no cipher, no upcasting)
    rule: StepKind | None  # the step kind, unless a registration or a correction


class _Writes:
    """The row changes of one transaction, applied in an order that keeps them exact.

    Rows inserted in this transaction stay in memory ("pending") until the flush, so a
    step that ends or voids one of them changes the row instead of adding an UPDATE.
    """

    def __init__(self, cipher: Any = None, rebuilding: bool = False) -> None:
        self.cipher = cipher  # the store key: references in the rows are encrypted
        # The running totals of a rebuild, whose changes are all new rows, are counted from
        # the rows once (`_count_rows`), not kept up step by step: a tenth of the fold.
        self._stepwise: Shape | None = None if rebuilding else PATHS
        self._uncounted = rebuilding
        # stream id, and the references its events still give: the rest are erased
        self.forgotten: dict[Shape, list[tuple[str, list[str]]]] = {s: [] for s in SHAPES}
        self.ends: dict[Shape, list[tuple]] = {s: [] for s in SHAPES}
        self.closes: dict[Shape, list[tuple]] = {s: [] for s in SHAPES}
        self.inserts: dict[Shape, list[list]] = {s: [] for s in SHAPES}
        self.deltas: Counter[tuple] = Counter()  # (day, hulpvorm, stage, reason) -> change
        self.touched: list[Track] = []
        self.latest = 0  # the latest recording time a change below carries
        self.plan: tuple[str, str] | None = None  # the latest plan adopted: (text, source)

    def end(self, track: Track, seq: int, interval: Interval, valid_to: date, ts: int) -> None:
        """The open-ended `interval` at `seq` now ends on `valid_to`."""
        if ts > self.latest:
            self.latest = ts
        row = track.pending.get(seq)
        if row is not None:
            row[VALID_TO], row[END_KNOWN] = valid_to, ts
        else:
            self.ends[track.shape].append((valid_to, ts, track.sid, seq))
        if track.shape is self._stepwise:
            self.deltas[_delta_key(valid_to, track, interval)] -= 1

    def close(self, track: Track, seq: int, interval: Interval, ts: int) -> None:
        """The `interval` at `seq` is no longer what the log says."""
        if ts > self.latest:
            self.latest = ts
        row = track.pending.pop(seq, None)
        if row is not None:
            row[KNOWN_TO] = ts
        else:
            self.closes[track.shape].append((ts, track.sid, seq))
        if track.shape is self._stepwise:
            self.deltas[_delta_key(interval[2], track, interval)] -= 1
            if interval[3] != FAR_DATE:
                self.deltas[_delta_key(interval[3], track, interval)] += 1

    def insert(self, track: Track, seq: int, interval: Interval, ts: int) -> None:
        """The `interval` at `seq` is what the log says from `ts` on."""
        if ts > self.latest:
            self.latest = ts
        content, enters, valid_from, valid_to = interval
        row = [track.sid, seq, *track.ident, *content, enters, valid_from, valid_to, ts, ts,
               NEVER]
        if not track.pending:
            self.touched.append(track)
        track.pending[seq] = row
        self.inserts[track.shape].append(row)
        if track.shape is self._stepwise:
            self.deltas[_delta_key(valid_from, track, interval)] += 1
            if valid_to != FAR_DATE:
                self.deltas[_delta_key(valid_to, track, interval)] -= 1

    @property
    def rows(self) -> int:
        return sum(len(rows) for rows in self.inserts.values())

    def flush(self, db: Database, cursor: Any, bulk: bool = False) -> None:
        """Write the changes: ends, then closes, then new rows (`bulk`: COPY on PostgreSQL),
        then erasures."""
        mark = "?" if db.sqlite else "%s"
        for shape in SHAPES:
            name = shape.table
            ends, closes = self.ends[shape], self.closes[shape]
            current = f"stream_id = {mark} AND seq = {mark} AND known_to = {NEVER}"
            if ends:
                if db.sqlite:
                    ends = [(d.isoformat(), *rest) for d, *rest in ends]
                _exactly(cursor, f"UPDATE {name} SET valid_to = {mark}, end_known = {mark} "
                                 f"WHERE {current}", ends)
            if closes:
                _exactly(cursor, f"UPDATE {name} SET known_to = {mark} WHERE {current}", closes)
        self.write_rows(db, cursor, bulk)
        for shape in SHAPES:
            self._erase(db, cursor, shape)
        deltas = [(db.day(day), h, stage, reason, n)
                  for (day, h, stage, reason), n in self.deltas.items() if n]
        if deltas and bulk and not db.sqlite:  # a new table: nothing to add to
            _copy(cursor, STAGE_DELTA, DELTA_COLUMNS, DELTA_TYPES, deltas)
        elif deltas:
            cursor.executemany(db.sql(
                f"INSERT INTO {STAGE_DELTA} ({', '.join(DELTA_COLUMNS)}) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, hulpvorm, stage, close_reason) "
                f"DO UPDATE SET delta = {STAGE_DELTA}.delta + excluded.delta"), deltas)
            cursor.execute(f"DELETE FROM {STAGE_DELTA} WHERE delta = 0")  # as a rebuild has it
        for track in self.touched:
            track.pending.clear()

    def write_rows(self, db: Database, cursor: Any, bulk: bool = False,
                   ready: dict[Shape, list[list]] | None = None) -> None:
        """Insert the new rows (or those `ready_rows` made ready, let go of as written): a
        rebuild writes them before the rest of its changes."""
        ready = self.ready_rows(db) if ready is None else ready
        for shape in list(ready):
            self._insert(db, cursor, shape, ready.pop(shape), bulk)

    def ready_rows(self, db: Database) -> dict[Shape, list[list]]:
        """The new rows made ready to be written to `db` (totals counted, references
        protected, dates as the database takes them): a rebuild makes them ready before it
        takes the write lock, while the second process may still be folding."""
        return {shape: _stored(db, shape, self.final_rows(shape)) for shape in SHAPES}

    def _count_rows(self) -> None:
        """In a rebuild, the running totals from the new rows: each row the log still says
        counts from its first day to its end (rows a later step closed count nowhere), as the
        step-by-step counting in `end`, `close` and `insert` leaves them."""
        if not self._uncounted:
            return
        self._uncounted = False
        hulpvorm = 2 + PATHS.identity.index("hulpvorm")
        stage, reason = 2 + len(PATHS.identity) + STAGE, 2 + len(PATHS.identity) + REASON
        deltas = self.deltas
        for r in self.inserts[PATHS]:
            if r[KNOWN_TO] == NEVER:
                deltas[(r[VALID_FROM], r[hulpvorm], r[stage], r[reason] or "")] += 1
                if r[VALID_TO] != FAR_DATE:
                    deltas[(r[VALID_TO], r[hulpvorm], r[stage], r[reason] or "")] -= 1

    def final_rows(self, shape: Shape) -> list[list]:
        """The new rows of `shape` as they are written (those not closed in this same
        transaction; references protected), let go of here (a rebuild's running totals are
        counted from them first)."""
        self._count_rows()
        rows = [r for r in self.inserts[shape] if r[KNOWN_FROM] < r[KNOWN_TO]]
        self._protect(shape, rows)
        self.inserts[shape] = []
        return rows

    @staticmethod
    def _insert(db: Database, cursor: Any, shape: Shape, rows: list[list], bulk: bool) -> None:
        if not rows:
            return
        name = shape.table
        mark = "?" if db.sqlite else "%s"
        if bulk and not db.sqlite:
            _copy(cursor, name, shape.insert_columns, shape.pg_types, rows)
        else:
            values = ", ".join([mark] * len(shape.insert_columns))
            cursor.executemany(f"INSERT INTO {name} ({', '.join(shape.insert_columns)}) "
                               f"VALUES ({values})", rows)

    def _protect(self, shape: Shape, rows: list[list]) -> None:
        """With a store key, new rows hold their references encrypted."""
        if self.cipher is not None:
            at = shape.insert_columns.index("ref")
            for r in rows:
                r[at] = protect_ref(self.cipher, r[at])

    def _erase(self, db: Database, cursor: Any, shape: Shape) -> None:
        """Erase from every row of a forgotten stream the references its events no longer
        give (in place, history rows too: no row may keep them)."""
        if not self.forgotten[shape]:
            return
        mark = "?" if db.sqlite else "%s"
        if db.sqlite:
            cursor.execute("PRAGMA secure_delete = ON")  # no fragment keeps them
        erased = []
        for sid, keep in self.forgotten[shape]:
            cursor.execute(f"SELECT id, ref FROM {shape.table} WHERE stream_id = {mark} AND "
                           f"ref IS NOT NULL AND ref <> '{PLACEHOLDER}'", (sid,))
            erased += [(row_id,) for row_id, ref in cursor.fetchall()
                       if reveal_ref(self.cipher, ref) not in keep]
        cursor.executemany(f"UPDATE {shape.table} SET ref = '{PLACEHOLDER}' WHERE id = {mark}",
                           erased)

    def portable(self) -> dict[str, Any]:
        """The changes but the new rows as plain data, to send to another process (shapes by
        table name); the rows travel apart (see `_OtherHalf`)."""
        self._count_rows()
        return {"ends": {s.table: self.ends[s] for s in SHAPES},
                "closes": {s.table: self.closes[s] for s in SHAPES},
                "forgotten": {s.table: self.forgotten[s] for s in SHAPES},
                "deltas": dict(self.deltas), "latest": self.latest, "plan": self.plan}

    def merge(self, other: dict[str, Any]) -> None:
        """Add the changes of another process's fold of other streams (see `portable`)."""
        for shape in SHAPES:
            for name in ("ends", "closes", "forgotten"):
                getattr(self, name)[shape].extend(other[name][shape.table])
        self.deltas.update(other["deltas"])
        self.latest = max(self.latest, other["latest"])
        self.plan = other["plan"] or self.plan  # one stream: folded by one of the two

    def forget(self, track: Track) -> None:
        """Some of the stream's personal data was erased (a path's all, a place's as far as
        it named the forgotten client): `track` is as the log reads now, so the references
        its steps still give are kept, the rest erased from the rows at the flush."""
        keep = {s.details.get("ref") for s in track.steps}
        keep.add(dict(zip(track.shape.identity, track.ident, strict=True)).get("ref"))
        self.forgotten[track.shape].append((track.sid, sorted(keep - {None, PLACEHOLDER})))


def _stored(db: Database, shape: Shape, rows: list[list]) -> list[list]:
    """`rows` with their dates as `db` takes them (in place): on SQLite ISO text, as
    SQLAlchemy's SQLite Date type stores them."""
    if db.sqlite:
        iso: dict[date, str] = {}  # few distinct dates, many rows
        for i in shape.date_positions:
            for r in rows:
                d = r[i]
                if d is not None:
                    r[i] = iso.get(d) or iso.setdefault(d, d.isoformat())
    return rows


DELTA_COLUMNS = ("day", "hulpvorm", "stage", "close_reason", "delta")
DELTA_TYPES = ["date", "varchar", "varchar", "varchar", "int4"]


def _copy_sql(table: str, columns: tuple[str, ...]) -> str:
    """COPY into a PostgreSQL table created in this transaction. FREEZE: the rows are
    written frozen and their pages all-visible, so queries that read an index alone need not
    visit the table, with no VACUUM after."""
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY, FREEZE)"


def _copy(cursor: Any, table: str, columns: tuple[str, ...], types: list[str],
          rows: list) -> None:
    with cursor.copy(_copy_sql(table, columns)) as copy:
        copy.set_types(types)
        for r in rows:
            copy.write_row(r)


def _delta_key(day: date, track: Track, interval: Interval) -> tuple:
    content = interval[0]
    return (day, track.ident[1], content[STAGE], content[REASON] or "")


def _exactly(cursor: Any, sql: str, params: list[tuple]) -> None:
    cursor.executemany(sql, params)
    if cursor.rowcount not in (-1, len(params)):
        raise StoreError("the read models are out of step with the event log; "
                         "run `zov projections rebuild`")


# -- the projection -----------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """Where the projection stands against the log."""

    position: int  # last notification folded in
    head: int  # last notification in the log
    lag: int  # notifications not folded in yet
    version: int | None  # projection version that wrote the rows (None: no tables yet)
    current_version: int  # projection version of this code
    path_rows: int
    place_rows: int

    @property
    def needs_rebuild(self) -> bool:
        return self.version is not None and self.version != self.current_version


class Projector:
    """Keeps the interval tables in step with the tracker's notification log."""

    def __init__(self, tracker: Any, db: Database, *, batch_size: int = 2000,
                 rebuild_batch: int = 5000, cache_limit: int = 250_000,
                 parallel_from: int = 4_000, indexes_first_below: int = 20_000) -> None:
        self.tracker, self.db = tracker, db
        self.recorder = tracker.recorder
        self.mapper = tracker.mapper
        self.batch_size, self.rebuild_batch = batch_size, rebuild_batch
        # From this many events on, a rebuild folds the log in two processes: each reads
        # the whole log (cheap) and folds half of the streams (the cost); below it, starting
        # the second process costs more than it saves (even at 3,400 events here).
        self.parallel_from = parallel_from
        # Below this many rows, a rebuild creates the indexes with the empty tables and
        # fills them row by row, and leaves PostgreSQL's statistics to autovacuum (within a
        # minute; the planner reads a small table's size meanwhile): at 1k paths (7,700
        # rows) 289 -> 261 ms on PostgreSQL, 192 -> 182 ms on SQLite, median of eight each.
        # Above it, building each index once from the rows is cheaper.
        self.indexes_first_below = indexes_first_below
        self.cache_limit = cache_limit
        self._tracks: dict[Any, Track] = {}
        self._cache_at: int | None = None  # position the cached tracks are valid at
        self._topics: dict[str, _Topic | None] = {}
        self._ready = False
        self._decode = _fast_decoder(self.mapper)
        self._preloaded: dict[Any, list[tuple[int, str, bytes]]] = {}
        # PostgreSQL sends the log's rows in binary: the states as they are, not as hex text
        # (reading the log takes 40% less time)
        self._binary = {} if db.sqlite else {"binary": True}

    # -- tables ---------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the tables and the position row if this store has none yet."""
        if self._ready:
            return
        db = self.db
        with db.transaction() as cursor:
            exists = all(db.has_table(cursor, name)
                         for name in (POSITION, PATH_INTERVAL, PLACE_INTERVAL, STAGE_DELTA))
        if not exists:
            from projections.schema import create_tables

            with db.transaction(write=True) as cursor:
                db.advisory_lock(cursor)
                create_tables(cursor, db.kind)
                cursor.execute(f"SELECT position FROM {POSITION}")
                if cursor.fetchone() is None:
                    cursor.execute(db.sql(f"INSERT INTO {POSITION} (name, position, version) "
                                          "VALUES (?, 0, ?)"),
                                   (PROJECTION_NAME, PROJECTION_VERSION))
        self._ready = True

    def _forget(self) -> None:
        self._tracks.clear()
        self._cache_at = None

    def _position(self, cursor: Any, lock: bool = False) -> tuple[int, int]:
        sql = f"SELECT position, version FROM {POSITION} WHERE name = ?"
        if lock and not self.db.sqlite:  # SQLite: the transaction holds the write lock
            sql += " FOR UPDATE"
        cursor.execute(self.db.sql(sql), (PROJECTION_NAME,))
        return cursor.fetchone()

    def _set_position(self, cursor: Any, value: int, writes: _Writes) -> None:
        """Set the position; the latest recording time of a change, the later of the row's
        and this transaction's; and the plan, if these events adopted one."""
        plan, params = "", [value, PROJECTION_VERSION, writes.latest, writes.latest]
        if writes.plan is not None:
            plan = ", plan_text = ?, plan_source = ?"
            params += writes.plan
        cursor.execute(self.db.sql(f"UPDATE {POSITION} SET position = ?, version = ?, latest = "
                                   f"CASE WHEN latest > ? THEN latest ELSE ? END{plan} "
                                   "WHERE name = ?"), (*params, PROJECTION_NAME))

    # -- status, catch-up, rebuild --------------------------------------------------------

    def status(self) -> Status:
        """Position against the head of the log, without catching up."""
        head = self.recorder.max_notification_id() or 0
        db = self.db
        with db.transaction() as cursor:
            if not db.has_table(cursor, POSITION):
                return Status(0, head, head, None, PROJECTION_VERSION, 0, 0)
            pos, version = self._position(cursor)
            counts = []
            for name in (PATH_INTERVAL, PLACE_INTERVAL):
                cursor.execute(f"SELECT count(*) FROM {name}")
                counts.append(cursor.fetchone()[0])
        behind = head - (pos if version == PROJECTION_VERSION else 0)
        return Status(pos, head, max(behind, 0), version, PROJECTION_VERSION, *counts)

    def outdated(self) -> bool:
        """Whether the read models were written by another projection version (the next
        catch-up rebuilds them)."""
        with self.db.transaction() as cursor:
            if not self.db.has_table(cursor, POSITION):
                return False
            return self._position(cursor)[1] != PROJECTION_VERSION

    def catch_up(self, progress: Progress | None = None) -> int:
        """Fold in every notification recorded before this call; returns how many were read.

        `progress(done, total)` is called after each transaction.
        """
        self.ensure()
        head = self.recorder.max_notification_id() or 0
        with self.db.transaction() as cursor:
            pos, version = self._position(cursor)
        if version != PROJECTION_VERSION or (pos == 0 and head > self.rebuild_batch):
            return self.rebuild(progress)  # quicker from scratch than step by step
        if pos >= head:
            return 0
        start, done = pos, 0
        while True:
            try:
                with self.db.transaction(write=True) as cursor, collector_paused():
                    pos, version = self._position(cursor, lock=True)
                    if pos >= head or version != PROJECTION_VERSION:
                        break
                    if pos != self._cache_at or len(self._tracks) > self.cache_limit:
                        self._forget()
                    self._cache_at = None  # the cache runs ahead until the commit
                    notes, new_pos = self._read(cursor, pos, head, self.batch_size)
                    self._preload(cursor, notes)
                    writes = _Writes(self.mapper.cipher)
                    for note in notes:
                        self._fold_notification(note, writes)
                    writes.flush(self.db, cursor)
                    self._set_position(cursor, new_pos, writes)
            except BaseException:
                self._forget()
                raise
            self._cache_at = new_pos
            done += len(notes)
            if progress:
                progress(new_pos - start, head - start)
        if version != PROJECTION_VERSION:  # another process left rows of another version
            return done + self.rebuild(progress)
        return done

    def rebuild(self, progress: Progress | None = None,
                writing_rows: Callable[[int], None] | None = None) -> int:
        """Drop the read models and fold the whole log again; returns events read.

        The log is folded in memory first, without holding any lock, so the store stays
        usable; then the tables are replaced and filled in one transaction (indexes built
        after the rows, unless they are few) and the position set. Events recorded meanwhile
        are caught up after.
        `writing_rows(n)` is called before the n rows are written.
        """
        from projections.schema import (
            READ_MODELS,
            add_missing_columns,
            analyze,
            create_indexes,
            create_tables,
            drop_tables,
        )

        head = self.recorder.max_notification_id() or 0
        two = self._in_two(head)
        self._check_memory(head, 2 if two else 1)
        self.ensure()
        self._forget()
        db = self.db
        if getattr(self.mapper, "keys", None) is not None:
            # Every stream's key at once, not one query per stream; read after the head, so
            # every forgetting up to the head has deleted its keys already.
            self.mapper.keys.load()
        try:
            with collector_paused(), self._other_half(head, two) as other:
                sink = self._fold_part(db, head, progress, half=None if other is None else 0)
                # The rows are all made: let go of the tracks now (half a second at 100k
                # paths), while the second process is still at work, not after the commit.
                self._forget()
                sink.touched.clear()
                rows = sink.rows
                ready = sink.ready_rows(db)  # (outside the transaction: a shorter lock)
                rows += 0 if other is None else other.folded()
                if writing_rows:
                    writing_rows(rows)
                with db.transaction(write=True) as cursor:
                    self._position(cursor, lock=True)
                    db.advisory_lock(cursor)
                    drop_tables(cursor, db.kind, READ_MODELS)
                    few = rows < self.indexes_first_below
                    create_tables(cursor, db.kind, READ_MODELS, indexes=few)
                    if other is None:
                        sink.write_rows(db, cursor, bulk=True, ready=ready)
                    else:
                        sink.merge(other.take_rows(
                            cursor, lambda: sink.write_rows(db, cursor, bulk=True, ready=ready)))
                    sink.flush(db, cursor, bulk=True)
                    if not few:
                        create_indexes(cursor, db.kind, READ_MODELS)
                    if not few or db.kind == "sqlite":
                        analyze(cursor, db.kind, READ_MODELS)
                    add_missing_columns(cursor)
                    self._set_position(cursor, head, sink)
                # Let go of what is left while the garbage collector is still off: switched
                # back on, it would first walk through every object.
                sink = None
        except BaseException:
            self._forget()
            raise
        return head + self.catch_up(progress)

    # Memory a rebuild takes, at the least: each process's own (the interpreter, imported
    # code, working memory), on SQLite its page cache (filled up to its size from a store
    # file that big), and, per event of the log, its rows and the streams' steps, all held
    # until they are written. Measured on SQLite (anonymous resident memory, the two
    # processes together, at their peak): 88 MB at 1k paths of the benchmark (estimate
    # 99 MB: the one size it is above), 322 MB at 17k (97k events; estimate 315 MB), 1.07 GB
    # at 100k (0.79 GB), 8.26 GB at 1M (5.95 GB). A limit of 300 MB at 17k had the system
    # kill the rebuild while the page cache was not counted.
    BYTES_PER_PROCESS, BYTES_PER_EVENT = 42_000_000, 1_000

    def _check_memory(self, head: int, processes: int) -> None:
        """Refuse, before anything is done, a rebuild in `processes` that cannot fit in the
        memory left (it would run for minutes and then fail, be killed by the system, or
        take the machine's memory from others)."""
        each = self.BYTES_PER_PROCESS
        if self.db.sqlite:
            try:
                each += min(PAGE_CACHE, os.path.getsize(self.db.store.sqlite_path))
            except OSError:  # (the store is opened: its file is there, unless removed now)
                each += PAGE_CACHE
        need = processes * each + head * self.BYTES_PER_EVENT
        short = shortfall(need, processes)
        if short:
            raise StoreError(
                f"rebuilding the read models from {head:,} events needs at least "
                f"{size_text(need)} of memory and {short}: close other programs or rebuild "
                "on a machine with more memory (nothing was changed)")

    def _in_two(self, head: int) -> bool:
        """Whether a rebuild up to `head` folds in two processes: on a machine that can fork,
        for a log that is not small (starting the second costs more than it saves) and that
        one of zov's two recorders keeps."""
        import multiprocessing

        return (head >= self.parallel_from and self._log_table() is not None
                and "fork" in multiprocessing.get_all_start_methods())

    @contextmanager
    def _other_half(self, head: int, two: bool) -> Iterator[_OtherHalf | None]:
        """A second process folding half of the streams (`two`: see `_in_two`); None when the
        rebuild folds in one, or no second process can be started."""
        if not two:
            yield None
            return
        try:
            other = _OtherHalf(self, head)
        except OSError:  # no second process to be had (process or memory limits): fold alone
            yield None
            return
        try:
            yield other
        finally:
            other.close()

    def _fold_other_half(self, head: int, send: Any, side: Path | None, receive: Any,
                         first: int) -> None:
        """The second process: the other half of the streams, through a connection of its
        own (an inherited one is never used across a fork): how many rows it made, then the
        rows, then the rest of what it folded as plain data (see `_OtherHalf`)."""
        # Ctrl-C reaches both processes; the first handles it, and ends this one.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # (held back for the fork)
        _end_with(first)
        receive.close()  # the first process's end: were it open here too, a send to a first
        # process that was killed would wait for ever instead of failing
        try:
            if getattr(self.mapper, "keys", None) is not None:
                self.mapper.keys.only_loaded = True  # all loaded by `rebuild`
            db = Database(self.tracker.store)
            sink = self._fold_part(db, head, None, half=1)
            send.send({"rows": sink.rows})
            _OtherHalf.hand_over_rows(sink, db, send, side)
            send.send(sink.portable())
        except Exception as exc:  # noqa: BLE001 - reported to the first process, which raises
            sink = None  # (what it holds, let go of first: telling may need memory)
            if out_of_memory(exc):
                message = OUT_OF_MEMORY
            elif isinstance(exc, StoreError):
                message = str(exc)
            else:
                message = f"the rebuild failed: {type(exc).__name__}: {exc}"
            try:
                send.send({"error": message})
            except (OSError, MemoryError):  # the first process is gone (killed): no one to tell
                pass
        send.close()

    def _fold_part(self, db: Database, head: int, progress: Progress | None,
                   half: int | None = None) -> _Writes:
        """Fold the log up to `head` (only the streams of `half`, 0 or 1, if given)."""
        sink, done = _Writes(self.mapper.cipher, rebuilding=True), 0
        with db.transaction() as cursor:
            while done < head:
                notes, done = self._read(cursor, done, head, self.rebuild_batch, half)
                for note in notes:
                    self._fold_notification(note, sink, rebuilding=True)
                if progress:
                    progress(done, head)
        return sink

    # -- folding --------------------------------------------------------------------------

    def _topic(self, topic: str) -> _Topic | None:
        try:
            return self._topics[topic]
        except KeyError:
            pass
        from transfers.app import PlanRecord  # loaded with the tracker

        cls = resolve_topic(topic)
        found = None
        if issubclass(cls, PlanRecord.Event):
            found = _Topic(None, cls.__name__, self._decode is not None, None)
        for shape in SHAPES:
            if issubclass(cls, shape.stream.Event):
                fast = self._decode is not None and getattr(cls, "class_version", 1) == 1
                found = _Topic(shape, cls.__name__, fast, shape.stream.KINDS.get(cls.__name__))
        self._topics[topic] = found
        return found

    def _read(self, cursor: Any, after: int, stop: int, limit: int,
              half: int | None = None) -> tuple[list[tuple], int]:
        """Notifications `after` < id <= `stop`, at most `limit`, as (id, originator_id,
        originator_version, topic, state) tuples; and the position they bring us to. With
        `half`, only those of the streams whose id ends in an even (0) or odd (1) hex digit.

        For the two recorders zov uses, this reads the recorder's own table (the rows that
        `select_notifications` returns, without building an object for each, and only the
        half asked for); for any other recorder it asks `select_notifications`.
        """
        sql = self._read_sql(half)
        if sql is None:
            page = [(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                    for n in self.recorder.select_notifications(after + 1, limit, stop=stop)]
            reached = page[-1][0] if len(page) == limit else stop
            return [n for n in page if half is None or int(str(n[1])[-1], 16) & 1 == half], reached
        # No upper bound in SQL: "id > after ORDER BY id LIMIT n" walks the index in order
        # and stops, whatever the planner knows about the table.
        cursor.execute(sql, (after, limit), **self._binary)
        notes = [n for n in cursor.fetchall() if n[0] <= stop]
        return notes, notes[-1][0] if len(notes) == limit else stop

    def _log_table(self) -> tuple[str, str, str] | None:
        """(table, notification id column, stream id expression) of the recorder's own
        table, for the two recorders zov uses (named by the store URL, as the quick read
        path names them); None for any other recorder."""
        recorder, store = self.recorder, self.db.store
        kinds = {(c.__module__, c.__name__) for c in type(recorder).__mro__}
        if ("eventsourcing.sqlite", "SQLiteApplicationRecorder") in kinds and self.db.sqlite:
            return f'"{store.events_table}"', store.log_id, "originator_id"
        if (("eventsourcing.postgres", "PostgresApplicationRecorder") in kinds
                and not self.db.sqlite):
            table = f'"{recorder.datastore.schema}"."{store.events_table}"'
            # the id as hex text, as SQLite stores it: no UUID object per event
            return table, store.log_id, "replace(originator_id::text, '-', '')"
        return None

    def _read_sql(self, half: int | None = None) -> str | None:
        found = self._log_table()
        if found is None:
            return None
        table, nid, oid = found
        only = ""
        if half is not None:  # the other process reads the other half: each reads its own
            last = f"substr({oid}, -1)" if self.db.sqlite else f"right({oid}, 1)"
            odd = "('1', '3', '5', '7', '9', 'b', 'd', 'f')"
            only = f" AND {last} {'IN' if half else 'NOT IN'} {odd}"
        return self.db.sql(f"SELECT {nid}, {oid}, originator_version, topic, state FROM {table} "
                           f"WHERE {nid} > ?{only} ORDER BY {nid} LIMIT ?")

    def _events_sql(self) -> str | None:
        """A query for the events of some streams, named as `_read` names them."""
        found = self._log_table()
        if found is None:
            return None
        table, _, oid = found
        where = ("originator_id IN ({marks})" if self.db.sqlite
                 else "originator_id = ANY(%s::uuid[])")
        return (f"SELECT {oid}, originator_version, topic, state FROM {table} WHERE {where} "
                "ORDER BY originator_id, originator_version")

    def _opened(self, oid: Any, topic_name: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Fields decoded straight from the stored JSON, their sealed part opened as far as
        the read models need it (the reference; notes and reasons are not projected)."""
        if SEALED in fields:
            self.mapper.unseal(oid, topic_name, fields, wanted=("ref",))
        return fields

    def _fields(self, topic: _Topic, oid: Any, version: int, topic_name: str,
                state: bytes) -> dict[str, Any]:
        if topic.fast:
            return self._opened(oid, topic_name, self._decode(state))
        stored = StoredEvent(originator_id=_uuid(oid), originator_version=version,
                             topic=topic_name, state=bytes(state))
        return dict(vars(self.mapper.to_domain_event(stored)))

    def _fold_notification(self, note: tuple, writes: _Writes, rebuilding: bool = False) -> None:
        nid, oid, version, topic_name, state = note
        topic = self._topics.get(topic_name) or self._topic(topic_name)
        if topic is None:
            return  # not a path, a place or the plan
        if topic.fast:
            fields = self._opened(oid, topic_name, self._decode(state))
        else:
            fields = self._fields(topic, oid, version, topic_name, state)
        if topic.shape is None:  # kept for read commands that need not open the log
            writes.plan = (fields["text"], fields["source"])
            return
        track = self._tracks.get(oid)
        if topic.kind == Stream.FORGOTTEN and not rebuilding:
            # Read the stream again, with the keys that are left (a rebuild read them after
            # the forgetting), so its steps give only what was not forgotten.
            keys = getattr(self.mapper, "keys", None)
            if keys is not None:
                keys.refresh([oid])
            self._preloaded.pop(oid, None)  # (if preloaded, then up to another version)
            track = None
        if track is None or len(track.steps) != version - 1:
            if rebuilding and version > 1:  # every stream starts inside the log
                raise StoreError(f"event {nid} continues a stream whose start is not "
                                 "in the log; the store is damaged")
            track = self._load(topic.shape, oid, version - 1, fields)
            self._tracks[oid] = track
        self._fold(track, topic, version, fields, writes)

    def _load(self, shape: Shape, oid: Any, version: int, fields: dict[str, Any]) -> Track:
        """The track of a stream not in memory, as its first `version` events leave it."""
        sid = _hex(oid)
        if version == 0:
            return Track(shape, sid, tuple(fields[k] for k in shape.identity))
        stored = self._preloaded.pop(oid, None)
        if stored is None:
            stored = [(e.originator_version, e.topic, e.state)
                      for e in self.recorder.select_events(_uuid(oid), lte=version)]
        track = None
        for event_version, topic_name, state in stored:
            if event_version > version:
                break
            topic = self._topic(topic_name)
            f = self._fields(topic, oid, event_version, topic_name, state)
            if track is None:
                track = Track(shape, sid, tuple(f[k] for k in shape.identity))
            step = shape.stream.step_of(event_version, topic.kind, f)
            track.steps.append(step)
            if step.kind == shape.stream.CORRECTED:
                track.voided[step.details["voids"]] = step.details["reason"]
            track.known = max(track.known, micros(f["timestamp"]))
        if track is None or len(track.steps) != version:
            raise StoreError(f"stream {sid} has fewer than {version} events in the store; "
                             "the log and the read models disagree")
        track.refold()
        return track

    def _preload(self, cursor: Any, notes: list[tuple]) -> None:
        """Read the earlier events of every stream that `notes` continue and that is not in
        memory, with one query per few hundred streams rather than one per stream."""
        wanted = {}
        for _, oid, version, _, _ in notes:
            if version > 1 and oid not in wanted:
                track = self._tracks.get(oid)
                if track is None or len(track.steps) != version - 1:
                    wanted[oid] = version
        self._preloaded = {}
        sql = self._events_sql()
        if not wanted or sql is None:
            return
        oids = list(wanted)
        for start in range(0, len(oids), self.PRELOAD):
            part = oids[start:start + self.PRELOAD]
            if self.db.sqlite:
                cursor.execute(sql.format(marks=", ".join("?" * len(part))), part)
            else:
                cursor.execute(sql, (part,), **self._binary)
            for oid, version, topic_name, state in cursor.fetchall():
                if version < wanted[oid]:
                    self._preloaded.setdefault(oid, []).append((version, topic_name, state))

    PRELOAD = 500  # streams per query of `_preload`

    def _fold(self, track: Track, topic: _Topic, version: int, fields: dict[str, Any],
              writes: _Writes) -> None:
        stream = track.shape.stream
        kind = topic.kind
        step = stream.step_of(version, kind, fields)
        ts = micros(fields["timestamp"])
        if ts < track.known:  # keep a stream's recording times in order
            ts = track.known
        track.known = ts
        track.steps.append(step)
        old = track.intervals
        rule = topic.rule
        before = track.state
        if rule is not None and rule.dated and before is not None:
            # The common case: a dated step after the others. Only the open interval ends.
            state = track.state = rule.effect(before, step)
            last = len(old) - 1
            previous = old[last]
            content, enters, start, _ = previous
            begin = step.on if step.on >= start else start
            new = (track.shape.content(state), state.stage is not before.stage, begin,
                   FAR_DATE)
            old[last] = (content, enters, start, begin)
            old.append(new)
            writes.end(track, last, previous, begin, ts)
            writes.insert(track, last + 1, new, ts)
            return
        if kind == stream.FORGOTTEN:
            writes.forget(track)
            return
        if kind == stream.CORRECTED:
            track.voided[step.details["voids"]] = step.details["reason"]
        track.refold()
        new = track.intervals
        for seq in range(max(len(old), len(new))):
            o = old[seq] if seq < len(old) else None
            n = new[seq] if seq < len(new) else None
            if o == n:
                continue
            if (o is not None and n is not None and o[3] == FAR_DATE and o[0] == n[0]
                    and o[1] == n[1] and o[2] == n[2]):
                writes.end(track, seq, o, n[3], ts)
                continue
            if o is not None:
                writes.close(track, seq, o, ts)
            if n is not None:
                writes.insert(track, seq, n, ts)


SIDE_PREFIX = ".zov-rebuild-"  # side files: .zov-rebuild-<pid of the first process>-*.sqlite


def remove_stale_side_files(store: Any) -> None:
    """Delete the side files that rebuilds of processes no longer running left beside a
    SQLite store (killed halfway): they hold copies of read-model rows, references too, which
    neither a later rebuild nor `zov forget` may leave behind."""
    if store.sqlite_path is None:
        return
    for path in store.sqlite_path.parent.glob(f"{SIDE_PREFIX}*"):
        pid = path.name[len(SIDE_PREFIX):].partition("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            try:
                path.unlink(missing_ok=True)
            except OSError:  # another user's, in a shared folder: theirs to clean up
                pass


def _end_with(first: int) -> None:
    """In the second process of a rebuild: be ended by the kernel when the first ends,
    however it ends (Linux), so it never runs on alone (it might not reach the next
    message to the first, where it would notice: stuck without memory, it spun for ever)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != first:  # it ended before that
        os._exit(1)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


class _OtherHalf:
    """The second process of a big rebuild, folding the streams whose id ends in an odd hex
    digit (the first process folds the others).

    It says how many rows it made as soon as it has folded; then, while the first process
    writes its own rows, it makes its rows ready for the first to take in whole, without
    building a Python object for each again: on SQLite it writes them into a side file of its
    own, which the first copies in with one INSERT ... SELECT (binding a row's values costs
    about 4 µs in Python, copying it a tenth of that inside SQLite); on PostgreSQL it encodes
    them in COPY's binary format and sends that in chunks, which the first passes to the
    server as they come. Last it sends the rest of what it folded (running totals, erasures,
    the plan). The side file lies beside the store (same disk, same folder; made
    owner-only by `mkstemp`) and is deleted when the rebuild ends, however it ends.
    """

    CHUNK = 1 << 20  # bytes of COPY data per message

    def __init__(self, projector: Projector, head: int) -> None:
        import multiprocessing
        import tempfile

        self.side: Path | None = None
        self.attached: Any = None
        store = projector.db.store
        if store.sqlite_path is not None:
            remove_stale_side_files(store)
            fd, name = tempfile.mkstemp(prefix=f"{SIDE_PREFIX}{os.getpid()}-", suffix=".sqlite",
                                        dir=store.sqlite_path.parent)
            os.close(fd)
            self.side = Path(name)
        context = multiprocessing.get_context("fork")
        self.receive, send = context.Pipe(duplex=False)
        self.process = context.Process(target=projector._fold_other_half,
                                       args=(head, send, self.side, self.receive, os.getpid()),
                                       daemon=True)
        # Ctrl-C is held back in this thread while it forks, so that the second has it only
        # once it ignores it (`_fold_other_half`); this process has it right after.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.process.start()
        except BaseException:
            self.receive.close()
            self._remove_side()
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            send.close()

    def folded(self) -> int:
        """How many rows it hands over (waits for its fold)."""
        return self._message()["rows"]

    @classmethod
    def hand_over_rows(cls, sink: _Writes, db: Database, send: Any, side: Path | None) -> None:
        """In the second process: its rows into the `side` file, or as COPY data to `send`."""
        if side is not None:
            from projections.schema import READ_MODELS, create_tables

            scratch = Database(parse_store_url(f"sqlite:///{side}"))
            try:
                # a scratch file: no journal, and no waiting for the disk at the commit
                scratch.raw.execute("PRAGMA journal_mode = OFF")
                scratch.raw.execute("PRAGMA synchronous = OFF")
                with scratch.transaction(write=True) as cursor:
                    create_tables(cursor, scratch.kind, READ_MODELS, indexes=False)
                    sink.write_rows(scratch, cursor, bulk=True)
            finally:
                scratch.close()
            return
        from psycopg import Copy
        from psycopg.copy import Writer

        class Chunks(Writer):
            def __init__(self) -> None:
                self.data = bytearray()

            def write(self, data: Any) -> None:
                self.data += data
                while len(self.data) >= cls.CHUNK:
                    send.send({"chunk": bytes(self.data[:cls.CHUNK])})
                    del self.data[:cls.CHUNK]

            def finish(self, exc: BaseException | None = None) -> None:
                if self.data and exc is None:
                    send.send({"chunk": bytes(self.data)})

        for shape in SHAPES:  # a whole binary COPY stream each: signature, rows, trailer
            with Copy(db.raw.cursor(), binary=True, writer=Chunks()) as copy:
                copy.set_types(shape.pg_types)
                for row in sink.final_rows(shape):
                    copy.write_row(row)
            send.send({"end": shape.table})

    def take_rows(self, cursor: Any, write_own: Callable[[], None]) -> dict[str, Any]:
        """Write the first process's rows (`write_own`) and take its rows into the store's
        new tables, in the order that keeps both processes busy: on SQLite the first's own
        rows first (it counts its totals and writes its side file meanwhile), on PostgreSQL
        its rows first (it encodes the next chunk while the server takes in the last).
        Returns the rest of what it folded (see `_Writes.portable`)."""
        if self.side is not None:
            write_own()
            rest = self._message()  # (sent once its side file is written)
            cursor.execute("ATTACH DATABASE ? AS side", (str(self.side),))
            self.attached = cursor.connection
            for shape in SHAPES:
                columns = ", ".join(shape.insert_columns)
                cursor.execute(f"INSERT INTO main.{shape.table} ({columns}) "
                               f"SELECT {columns} FROM side.{shape.table} ORDER BY id")
            return rest
        for shape in SHAPES:
            with cursor.copy(_copy_sql(shape.table, shape.insert_columns)) as copy:
                while "chunk" in (found := self._message()):
                    copy.write(found["chunk"])
        rest = self._message()
        write_own()
        return rest

    def close(self) -> None:
        """Stop it if it still runs, and delete the side file."""
        self.receive.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        try:
            if self.attached is not None:  # (after the commit or rollback)
                self.attached.execute("DETACH DATABASE side")
        finally:
            self._remove_side()

    def _message(self) -> dict[str, Any]:
        try:
            found = self.receive.recv()
        except EOFError:  # it died without a word (killed, out of memory)
            found = {"error": "the second process of the rebuild stopped; run it again"}
        if "error" in found:
            raise StoreError(found["error"])
        return found

    def _remove_side(self) -> None:
        if self.side is not None:  # (written without a journal: the file is all there is)
            self.side.unlink(missing_ok=True)
