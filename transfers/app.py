"""The application service: loads paths and places, calls their commands, saves the events.

Values people type are checked against the plan here; what may happen next is the aggregates'
business. Each command saves in one transaction; a concurrent change of the same stream makes
it reload, re-check and try again.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    PersistenceError,
    Recording,
    StoredEvent,
    Transcoding,
)

from transfers.errors import (
    AlreadyExists,
    Ambiguous,
    ChangedMeanwhile,
    InvalidValue,
    NotFound,
    StepNotAllowed,
    StoreError,
)
from transfers.path import ClientPath, path_id
from transfers.plan import Plan, default_plan_text, parse_plan
from transfers.privacy import SealingMapper, StreamKeys, store_cipher_env
from transfers.refs import check_ref, passes_eleven_test
from transfers.store import (
    StoreURL,
    bind_directly,
    ensure_postgres_schema,
    parse_store_url,
    prepare_sqlite_file,
    store_failure,
)
from transfers.stream import Stream
from transfers.vocab import CloseReason, Outcome, PlaceStage, Stage, Word

if TYPE_CHECKING:  # imported where places are used: client commands start faster without
    from transfers.place import LeefhuisPlace

PLAN_ID = uuid5(NAMESPACE_URL, "https://zorgoverdracht.invalid/zov/plan")
ATTEMPTS = 10  # a conflict means another writer got through: each retry sees progress
T = TypeVar("T", bound=Stream)


class PlanRecord(Aggregate):
    """The plan adopted in this store, as TOML text; later versions supersede earlier ones."""

    TOPIC = "zov:Plan.v1"

    class Created(Aggregate.Created):
        TOPIC = "zov:Plan.Created.v1"  # unused: plans are created by Adopted

    @staticmethod
    def create_id(**_: object) -> UUID:
        return PLAN_ID

    @event("Adopted", topic="zov:Plan.Adopted.v1")
    def __init__(self, text: str, source: str, by: str) -> None:
        self.text, self.source, self.by = text, source, by

    @event("Revised", topic="zov:Plan.Revised.v1")
    def revise(self, text: str, source: str, by: str) -> None:
        self.text, self.source, self.by = text, source, by


class DateAsISO(Transcoding):
    type = date
    name = "date"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class WordAsValue(Transcoding):
    """Stores a domain enum member as its word."""

    def __init__(self, enum: type[Word]) -> None:
        self.type, self.name = enum, f"zov.{enum.__name__}"

    def encode(self, obj: Word) -> str:
        return obj.value

    def decode(self, data: str) -> Word:
        try:  # the member map straight: a third of the cost of calling the enum
            return self.type._value2member_map_[data]
        except KeyError:
            return self.type(data)  # its own error


@dataclass(frozen=True)
class TimelineRow:
    """One event of a stream as `zov show` lists it."""

    version: int
    event: str
    on: date
    details: dict[str, Any]
    by: str
    recorded_at: datetime
    note: str | None
    voided_by: str | None  # the correction's reason, if this event was voided


class Tracker(Application):
    """The care-transfer tracker: one application, one notification log, per store."""

    name = "Tracker"

    def __init__(self, store: StoreURL, create: bool = True) -> None:
        """Open the store; without `create`, refuse one that does not exist yet."""
        self.store = store
        if store.sqlite_path is not None:
            prepare_sqlite_file(store.sqlite_path)
            bind_directly()
        env = {**store.env, **store_cipher_env(os.environ)}
        if store.kind == "postgresql" and ensure_postgres_schema(store, store.events_table,
                                                                 create):
            env["CREATE_TABLE"] = "false"  # exists: roles that may not create can open it
        try:
            super().__init__(env=env)
        except (PersistenceError, sqlite3.Error) as exc:
            raise store_failure(exc, f"cannot open the store {store.display}") from None
        self.mapper.keys = StreamKeys(self.recorder, store.kind)
        self._plan: Plan | None = None
        self._batch: dict[UUID, Aggregate] | None = None
        self._creations_checked = False

    @classmethod
    def open(cls, url: str | None = None) -> Tracker:
        """Open the store named by `url`, `ZOV_DB` or the default SQLite file."""
        return cls(parse_store_url(url))

    def construct_mapper(self) -> SealingMapper:
        """A mapper that seals personal fields with each stream's key (transfers.privacy)."""
        return self.factory.mapper(transcoder=self.construct_transcoder(),
                                   mapper_class=SealingMapper)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        for enum in (Stage, Outcome, CloseReason, PlaceStage):
            transcoder.register(WordAsValue(enum))

    # -- the plan ------------------------------------------------------------------------

    def plan_record(self) -> PlanRecord | None:
        try:
            return self._get(PLAN_ID)
        except AggregateNotFoundError:
            return None

    @property
    def plan(self) -> Plan:
        """The adopted plan; refuses when the store has none yet."""
        if self._plan is None:
            record = self.plan_record()
            if record is None:
                raise StoreError(f"the store {self.store.display} has no plan yet; run `zov init` "
                                 "(or `zov init --plan FILE`) first")
            self._plan = parse_plan(record.text, record.source)
        return self._plan

    def adopt_plan(self, text: str | None, source: str, by: str, revise: bool = False) -> Plan:
        """Adopt a plan (the built-in one if `text` is None); a second one only with `revise`."""
        text = default_plan_text() if text is None else text
        plan = parse_plan(text, source)
        record = self.plan_record()
        if record is None:
            record = PlanRecord(text=text, source=source, by=by)
        elif not revise:
            raise AlreadyExists(f"the store already has the plan '{parse_plan(record.text).name}' "
                                f"(from {record.source}); add --revise to adopt a new version")
        else:
            self._check_plan_keeps_history(plan)
            record.revise(text, source, by)
        self._save(record)
        self._plan = plan
        return plan

    def _check_plan_keeps_history(self, plan: Plan) -> None:
        missing = [h.code for h in self.plan.hulpvormen if h.code not in
                   {n.code for n in plan.hulpvormen}]
        if missing:
            raise InvalidValue(f"the new plan drops hulpvorm {', '.join(missing)}, which "
                               "recorded paths use; keep it in the plan")

    # -- finding streams ----------------------------------------------------------------

    def _get(self, stream_id: UUID) -> Any:
        if self._batch is not None and stream_id in self._batch:
            return self._batch[stream_id]
        try:
            return self.repository.get(stream_id)
        except (PersistenceError, sqlite3.Error) as exc:
            raise store_failure(exc, f"cannot read the store {self.store.display}") from None

    def paths_of(self, ref: str) -> list[ClientPath]:
        """All paths of a client reference, one per care type it was registered for."""
        found = []
        for h in self.plan.hulpvormen:
            try:
                found.append(self._get(path_id(ref.strip(), h.code)))
            except AggregateNotFoundError:
                continue
        return found

    def path(self, ref: str, hulpvorm: str | None = None) -> ClientPath:
        """The path named by ref (and hulpvorm, needed when the ref has several paths)."""
        if hulpvorm:
            code = self.plan.hulpvorm(hulpvorm).code
            try:
                return self._get(path_id(ref.strip(), code))
            except AggregateNotFoundError:
                raise NotFound(f"{ref} has no {code} path; see `zov show {ref}` "
                               "or register it with `zov register`") from None
        paths = self.paths_of(ref)
        if not paths:
            raise NotFound(f"no client path '{ref}'; register it first with `zov register`")
        if len(paths) > 1:
            codes = " and ".join(p.hulpvorm for p in paths)
            raise Ambiguous(f"{ref} has paths for {codes}; add --hulpvorm to say which")
        return paths[0]

    def place(self, place: str) -> LeefhuisPlace:
        """The Leefhuis place with this code."""
        from transfers.place import place_id

        try:
            return self._get(place_id(place.strip()))
        except AggregateNotFoundError:
            raise NotFound(f"no Leefhuis place '{place}'; register it with "
                           "`zov place register`") from None

    # -- saving -------------------------------------------------------------------------

    @contextmanager
    def batch(self, creations_checked: bool = False) -> Iterator[None]:
        """Run many commands and save all their events in one transaction at the end.

        Inside, streams are loaded once and kept; nothing is written until the block ends
        without an exception. If any stream changed meanwhile, nothing is written.
        A stream created inside is looked up in the store first (one query each), unless
        the caller has checked that itself (`creations_checked`: bulk import reads who is
        registered in one pass); one registered meanwhile still makes the save refuse.
        """
        if self._batch is not None:
            raise RuntimeError("batches do not nest")
        self._batch = {}
        self._creations_checked = creations_checked
        try:
            yield
            pending = list(self._batch.values())
        finally:
            self._batch = None
        if pending:
            try:
                self._save(*pending)
            except IntegrityError:
                raise ChangedMeanwhile("another user changed some of these clients meanwhile; "
                                       "nothing was written, run it again") from None

    def save(self, *aggregates: Aggregate) -> list[Recording]:
        """eventsourcing's save, after giving the new streams their keys, and a new key
        generation to streams whose occupant changes, in one transaction.

        Only aggregates are saved here, and they are collected as such: the library's
        `ProcessingEvent.collect_events` first asks each object whether it is an event or an
        aggregate with two runtime protocol checks, 12 µs an aggregate on Python 3.11 (5% of
        a bulk import's time). The rest is `Application.save` of eventsourcing 9.5 as it is."""
        streams = [a for a in aggregates if isinstance(a, Stream)]
        self.mapper.keys.prepare(
            [a.id for a in streams if a.version == len(a.pending_events)],
            renew=[a.id for a in streams if a.NEW_KEY_ON and any(
                type(e).__name__ in a.NEW_KEY_ON for e in a.pending_events)])
        processing: ProcessingEvent = ProcessingEvent()
        for aggregate in aggregates:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    def _save(self, *aggregates: Aggregate) -> None:
        try:
            self.save(*aggregates)
        except IntegrityError:
            raise
        except (PersistenceError, sqlite3.Error) as exc:
            raise store_failure(exc, f"could not write to the store {self.store.display} "
                                     "(nothing was written)") from None

    def _update(self, load: Callable[[], T], act: Callable[[T], None]) -> T:
        """Load, act, save; on a concurrent change reload and re-check (a few times)."""
        if self._batch is not None:
            stream = load()
            act(stream)
            self._batch[stream.id] = stream
            return stream
        for attempt in range(ATTEMPTS):
            stream = load()
            act(stream)
            try:
                self._save(stream)
                return stream
            except IntegrityError:
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # let the others pass
        raise ChangedMeanwhile(f"{stream.key} changed meanwhile, {ATTEMPTS} times in a row; "
                               "try again")

    def _create(self, stream: Stream) -> Stream:
        if self._batch is not None:
            if stream.id in self._batch or (not self._creations_checked
                                            and stream.id in self.repository):
                raise AlreadyExists(f"{stream.key} is already registered; see `zov show`")
            self._batch[stream.id] = stream
            return stream
        try:
            self._save(stream)
        except IntegrityError:
            raise AlreadyExists(f"{stream.key} is already registered; see `zov show`") from None
        return stream

    # -- checks of what people type ------------------------------------------------------

    def effective_date(self, on: date | None) -> date:
        """The event's effective date: today if not given; not before the peildatum, not future."""
        today = date.today()
        on = on or today
        if on > today:
            raise InvalidValue(f"date {on.isoformat()} is in the future; log events once they "
                               "happened (a planned handover date goes in --planned)")
        if on < self.plan.peildatum:
            raise InvalidValue(f"date {on.isoformat()} is before the plan's peildatum "
                               f"{self.plan.peildatum.isoformat()}")
        return on

    @staticmethod
    def actor(by: str) -> str:
        cleaned = " ".join((by or "").split())
        if not cleaned:
            raise InvalidValue("who recorded this is missing; pass --by NAME or set ZOV_ACTOR")
        return cleaned

    @staticmethod
    def clean_note(note: str | None) -> str | None:
        """Notes are free text, but never a BSN: refuse 9-digit numbers passing the eleven-test."""
        if note is None or not note.strip():
            return None
        for word in note.replace(".", "").split():
            if passes_eleven_test("".join(ch for ch in word if ch.isdigit())):
                raise InvalidValue("the note contains a number that looks like a BSN; "
                                   "leave it out, use the pseudonymous reference")
        return note.strip()

    # -- client path commands ------------------------------------------------------------

    def register(self, ref: str, hulpvorm: str, gemeente: str, by: str,
                 arrangements: Sequence[str] = (), arrangement_end: date | None = None,
                 cohort: str | None = None, on: date | None = None,
                 note: str | None = None) -> ClientPath:
        """Register a client's path for one care type (from the peildatum overview)."""
        plan = self.plan
        h = plan.hulpvorm(hulpvorm)
        path = ClientPath(
            ref=check_ref(ref), hulpvorm=h.code, gemeente=plan.gemeente(gemeente),
            arrangements=[plan.arrangement(a, h) for a in arrangements],
            arrangement_end=arrangement_end,
            cohort=plan.cohort(cohort, h) if cohort else None,
            on=self.effective_date(on or plan.peildatum), by=self.actor(by),
            note=self.clean_note(note),
        )
        return self._create(path)

    def triage(self, ref: str, outcome: Outcome, by: str, on: date | None = None,
               hulpvorm: str | None = None, note: str | None = None) -> ClientPath:
        on, by, note = self.effective_date(on), self.actor(by), self.clean_note(note)
        return self._update(lambda: self.path(ref, hulpvorm),
                            lambda p: p.triage(outcome, on, by, note))

    def assign(self, ref: str, combinatie: str, by: str, aanbieder: str | None = None,
               planned: date | None = None, on: date | None = None,
               hulpvorm: str | None = None, note: str | None = None) -> ClientPath:
        on, by, note = self.effective_date(on), self.actor(by), self.clean_note(note)

        def act(p: ClientPath) -> None:
            c = self.plan.combinatie(combinatie, self.plan.hulpvorm(p.hulpvorm))
            who = self.plan.aanbieder(aanbieder, c) if aanbieder else None
            p.assign(c.name, who, planned, on, by, note)

        return self._update(lambda: self.path(ref, hulpvorm), act)

    def plan_handover(self, ref: str, planned: date, by: str, on: date | None = None,
                      hulpvorm: str | None = None, note: str | None = None) -> ClientPath:
        on, by, note = self.effective_date(on), self.actor(by), self.clean_note(note)
        return self._update(lambda: self.path(ref, hulpvorm),
                            lambda p: p.plan_handover(planned, on, by, note))

    def hand_over(self, ref: str, by: str, on: date | None = None, hulpvorm: str | None = None,
                  note: str | None = None) -> ClientPath:
        on, by, note = self.effective_date(on), self.actor(by), self.clean_note(note)
        return self._update(lambda: self.path(ref, hulpvorm), lambda p: p.hand_over(on, by, note))

    def close_path(self, ref: str, reason: CloseReason, by: str, on: date | None = None,
              hulpvorm: str | None = None, note: str | None = None) -> ClientPath:
        on, by, note = self.effective_date(on), self.actor(by), self.clean_note(note)
        return self._update(lambda: self.path(ref, hulpvorm),
                            lambda p: p.close(reason, on, by, note))

    def amend(self, ref: str, by: str, hulpvorm: str | None = None, gemeente: str | None = None,
              arrangements: Sequence[str] | None = None, arrangement_end: date | None = None,
              cohort: str | None = None, note: str | None = None) -> ClientPath:
        by, note = self.actor(by), self.clean_note(note)
        if gemeente is None and arrangements is None and arrangement_end is None and cohort is None:
            raise InvalidValue("nothing to amend; give --gemeente, --arrangement, "
                               "--arrangement-end or --cohort")

        def act(p: ClientPath) -> None:
            h = self.plan.hulpvorm(p.hulpvorm)
            p.amend(
                date.today(), by, note,
                gemeente=self.plan.gemeente(gemeente) if gemeente else None,
                arrangements=[self.plan.arrangement(a, h) for a in arrangements]
                if arrangements else None,
                arrangement_end=arrangement_end,
                cohort=self.plan.cohort(cohort, h) if cohort else None,
            )

        return self._update(lambda: self.path(ref, hulpvorm), act)

    def correct(self, ref: str, version: int, reason: str, by: str,
                hulpvorm: str | None = None, note: str | None = None) -> ClientPath:
        by, note, reason = self.actor(by), self.clean_note(note), _reason(reason)
        return self._update(lambda: self.path(ref, hulpvorm),
                            lambda p: p.correct(version, reason, date.today(), by, note))

    # -- Leefhuis place commands ---------------------------------------------------------

    def register_place(self, place: str, leefhuis: str, by: str, occupied: bool = False,
                       ref: str | None = None, on: date | None = None,
                       note: str | None = None) -> LeefhuisPlace:
        """Register a Leefhuis place, occupied (by a client reference) or empty."""
        if occupied and not ref:
            raise InvalidValue("an occupied place needs the client's reference (--ref)")
        from transfers.place import LeefhuisPlace

        stream = LeefhuisPlace(
            place=check_ref(place), leefhuis=self.plan.leefhuis(leefhuis).name,
            occupied=occupied, ref=check_ref(ref) if occupied else None,
            on=self.effective_date(on or self.plan.peildatum), by=self.actor(by),
            note=self.clean_note(note),
        )
        return self._create(stream)

    def decide_place_transfer(self, place: str, combinatie: str, by: str,
                              aanbieder: str | None = None, on: date | None = None,
                              note: str | None = None) -> LeefhuisPlace:
        on, by, note = self.effective_date(on), self.actor(by), self.clean_note(note)
        c = self.plan.combinatie(combinatie)
        who = self.plan.aanbieder(aanbieder, c) if aanbieder else None
        return self._update(lambda: self.place(place),
                            lambda p: p.decide_transfer(c.name, who, on, by, note))

    def keep_place(self, place: str, by: str, on: date | None = None,
                   note: str | None = None) -> LeefhuisPlace:
        on, by, note = self.effective_date(on), self.actor(by), self.clean_note(note)
        return self._update(lambda: self.place(place), lambda p: p.keep(on, by, note))

    def transfer_place(self, place: str, by: str, on: date | None = None,
                       note: str | None = None) -> LeefhuisPlace:
        on, by, note = self.effective_date(on), self.actor(by), self.clean_note(note)
        return self._update(lambda: self.place(place), lambda p: p.transfer(on, by, note))

    def set_occupancy(self, place: str, occupied: bool, by: str, ref: str | None = None,
                      on: date | None = None, note: str | None = None) -> LeefhuisPlace:
        on, by, note = self.effective_date(on), self.actor(by), self.clean_note(note)
        ref = check_ref(ref) if ref else None
        return self._update(lambda: self.place(place),
                            lambda p: p.set_occupancy(occupied, ref, on, by, note))

    def correct_place(self, place: str, version: int, reason: str, by: str,
                      note: str | None = None) -> LeefhuisPlace:
        by, note, reason = self.actor(by), self.clean_note(note), _reason(reason)
        return self._update(lambda: self.place(place),
                            lambda p: p.correct(version, reason, date.today(), by, note))

    # -- erasure (AVG art. 17) ------------------------------------------------------------

    def forget(self, ref: str, reason: str, by: str,
               hulpvorm: str | None = None) -> list[Stream]:
        """Erase a client's personal data for good: delete the keys of the client's paths
        (all of them, or the one of `hulpvorm`) and, for a whole client, of the Leefhuis places
        that name the client; then log who forgot it, when and why. Counts stay as they were."""
        by, reason = self.actor(by), self.clean_note(_reason(reason))
        paths = [self.path(ref, hulpvorm)] if hulpvorm else self.paths_of(ref)
        places = [] if hulpvorm else self._places_naming(ref)
        if not paths and not places:
            raise NotFound(f"no client path or Leefhuis place names '{ref}'; check the reference")
        todo = [p for p in paths if not p.forgotten] + places
        if not todo:
            step = paths[0].forgotten
            raise AlreadyExists(f"{ref} was already forgotten on {step.on.isoformat()} by "
                                f"{step.by}; there is nothing left to erase")
        unsealed = [s.key for s in todo if not self.mapper.keys.generations(s.id)]
        if unsealed:
            raise StepNotAllowed(f"{', '.join(unsealed)} was recorded before personal data was "
                                 "encrypted per client, so forgetting cannot erase it; see "
                                 "README, Privacy")
        # A path's every key generation; a place's only those sealed while it named the
        # client (its other occupants keep their references).
        self.mapper.keys.shred((s.id for s in todo), generations={
            p.id: self._generations_naming(p, ref) for p in places})
        today = date.today()
        for stream in todo:
            stream.forget(reason, today, by)
        try:
            self._save(*todo)
        except IntegrityError:
            raise ChangedMeanwhile(f"{ref}: the data is erased, but someone wrote meanwhile; "
                                   "run the same zov forget again to log it") from None
        return todo

    def _generations_naming(self, stream: Stream, ref: str) -> set[int]:
        """The generations of the stream's key whose sealed fields name this reference."""
        return {gen for gen, fields in self.mapper.sealed_parts(self.recorder.select_events(
                    stream.id)) if _names(fields, ref)}

    def _places_naming(self, ref: str) -> list[LeefhuisPlace]:
        """The Leefhuis places whose history names this client reference."""
        from transfers.place import LeefhuisPlace

        ids = [n.originator_id for n in self.notifications([LeefhuisPlace.Registered.TOPIC])]
        places = self.streams(ids)
        return [places[i] for i in ids if any(_names(s.details, ref) for s in places[i].steps)]

    # -- reading ------------------------------------------------------------------------

    def notifications(self, topics: Sequence[str] = (), page: int = 2_000,
                      keys: bool = False) -> Iterator[Any]:
        """The log in recording order (only these topics, if given), up to its head when the
        reading began: what is recorded meanwhile is not included (`notification_pages`)."""
        for found in self.notification_pages(topics, page, keys):
            yield from found

    def notification_pages(self, topics: Sequence[str] = (), page: int = 2_000,
                           keys: bool = False, start: int = 1) -> Iterator[list[Any]]:
        """The log from position `start` on, a page at a time. With `keys`, for a reader
        that decodes the events, each page's streams' keys are read first, together."""
        stop = self.recorder.max_notification_id() or 0
        while start <= stop:
            found = self.recorder.select_notifications(start, page, stop=stop,
                                                       topics=list(topics))
            if not found:
                return
            if keys:
                self.mapper.keys.load_for({n.originator_id for n in found})
            yield found
            start = found[-1].id + 1

    def timeline(self, stream: Stream) -> list[TimelineRow]:
        """The stream's events in order, with when and by whom each was recorded."""
        recorded = {e.originator_version: e.timestamp for e in self.events.get(stream.id)}
        voided_by = {s.details["voids"]: s for s in stream.steps if s.kind == Stream.CORRECTED}
        return [
            TimelineRow(
                version=s.version, event=s.kind, on=s.on, details=dict(s.details), by=s.by,
                recorded_at=recorded[s.version], note=s.note,
                voided_by=voided_by[s.version].details["reason"] if s.version in voided_by
                else None,
            )
            for s in stream.steps
        ]

    # -- bulk saves (transfers.bulk, transfers.archive) ----------------------------------

    def construct_recorder(self) -> Any:
        """On PostgreSQL, a recorder whose large batch saves do not hang (transfers.pgstore),
        connecting with the URL's other parameters (sslmode ...) as zov's own connections do:
        eventsourcing's settings cannot carry them, so they go to its pool before it opens."""
        if self.store.kind == "postgresql":
            self.factory.datastore.pool.kwargs.update(self.store.libpq)
            if self.env.get("APPLICATION_RECORDER_TOPIC") is None:
                from transfers.pgstore import TOPIC

                self.env["APPLICATION_RECORDER_TOPIC"] = TOPIC
        return super().construct_recorder()

    PRELOAD = 500  # streams read per query

    def preload(self, stream_ids: Iterable[UUID]) -> set[UUID]:
        """Inside a batch: read these streams, those it does not hold yet, all together
        (`streams`), instead of two queries for each as its commands would (1–1.5 ms a
        stream on PostgreSQL); the ids of those that exist."""
        if self._batch is None:
            raise RuntimeError("preload() is only for use inside `with tracker.batch()`")
        ids = set(stream_ids)
        found = {i for i in ids if i in self._batch}
        read = self.streams(ids - found)
        self._batch.update(read)
        return found | read.keys()

    def streams(self, stream_ids: Iterable[UUID]) -> dict[UUID, Stream]:
        """These streams, those that exist, read with one query per 500 and their keys with
        one, and folded (`fold`)."""
        wanted = sorted(set(stream_ids))
        self.mapper.keys.load_for(wanted)
        return self.fold(self.stored_events(wanted))

    def stored_events(self, stream_ids: Sequence[UUID], first: bool = False
                      ) -> Iterator[StoredEvent]:
        """The stored events of these streams (only each one's first, with `first`), each
        stream's in order, read with one query per 500 streams."""
        recorder = self.recorder
        sqlite = self.store.kind == "sqlite"
        if sqlite:
            table, where = recorder.events_table_name, "originator_id IN ({})"
        else:
            table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
            where = "originator_id = ANY(%s)"
        if first:
            where += " AND originator_version = 1"
        select = (f"SELECT originator_id, originator_version, topic, state FROM {table} "
                  f"WHERE {where} ORDER BY originator_id, originator_version")
        for start in range(0, len(stream_ids), self.PRELOAD):
            part = stream_ids[start:start + self.PRELOAD]
            sql, params = ((select.format(", ".join("?" * len(part))), [i.hex for i in part])
                           if sqlite else (select, [list(part)]))
            try:
                with recorder.datastore.transaction(commit=False) as cursor:
                    cursor.execute(sql, params)
                    rows = cursor.fetchall()
            except (PersistenceError, sqlite3.Error) as exc:
                raise store_failure(exc, f"cannot read the store {self.store.display}") from None
            for row in rows:
                yield StoredEvent(originator_id=UUID(str(row["originator_id"])),  # (SQLite:
                                  originator_version=row["originator_version"],  # hex text)
                                  topic=row["topic"], state=bytes(row["state"]))

    def fold(self, stored: Iterable[Any], starts: Collection[str] | None = None
             ) -> dict[UUID, Stream]:
        """Streams made from their stored events, each stream's in order: the repository's
        fold (each event mutates the aggregate in turn) without its per-event protocol
        check, which costs as much as the rest. With `starts`, only the streams whose first
        event has one of those topics (client paths and places, not the plan)."""
        to_event = self.mapper.to_domain_event
        streams: dict[UUID, Any] = {}
        for item in stored:
            oid = item.originator_id
            if oid in streams:
                streams[oid] = to_event(item).mutate(streams[oid])
            elif starts is None or item.topic in starts:
                streams[oid] = to_event(item).mutate(None)
        return streams

    def keep_in_batch(self, *streams: Stream) -> None:
        """Inside a batch: let its later commands use these already loaded streams."""
        if self._batch is None:
            raise RuntimeError("keep_in_batch() is only for use inside `with tracker.batch()`")
        for stream in streams:
            self._batch.setdefault(stream.id, stream)

    def remember_plan_lookups(self) -> None:
        """For bulk runs: answer the plan's name lookups from memory (transfers.plancache)."""
        from transfers.plancache import RememberingPlan

        self._plan = RememberingPlan.of(self.plan)


def _names(fields: Mapping[str, Any] | None, ref: str) -> bool:
    """Whether these fields (a step's details, a sealed part) name the client `ref`."""
    return ((fields or {}).get("ref") or "").casefold() == ref.strip().casefold()


def _reason(text: str) -> str:
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise InvalidValue("a correction needs a reason (--reason)")
    return cleaned


def actor_from_env() -> str:
    """Who is recording: ZOV_ACTOR, else the operating-system user."""
    import getpass

    return os.environ.get("ZOV_ACTOR") or getpass.getuser()
