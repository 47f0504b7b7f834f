"""The audit trail: who recorded what and when, read from the event log itself.

Nothing here is kept beside the log: every line is an event, with the store's recording time,
who recorded it (`by`), its kind and the path or place it belongs to. A forgotten client's
path is named by its placeholder, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
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


def audit_trail(tracker: Any, since: date | None = None, by: str | None = None,
                page: int = 2_000) -> Iterator[AuditRow]:
    """Every event recorded on or after `since` (UTC date) by `by` (any case), oldest first."""
    subjects: dict[UUID, str] = {}
    wanted = by.strip().casefold() if by else None
    for n in tracker.notifications(page=page, keys=True):
        row = _row(tracker.mapper.to_domain_event(n), n.id, n.topic, subjects)
        if since and row.recorded_at.date() < since:
            continue
        if wanted and row.by.casefold() != wanted:
            continue
        yield row


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
