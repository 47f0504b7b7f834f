"""The audit trail: who recorded what and when, read from the event log itself.

Nothing here is kept beside the log: every line is an event, with the store's recording time,
who recorded it (`by`), its kind and the path or place it belongs to. A forgotten client's
path is named by its placeholder, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import transfers.place  # noqa: F401 - registers the topics of place events


@dataclass(frozen=True)
class AuditRow:
    id: int  # position in the log
    recorded_at: datetime
    by: str
    event: str  # e.g. ClientPath.Triaged
    subject: str  # "C-0001 (MKD)", "place LH-A-01" or "plan"
    event_no: int  # the event's number in its path or place (`zov show`)
    details: str  # the reason of a correction or of forgetting


# How far recording times may stand out of the log's order: a batch's events are stamped as
# its rows run and logged when it is saved, and writers' clocks differ.
SKEW = timedelta(days=1)


def audit_trail(tracker: Any, since: date | None = None, by: str | None = None,
                page: int = 2_000) -> Iterator[AuditRow]:
    """Every event recorded on or after `since` (UTC date) by `by` (any case), oldest first.

    With `since`, the log is read from where its recording times reach `since` (less SKEW),
    found by bisection, not from its start; the paths and places of the events from there
    are named by their registrations, read together a page at a time."""
    subjects: dict[UUID, str] = {}
    wanted = by.strip().casefold() if by else None
    start = 1 if since is None else _position_of(
        tracker, datetime.combine(since, time(), UTC) - SKEW)
    decode = tracker.mapper.to_domain_event
    for found in tracker.notification_pages(page=page, keys=True, start=start):
        named_here = {n.originator_id for n in found if n.originator_version == 1}
        unnamed = sorted({n.originator_id for n in found} - named_here - subjects.keys())
        for first in tracker.stored_events(unnamed, first=True):
            _row(decode(first), 0, first.topic, subjects)
        for n in found:
            row = _row(decode(n), n.id, n.topic, subjects)
            if since and row.recorded_at.date() < since:
                continue
            if wanted and row.by.casefold() != wanted:
                continue
            yield row


def _position_of(tracker: Any, moment: datetime) -> int:
    """The first position in the log whose event was recorded at `moment` or later, taking
    recording times as rising along the log (bisection: a few dozen events read)."""
    low, high = 1, (tracker.recorder.max_notification_id() or 0) + 1
    while low < high:
        middle = (low + high) // 2
        found = tracker.recorder.select_notifications(middle, 1)
        if not found:
            high = middle
        elif tracker.mapper.to_domain_event(found[0]).timestamp < moment:
            low = found[0].id + 1
        else:
            high = middle
    return low


def _row(event: Any, nid: int, topic: str, subjects: dict[UUID, str]) -> AuditRow:
    stream, kind = topic.removeprefix("zov:").split(".")[:2]
    fields = vars(event)
    oid = event.originator_id
    if kind in ("Registered", "Adopted"):
        subjects[oid] = (f"{fields['ref']} ({fields['hulpvorm']})" if stream == "ClientPath"
                         else f"place {fields['place']}" if stream == "LeefhuisPlace" else "plan")
    details = ""
    if kind == "Corrected":
        details = f"voids event {fields['voids']}: {fields['reason']}"
    elif kind == "Forgotten":
        details = fields["reason"]
    return AuditRow(nid, event.timestamp, fields.get("by") or "", f"{stream}.{kind}",
                    subjects.get(oid, str(oid)), event.originator_version, details)
