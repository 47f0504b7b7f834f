"""Every question the councils' figures come from reads the read models through an index, on
both stores: its cost follows the rows it answers from, not the size of the tables (the
performance issue's "check the query plans on both stores")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from projections import ReadModels, queries
from tests.projections.memo_history import record_history

AS_OF = date(2023, 9, 30)


class _Recording:
    """The read models' own connection, noting every statement its cursors run."""

    def __init__(self, raw: Any, seen: list[tuple[str, Any]]) -> None:
        self._raw, self._seen = raw, seen

    def cursor(self) -> Any:
        return _RecordingCursor(self._raw.cursor(), self._seen)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _RecordingCursor:
    def __init__(self, cursor: Any, seen: list[tuple[str, Any]]) -> None:
        self._cursor, self._seen = cursor, seen

    def execute(self, sql: str, params: Any = (), **options: Any) -> Any:
        self._seen.append((sql, params))
        return self._cursor.execute(sql, params, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def _plan(rm: ReadModels, sql: str, params: Any) -> list[Any]:
    """The steps of one statement's plan (SQLite: its lines; PostgreSQL: its nodes). PostgreSQL
    is asked with sequential scans off: on tables this small it rightly prefers them, and the
    question here is whether an index can answer, as it does once the tables are big."""
    cursor = rm.db.raw.cursor()
    if rm.db.sqlite:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [row[-1] for row in cursor.fetchall()]
    with rm.db.raw.transaction():
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        (found,) = cursor.fetchone()
    nodes, todo = [], [found[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", ()))
    return nodes


def _reads_whole_table(rm: ReadModels, plan: list[Any]) -> bool:
    """Whether a plan reads a table, or a whole index, from end to end: SQLite says SCAN
    (SEARCH is a range of an index; a skip-scan, ANY(...), reads all of it); on PostgreSQL a
    sequential scan, or an index scan whose condition leaves out the index's first column."""
    if rm.db.sqlite:
        return any(step.startswith("SCAN ") or "(ANY(" in step for step in plan)
    for node in plan:
        if node["Node Type"] == "Seq Scan":
            return True
        if "Index Name" in node:
            first = _first_column(rm, node["Index Name"])
            if not re.search(rf"\({re.escape(first)}\b", node.get("Index Cond", "")):
                return True
    return False


def _first_column(rm: ReadModels, index: str) -> str:
    cursor = rm.db.raw.cursor()
    cursor.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                   "i.indrelid AND a.attnum = i.indkey[0] WHERE i.indexrelid = %s::regclass",
                   (index,))
    return cursor.fetchone()[0]


def _questions(rm: ReadModels) -> None:
    queries.counts(rm, AS_OF)
    for by in queries.BREAKDOWNS:
        queries.counts(rm, AS_OF, by=by)
    queries.counts(rm, AS_OF, as_known_at=datetime.now(UTC))
    queries.compliance(rm, AS_OF, cases=False)
    queries.compliance(rm, AS_OF, cases=True)
    queries.flow(rm, AS_OF)
    queries.places(rm, AS_OF)
    queries.last_recorded(rm)


@pytest.fixture
def rm(tracker):
    record_history(tracker)
    with ReadModels(tracker) as models:  # caught up before anything is recorded
        yield models


def test_counts_compliance_flow_and_places_read_through_an_index(rm):
    seen: list[tuple[str, Any]] = []
    raw = rm.db.raw
    rm.db.raw = _Recording(raw, seen)
    try:
        _questions(rm)
    finally:
        rm.db.raw = raw
    selects = [(sql, params) for sql, params in seen if sql.lstrip().upper().startswith("SELECT")]
    tables = {t for sql, _ in selects for t in ("zov_path_interval", "zov_place_interval",
                                                 "zov_stage_delta") if t in sql}
    assert tables == {"zov_path_interval", "zov_place_interval", "zov_stage_delta"}
    for sql, params in selects:
        plan = _plan(rm, sql, params)
        assert plan and not _reads_whole_table(rm, plan), f"{sql}\n{plan}"


def test_a_question_no_index_answers_is_seen_reading_the_whole_table(rm):
    # the control: the check above does find a query that reads everything
    mark = "?" if rm.db.sqlite else "%s"
    plan = _plan(rm, f"SELECT count(*) FROM zov_path_interval WHERE gemeente = {mark}",
                 ("Stein",))
    assert _reads_whole_table(rm, plan), plan
