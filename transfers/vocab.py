"""The words of the domain. Enum values are the words stored in events; labels are Dutch."""

from __future__ import annotations

import re
from enum import Enum


class Word(Enum):
    """An enum member holds the stored word (value) and its Dutch label."""

    def __new__(cls, value: str, label: str) -> Word:
        member = object.__new__(cls)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def parse(cls, text: str) -> Word:
        """Find the member by value, name or Dutch label, ignoring case, '-', '_' and spaces."""
        from transfers.errors import UnknownValue

        key = squash(text)
        for member in cls:
            if key in {squash(member.value), squash(member.name), squash(member.label)}:
                return member
        noun = re.sub(r"(?<!^)([A-Z])", r" \1", cls.__name__).lower()
        valid = ", ".join(m.value for m in cls)
        raise UnknownValue(f"unknown {noun} '{text}'; use one of: {valid}")


def squash(text: str) -> str:
    """Lower-case letters and digits only: the key for lenient matching."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


class Stage(Word):
    """Where a client path stands. Every path is in exactly one stage."""

    REGISTERED = "registered", "aangemeld"
    TRIAGED = "triaged", "getrieerd"
    ASSIGNED = "assigned", "ontvanger bekend"
    HANDED_OVER = "handed-over", "warm overgedragen"
    CLOSED = "closed", "afgesloten"
    VOID = "void", "ingetrokken"  # registration voided by a correction: counts nowhere


OPEN_STAGES = (Stage.REGISTERED, Stage.TRIAGED, Stage.ASSIGNED, Stage.HANDED_OVER)
COUNTED_STAGES = (*OPEN_STAGES, Stage.CLOSED)


class Outcome(Word):
    """The outcome of re-triage."""

    TRANSFER = "transfer", "overdracht"
    CONTINUE = "continue", "voortzetting"
    ENDS = "ends", "natuurlijk einde"
    FOLLOW_UP = "follow-up", "vervolg onderwijs/elders"


class CloseReason(Word):
    """Why a path was closed."""

    TRANSFERRED = "transferred", "overgedragen"
    CONTINUED = "continued", "voortgezet"
    ENDED = "ended", "zorg beëindigd"
    EDUCATION = "education", "onderwijs/vervolgplek"
    MOVED_AWAY = "moved-away", "verhuisd"
    OTHER = "other", "anders"


class PlaceStage(Word):
    """Where a Leefhuis place stands."""

    REGISTERED = "registered", "geregistreerd"
    KEPT = "kept", "behouden"
    TRANSFER_DECIDED = "transfer-decided", "overdracht besloten"
    TRANSFERRED = "transferred", "overgedragen"
    VOID = "void", "ingetrokken"
