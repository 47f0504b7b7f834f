"""A Leefhuis place: kept by the provider, or decided to transfer and then transferred.

An occupied place carries its client: when the place changes provider, the client stays in
the same house, so the client's reference rides on the place, not the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid5

from eventsourcing.domain import event

from transfers.path import NAMESPACE
from transfers.stream import Step, StepKind, Stream, evolve
from transfers.vocab import PlaceStage


def place_id(place: str) -> UUID:
    """The stream id of a Leefhuis place."""
    return uuid5(NAMESPACE, f"place:{place.casefold()}")


@dataclass(frozen=True)
class PlaceState:
    stage: PlaceStage
    leefhuis: str = ""
    occupied: bool = False
    ref: str | None = None
    combinatie: str | None = None
    aanbieder: str | None = None
    decided_on: date | None = None
    transferred_on: date | None = None
    kept_on: date | None = None


def _decide_refusal(s: PlaceState, step: Step) -> str | None:
    if s.stage is PlaceStage.TRANSFERRED:
        return "the place is already transferred"
    return None


def _keep_refusal(s: PlaceState, step: Step) -> str | None:
    if s.stage in (PlaceStage.TRANSFERRED, PlaceStage.KEPT):
        return f"the place is already {s.stage.value}"
    return None


def _transfer_refusal(s: PlaceState, step: Step) -> str | None:
    if s.stage is not PlaceStage.TRANSFER_DECIDED:
        return f"a place is transferred only after a transfer decision (now: {s.stage.value})"
    return None


def _occupancy_refusal(s: PlaceState, step: Step) -> str | None:
    if s.stage is PlaceStage.TRANSFERRED:
        return "the place is transferred; its occupancy is the receiving provider's to log"
    if step.details["occupied"] and not step.details["ref"]:
        return "an occupied place needs the client's reference (--ref)"
    return None


def _decided(s: PlaceState, step: Step) -> PlaceState:
    return evolve(s, stage=PlaceStage.TRANSFER_DECIDED, combinatie=step.details["combinatie"],
                   aanbieder=step.details["aanbieder"], decided_on=step.on, kept_on=None)


def _kept(s: PlaceState, step: Step) -> PlaceState:
    return evolve(s, stage=PlaceStage.KEPT, kept_on=step.on, combinatie=None, aanbieder=None,
                   decided_on=None)


def _transferred(s: PlaceState, step: Step) -> PlaceState:
    return evolve(s, stage=PlaceStage.TRANSFERRED, transferred_on=step.on)


def _occupancy(s: PlaceState, step: Step) -> PlaceState:
    return evolve(s, occupied=step.details["occupied"], ref=step.details["ref"])


PLACE_STEPS: dict[str, StepKind[PlaceState]] = {
    "TransferDecided": StepKind(_decide_refusal, _decided),
    "PlaceKept": StepKind(_keep_refusal, _kept),
    "PlaceTransferred": StepKind(_transfer_refusal, _transferred),
    "OccupancyChanged": StepKind(_occupancy_refusal, _occupancy),
}


class LeefhuisPlace(Stream):
    """One place in a Leefhuis, from registration to kept or transferred."""

    TOPIC = "zov:LeefhuisPlace.v1"
    KINDS = PLACE_STEPS
    ENDS_WHEN_FORGOTTEN = False  # the place goes on when a client who lived there is forgotten
    NEW_KEY_ON = frozenset({"OccupancyChanged"})  # each occupant's references: a key of their own

    class Created(Stream.Created):
        TOPIC = "zov:LeefhuisPlace.Created.v1"  # unused: places are created by Registered

    @staticmethod
    def create_id(place: str, **_: object) -> UUID:
        return place_id(place)

    @event("Registered", topic="zov:LeefhuisPlace.Registered.v1")
    def __init__(self, place: str, leefhuis: str, occupied: bool, ref: str | None, on: date,
                 by: str, note: str | None) -> None:
        self.place = place
        self._start(on, by, note, leefhuis=leefhuis, occupied=occupied, ref=ref)

    @property
    def key(self) -> str:
        return f"place {self.place}"

    @property
    def stage(self) -> PlaceStage:
        return self.state.stage

    def initial_state(self, registered: Step) -> PlaceState:
        d = registered.details
        return PlaceState(stage=PlaceStage.REGISTERED, leefhuis=d["leefhuis"],
                          occupied=d["occupied"], ref=d["ref"])

    def void_state(self) -> PlaceState:
        return PlaceState(stage=PlaceStage.VOID)

    @event("TransferDecided", topic="zov:LeefhuisPlace.TransferDecided.v1")
    def _decided(self, combinatie: str, aanbieder: str | None, on: date, by: str,
                 note: str | None) -> None:
        self._record("TransferDecided", on, by, note, combinatie=combinatie, aanbieder=aanbieder)

    @event("PlaceKept", topic="zov:LeefhuisPlace.PlaceKept.v1")
    def _kept(self, on: date, by: str, note: str | None) -> None:
        self._record("PlaceKept", on, by, note)

    @event("PlaceTransferred", topic="zov:LeefhuisPlace.PlaceTransferred.v1")
    def _transferred(self, on: date, by: str, note: str | None) -> None:
        self._record("PlaceTransferred", on, by, note)

    @event("OccupancyChanged", topic="zov:LeefhuisPlace.OccupancyChanged.v1")
    def _occupancy(self, occupied: bool, ref: str | None, on: date, by: str,
                   note: str | None) -> None:
        self._record("OccupancyChanged", on, by, note, occupied=occupied, ref=ref)

    @event("Forgotten", topic="zov:LeefhuisPlace.Forgotten.v1")
    def _forgotten(self, reason: str, on: date, by: str) -> None:
        self._mark_forgotten(reason, on, by)

    @event("Corrected", topic="zov:LeefhuisPlace.Corrected.v1")
    def _corrected(self, voids: int, reason: str, on: date, by: str, note: str | None) -> None:
        self._void(voids, reason, on, by, note)

    def decide_transfer(self, combinatie: str, aanbieder: str | None, on: date, by: str,
                        note: str | None = None) -> None:
        """Record the decision to transfer this place to a receiving party (or change it)."""
        self.check("TransferDecided", on)
        self._decided(combinatie, aanbieder, on, by, note)

    def keep(self, on: date, by: str, note: str | None = None) -> None:
        """Record that the provider keeps this place."""
        self.check("PlaceKept", on)
        self._kept(on, by, note)

    def transfer(self, on: date, by: str, note: str | None = None) -> None:
        """Record that the place went over to the receiving party (its client stays put)."""
        self.check("PlaceTransferred", on)
        self._transferred(on, by, note)

    def set_occupancy(self, occupied: bool, ref: str | None, on: date, by: str,
                      note: str | None = None) -> None:
        """Record that the place became occupied (by `ref`) or empty."""
        self.check("OccupancyChanged", on, occupied=occupied, ref=ref)
        self._occupancy(occupied, ref if occupied else None, on, by, note)

    def correct(self, version: int, reason: str, on: date, by: str,
                note: str | None = None) -> None:
        """Void an earlier event; the remaining history must still be valid."""
        self.check_correction(version)
        self._corrected(version, reason, on, by, note)

    # Fields of the registration that name the place rather than describe it (read models).
    IDENTITY = ("place",)
