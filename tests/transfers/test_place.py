"""Leefhuis places, without a database."""

from datetime import date as D

import pytest

from transfers.errors import StepNotAllowed
from transfers.place import LeefhuisPlace
from transfers.vocab import PlaceStage


def new_place(occupied=True) -> LeefhuisPlace:
    return LeefhuisPlace(place="LH-E-01", leefhuis="LH-E", occupied=occupied,
                         ref="C-9" if occupied else None, on=D(2023, 4, 1), by="anna", note=None)


def test_a_place_is_transferred_only_after_a_decision():
    p = new_place()
    with pytest.raises(StepNotAllowed, match="only after a transfer decision"):
        p.transfer(D(2023, 5, 10), "anna")
    p.decide_transfer("HOOM", None, D(2023, 5, 10), "anna")
    p.transfer(D(2023, 7, 1), "anna")
    assert p.stage is PlaceStage.TRANSFERRED


def test_the_client_stays_with_the_place_when_it_changes_provider():
    p = new_place()
    p.decide_transfer("Combinatie XONAR", "Koraal", D(2023, 5, 23), "anna")
    p.transfer(D(2023, 7, 1), "anna")
    assert p.state.occupied and p.state.ref == "C-9" and p.state.combinatie == "Combinatie XONAR"


def test_a_kept_place_can_still_be_decided_to_transfer_but_not_after_transfer():
    p = new_place(occupied=False)
    p.keep(D(2023, 5, 10), "anna")
    p.decide_transfer("HOOM", None, D(2023, 5, 23), "anna")
    assert p.stage is PlaceStage.TRANSFER_DECIDED and p.state.kept_on is None
    p.transfer(D(2023, 6, 1), "anna")
    with pytest.raises(StepNotAllowed, match="already transferred"):
        p.keep(D(2023, 6, 2), "anna")


def test_an_occupied_place_needs_a_reference():
    p = new_place(occupied=False)
    with pytest.raises(StepNotAllowed, match="needs the client's reference"):
        p.set_occupancy(True, None, D(2023, 5, 1), "anna")
    p.set_occupancy(True, "C-10", D(2023, 5, 1), "anna")
    p.set_occupancy(False, "ignored", D(2023, 6, 1), "anna")
    assert not p.state.occupied and p.state.ref is None


def test_voiding_a_decision_returns_the_place_to_registered():
    p = new_place()
    p.decide_transfer("HOOM", None, D(2023, 5, 10), "anna")
    p.correct(2, "decision was for another place", D(2023, 5, 11), "anna")
    assert p.stage is PlaceStage.REGISTERED and p.state.combinatie is None
