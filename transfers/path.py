"""A client's path through the phase-out: one stream per client per care type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from transfers.stream import Step, StepKind, Stream, evolve
from transfers.vocab import OPEN_STAGES, CloseReason, Outcome, Stage

NAMESPACE = uuid5(NAMESPACE_URL, "https://zorgoverdracht.invalid/zov")


@lru_cache(maxsize=1 << 18)  # a bulk apply asks for each path's id a few times per row
def path_id(ref: str, hulpvorm: str) -> UUID:
    """The stream id of a client's path for one care type (stable, so a ref finds its paths)."""
    return uuid5(NAMESPACE, f"path:{hulpvorm.casefold()}:{ref.casefold()}")


@dataclass(frozen=True)
class PathState:
    """Everything a path's history adds up to."""

    stage: Stage
    gemeente: str = ""
    arrangements: tuple[str, ...] = ()
    arrangement_end: date | None = None
    cohort: str | None = None
    registered_on: date | None = None
    outcome: Outcome | None = None
    triaged_on: date | None = None
    combinatie: str | None = None
    aanbieder: str | None = None
    assigned_on: date | None = None
    planned: date | None = None
    handover_on: date | None = None
    reason: CloseReason | None = None
    closed_on: date | None = None

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES


# -- the state machine: per step kind, why it is refused and what it changes ----------------


def _while_open(rule: Callable[[PathState, Step], str | None]):
    """Nothing can be logged on a closed path: check that before the step's own rule."""

    def refusal(s: PathState, step: Step) -> str | None:
        return rule(s, step) if s.is_open else f"the path is already {s.stage.value}"

    return refusal


def _triage_refusal(s: PathState, step: Step) -> str | None:
    if s.stage not in (Stage.REGISTERED, Stage.TRIAGED):
        return f"triage is only possible before a receiving party is assigned (now: {s.stage.value})"
    return None


def _assign_refusal(s: PathState, step: Step) -> str | None:
    if s.stage not in (Stage.TRIAGED, Stage.ASSIGNED):
        return f"assigning a receiving party needs a triage first (now: {s.stage.value})"
    if s.outcome is not Outcome.TRANSFER:
        return (f"the triage outcome is '{s.outcome.value}', so there is no receiving party "
                "to assign; triage again with outcome 'transfer' first")
    return None


def _schedule_refusal(s: PathState, step: Step) -> str | None:
    if s.stage is not Stage.ASSIGNED:
        return f"a handover can only be planned once a receiving party is assigned (now: {s.stage.value})"
    return None


def _handover_refusal(s: PathState, step: Step) -> str | None:
    if s.stage is not Stage.ASSIGNED:
        return f"warm handover needs a receiving party first (now: {s.stage.value})"
    return None


def _close_refusal(s: PathState, step: Step) -> str | None:
    """Which close reasons fit which state; ended, moved-away and other fit any open path."""
    reason = step.details["reason"]
    if reason is CloseReason.TRANSFERRED and s.stage is not Stage.HANDED_OVER:
        return f"closing as transferred needs the warm handover first (now: {s.stage.value})"
    if reason is CloseReason.CONTINUED and s.outcome is not Outcome.CONTINUE:
        return "closing as continued needs the triage outcome 'continue'"
    if reason is CloseReason.EDUCATION and s.outcome is not Outcome.FOLLOW_UP:
        return "closing as education needs the triage outcome 'follow-up'"
    return None


def _triaged(s: PathState, step: Step) -> PathState:
    return evolve(s, stage=Stage.TRIAGED, outcome=step.details["outcome"], triaged_on=step.on)


def _assigned(s: PathState, step: Step) -> PathState:
    d = step.details
    return evolve(s, stage=Stage.ASSIGNED, combinatie=d["combinatie"],
                   aanbieder=d["aanbieder"], planned=d["planned"], assigned_on=step.on)


def _scheduled(s: PathState, step: Step) -> PathState:
    return evolve(s, planned=step.details["planned"])


def _handed_over(s: PathState, step: Step) -> PathState:
    return evolve(s, stage=Stage.HANDED_OVER, handover_on=step.on)


def _closed(s: PathState, step: Step) -> PathState:
    return evolve(s, stage=Stage.CLOSED, reason=step.details["reason"], closed_on=step.on)


def _amended(s: PathState, step: Step) -> PathState:
    changes = {k: v for k, v in step.details.items() if v is not None}
    if "arrangements" in changes:
        changes["arrangements"] = tuple(changes["arrangements"])
    return evolve(s, **changes)


PATH_STEPS: dict[str, StepKind[PathState]] = {
    "Triaged": StepKind(_while_open(_triage_refusal), _triaged),
    "ReceiverAssigned": StepKind(_while_open(_assign_refusal), _assigned),
    "HandoverPlanned": StepKind(_while_open(_schedule_refusal), _scheduled),
    "HandoverDone": StepKind(_while_open(_handover_refusal), _handed_over),
    "Closed": StepKind(_while_open(_close_refusal), _closed),
    # Amending registration details corrects them for all time, so it is not dated.
    "RegistrationAmended": StepKind(lambda s, step: None, _amended, dated=False),
}


class ClientPath(Stream):
    """One client's path for one care type: registered → triaged → assigned → handed over → closed."""

    TOPIC = "zov:ClientPath.v1"
    KINDS = PATH_STEPS

    class Created(Stream.Created):
        TOPIC = "zov:ClientPath.Created.v1"  # unused: paths are created by Registered

    @staticmethod
    def create_id(ref: str, hulpvorm: str, **_: object) -> UUID:
        return path_id(ref, hulpvorm)

    @event("Registered", topic="zov:ClientPath.Registered.v1")
    def __init__(self, ref: str, hulpvorm: str, gemeente: str, arrangements: list[str],
                 arrangement_end: date | None, cohort: str | None, on: date, by: str,
                 note: str | None) -> None:
        self.ref, self.hulpvorm = ref, hulpvorm
        self._start(on, by, note, gemeente=gemeente, arrangements=arrangements,
                    arrangement_end=arrangement_end, cohort=cohort)

    @property
    def key(self) -> str:
        return f"{self.ref} ({self.hulpvorm})"

    @property
    def stage(self) -> Stage:
        return self.state.stage

    def initial_state(self, registered: Step) -> PathState:
        d = registered.details
        return PathState(stage=Stage.REGISTERED, gemeente=d["gemeente"],
                         arrangements=tuple(d["arrangements"]),
                         arrangement_end=d["arrangement_end"], cohort=d["cohort"],
                         registered_on=registered.on)

    def void_state(self) -> PathState:
        return PathState(stage=Stage.VOID)

    # -- events: bodies only record; the public commands below check first ---------------

    @event("Triaged", topic="zov:ClientPath.Triaged.v1")
    def _triaged(self, outcome: Outcome, on: date, by: str, note: str | None) -> None:
        self._record("Triaged", on, by, note, outcome=outcome)

    @event("ReceiverAssigned", topic="zov:ClientPath.ReceiverAssigned.v1")
    def _assigned(self, combinatie: str, aanbieder: str | None, planned: date | None,
                  on: date, by: str, note: str | None) -> None:
        self._record("ReceiverAssigned", on, by, note, combinatie=combinatie,
                     aanbieder=aanbieder, planned=planned)

    @event("HandoverPlanned", topic="zov:ClientPath.HandoverPlanned.v1")
    def _scheduled(self, planned: date, on: date, by: str, note: str | None) -> None:
        self._record("HandoverPlanned", on, by, note, planned=planned)

    @event("HandoverDone", topic="zov:ClientPath.HandoverDone.v1")
    def _handed_over(self, on: date, by: str, note: str | None) -> None:
        self._record("HandoverDone", on, by, note)

    @event("Closed", topic="zov:ClientPath.Closed.v1")
    def _closed(self, reason: CloseReason, on: date, by: str, note: str | None) -> None:
        self._record("Closed", on, by, note, reason=reason)

    @event("RegistrationAmended", topic="zov:ClientPath.RegistrationAmended.v1")
    def _amended(self, gemeente: str | None, arrangements: list[str] | None,
                 arrangement_end: date | None, cohort: str | None, on: date, by: str,
                 note: str | None) -> None:
        self._record("RegistrationAmended", on, by, note, gemeente=gemeente,
                     arrangements=arrangements, arrangement_end=arrangement_end, cohort=cohort)

    @event("Forgotten", topic="zov:ClientPath.Forgotten.v1")
    def _forgotten(self, reason: str, on: date, by: str) -> None:
        self._mark_forgotten(reason, on, by)

    @event("Corrected", topic="zov:ClientPath.Corrected.v1")
    def _corrected(self, voids: int, reason: str, on: date, by: str, note: str | None) -> None:
        self._void(voids, reason, on, by, note)

    # -- commands ------------------------------------------------------------------------

    def triage(self, outcome: Outcome, on: date, by: str, note: str | None = None) -> None:
        """Record the outcome of re-triage."""
        self.check("Triaged", on, outcome=outcome)
        self._triaged(outcome, on, by, note)

    def assign(self, combinatie: str, aanbieder: str | None, planned: date | None, on: date,
               by: str, note: str | None = None) -> None:
        """Assign (or change) the receiving combinatie, optionally a provider and a date."""
        self.check("ReceiverAssigned", on, combinatie=combinatie)
        self._assigned(combinatie, aanbieder, planned, on, by, note)

    def plan_handover(self, planned: date, on: date, by: str, note: str | None = None) -> None:
        """Record (or move) the planned date of the warm handover."""
        self.check("HandoverPlanned", on, planned=planned)
        self._scheduled(planned, on, by, note)

    def hand_over(self, on: date, by: str, note: str | None = None) -> None:
        """Record that the warm handover took place."""
        self.check("HandoverDone", on)
        self._handed_over(on, by, note)

    def close(self, reason: CloseReason, on: date, by: str, note: str | None = None) -> None:
        """Close the path with a reason."""
        self.check("Closed", on, reason=reason)
        self._closed(reason, on, by, note)

    def amend(self, on: date, by: str, note: str | None = None, *, gemeente: str | None = None,
              arrangements: list[str] | None = None, arrangement_end: date | None = None,
              cohort: str | None = None) -> None:
        """Correct registration details (for all time; the original stays in the history)."""
        self.check("RegistrationAmended", on)
        self._amended(gemeente, arrangements, arrangement_end, cohort, on, by, note)

    def correct(self, version: int, reason: str, on: date, by: str,
                note: str | None = None) -> None:
        """Void an earlier event; the remaining history must still be a valid path."""
        self.check_correction(version)
        self._corrected(version, reason, on, by, note)

    # Fields of the registration that name the path rather than describe it (read models).
    IDENTITY = ("ref", "hulpvorm")
