"""The whole log out and back in: export, restore into an empty store, and SQLite backups.

An export line holds what a reader needs (stream, version, topic, effective date, when and by
whom it was recorded, the event's fields as plain JSON) and the stored state itself, byte for
byte, which is what restore writes back. Restore checks that both still agree, so an edited
export is refused rather than half-believed.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

import transfers.place  # noqa: F401 - defines the place events' topics, which decoding the log needs
from transfers.errors import InvalidValue, StoreError
from transfers.privacy import MissingStreamKey, WrongStoreKey
from transfers.store import StoreURL

FIELDS = ("id", "stream", "version", "topic", "on", "recorded_at", "by", "payload")
_HEADER = ("originator_id", "originator_version", "timestamp")  # already in the line's fields


def plain(value: Any) -> Any:
    """A JSON-ready value: dates as ISO text, enum members as their word, UUIDs as text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def describe(tracker: Any, stored: Any, notification_id: int) -> dict[str, Any]:
    """One stored event as an export record (FIELDS, then the exact stored state)."""
    event = tracker.mapper.to_domain_event(stored)
    fields = {k: v for k, v in vars(event).items() if k not in _HEADER}
    record = {
        "id": notification_id,
        "stream": str(stored.originator_id),
        "version": stored.originator_version,
        "topic": stored.topic,
        "on": plain(fields.get("on")),
        "recorded_at": event.timestamp.isoformat(),
        "by": fields.get("by"),
        "payload": plain(fields),
    }
    try:
        record["state"] = stored.state.decode("utf-8")
    except UnicodeDecodeError:  # a compressed or encrypted store
        record["state_base64"] = base64.b64encode(stored.state).decode("ascii")
    return record


def export_records(tracker: Any, page: int = 2_000) -> Iterator[dict[str, Any]]:
    """Every event in recording order, up to the last one recorded when the export began."""
    for n in tracker.notifications(page=page, keys=True):
        record = describe(tracker, n, n.id)
        if n.originator_version == 1:  # the keys of the stream's sealed fields (privacy)
            keys = tracker.mapper.keys.exported(n.originator_id)
            if keys:
                record["keys"] = keys
        yield record


def jsonl_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


# -- restore ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def render(self, file: str) -> str:
        return f"{file}:{self.line}: {self.message}"


def event_count(tracker: Any) -> int:
    return tracker.recorder.max_notification_id() or 0


def refuse_non_empty(tracker: Any) -> None:
    count = event_count(tracker)
    if count:
        raise StoreError(f"the store {tracker.store.display} is not empty (it holds events up to "
                         f"number {count}); restore only into a new, empty store (another --db)")


def read_export(tracker: Any, path: Path) -> tuple[list[StoredEvent], list[LineError]]:
    """The stored events of a JSONL export, each checked; and every line that is wrong."""
    events: list[StoredEvent] = []
    errors: list[LineError] = []
    versions: dict[UUID, int] = {}
    flawed: set[UUID] = set()  # streams with a bad line
    last_id = 0
    try:
        handle = open(path, encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidValue(f"{path.name}: cannot be read ({exc.strerror})") from None
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                stored, record = _parse_line(raw)
            except (ValueError, TypeError, KeyError) as exc:
                if not events and not errors:  # the very first line: probably no export at all
                    raise InvalidValue(f"{path.name}: not a zov export; restore reads the JSON "
                                       "Lines that `zov export` writes (not its CSV)") from None
                errors.append(LineError(line_no, _why(exc)))
                continue
            problem = (_order(record, last_id) or _sequence(stored, versions)
                       or _adopt_keys(tracker, stored, record) or _agrees(tracker, stored, record))
            # Later lines are checked against this one even if it is wrong: one bad line
            # gives one error, not one for every later event of its stream.
            last_id = max(last_id, record["id"])
            versions[stored.originator_id] = stored.originator_version
            if problem == _NO_KEYS and stored.originator_id in flawed:
                continue  # its stream's first line, with the keys, was the bad one
            if problem:
                flawed.add(stored.originator_id)
                errors.append(LineError(line_no, problem))
            else:
                events.append(stored)
    return events, errors


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"field {exc} is missing; each line needs {', '.join(FIELDS)} and state"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    return str(exc)


def _parse_line(raw: str) -> tuple[StoredEvent, dict[str, Any]]:
    record = json.loads(raw)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if "state" in record:
        state = str(record["state"]).encode("utf-8")
    elif "state_base64" in record:
        state = base64.b64decode(record["state_base64"], validate=True)
    else:
        raise ValueError("no state; only a JSON Lines export (zov export) can be restored")
    version = record["version"]
    if not isinstance(version, int) or version < 1 or not isinstance(record["id"], int):
        raise ValueError("id and version must be whole numbers, version from 1")
    try:
        stream = UUID(record["stream"])
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"stream '{record['stream']}' is not a stream id") from None
    topic = record["topic"]
    if not isinstance(topic, str) or not topic:
        raise ValueError("topic is empty")
    return StoredEvent(originator_id=stream, originator_version=version, topic=topic,
                       state=state), record


def _order(record: dict[str, Any], last_id: int) -> str | None:
    if record["id"] <= last_id:
        return f"id {record['id']} is not after the previous line's {last_id}; keep the order"
    return None


def _sequence(stored: StoredEvent, versions: dict[UUID, int]) -> str | None:
    expected = versions.get(stored.originator_id, 0) + 1
    if stored.originator_version != expected:
        return (f"stream {stored.originator_id} jumps to version {stored.originator_version}, "
                f"expected {expected}; lines are missing or out of order")
    return None


def _agrees(tracker: Any, stored: StoredEvent, record: dict[str, Any]) -> str | None:
    try:
        derived = describe(tracker, stored, record["id"])
    except WrongStoreKey:  # the store-wide key does not fit: one message, not one per line
        raise
    except MissingStreamKey:
        return _NO_KEYS
    except Exception as exc:  # an unknown topic or an undecodable state: say which line
        return f"cannot be read as a zov event ({type(exc).__name__}: {exc})"
    for name in FIELDS:
        if record.get(name) != derived[name]:
            return (f"{name} does not match the stored state (was the file edited?); restore "
                    "writes the state exactly as exported, so edit nothing")
    return None


_NO_KEYS = "its stream's keys are missing: the stream's first line is not in the file"


def _adopt_keys(tracker: Any, stored: StoredEvent, record: dict[str, Any]) -> str | None:
    """Take the stream keys a line carries (before its event is decoded with them)."""
    keys = record.get("keys")
    if keys is None:
        return None
    if not isinstance(keys, dict) or not all(
            str(g).isdigit() and (s is None or isinstance(s, str)) for g, s in keys.items()):
        return "keys must map key generations to keys (or null for forgotten ones)"
    tracker.mapper.keys.adopt(stored.originator_id, keys)
    return None


def restore(tracker: Any, events: list[StoredEvent]) -> int:
    """Write the events, as they were stored, into the empty store in one transaction
    (the streams' keys just before, in a transaction of their own)."""
    refuse_non_empty(tracker)
    tracker.mapper.keys.write_adopted()
    try:
        tracker.recorder.insert_events(events)
    except IntegrityError:
        raise StoreError("someone wrote to the store meanwhile; nothing was restored") from None
    return len(events)


# -- backup ------------------------------------------------------------------------------------


def backup_sqlite(store: StoreURL, target: Path) -> Path:
    """A consistent copy of a SQLite store, made with SQLite's online backup while others write."""
    if store.kind != "sqlite" or store.sqlite_path is None:
        raise StoreError("zov backup copies a SQLite store; for PostgreSQL use pg_dump "
                         "(e.g. pg_dump --schema=SCHEMA DBNAME > zov.sql)")
    source = store.sqlite_path
    if not source.is_file():
        raise StoreError(f"there is no store at {source}")
    target = target.expanduser()
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise InvalidValue(f"{target} exists; a backup never overwrites, choose a new name") from None
    except FileNotFoundError:
        raise InvalidValue(f"folder {target.parent} does not exist") from None
    except OSError as exc:
        raise InvalidValue(f"cannot create {target}: {exc.strerror}") from None
    try:
        src = sqlite3.connect(source)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: one consistent snapshot
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise StoreError(f"backup of {source} failed: {exc}; nothing was kept") from None
    return target
