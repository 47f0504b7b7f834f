"""Bulk import of the peildatum overview and of event sheets, all or nothing.

Every row goes through the same Tracker command the CLI calls, inside one `tracker.batch()`:
a refused row leaves nothing behind, and if any row is refused the batch is abandoned, so a
file is written whole or not at all. Each bad cell or refused row becomes one RowError with
its line and column, so a caseworker can fix them all in Excel in one go.

Re-running a file is safe. A client or place already registered with the same details is
"unchanged"; with different details it is an error pointing to `zov amend`. An event row that
matches a step already in the stream (same kind, date and details, even if that step was
voided later) is "unchanged" too, so a sheet can be applied again after adding rows to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Protocol
from uuid import UUID

from transfers.errors import InvalidValue, StoreError, ZovError
from transfers.memory import collector_paused, shortfall, size_text
from transfers.path import ClientPath, path_id
from transfers.place import LeefhuisPlace, place_id
from transfers.refs import check_ref
from transfers.sheets import Column, Row, Sheet, cell_date, cell_flag, header_key, split_list
from transfers.stream import Stream
from transfers.vocab import CloseReason, Outcome

# -- the columns of each kind of file ----------------------------------------------------------

_REF = Column("ref", ("referentie", "client", "cliënt", "clientref", "cliëntreferentie",
                      "clientreferentie"), required=True)
_NOTE = Column("note", ("notitie", "opmerking", "toelichting"))
_BY = Column("by", ("door", "medewerker", "vastgelegd_door", "recorded_by"))

CLIENT_COLUMNS = (
    _REF,
    Column("hulpvorm", ("zorgvorm", "care_type"), required=True),
    Column("gemeente", ("municipality",), required=True),
    Column("arrangements", ("arrangement", "arrangementen", "arrangement(en)"), required=True),
    Column("arrangement_end", ("einddatum_arrangement", "einddatum", "einde_arrangement",
                               "arrangement_einddatum"), required=True),
    Column("cohort", ("groep",)),
    Column("registered_on", ("datum", "on", "peildatum", "registratiedatum")),
    _NOTE,
    _BY,
)

PLACE_COLUMNS = (
    Column("place", ("plaats", "plaatscode", "plek"), required=True),
    Column("leefhuis", ("huis",), required=True),
    Column("occupied", ("bezet",), required=True),
    Column("ref", ("referentie", "client", "cliënt", "clientref")),
    Column("registered_on", ("datum", "on", "peildatum", "registratiedatum")),
    _NOTE,
    _BY,
)

EVENT_COLUMNS = (
    Column("ref", _REF.aliases),
    Column("hulpvorm", ("zorgvorm", "care_type")),
    Column("place", ("plaats", "plaatscode", "plek")),
    Column("event", ("gebeurtenis", "stap", "actie", "command"), required=True),
    Column("on", ("datum", "op", "date")),
    Column("outcome", ("uitkomst", "triage_uitkomst")),
    Column("combinatie", ("ontvanger", "ontvangende_combinatie")),
    Column("aanbieder", ("ontvangende_aanbieder",)),
    Column("planned", ("gepland", "geplande_datum", "overdrachtsdatum")),
    Column("reason", ("reden",)),
    Column("voids", ("event_no", "vervalt", "event_nr", "voids_event")),
    Column("gemeente", ()),
    Column("arrangements", ("arrangement", "arrangementen", "arrangement(en)")),
    Column("arrangement_end", ("einddatum_arrangement", "einddatum", "einde_arrangement")),
    Column("cohort", ("groep",)),
    _NOTE,
    _BY,
)

PLACES_GROUP = "Leefhuizen"
# A sheet reads who is registered from the log in one pass when the log has at most this many
# events per line of the sheet: looking up the streams a line names one by one costs about as
# much as reading a few hundred events in one pass (0.7 ms against 1.5-2 µs an event).
EVENTS_PER_LINE_READ = 100


# -- what a run reports ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One bad cell or one refused row."""

    line: int
    column: str | None
    message: str

    def render(self, file: str) -> str:
        where = f"column {self.column}: " if self.column else ""
        return f"{file}:{self.line}: {where}{self.message}"


@dataclass
class Report:
    """What a run did (or would do, for a dry run), per group (hulpvorm or Leefhuis)."""

    file: str
    what: str  # clients, places or events
    dry_run: bool = False
    rows: int = 0
    written: int = 0
    unchanged: int = 0
    groups: dict[str, Counter[str]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return len({e.line for e in self.errors})

    def count(self, status: str, group: str) -> None:
        counts = self.groups.get(group)
        if counts is None:  # (not setdefault: that makes a Counter for every row)
            counts = self.groups[group] = Counter()
        counts[status] += 1
        if status == "written":
            self.written += 1
        else:
            self.unchanged += 1


class Progress(Protocol):
    """Told how far the reading got (by line) and when the one write begins."""

    def advance(self, line: int) -> None: ...

    def writing(self, events: int) -> None: ...


class RowFailed(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(errors)
        self.errors = errors


class _Abandon(Exception):
    """Leave the batch without writing: there were errors, or it is a dry run."""


# -- entry points ------------------------------------------------------------------------------


def import_clients(tracker: Any, sheet: Sheet, by: str, *, dry_run: bool = False,
                   several_paths: bool = False, progress: Progress | None = None) -> Report:
    """Register the client paths of an overview file (see CLIENT_COLUMNS)."""
    run = _ClientImport(tracker, sheet, by, several_paths)
    return _run(tracker, sheet, Report(sheet.name, "clients", dry_run), run, progress)


def import_places(tracker: Any, sheet: Sheet, by: str, *, dry_run: bool = False,
                  progress: Progress | None = None) -> Report:
    """Register the Leefhuis places of an overview file (see PLACE_COLUMNS)."""
    run = _PlaceImport(tracker, sheet, by)
    return _run(tracker, sheet, Report(sheet.name, "places", dry_run), run, progress)


def apply_events(tracker: Any, sheet: Sheet, by: str, *, dry_run: bool = False,
                 progress: Progress | None = None) -> Report:
    """Append the events of a sheet in file order, one row one event (see EVENT_COLUMNS)."""
    run = _EventApply(tracker, sheet, by)
    return _run(tracker, sheet, Report(sheet.name, "events", dry_run), run, progress)


def _run(tracker: Any, sheet: Sheet, report: Report, run: _Import,
         progress: Progress | None) -> Report:
    _check_memory(sheet)
    tracker.remember_plan_lookups()
    try:
        # Rows register a stream only after asking _Streams whether it exists. No row leaves
        # cyclic garbage, written, unchanged or refused, nor does the run at its end
        # (tests/transfers/test_bulk_rows.py), so the collector stays paused throughout.
        with collector_paused(), tracker.batch(creations_checked=True):
            for rows in _parts(sheet.rows(), tracker.PRELOAD):
                run.prefetch(rows)
                for row in rows:
                    report.rows += 1
                    try:
                        if row.problem:
                            raise RowFailed([RowError(row.line, None, row.problem)])
                        report.count(*run.row(row))
                    except RowFailed as failed:
                        report.errors.extend(failed.errors)
                    if progress is not None:
                        progress.advance(row.line)
            if report.errors or report.dry_run:
                raise _Abandon
            if progress is not None and report.written:
                progress.writing(report.written)
    except _Abandon:
        pass
    report.ignored_columns = list(sheet.ignored)
    return report


def _parts(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    part: list[Row] = []
    for row in rows:
        part.append(row)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


# A run holds what it makes until its one write at the end: per line of the file, at the
# least, its events and the streams they change. Measured (peak resident memory of the whole
# process, SQLite, 2026-11-30): `zov import clients` of 100,000 clients 405 MB, `zov apply`
# of their 500,000 events 959 MB; counted here 150 and 750 MB.
BYTES_PER_LINE = 1_500


def _check_memory(sheet: Sheet) -> None:
    """Refuse, before any line is read, a file that cannot fit in the memory left (it would
    run for minutes and then fail, or be killed by the system). Not a workbook: its row
    count is the size the sheet declares, which formatting alone stretches to a million."""
    if sheet.kind == "xlsx":
        return
    lines = sheet.total_lines or 0
    need = lines * BYTES_PER_LINE
    short = shortfall(need)
    if short:
        raise StoreError(f"{sheet.name}: its {lines:,} lines need at least {size_text(need)} "
                         f"of memory and {short}: close other programs, or split the file and "
                         "take in the parts one after the other (nothing was written)")


# -- reading cells -------------------------------------------------------------------------------


class _Values:
    """The plan's and the tracker's own checks of typed values, remembered per distinct text.

    A file repeats the same few gemeenten, dates and combinaties thousands of times; each is
    checked once. The tracker checks them again in its commands: same functions, same answer.
    """

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.plan = tracker.plan
        self._memo: dict[tuple[Any, ...], tuple[bool, Any]] = {}

    def _once(self, key: tuple[Any, ...], check: Callable[[], Any]) -> Any:
        try:
            ok, value = self._memo[key]
        except KeyError:
            try:
                ok, value = True, check()
            except StoreError:
                raise
            except ZovError as exc:
                ok, value = False, str(exc)
            self._memo[key] = (ok, value)
        if not ok:
            raise InvalidValue(value)
        return value

    def ref(self, text: str) -> str:
        return self._once(("ref", text), lambda: check_ref(text))

    def hulpvorm(self, text: str) -> Any:
        return self._once(("hulpvorm", text), lambda: self.plan.hulpvorm(text))

    def gemeente(self, text: str) -> str:
        return self._once(("gemeente", text), lambda: self.plan.gemeente(text))

    def arrangements(self, text: str, h: Any) -> list[str]:
        return [self._once(("arrangement", h.code, part),
                           lambda part=part: self.plan.arrangement(part, h))
                for part in split_list(text)]

    def cohort(self, text: str, h: Any) -> str:
        return self._once(("cohort", h.code, text), lambda: self.plan.cohort(text, h))

    def combinatie(self, text: str, h: Any = None) -> Any:
        code = h.code if h else None
        return self._once(("combinatie", code, text), lambda: self.plan.combinatie(text, h))

    def aanbieder(self, text: str, combinatie: Any) -> str:
        return self._once(("aanbieder", combinatie.name, text),
                          lambda: self.plan.aanbieder(text, combinatie))

    def leefhuis(self, text: str) -> str:
        return self._once(("leefhuis", text), lambda: self.plan.leefhuis(text).name)

    def date(self, text: str) -> date:
        return self._once(("date", text), lambda: cell_date(text))

    def effective(self, text: str) -> date:
        """A date something happened: not in the future, not before the peildatum."""
        return self._once(("effective", text),
                          lambda: self.tracker.effective_date(cell_date(text)))

    def actor(self, text: str) -> str:
        return self._once(("by", text), lambda: self.tracker.actor(text))

    def event(self, text: str) -> str:
        return self._once(("event", text), lambda: event_name(text))

    def outcome(self, text: str) -> Outcome:
        return self._once(("outcome", text), lambda: Outcome.parse(text))

    def close_reason(self, text: str) -> CloseReason:
        return self._once(("reason", text), lambda: CloseReason.parse(text))


class _Cells:
    """A row's cells read one by one; every bad or missing cell is noted, none stops the row."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.cells = row.cells
        self.errors: list[RowError] = []

    def text(self, column: str, required: str | None = None) -> str | None:
        value = self.cells.get(column)
        if value is None and required:
            self.fail(column, f"empty; {required}")
        return value

    def value(self, column: str, parse: Callable[[str], Any], required: str | None = None,
              ) -> Any:
        text = self.cells.get(column)
        if text is None:
            if required:
                self.fail(column, f"empty; {required}")
            return None
        try:
            return parse(text)
        except StoreError:
            raise
        except ZovError as exc:
            self.fail(column, str(exc))
            return None

    def fail(self, column: str | None, message: str) -> None:
        self.errors.append(RowError(self.row.line, column, message))

    def check(self) -> None:
        if self.errors:
            raise RowFailed(self.errors)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise InvalidValue(f"'{text}' is not an event number; write the number `zov show` "
                           "lists (1, 2, ...)")
    return int(text)


# -- who is registered ------------------------------------------------------------------------


class _Streams:
    """Which streams exist, and for a big sheet the streams themselves, read in one pass.

    A file that is small against the store looks each stream up; otherwise (see
    EVENTS_PER_LINE_READ) the ids of every registered stream come from one read of the log.
    When a sheet of events has at least as many lines as the store has events, every client
    path and place is rebuilt from one read of the log and kept in the batch: much cheaper
    than one query per stream.
    """

    def __init__(self, tracker: Any, sheet: Sheet, rebuild: bool) -> None:
        self.tracker = tracker
        self.lines = sheet.total_lines or 0
        self.rebuild = rebuild
        self.index: set[UUID] | None = None
        self.created: set[UUID] = set()
        self.refs: dict[str, list[str]] | None = None  # ref -> hulpvormen, once rebuilt
        self.absent: set[UUID] = set()  # preloaded and not found
        self._ready = False

    def preload(self, ids: set[UUID]) -> None:
        """Read the streams of these ids that exist into the batch, a few queries for all."""
        if not self._ready:
            self._prepare()
        ids -= self.created
        if self.index is not None:
            ids &= self.index
        self.absent |= ids - self.tracker.preload(ids)

    def exists(self, stream_id: UUID, load: Callable[[], Stream]) -> bool:
        if not self._ready:
            self._prepare()  # inside the batch, on the first question
        if stream_id in self.created:
            return True
        if self.index is not None:
            return stream_id in self.index
        if stream_id in self.absent:
            return False
        try:
            self.tracker.keep_in_batch(load())
            return True
        except ZovError as exc:
            if isinstance(exc, StoreError):
                raise
            return False

    def known_refs(self) -> dict[str, list[str]] | None:
        """Per ref the hulpvormen it has paths for, when every stream was rebuilt."""
        if not self._ready:
            self._prepare()
        return self.refs

    def empty(self) -> bool:
        """Known to hold no streams at all (an index was read and found none)?"""
        if not self._ready:
            self._prepare()
        return self.index is not None and not self.index

    def _prepare(self) -> None:
        self._ready = True
        head = self.tracker.recorder.max_notification_id() or 0
        if head > self.lines * EVENTS_PER_LINE_READ:
            return
        if self.rebuild and self.lines >= head:
            streams = _rebuild(self.tracker)
            self.tracker.keep_in_batch(*streams)
            self.index = {s.id for s in streams}
            self.refs = {}
            for s in streams:
                if isinstance(s, ClientPath):
                    self.refs.setdefault(s.ref.casefold(), []).append(s.hulpvorm)
        else:
            self.index = set(_originators(self.tracker))


_REGISTERED = (ClientPath.Registered.TOPIC, LeefhuisPlace.Registered.TOPIC)


def _originators(tracker: Any) -> Iterator[UUID]:
    """The ids of all client paths and places, from their registrations in the log."""
    for n in tracker.notifications(_REGISTERED, page=10_000):
        yield n.originator_id if isinstance(n.originator_id, UUID) else UUID(n.originator_id)


def _rebuild(tracker: Any) -> list[Stream]:
    """Every client path and place, rebuilt from one read of the whole log."""
    return list(tracker.fold(tracker.notifications(page=10_000, keys=True),
                             starts=_REGISTERED).values())


def _seen(stream: Stream, kind: str, on: date | None, **details: Any) -> bool:
    """Is this step already in the stream (also if a correction voided it later)?"""
    for step in stream.steps:
        if step.kind == kind and (on is None or step.on == on) and all(
                step.details.get(k) == v for k, v in details.items()):
            return True
    return False


class _Import:
    """What the three kinds of run share: values, the recording person, failure tracking,
    and reading the streams its rows name."""

    NAMES: ClassVar[tuple[str, ...]] = ()  # the columns naming streams a row reads
    REBUILD = False  # rebuild every stream when the sheet is as long as the log (_Streams)

    def __init__(self, tracker: Any, sheet: Sheet, by: str) -> None:
        self.tracker = tracker
        self.values = _Values(tracker)
        self.by = by
        self.first_failure: dict[str, int] = {}  # stream key -> first line refused on it
        self.streams = _Streams(tracker, sheet, rebuild=self.REBUILD)

    def row(self, row: Row) -> tuple[str, str]:
        raise NotImplementedError

    def prefetch(self, rows: list[Row]) -> None:
        """Before these rows run: read the streams they name that exist, a few queries for
        all, rather than two for each stream as a row finds it (tracker.preload)."""
        ids: set[UUID] = set()
        codes = [h.code for h in self.tracker.plan.hulpvormen]
        for row in rows:
            ref = row.get("ref") if "ref" in self.NAMES else None
            if isinstance(ref, str) and ref.strip():
                ids.update(path_id(ref.strip(), code) for code in codes)
            place = row.get("place") if "place" in self.NAMES else None
            if isinstance(place, str) and place.strip():
                ids.add(place_id(place.strip()))
        self.streams.preload(ids)

    def recorder(self, c: _Cells) -> str | None:
        return c.value("by", self.values.actor) or self.values.actor(self.by)

    def note(self, c: _Cells) -> str | None:
        return c.value("note", self.tracker.clean_note)

    def command(self, c: _Cells, key: str, column: str | None, act: Callable[[], Any]) -> Any:
        """Run one tracker command; a refusal becomes this row's error."""
        try:
            return act()
        except StoreError:
            raise
        except ZovError as exc:
            self.refused(c, key, column, str(exc))
            raise RowFailed(c.errors) from None

    def refused(self, c: _Cells, key: str, column: str | None, message: str) -> None:
        earlier = self.first_failure.setdefault(key, c.row.line)
        if earlier != c.row.line:
            message += f" (line {earlier} failed earlier for the same {key})"
        c.fail(column, message)


# -- import clients ------------------------------------------------------------------------------


class _ClientImport(_Import):
    NAMES = ("ref",)

    def __init__(self, tracker: Any, sheet: Sheet, by: str, several_paths: bool) -> None:
        super().__init__(tracker, sheet, by)
        self.several_paths = several_paths
        self.made: dict[str, set[str]] = {}  # ref -> hulpvormen registered by this file
        self.rows_of: dict[tuple[str, str], int] = {}  # (ref, hulpvorm) -> line registering it

    def row(self, row: Row) -> tuple[str, str]:
        c, v = _Cells(row), self.values
        ref = c.value("ref", check_ref, "write the client's pseudonymous reference")
        h = c.value("hulpvorm", v.hulpvorm, "write the care type, e.g. MKD")
        gemeente = c.value("gemeente", v.gemeente, "write the municipality responsible")
        arrangements = c.value("arrangements", lambda t: v.arrangements(t, h)) if h else None
        end = c.value("arrangement_end", v.date)
        cohort = c.value("cohort", lambda t: v.cohort(t, h)) if h else None
        on = c.value("registered_on", v.effective) or self.tracker.plan.peildatum
        note, by = self.note(c), self.recorder(c)
        c.check()
        mine = self._codes(ref)
        if h.code in mine:
            path = self.tracker.path(ref, h.code)
            self.tracker.keep_in_batch(path)
            wanted = {"gemeente": gemeente, "arrangements": tuple(sorted(arrangements or ())),
                      "arrangement_end": end, "cohort": cohort, "registered_on": on}
            self._same(c, path, wanted)
            return "unchanged", h.code
        if mine and not self.several_paths:
            c.fail("hulpvorm", f"{ref} is already registered for {' and '.join(sorted(mine))}, "
                               f"not {h.code}; if the client really is in both, import with "
                               "--several-paths")
            c.check()
        self.command(c, f"{ref} ({h.code})", None, lambda: self.tracker.register(
            ref, h.code, gemeente, by, arrangements=arrangements or (), arrangement_end=end,
            cohort=cohort, on=on, note=note))
        self.made.setdefault(ref.casefold(), set()).add(h.code)
        self.rows_of[(ref.casefold(), h.code)] = row.line
        return "written", h.code

    def _codes(self, ref: str) -> set[str]:
        """The hulpvormen this ref has paths for: in the store, or made by this file."""
        made = self.made.get(ref.casefold(), set())
        if self.streams.empty():
            return made
        return made | {h.code for h in self.tracker.plan.hulpvormen
                       if self.streams.exists(path_id(ref, h.code),
                                               lambda h=h: self.tracker.path(ref, h.code))}

    def _same(self, c: _Cells, path: ClientPath, wanted: dict[str, Any]) -> None:
        """Unchanged if the row matches the registration as made, or as amended since."""
        s, first = path.state, path.steps[0]
        now = {"gemeente": s.gemeente, "arrangements": tuple(sorted(s.arrangements)),
               "arrangement_end": s.arrangement_end, "cohort": s.cohort,
               "registered_on": s.registered_on}
        then = {"gemeente": first.details["gemeente"],
                "arrangements": tuple(sorted(first.details["arrangements"])),
                "arrangement_end": first.details["arrangement_end"],
                "cohort": first.details["cohort"], "registered_on": first.on}
        if wanted in (now, then):
            return
        line = self.rows_of.get((path.ref.casefold(), path.hulpvorm))
        where = f"line {line} of this file" if line else "the store"
        for column, value in wanted.items():
            if value != now[column]:
                c.fail(column, f"{path.key} is already registered in {where} with {column} "
                               f"{_shown(now[column])}, not {_shown(value)}; an import never "
                               f"overwrites: {_amend_hint(path, column, value)}")
        c.check()


def _shown(value: Any) -> str:
    if value is None or value == ():
        return "(empty)"
    if isinstance(value, tuple):
        return "'" + "; ".join(value) + "'"
    if isinstance(value, date):
        return value.isoformat()
    return f"'{value}'"


def _amend_hint(path: ClientPath, column: str, value: Any) -> str:
    if column == "registered_on":
        return "the registration date cannot be changed"
    option = {"gemeente": "--gemeente", "arrangements": "--arrangement",
              "arrangement_end": "--arrangement-end", "cohort": "--cohort"}[column]
    if value is None or value == ():
        return "an empty value cannot be amended; leave the cell as it was"
    shown = (" ".join(f"{option} '{a}'" for a in value) if isinstance(value, tuple)
             else f"{option} '{value.isoformat() if isinstance(value, date) else value}'")
    return f"to change it, run zov amend {path.ref} --hulpvorm '{path.hulpvorm}' {shown}"


# -- import places ----------------------------------------------------------------------------


class _PlaceImport(_Import):
    NAMES = ("place",)

    def row(self, row: Row) -> tuple[str, str]:
        c, v = _Cells(row), self.values
        code = c.value("place", check_ref, "write the place's code, e.g. LH-A-01")
        leefhuis = c.value("leefhuis", v.leefhuis, "write the Leefhuis, e.g. LH-A")
        ref = c.value("ref", check_ref)
        occupied = c.value("occupied", cell_flag)
        if occupied is None and not c.errors:
            occupied = ref is not None  # an empty cell: occupied if a client is named
        if occupied and ref is None:
            c.fail("ref", "empty; an occupied place needs the client's reference")
        if occupied is False and ref is not None:
            c.fail("ref", f"the place is marked empty but names client {ref}; clear one of them")
        on = c.value("registered_on", v.effective) or self.tracker.plan.peildatum
        note, by = self.note(c), self.recorder(c)
        c.check()
        pid = place_id(code)
        if self.streams.exists(pid, lambda: self.tracker.place(code)):
            place = self.tracker.place(code)
            self.tracker.keep_in_batch(place)
            self._same(c, place, {"leefhuis": leefhuis, "occupied": occupied, "ref": ref,
                                  "registered_on": on})
            return "unchanged", leefhuis
        self.command(c, f"place {code}", None, lambda: self.tracker.register_place(
            code, leefhuis, by, occupied=occupied, ref=ref, on=on, note=note))
        self.streams.created.add(pid)
        return "written", leefhuis

    def _same(self, c: _Cells, place: LeefhuisPlace, wanted: dict[str, Any]) -> None:
        s, first = place.state, place.steps[0]
        now = {"leefhuis": s.leefhuis, "occupied": s.occupied, "ref": s.ref,
               "registered_on": first.on}
        then = {"leefhuis": first.details["leefhuis"], "occupied": first.details["occupied"],
                "ref": first.details["ref"], "registered_on": first.on}
        if wanted in (now, then):
            return
        hint = {"leefhuis": "a place cannot move to another Leefhuis",
                "occupied": f"log the change with zov place occupy/vacate {place.place}",
                "ref": f"log the change with zov place occupy {place.place} --ref ...",
                "registered_on": "the registration date cannot be changed"}
        for column, value in wanted.items():
            if value != now[column]:
                c.fail(column, f"{place.key} is already registered with {column} "
                               f"{_shown(now[column])}, not {_shown(value)}; an import never "
                               f"overwrites: {hint[column]}")
        c.check()


# -- apply event sheets ---------------------------------------------------------------------------

# The event words of a sheet: the CLI's command names first, then the stored event names and
# the Dutch a caseworker writes.
EVENTS: dict[str, tuple[str, ...]] = {
    "triage": ("triaged", "getrieerd", "triageren"),
    "assign": ("receiverassigned", "assigned", "toewijzen", "toegewezen", "ontvanger"),
    "plan-handover": ("handoverplanned", "overdracht gepland", "overdracht plannen"),
    "handover": ("handoverdone", "hand-over", "warme overdracht", "overgedragen"),
    "close": ("closed", "afsluiten", "afgesloten"),
    "amend": ("registrationamended", "wijzigen", "gewijzigd"),
    "correct": ("corrected", "correctie", "corrigeren"),
    "place-decide": ("transferdecided", "plaats besluit", "plaats overdracht besloten"),
    "place-keep": ("placekept", "plaats behouden"),
    "place-transfer": ("placetransferred", "plaats overgedragen"),
    "place-occupy": ("plaats bezet",),
    "place-vacate": ("plaats leeg",),
    "place-correct": ("plaats correctie",),
}
_EVENT_BY_KEY = {header_key(word): name for name, words in EVENTS.items()
                 for word in (name, *words)}


def event_name(text: str) -> str:
    """The CLI command an event cell names (any case, '-', '_' and spaces ignored)."""
    try:
        return _EVENT_BY_KEY[header_key(text)]
    except KeyError:
        raise InvalidValue(f"unknown event '{text}'; use one of: {', '.join(EVENTS)}") from None


class _EventApply(_Import):
    NAMES = ("ref", "place")
    REBUILD = True

    def __init__(self, tracker: Any, sheet: Sheet, by: str) -> None:
        super().__init__(tracker, sheet, by)
        self.codes: dict[str, list[str]] = {}  # ref -> the hulpvormen it has paths for
        self.loaded: dict[tuple[str, str], Any] = {}  # streams this run holds in its batch

    def row(self, row: Row) -> tuple[str, str]:
        c = _Cells(row)
        name = c.value("event", self.values.event, f"write what happened: {', '.join(EVENTS)}")
        by = self.recorder(c)
        if name is None:
            c.check()
        return self.HANDLERS[name](self, c, by)

    # -- finding the stream -----------------------------------------------------------------

    def _path(self, c: _Cells) -> ClientPath | None:
        """The row's client path: by ref, and hulpvorm when the ref has several."""
        ref = c.value("ref", self.values.ref, "write the client's reference")
        h = c.value("hulpvorm", self.values.hulpvorm)
        if ref is None or (h is None and c.row.get("hulpvorm")):
            return None
        codes = self._codes(ref)
        if h is not None:
            if h.code not in codes:
                has = f"; it has a path for {' and '.join(codes)}" if codes else ""
                c.fail("hulpvorm" if codes else "ref",
                       f"{ref} has no {h.code} path{has}; import the client first with "
                       "zov import clients")
                return None
            code = h.code
        elif not codes:
            c.fail("ref", f"no client path '{ref}'; import the client first with "
                          "zov import clients (or zov register)")
            return None
        elif len(codes) > 1:
            c.fail("hulpvorm", f"{ref} has paths for {' and '.join(codes)}; fill in the "
                               "hulpvorm column to say which")
            return None
        else:
            code = codes[0]
        # The batch keeps each stream as one object that every command changes in place, so
        # holding on to it here saves looking it up again for the next row.
        key = (ref.casefold(), code)
        path = self.loaded.get(key)
        if path is None:
            path = self.loaded[key] = self.tracker.path(ref, code)
            self.tracker.keep_in_batch(path)
        return path

    def _codes(self, ref: str) -> list[str]:
        key = ref.casefold()
        if key not in self.codes:
            if self.streams.known_refs() is not None:
                order = [h.code for h in self.tracker.plan.hulpvormen]
                found = self.streams.known_refs().get(key, [])
                self.codes[key] = sorted(found, key=order.index)
                return self.codes[key]
            self.codes[key] = [
                h.code for h in self.tracker.plan.hulpvormen
                if self.streams.exists(path_id(ref, h.code),
                                     lambda h=h: self.tracker.path(ref, h.code))]
        return self.codes[key]

    def _place(self, c: _Cells) -> LeefhuisPlace | None:
        code = c.value("place", check_ref, "write the place's code, e.g. LH-A-01")
        if code is None:
            return None
        if not self.streams.exists(place_id(code), lambda: self.tracker.place(code)):
            c.fail("place", f"no Leefhuis place '{code}'; import it first with "
                            "zov import places")
            return None
        key = ("place", code.casefold())
        place = self.loaded.get(key)
        if place is None:
            place = self.loaded[key] = self.tracker.place(code)
            self.tracker.keep_in_batch(place)
        return place

    def _on(self, c: _Cells) -> date | None:
        return c.value("on", self.values.effective, "write the date it happened (2023-07-31)")

    def _write(self, c: _Cells, stream: Stream, act: Callable[[], Any]) -> tuple[str, str]:
        group = stream.hulpvorm if isinstance(stream, ClientPath) else PLACES_GROUP
        self.command(c, stream.key, "event", act)
        return "written", group

    def _unchanged(self, stream: Stream) -> tuple[str, str]:
        return "unchanged", stream.hulpvorm if isinstance(stream, ClientPath) else PLACES_GROUP

    # -- client path events -------------------------------------------------------------------

    def _triage(self, c: _Cells, by: str) -> tuple[str, str]:
        path, on = self._path(c), self._on(c)
        outcome = c.value("outcome", self.values.outcome,
                          "write the triage outcome: transfer, continue, ends or follow-up")
        note = self.note(c)
        c.check()
        if _seen(path, "Triaged", on, outcome=outcome):
            return self._unchanged(path)
        return self._write(c, path, lambda: self.tracker.triage(
            path.ref, outcome, by, on=on, hulpvorm=path.hulpvorm, note=note))

    def _assign(self, c: _Cells, by: str) -> tuple[str, str]:
        path, on, v = self._path(c), self._on(c), self.values
        h = v.hulpvorm(path.hulpvorm) if path else None
        combinatie = c.value("combinatie", lambda t: v.combinatie(t, h),
                             "write the receiving combinatie")
        aanbieder = (c.value("aanbieder", lambda t: v.aanbieder(t, combinatie))
                     if combinatie else None)
        planned = c.value("planned", v.date)
        note = self.note(c)
        c.check()
        if _seen(path, "ReceiverAssigned", on, combinatie=combinatie.name, aanbieder=aanbieder,
                 planned=planned):
            return self._unchanged(path)
        return self._write(c, path, lambda: self.tracker.assign(
            path.ref, combinatie.name, by, aanbieder=aanbieder, planned=planned, on=on,
            hulpvorm=path.hulpvorm, note=note))

    def _plan_handover(self, c: _Cells, by: str) -> tuple[str, str]:
        path, on = self._path(c), self._on(c)
        planned = c.value("planned", self.values.date, "write the planned handover date")
        note = self.note(c)
        c.check()
        if _seen(path, "HandoverPlanned", on, planned=planned):
            return self._unchanged(path)
        return self._write(c, path, lambda: self.tracker.plan_handover(
            path.ref, planned, by, on=on, hulpvorm=path.hulpvorm, note=note))

    def _handover(self, c: _Cells, by: str) -> tuple[str, str]:
        path, on, note = self._path(c), self._on(c), self.note(c)
        c.check()
        if _seen(path, "HandoverDone", on):
            return self._unchanged(path)
        return self._write(c, path, lambda: self.tracker.hand_over(
            path.ref, by, on=on, hulpvorm=path.hulpvorm, note=note))

    def _close(self, c: _Cells, by: str) -> tuple[str, str]:
        path, on = self._path(c), self._on(c)
        reason = c.value("reason", self.values.close_reason,
                         f"write the close reason: {', '.join(r.value for r in CloseReason)}")
        note = self.note(c)
        c.check()
        if _seen(path, "Closed", on, reason=reason):
            return self._unchanged(path)
        return self._write(c, path, lambda: self.tracker.close_path(
            path.ref, reason, by, on=on, hulpvorm=path.hulpvorm, note=note))

    def _amend(self, c: _Cells, by: str) -> tuple[str, str]:
        # Amending is not dated (it corrects the registration for all time): `on` is ignored.
        path, v = self._path(c), self.values
        h = v.hulpvorm(path.hulpvorm) if path else None
        gemeente = c.value("gemeente", v.gemeente)
        arrangements = c.value("arrangements", lambda t: v.arrangements(t, h)) if h else None
        end = c.value("arrangement_end", v.date)
        cohort = c.value("cohort", lambda t: v.cohort(t, h)) if h else None
        note = self.note(c)
        if not c.errors and gemeente is arrangements is end is cohort is None:
            c.fail("event", "amend needs a new gemeente, arrangements, arrangement_end or "
                            "cohort in this row")
        c.check()
        s = path.state
        wanted = {"gemeente": gemeente, "arrangements": tuple(sorted(arrangements or ())) or None,
                  "arrangement_end": end, "cohort": cohort}
        now = {"gemeente": s.gemeente, "arrangements": tuple(sorted(s.arrangements)),
               "arrangement_end": s.arrangement_end, "cohort": s.cohort}
        if all(value is None or value == now[k] for k, value in wanted.items()):
            return self._unchanged(path)
        return self._write(c, path, lambda: self.tracker.amend(
            path.ref, by, hulpvorm=path.hulpvorm, gemeente=gemeente, arrangements=arrangements,
            arrangement_end=end, cohort=cohort, note=note))

    def _correct(self, c: _Cells, by: str) -> tuple[str, str]:
        path = self._path(c)
        version, reason, note = self._correction(c)
        c.check()
        if _voided(path, version, reason):
            return self._unchanged(path)
        return self._write(c, path, lambda: self.tracker.correct(
            path.ref, version, reason, by, hulpvorm=path.hulpvorm, note=note))

    def _correction(self, c: _Cells) -> tuple[int | None, str | None, str | None]:
        version = c.value("voids", _positive_int,
                          "write the number of the event to void (see zov show)")
        reason = c.text("reason", "write why the event was wrong")
        return version, (" ".join(reason.split()) if reason else None), self.note(c)

    # -- Leefhuis place events ---------------------------------------------------------------

    def _place_decide(self, c: _Cells, by: str) -> tuple[str, str]:
        place, on, v = self._place(c), self._on(c), self.values
        combinatie = c.value("combinatie", v.combinatie, "write the receiving combinatie")
        aanbieder = (c.value("aanbieder", lambda t: v.aanbieder(t, combinatie))
                     if combinatie else None)
        note = self.note(c)
        c.check()
        if _seen(place, "TransferDecided", on, combinatie=combinatie.name, aanbieder=aanbieder):
            return self._unchanged(place)
        return self._write(c, place, lambda: self.tracker.decide_place_transfer(
            place.place, combinatie.name, by, aanbieder=aanbieder, on=on, note=note))

    def _place_keep(self, c: _Cells, by: str) -> tuple[str, str]:
        place, on, note = self._place(c), self._on(c), self.note(c)
        c.check()
        if _seen(place, "PlaceKept", on):
            return self._unchanged(place)
        return self._write(c, place, lambda: self.tracker.keep_place(place.place, by, on=on,
                                                                   note=note))

    def _place_transfer(self, c: _Cells, by: str) -> tuple[str, str]:
        place, on, note = self._place(c), self._on(c), self.note(c)
        c.check()
        if _seen(place, "PlaceTransferred", on):
            return self._unchanged(place)
        return self._write(c, place, lambda: self.tracker.transfer_place(place.place, by, on=on,
                                                                       note=note))

    def _place_occupy(self, c: _Cells, by: str) -> tuple[str, str]:
        place, on = self._place(c), self._on(c)
        ref = c.value("ref", self.values.ref, "write the reference of the client moving in")
        note = self.note(c)
        c.check()
        if _seen(place, "OccupancyChanged", on, occupied=True, ref=ref):
            return self._unchanged(place)
        return self._write(c, place, lambda: self.tracker.set_occupancy(
            place.place, True, by, ref=ref, on=on, note=note))

    def _place_vacate(self, c: _Cells, by: str) -> tuple[str, str]:
        place, on, note = self._place(c), self._on(c), self.note(c)
        c.check()
        if _seen(place, "OccupancyChanged", on, occupied=False):
            return self._unchanged(place)
        return self._write(c, place, lambda: self.tracker.set_occupancy(
            place.place, False, by, on=on, note=note))

    def _place_correct(self, c: _Cells, by: str) -> tuple[str, str]:
        place = self._place(c)
        version, reason, note = self._correction(c)
        c.check()
        if _voided(place, version, reason):
            return self._unchanged(place)
        return self._write(c, place, lambda: self.tracker.correct_place(
            place.place, version, reason, by, note=note))

    # Plain functions, not bound methods: a dict of this run's own bound methods would tie
    # it in a cycle, and with it every stream it loaded (freed only by a full collection of
    # everything, seconds after a big sheet).
    HANDLERS: ClassVar[dict[str, Callable[..., tuple[str, str]]]] = {
        "triage": _triage, "assign": _assign, "plan-handover": _plan_handover,
        "handover": _handover, "close": _close, "amend": _amend, "correct": _correct,
        "place-decide": _place_decide, "place-keep": _place_keep,
        "place-transfer": _place_transfer, "place-occupy": _place_occupy,
        "place-vacate": _place_vacate, "place-correct": _place_correct,
    }


def _voided(stream: Stream, version: int, reason: str) -> bool:
    return stream.voided.get(version) == reason


def summary_rows(report: Report) -> list[dict[str, Any]]:
    """Per group: how many rows were written and how many were unchanged."""
    return [{"group": g, "written": n["written"], "unchanged": n["unchanged"]}
            for g, n in report.groups.items()]
