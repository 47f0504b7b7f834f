"""What every reliability test checks of a store afterwards: the log is whole, and the read
models answer exactly what a fresh rebuild answers."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from datetime import date

from projections import ReadModels, queries
from tests.projections.support import snapshot
from transfers.app import Tracker


def stored_events(tracker: Tracker) -> list:
    """Every stored event, in recording order."""
    out, start = [], 1
    while True:
        page = tracker.recorder.select_notifications(start=start, limit=10_000)
        if not page:
            return out
        out.extend(page)
        start = page[-1].id + 1


def assert_no_gaps(tracker: Tracker) -> dict:
    """Every stream's versions run 1, 2, 3 … without a gap or a repeat; returns the
    versions per stream."""
    versions: dict = defaultdict(list)
    for note in stored_events(tracker):
        versions[note.originator_id].append(note.originator_version)
    for stream, found in versions.items():
        assert sorted(found) == list(range(1, len(found) + 1)), (stream, found)
    return versions


def answers(rm: ReadModels, as_of: date | None = None) -> str:
    """What the read commands answer (counts, the list of paths, places), as JSON text."""
    result = {"counts": asdict(queries.counts(rm, as_of)),
              "by_gemeente": asdict(queries.counts(rm, as_of, by="gemeente")),
              "paths": [asdict(row) for row in queries.paths(rm, as_of)],
              "compliance": asdict(queries.compliance(rm, as_of)),
              "places": asdict(queries.places(rm, as_of))}
    return json.dumps(result, default=str, sort_keys=True)


def assert_read_models_equal_a_rebuild(tracker: Tracker, as_of: date | None = None) -> str:
    """The read models as they were caught up equal, row for row and answer for answer,
    those of a rebuild from the log; returns the answers."""
    with ReadModels(tracker) as rm:
        rows, said = snapshot(rm), answers(rm, as_of)
        rm.rebuild()
        assert snapshot(rm) == rows
        assert answers(rm, as_of) == said
    return said
