from datetime import date

import pytest

from templates.dutch import datum, getal, maand, procent, verschil


def test_dates_are_written_out_in_dutch():
    assert datum(date(2023, 9, 30)) == "30 september 2023"
    assert datum(date(2023, 3, 1)) == "1 maart 2023"
    assert maand(date(2023, 12, 31)) == "december 2023"


@pytest.mark.parametrize("value, decimals, text", [
    (105, 0, "105"), (1234, 0, "1.234"), (1234567.891, 2, "1.234.567,89"), (0.5, 1, "0,5"),
])
def test_numbers_use_dutch_separators(value, decimals, text):
    assert getal(value, decimals) == text


def test_percentages_and_changes():
    assert procent(67.619) == "67,6%"
    assert procent(None) == "–"
    assert [verschil(v) for v in (3, -2, 0)] == ["+3", "−2", "0"]
