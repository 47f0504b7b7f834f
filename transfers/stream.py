"""What client paths and Leefhuis places share: dated steps, and corrections that void them.

A stream's state is a fold of its steps, minus the voided ones. Each step kind has a rule
(why it would be refused in a given state) and an effect (the new state). Recording checks
the rule; replaying the stored history only applies effects, so history recorded under older
rules always loads.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from eventsourcing.domain import Aggregate

from transfers.errors import StepNotAllowed

S = TypeVar("S")


def evolve(state: S, **changes: Any) -> S:
    """A copy of a frozen state dataclass with `changes`: `dataclasses.replace` without
    calling __init__ again, a fifth of its cost (states are made by every folded event, and
    a rebuild folds the whole log). The states have no __post_init__ to skip."""
    fields = state.__dataclass_fields__.keys()
    if not changes.keys() <= fields:  # (a quarter of the cost of the difference)
        raise TypeError(f"{type(state).__name__} has no fields "
                        f"{sorted(changes.keys() - fields)}")
    new = object.__new__(type(state))
    new.__dict__.update(state.__dict__, **changes)
    return new


class Step(NamedTuple):
    """One recorded fact: its version in the stream, kind, effective date and details.

    A named tuple: made for every event a rebuild folds, three times as fast as a frozen
    dataclass."""

    version: int
    kind: str
    on: date
    by: str
    note: str | None
    details: Mapping[str, Any]


@dataclass(frozen=True)
class StepKind(Generic[S]):
    """How one kind of step is checked and what it changes."""

    refusal: Callable[[S, Step], str | None]
    effect: Callable[[S, Step], S]
    dated: bool = True  # takes part in the "not before the previous event" rule


class Stream(Aggregate):
    """Base of ClientPath and LeefhuisPlace: steps, folding, the date rule, corrections."""

    KINDS: ClassVar[Mapping[str, StepKind[Any]]] = {}
    REGISTERED: ClassVar[str] = "Registered"
    CORRECTED: ClassVar[str] = "Corrected"
    FORGOTTEN: ClassVar[str] = "Forgotten"  # personal data erased (zov forget); counts stay
    ENDS_WHEN_FORGOTTEN: ClassVar[bool] = True  # nothing can be logged after forgetting
    # Steps after which the stream's personal fields are sealed under a new generation of
    # its key, so that forgetting one person erases only what was recorded with them.
    NEW_KEY_ON: ClassVar[frozenset[str]] = frozenset()

    class Event(Aggregate.Event):
        pass

    # -- naming --------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """How the caseworker names this stream in messages."""
        raise NotImplementedError

    def initial_state(self, registered: Step) -> Any:
        raise NotImplementedError

    # -- state ---------------------------------------------------------------------------
    def _start(self, on: date, by: str, note: str | None, **details: Any) -> None:
        self.steps, self.voided = [], {}
        # Kept up as steps are appended, so checking a step does not go through them all:
        # the effective date of the latest dated live step, and the latest Forgotten step.
        self._last_on, self._forgotten_by = on, None
        self._append(self.REGISTERED, on, by, note, details)
        self.state = self.initial_state(self.steps[0])

    def _append(self, kind: str, on: date, by: str, note: str | None,
                details: Mapping[str, Any]) -> Step:
        step = Step(len(self.steps) + 1, kind, on, by, note, details)
        self.steps.append(step)
        return step

    def _record(self, kind: str, on: date, by: str, note: str | None, **details: Any) -> None:
        """Body of every non-creating @event method: append the step and fold it in."""
        step = self._append(kind, on, by, note, details)
        rule = self.KINDS[kind]
        self.state = rule.effect(self.state, step)
        if rule.dated and on > self._last_on:
            self._last_on = on

    def _void(self, version: int, reason: str, on: date, by: str, note: str | None) -> None:
        """Body of the Corrected @event method: mark the step void and refold."""
        self._append(self.CORRECTED, on, by, note, {"voids": version, "reason": reason})
        self.voided[version] = reason
        live = self.live_steps()
        self.state = self._fold(live, strict=False)
        self._last_on = max((s.on for s in live if s.kind == self.REGISTERED
                             or self.KINDS[s.kind].dated), default=self.steps[0].on)

    def _mark_forgotten(self, reason: str, on: date, by: str) -> None:
        """Body of the Forgotten @event method: a step that changes no state."""
        self._forgotten_by = self._append(self.FORGOTTEN, on, by, None, {"reason": reason})

    def live_steps(self) -> list[Step]:
        """The steps that count: not corrections or forgettings, not voided."""
        return [s for s in self.steps if s.kind not in _BOOKKEEPING and s.version not in self.voided]

    @property
    def forgotten(self) -> Step | None:
        """The latest Forgotten step, if the stream's personal data was erased."""
        return self._forgotten_by

    def _fold(self, steps: list[Step], strict: bool) -> Any:
        if not steps or steps[0].kind != self.REGISTERED:
            return self.void_state()
        state = self.initial_state(steps[0])
        last_on = steps[0].on
        for step in steps[1:]:
            kind = self.KINDS[step.kind]
            if strict:
                why = self._date_refusal(step.on, last_on) if kind.dated else None
                why = why or kind.refusal(state, step)
                if why:
                    raise StepNotAllowed(why)
            state = kind.effect(state, step)
            if kind.dated:
                last_on = step.on
        return state

    def void_state(self) -> Any:
        raise NotImplementedError

    @property
    def last_on(self) -> date:
        """Effective date of the latest dated step that still counts."""
        return self._last_on

    def _date_refusal(self, on: date, last_on: date) -> str | None:
        if on < last_on:
            return (f"date {on.isoformat()} is before the previous event "
                    f"({last_on.isoformat()}); log events in the order they happened, "
                    "or correct the earlier event")
        return None

    # -- commands ------------------------------------------------------------------------
    def check(self, kind: str, on: date, **details: Any) -> None:
        """Refuse the step if the rules of this stream do not allow it now."""
        if self.is_void:
            raise StepNotAllowed(f"{self.key}: the registration was voided; nothing more "
                                 "can be logged on it")
        self._check_not_forgotten()
        rule = self.KINDS[kind]
        probe = Step(len(self.steps) + 1, kind, on, "", None, details)
        why = (self._date_refusal(on, self.last_on) if rule.dated else None) or rule.refusal(
            self.state, probe)
        if why:
            raise StepNotAllowed(f"{self.key}: {why}")

    def _check_not_forgotten(self) -> None:
        if self.ENDS_WHEN_FORGOTTEN and self.forgotten:
            raise StepNotAllowed(f"{self.key}: the client's data was erased (zov forget); "
                                 "nothing more can be logged on it")

    @property
    def is_void(self) -> bool:
        return 1 in self.voided

    def forget(self, reason: str, on: date, by: str) -> None:
        """Record that the personal data of this stream's events was erased (zov forget)."""
        self._forgotten(reason, on, by)

    def check_correction(self, version: int) -> None:
        """Refuse voiding `version` unless the remaining history is still a valid path."""
        self._check_not_forgotten()
        if not 1 <= version <= len(self.steps):
            raise StepNotAllowed(f"{self.key} has no event {version}; its events are "
                                 f"1-{len(self.steps)} (see `zov show`)")
        step = self.steps[version - 1]
        if step.kind == self.CORRECTED:
            raise StepNotAllowed(f"{self.key}: event {version} is a correction; corrections "
                                 "cannot be voided, log the step again instead")
        if step.kind == self.FORGOTTEN:
            raise StepNotAllowed(f"{self.key}: event {version} erased personal data; that "
                                 "cannot be undone")
        if version in self.voided:
            raise StepNotAllowed(f"{self.key}: event {version} is already voided")
        if version == 1:
            return  # voiding the registration voids the whole stream
        remaining = [s for s in self.live_steps() if s.version != version]
        try:
            self._fold(remaining, strict=True)
        except StepNotAllowed as exc:
            later = [s.version for s in remaining if s.version > version]
            raise StepNotAllowed(
                f"{self.key}: cannot void event {version} ({step.kind}) while later events "
                f"depend on it ({exc}); void the later events first: "
                f"{', '.join(map(str, reversed(later)))}"
            ) from None

    # -- read-model helpers: pure, read-only --------------------------------------------
    # Read models fold stored events without building aggregates; these helpers keep
    # the meaning of a step in one place, the domain.

    IDENTITY: ClassVar[tuple[str, ...]] = ()  # fields of the registration naming the stream

    @classmethod
    def step_of(cls, version: int, kind: str, fields: Mapping[str, Any]) -> Step:
        """The step an event of this stream appends, from the event's recorded fields.

        Mirrors the @event bodies: every field except the effective date, who and note,
        the stream's identity (on the registration) and the library's own bookkeeping
        is a detail of the step.
        """
        skip = _NOT_DETAILS.union(cls.IDENTITY) if kind == cls.REGISTERED else _NOT_DETAILS
        details = {k: v for k, v in fields.items() if k not in skip}
        return Step(version, kind, fields["on"], fields["by"], fields.get("note"), details)

    @classmethod
    def effective_states(cls, steps: Sequence[Step],
                         voided: Container[int]) -> list[tuple[Step, Any]]:
        """The state in effect from each dated live step on, oldest first; empty if void.

        Undated steps (amendments of the registration) hold for all time, so they are
        folded in before the dated ones. Effective dates are non-decreasing. The last
        state equals the aggregate's state.
        """
        live = [s for s in steps if s.kind not in _BOOKKEEPING and s.version not in voided]
        if not live or live[0].kind != cls.REGISTERED:
            return []
        state = cls.initial_state(object.__new__(cls), live[0])
        for step in live[1:]:
            if not cls.KINDS[step.kind].dated:
                state = cls.KINDS[step.kind].effect(state, step)
        timeline = [(live[0], state)]
        for step in live[1:]:
            kind = cls.KINDS[step.kind]
            if kind.dated:
                state = kind.effect(state, step)
                timeline.append((step, state))
        return timeline

    def state_timeline(self) -> list[tuple[Step, Any]]:
        """This stream's effective-dated states (see `effective_states`)."""
        return self.effective_states(self.steps, self.voided)


# Event fields that are not details of a step: bookkeeping of the eventsourcing library and
# the parts every step has anyway.
_BOOKKEEPING = frozenset({Stream.CORRECTED, Stream.FORGOTTEN})  # steps that are not facts
_NOT_DETAILS = frozenset({"timestamp", "originator_topic", "originator_id", "originator_version",
                          "on", "by", "note"})
