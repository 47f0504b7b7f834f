"""Personal data in an append-only log: sealed per stream, so forgetting a client deletes a key.

Every client path and Leefhuis place has its own 256-bit key in the table `zov_stream_key`,
beside the event store: the one table that is changed rather than appended to. The personal
fields of a stream's events (the client reference, notes, a correction's reason) are stored
encrypted with that key (ChaCha20-Poly1305); everything the counts need (care type, gemeente,
arrangements, dates, stages, outcome, receiving party, close reason, who recorded it) stays
readable. `zov forget` deletes the key: the sealed fields then read as PLACEHOLDER for good,
and every count stays what it was.

A key has a generation: a Leefhuis place outlives a client who was forgotten, so its later
events are sealed under a new generation of its key. A sealed field is stored as
"GENERATION:BASE64".

The store-wide key (`ZOV_CIPHER_KEY`, eventsourcing's AESCipher) is a second, outer layer:
it encrypts each event's whole stored state, and the references in the read models.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.utils import get_topic

from transfers.errors import StoreError
from transfers.store import CIPHER_ENV


class WrongStoreKey(StoreError):
    """The store-wide key (ZOV_CIPHER_KEY) is missing, wrong, or set for a plain store."""


class MissingStreamKey(StoreError):
    """A sealed event whose stream has no key of that generation at all (not even a deleted
    one): the store was restored without its keys, or is damaged."""


PLACEHOLDER = "(verwijderd)"
KEY_TABLE = "zov_stream_key"
SEALED = "sealed"
_STREAMS = ("zov:ClientPath.", "zov:LeefhuisPlace.")
_PROTECTED = "enc:"  # prefix of a read-model reference encrypted with the store key


def personal_fields(topic: str) -> tuple[str, ...]:
    """The fields of an event (by its topic) that are sealed with the stream's key."""
    if not topic.startswith(_STREAMS):
        return ()
    kind = topic.split(".")[1]
    if kind == "Forgotten":
        return ()  # says who forgot what and why: no personal data
    if kind == "Corrected":
        return ("reason", "note")
    if kind in ("Registered", "OccupancyChanged"):
        return ("ref", "note")
    return ("note",)


def placeholders(names: Iterable[str]) -> dict[str, Any]:
    """What sealed fields read as once their key is gone."""
    return {n: None if n == "note" else PLACEHOLDER for n in names}


def new_secret() -> str:
    """A fresh 256-bit key as base64 text (a stream key, and the format of ZOV_CIPHER_KEY)."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def store_cipher_env(environ: Mapping[str, str]) -> dict[str, str]:
    """eventsourcing's cipher settings for the store-wide key in ZOV_CIPHER_KEY, checked."""
    key = (environ.get(CIPHER_ENV) or "").strip()
    if not key:  # and no other variable of the environment switches a cipher on
        return {"CIPHER_TOPIC": "", "CIPHER_KEY": ""}
    try:
        size = len(base64.b64decode(key, validate=True))
    except ValueError:
        size = 0
    if size not in (16, 24, 32):
        raise StoreError(f"{CIPHER_ENV} is not a key: it must be 32 random bytes in base64, as "
                         "`zov keygen` prints them")
    return {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": key}


@cache
def _chacha() -> tuple[type, tuple[type[Exception], ...]]:
    """The AEAD class and the errors of a mismatch, imported once, when first needed (a
    rebuild makes a cipher for every stream)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    return ChaCha20Poly1305, (InvalidTag, ValueError)


class StreamCipher:
    """ChaCha20-Poly1305 (RFC 8439, from the `cryptography` package) with a stream's 256-bit
    key, stored as nonce + tag + ciphertext like the store's AES-GCM. About 6 µs a message:
    a bulk import seals, and a rebuild opens, a hundred thousand references."""

    def __init__(self, secret: str) -> None:
        aead, self.mismatch = _chacha()
        self.aead = aead(base64.b64decode(secret))

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        data = self.aead.encrypt(nonce, plaintext, None)
        return nonce + data[-16:] + data[:-16]

    def decrypt(self, sealed: bytes) -> bytes:
        try:
            return self.aead.decrypt(sealed[:12], sealed[28:] + sealed[12:28], None)
        except self.mismatch:
            raise StoreError("a sealed field does not match its key: the store is damaged; "
                             "restore it from a backup") from None


# -- read-model references under the store key ----------------------------------------------


def protect_ref(cipher: Any, ref: str | None) -> str | None:
    """A reference as the read models store it: encrypted when the store has a key."""
    if cipher is None or ref is None or ref == PLACEHOLDER:
        return ref
    return _PROTECTED + base64.b64encode(cipher.encrypt(ref.encode("utf-8"))).decode("ascii")


def reveal_ref(cipher: Any, value: str | None) -> str | None:
    """The inverse of `protect_ref`."""
    if value is None or not value.startswith(_PROTECTED):
        return value
    if cipher is None:
        raise StoreError(f"the read models are encrypted; set {CIPHER_ENV} to the store's key")
    try:
        return cipher.decrypt(base64.b64decode(value[len(_PROTECTED):])).decode("utf-8")
    except ValueError:
        raise StoreError(f"{CIPHER_ENV} is not the key the read models were written with; "
                         "run `zov projections rebuild` with the store's key") from None


# -- the key table --------------------------------------------------------------------------


class StreamKeys:
    """The per-stream keys, read and written through the event store's own connections."""

    def __init__(self, recorder: Any, kind: str) -> None:
        self.datastore = recorder.datastore
        self.sqlite = kind == "sqlite"
        self.table = KEY_TABLE if self.sqlite else f'"{self.datastore.schema}".{KEY_TABLE}'
        self.mark = "?" if self.sqlite else "%s"
        # stream id (hex) -> generation -> secret (None: forgotten)
        self._secrets: dict[str, dict[int, str | None]] = {}
        self._ciphers: dict[str, Any] = {}
        self._table_ready = False
        # Answer from memory alone, never querying: set where every key was loaded and no
        # connection of the store may be used (a rebuild's second process).
        self.only_loaded = False

    # reading

    def generations(self, stream: UUID | str) -> dict[int, str | None]:
        sid = _hex(stream)
        found = self._secrets.get(sid)
        if found is None:
            if not self.only_loaded:
                self.load([sid])
            found = self._secrets.setdefault(sid, {})
        return found

    def load(self, streams: Iterable[UUID | str] | None = None) -> None:
        """Read the keys of these streams (all streams if None) into memory."""
        select = f"SELECT stream_id, generation, secret FROM {self.table}"
        batches: list[list[str]] = [[]] if streams is None else []
        if streams is not None:
            ids = [_hex(s) for s in streams]
            batches = [ids[i:i + 500] for i in range(0, len(ids), 500)]
        for batch in batches:
            sql = select if streams is None else (
                f"{select} WHERE stream_id IN ({', '.join([self.mark] * len(batch))})")
            for row in self._query(sql, batch):
                self._secrets.setdefault(row["stream_id"], {})[row["generation"]] = row["secret"]

    def _query(self, sql: str, params: list[str]) -> list[Any]:
        try:
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        except PersistenceError as exc:  # no key table yet: a store without sealed events
            if KEY_TABLE in str(exc) and ("no such table" in str(exc)
                                          or "does not exist" in str(exc)):
                return []
            raise

    def load_for(self, streams: Iterable[UUID | str]) -> None:
        """Read the keys of those of these streams not read yet, a query per 500 for all
        (a page of the log at once, rather than a query per stream as it is decoded)."""
        ids = {_hex(s) for s in streams} - self._secrets.keys()
        if ids and not self.only_loaded:
            self.load(ids)
            for sid in ids:
                self._secrets.setdefault(sid, {})  # none: asked, not to be asked again

    def exported(self, stream: UUID | str) -> dict[str, str | None]:
        """A stream's key generations as an export line carries them."""
        return {str(g): s for g, s in sorted(self.generations(stream).items())}

    def adopt(self, stream: UUID | str, generations: Mapping[str, str | None]) -> None:
        """Keys read from an export (in memory until `write`)."""
        self._secrets[_hex(stream)] = {int(g): s for g, s in generations.items()}

    # sealing

    def seal(self, stream: UUID, values: dict[str, Any]) -> str:
        gens = self.generations(stream)
        if not gens or gens[max(gens)] is None:
            self.prepare([stream])
            gens = self.generations(stream)
        gen = max(gens)
        data = self._cipher(gens[gen]).encrypt(json.dumps(values).encode("utf-8"))
        return f"{gen}:{base64.b64encode(data).decode('ascii')}"

    def open(self, stream: UUID | str, sealed: str) -> dict[str, Any] | None:
        """The sealed fields, or None when the stream's key of that generation was deleted."""
        gen, data = sealed_generation(sealed), sealed.partition(":")[2]
        gens = self.generations(stream)
        if gen not in gens:
            raise MissingStreamKey(f"the key of stream {_hex(stream)} is missing: the store "
                                   "was restored without its keys, or is damaged")
        secret = gens[gen]
        if secret is None:
            return None
        return json.loads(self._cipher(secret).decrypt(base64.b64decode(data)).decode("utf-8"))

    # Ciphers kept for the streams used last (a stream's events are sealed, and read, one
    # after the other). Not more: each holds 2.4 KB, and a rebuild opens every stream's
    # registration once (a million streams: 2.4 GB kept for nothing).
    CIPHERS_KEPT = 256

    def _cipher(self, secret: str) -> Any:
        cipher = self._ciphers.get(secret)
        if cipher is None:
            if len(self._ciphers) >= self.CIPHERS_KEPT:
                self._ciphers.clear()
            cipher = self._ciphers[secret] = StreamCipher(secret)
        return cipher

    # writing

    def prepare(self, streams: Iterable[UUID], renew: Iterable[UUID] = ()) -> None:
        """Give every stream about to be saved a live key (new streams, and places whose
        key was deleted by forgetting a client), and the streams of `renew` a new generation
        of their key, in one transaction."""
        fresh = {_hex(s) for s in renew}
        ids = [_hex(s) for s in streams] + sorted(fresh)
        if not ids:
            return
        # The table first: loading from a missing one fails (caught), and that failure's
        # traceback would hold the whole save until a full collection.
        self.create_table()
        self.load([s for s in ids if s not in self._secrets])
        rows = []
        for sid in dict.fromkeys(ids):
            gens = self._secrets.setdefault(sid, {})
            if not gens or gens[max(gens)] is None or sid in fresh:
                rows.append((sid, max(gens, default=0) + 1, new_secret()))
        if not rows:
            return
        self._write((f"INSERT INTO {self.table} (stream_id, generation, secret) VALUES "
                     f"({self.mark}, {self.mark}, {self.mark}) ON CONFLICT DO NOTHING", rows))
        for sid, *_ in rows:  # read back: another writer may have been first
            self._secrets.pop(sid, None)
        self.load([sid for sid, *_ in rows])

    def write_adopted(self) -> None:
        """Write the keys adopted from an export (restore)."""
        rows = [(sid, gen, secret, None if secret else _now())
                for sid, gens in self._secrets.items() for gen, secret in gens.items()]
        if rows:
            self._write((f"INSERT INTO {self.table} (stream_id, generation, secret, "
                         f"forgotten_at) VALUES ({', '.join([self.mark] * 4)}) ON CONFLICT DO "
                         "NOTHING", rows))

    def shred(self, streams: Iterable[UUID],
              generations: Mapping[UUID, Iterable[int]] | None = None) -> None:
        """Delete the keys of these streams for good: every generation, or for the streams
        in `generations` only those."""
        ids = [_hex(s) for s in streams]
        some = {_hex(s): gens for s, gens in (generations or {}).items()}
        every = [(_now(), sid) for sid in ids if sid not in some]
        rows = [(_now(), sid, gen) for sid, gens in some.items() for gen in gens]
        forget = f"UPDATE {self.table} SET secret = NULL, forgotten_at = {self.mark} WHERE "
        self._write((f"{forget} stream_id = {self.mark} AND secret IS NOT NULL", every),
                    (f"{forget} stream_id = {self.mark} AND generation = {self.mark} "
                     "AND secret IS NOT NULL", rows), secure=True)
        self.refresh([*ids, *some])
        self.purge()

    def refresh(self, streams: Iterable[UUID | str]) -> None:
        """Read these streams' keys again when next needed (another process may have
        deleted some)."""
        for sid in streams:
            self._secrets.pop(_hex(sid), None)

    def _write(self, *statements: tuple[str, list[tuple]], secure: bool = False) -> None:
        """Run the statements, each for its rows, in one transaction."""
        self.create_table()
        # The write is the transaction's first statement: on SQLite a transaction that read
        # first cannot wait for the write lock (it would fail at once as "locked").
        with self.datastore.transaction(commit=True) as cursor:
            if self.sqlite and secure:
                cursor.execute("PRAGMA secure_delete = ON")  # overwrite what is deleted
            for sql, rows in statements:
                if rows:
                    cursor.executemany(sql, rows)

    def create_table(self) -> None:
        """Create the key table now, if it is missing (it is also made on first use)."""
        if not self._table_ready:
            with self.datastore.transaction(commit=True) as cursor:
                self._ensure_table(cursor)
            self._table_ready = True

    def _ensure_table(self, cursor: Any) -> None:
        """Create the key table if it is missing (only then: a role that may write events
        but not create tables must get by without CREATE)."""
        if not self.sqlite:
            cursor.execute("SELECT to_regclass(%s) AS found", (self.table,))
            if cursor.fetchone()["found"] is not None:
                return
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (stream_id VARCHAR(32) NOT "
                       "NULL, generation INTEGER NOT NULL, secret VARCHAR(64), forgotten_at "
                       "VARCHAR(40), PRIMARY KEY (stream_id, generation))")

    def purge(self, compact: bool = False) -> None:
        """Let no copy of deleted data linger: SQLite's write-ahead log is checkpointed and
        emptied (and with `compact` the file rebuilt without free pages, VACUUM);
        PostgreSQL's key table is rewritten (VACUUM FULL, if this role owns it)."""
        try:
            if self.sqlite:
                with self.datastore.get_connection(commit=True) as conn:
                    if compact:
                        conn.cursor().execute("VACUUM")
                    conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                with self.datastore.get_connection() as conn:
                    conn.execute(f"VACUUM FULL {self.table}")
        except Exception:  # noqa: BLE001 - best effort; README says what remains
            pass


def sealed_generation(sealed: str) -> int:
    """The key generation a sealed field ("GENERATION:BASE64") was sealed with."""
    return int(sealed.partition(":")[0])


def _hex(stream: UUID | str) -> str:
    return stream.hex if isinstance(stream, UUID) else str(stream).replace("-", "")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- the mapper ---------------------------------------------------------------------------


class SealingMapper(Mapper):
    """eventsourcing's mapper, sealing each stream event's personal fields with the stream's
    key before the (optional) store-wide cipher encrypts the whole state."""

    keys: StreamKeys | None = None  # set by the tracker once its recorder exists

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        names = personal_fields(get_topic(type(domain_event)))
        if not names or self.keys is None:
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        values = {n: state.pop(n) for n in names if state.get(n) is not None}
        if not values:  # nothing personal in this event (no note): nothing to decrypt later
            return super().to_stored_event(domain_event)
        state[SEALED] = self.keys.seal(domain_event.originator_id, values)
        sealed = object.__new__(type(domain_event))
        object.__setattr__(sealed, "__dict__", state)
        return super().to_stored_event(sealed)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        try:
            event = super().to_domain_event(stored_event)
        except MapperDeserialisationError:
            raise self.unreadable(stored_event.state) from None
        state = vars(event)
        if SEALED in state:
            self.unseal(stored_event.originator_id, stored_event.topic, state)
        return event

    def sealed_parts(self, stored_events: Iterable[StoredEvent]
                     ) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """(key generation, opened fields) of the sealed part of each of these events (the
        fields are None where that generation was deleted)."""
        for stored in stored_events:
            state = vars(super().to_domain_event(stored))
            if SEALED in state:
                yield (sealed_generation(state[SEALED]),
                       self.keys.open(stored.originator_id, state[SEALED]))

    def unseal(self, stream: UUID | str, topic: str, state: dict[str, Any],
               wanted: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Replace the sealed part of a decoded state by its fields (placeholders once the key
        is deleted). With `wanted`, decrypt only if one of those fields is sealed here."""
        names = [n for n in personal_fields(topic) if n not in state]  # those sealed here
        sealed = state.pop(SEALED)
        if wanted is not None and not set(names).intersection(wanted):
            state.update(dict.fromkeys(names))
            return state
        if self.keys is None:
            raise StoreError("this store's events are sealed; open it with the zov tracker")
        values = self.keys.open(stream, sealed)
        state.update(placeholders(names) if values is None else values)
        return state

    def unreadable(self, state: bytes) -> StoreError:
        """Why a stored state cannot be read, as far as the store-wide key goes."""
        try:
            json.loads(bytes(state))
            looks_plain = True
        except ValueError:
            looks_plain = False
        if self.cipher is None and not looks_plain:
            return WrongStoreKey(f"the store is encrypted: set {CIPHER_ENV} to its key")
        if self.cipher is not None and looks_plain:
            return WrongStoreKey(f"the store is not encrypted, but {CIPHER_ENV} is set: unset it, "
                              "or export and restore into a new store to encrypt")
        if self.cipher is not None:
            return WrongStoreKey(f"{CIPHER_ENV} is not the key this store was encrypted with")
        return StoreError("a stored event cannot be read (the store is damaged); restore it "
                          "from a backup")


# -- PostgreSQL roles -----------------------------------------------------------------------


def grant_statements(schema: str, events_table: str, writer: str, reader: str) -> str:
    """SQL for the store's owner: a role that records events and one that only reads.

    Both may write the read models (derived from the log; every read command catches them up
    first). Only the writer may append events and create or delete keys. eventsourcing locks
    the event table while appending, which PostgreSQL allows only with UPDATE, so the writer
    has it, and a trigger refuses every UPDATE, DELETE and TRUNCATE: the log stays append-only
    for every role, the owner included.
    """
    s = _ident(schema)
    w, r = _ident(writer), _ident(reader)
    models = ", ".join(f"{s}.{t}" for t in ("zov_projection_position", "zov_path_interval",
                                          "zov_place_interval", "zov_stage_delta"))
    return f"""\
GRANT USAGE ON SCHEMA {s} TO {w}, {r};
GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {w}, {r};
GRANT INSERT, UPDATE, DELETE ON {models} TO {w}, {r};
GRANT USAGE ON SEQUENCE {s}.zov_path_interval_id_seq, {s}.zov_place_interval_id_seq TO {w}, {r};
GRANT INSERT, UPDATE ON {s}.{events_table}, {s}.{KEY_TABLE} TO {w};
GRANT USAGE ON SEQUENCE {s}.{events_table}_notification_id_seq TO {w};
CREATE OR REPLACE FUNCTION {s}.zov_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'the event log is append-only'; END $$;
CREATE OR REPLACE TRIGGER zov_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
  ON {s}.{events_table} FOR EACH STATEMENT EXECUTE FUNCTION {s}.zov_append_only();
"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
