"""The 1 April 2023 cohort of DOMAIN.md, counted by the read models on both stores."""

from __future__ import annotations

from datetime import date

import pytest
from cohort import EXPECTED, HLV, PEILDATUM, THE_13, load_cohort

from projections import ReadModels, queries
from transfers.vocab import Outcome


@pytest.fixture
def year(tracker):
    return load_cohort(tracker)


@pytest.fixture
def rm(tracker, year):
    with ReadModels(tracker) as rm:
        yield rm


def test_the_cohort_counts_105_mkd_57_db_xtra_and_22_echtscheidingenhulp(rm):
    result = queries.counts(rm, PEILDATUM)
    assert {r.hulpvorm: (r.registered, r.total) for r in result.rows} == {
        h: (n, n) for h, n in EXPECTED.items()}
    assert (result.total.registered, result.total.open, result.total.closed) == (184, 184, 0)
    assert queries.counts(rm, date(2023, 3, 31)).total.total == 0


def test_mkd_is_jens_24_zorgklas_18_and_overig_63_from_the_right_municipalities(rm):
    by_cohort = {(r.hulpvorm, r.group): r.total
                 for r in queries.counts(rm, PEILDATUM, by="cohort").rows}
    assert {k: v for k, v in by_cohort.items() if k[0] == "MKD"} == {
        ("MKD", "JENS"): 24, ("MKD", "Zorgklas"): 18, ("MKD", "Overig"): 63}
    jens = queries.paths(rm, PEILDATUM, hulpvorm="MKD")
    assert {p.gemeente for p in jens if p.cohort == "JENS"} == set(HLV)
    assert {p.gemeente for p in jens if p.cohort != "JENS"} == set(THE_13)
    by_gemeente = queries.counts(rm, PEILDATUM, by="gemeente")
    assert sum(r.total for r in by_gemeente.rows if r.hulpvorm == "MKD"
               and r.group in HLV) == 24
    by_subregio = {(r.hulpvorm, r.group): r.total
                   for r in queries.counts(rm, PEILDATUM, by="subregio").rows}
    assert sum(v for (h, _), v in by_subregio.items() if h == "MKD") == 105
    assert sum(v for (_, g), v in by_subregio.items()) == 184


def test_db_xtra_and_echtscheidingenhulp_have_their_arrangements(rm):
    def holding(hulpvorm, arrangement):
        return sum(arrangement in p.arrangements
                   for p in queries.paths(rm, PEILDATUM, hulpvorm=hulpvorm))

    assert (holding("DB Xtra", "Begeleiding Individueel"),
            holding("DB Xtra", "Behandeling Groep")) == (40, 35)
    assert (holding("Echtscheidingenhulp", "BOR 2-3/vrijwillig/Rechtbank"),
            holding("Echtscheidingenhulp", "Begeleiding Individueel")) == (15, 9)


def test_58_places_44_occupied_against_a_capacity_of_58_to_keep_30(rm, tracker, year):
    result = queries.places(rm, PEILDATUM)
    t = result.total
    assert (result.capacity, result.keep) == (58, 30)
    assert (t.places, t.occupied, t.empty, t.undecided) == (58, 44, 14, 58)
    assert {h.leefhuis: h.places for h in result.houses} == {
        lh.name: lh.places for lh in tracker.plan.leefhuizen}
    # 10 May 2023: eight empty places go to HOOM, without client impact
    empty = [p["place"] for p in year.places if p["leefhuis"] == "LH-E"]
    assert len(empty) == 8 and not any(p["ref"] for p in year.places if p["place"] in empty)
    with tracker.batch():
        for place in empty:
            tracker.decide_place_transfer(place, "HOOM", "lead", on=date(2023, 5, 10))
    rm.catch_up()
    before, after = queries.places(rm, date(2023, 5, 9)), queries.places(rm, date(2023, 5, 10))
    assert before.total.transfer_decided == 0
    assert (after.total.transfer_decided, after.total.undecided) == (8, 50)
    hoom = [r for r in after.rows if r.receiver == "HOOM"]
    assert sum(r.transfer_decided for r in hoom) == 8 and sum(r.occupied for r in hoom) == 0


def test_the_cohort_moves_through_the_stages_as_logged(rm, tracker, year):
    jens = [c["ref"] for c in year.clients if c["cohort"] == "JENS"]
    assert len(jens) == 24
    with tracker.batch():
        for ref in jens:
            tracker.triage(ref, Outcome.TRANSFER, "t", on=date(2023, 5, 15), hulpvorm="MKD")
            tracker.assign(ref, "JENS", "t", on=date(2023, 6, 1), hulpvorm="MKD")
    rm.catch_up()
    mkd = queries.counts(rm, date(2023, 6, 30)).rows[0]
    assert (mkd.registered, mkd.assigned, mkd.total) == (81, 24, 105)
    by = {r.group: r.total for r in queries.counts(rm, date(2023, 6, 30), by="combinatie").rows
          if r.hulpvorm == "MKD"}
    assert by == {"JENS": 24, None: 81}
    compliance = queries.compliance(rm, date(2023, 11, 15))
    assert compliance.total.in_scope == 184
    assert compliance.total.at_risk == 184 - 24  # no receiving party 8 weeks before the end
