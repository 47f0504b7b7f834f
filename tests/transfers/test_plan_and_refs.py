"""The plan file and pseudonymous references."""

import pytest

from transfers.dates import parse_date
from transfers.errors import InvalidValue, UnknownValue
from transfers.plan import default_plan_text, parse_plan
from transfers.refs import check_ref, passes_eleven_test

PLAN = parse_plan(default_plan_text())


def test_the_built_in_plan_holds_the_domain_figures():
    assert [h.code for h in PLAN.hulpvormen] == ["MKD", "DB Xtra", "Echtscheidingenhulp"]
    assert [h.clients for h in PLAN.hulpvormen] == [105, 57, 22]
    assert len(PLAN.gemeenten) == 16
    assert PLAN.leefhuis_capacity == 58 == sum(lh.places for lh in PLAN.leefhuizen)
    assert PLAN.leefhuis_keep == 30
    assert str(PLAN.deadline) == "2023-12-31" and str(PLAN.peildatum) == "2023-04-01"


@pytest.mark.parametrize("typed, canonical", [
    ("valkenburg a/d geul", "Valkenburg aan de Geul"),
    ("VALKENBURG AAN DE GEUL", "Valkenburg aan de Geul"),
    ("sittard", "Sittard-Geleen"),
    ("  Eijsden-Margraten ", "Eijsden-Margraten"),
])
def test_gemeenten_match_case_and_accent_insensitively_and_by_alias(typed, canonical):
    assert PLAN.gemeente(typed) == canonical


def test_combinaties_match_without_accents_and_by_alias():
    assert PLAN.combinatie("zorgcooperatie limburg").name == "Zorgcoöperatie Limburg"
    assert PLAN.combinatie("KvD").name == "Kracht van Dichtbij"


def test_unknown_values_are_refused_with_the_valid_ones():
    with pytest.raises(UnknownValue, match="use one of: Maastricht, .*Beekdaelen"):
        PLAN.gemeente("Amsterdam")
    with pytest.raises(UnknownValue, match="does not receive MKD"):
        PLAN.combinatie("HOOM", PLAN.hulpvorm("MKD"))


def test_a_broken_plan_file_is_refused_naming_the_problem():
    with pytest.raises(InvalidValue, match="my.toml: not valid TOML"):
        parse_plan("[plan\n", "my.toml")
    with pytest.raises(InvalidValue, match="my.toml: missing field 'deadline'"):
        parse_plan(default_plan_text().replace("deadline = 2023-12-31", ""), "my.toml")
    with pytest.raises(InvalidValue, match="unknown combinaties"):
        parse_plan(default_plan_text().replace('"ECLG", "Kracht', '"Nobody", "Kracht'), "my.toml")


def test_another_region_can_set_its_own_deadline_per_care_type():
    text = default_plan_text().replace('code = "MKD"\n', 'code = "MKD"\ndeadline = 2024-03-31\n')
    assert str(parse_plan(text).hulpvorm("MKD").deadline) == "2024-03-31"


def test_a_reference_that_passes_the_bsn_eleven_test_is_refused():
    assert passes_eleven_test("111222333")
    with pytest.raises(InvalidValue, match="looks like a BSN"):
        check_ref("111222333")
    with pytest.raises(InvalidValue, match="looks like a BSN"):
        check_ref("111.222.333")
    assert check_ref("123456789") == "123456789"  # fails the eleven-test: not a BSN


def test_a_reference_with_spaces_is_refused_so_names_cannot_slip_in():
    with pytest.raises(InvalidValue, match="never a name"):
        check_ref("Jan Jansen")


@pytest.mark.parametrize("text, iso", [("2023-07-31", "2023-07-31"), ("31-7-2023", "2023-07-31"),
                                       ("31-07-2023", "2023-07-31"), (" 1/4/2023 ", "2023-04-01")])
def test_dates_are_read_as_excel_writes_them(text, iso):
    assert parse_date(text).isoformat() == iso
    assert parse_date("1900-01-01").year == 1900 and parse_date("31-12-2199").year == 2199


@pytest.mark.parametrize("text", ["31-02-2023", "2023/07/31x", "morgen", "", "31-12-9999",
                                  "0023-04-01", "1899-12-31", "2200-01-01"])
def test_impossible_dates_are_refused(text):
    with pytest.raises(InvalidValue):
        parse_date(text)
