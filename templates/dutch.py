"""Dutch formats for the memo: dates, numbers, percentages. Registered as Jinja filters."""

from __future__ import annotations

from datetime import date

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")


def datum(value: date) -> str:
    """30 september 2023."""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def maand(value: date) -> str:
    """september 2023."""
    return f"{MONTHS[value.month - 1]} {value.year}"


def getal(value: float | int, decimals: int = 0) -> str:
    """1.234 or 1.234,5: a point between thousands, a comma before decimals."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def procent(value: float | None, decimals: int = 1) -> str:
    """67,6% (value is a percentage, 0-100); a dash when there is nothing to divide."""
    return "–" if value is None else f"{getal(value, decimals)}%"


def verschil(value: int) -> str:
    """+3, −2 or 0: a change since last month, with a real minus sign."""
    if value > 0:
        return f"+{getal(value)}"
    if value < 0:
        return f"−{getal(-value)}"
    return "0"


FILTERS = {"datum": datum, "maand": maand, "getal": getal, "procent": procent,
           "verschil": verschil}
