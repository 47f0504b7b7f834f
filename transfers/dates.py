"""Dates as caseworkers and Excel write them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone

from transfers.errors import InvalidValue

# Dates outside these years are typing errors (a planned handover in 9999, a registration in
# 0023), not care-transfer facts; refused, they cannot stretch every read from 2023 to 9999.
FIRST_YEAR, LAST_YEAR = 1900, 2199

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DUTCH = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")


def parse_date(text: str) -> date:
    """Parse `2023-07-31`, `31-7-2023`, `31-07-2023` (also with / or .) into a date."""
    cleaned = text.strip()
    if m := _ISO.match(cleaned):
        y, mo, d = m.groups()
    elif m := _DUTCH.match(cleaned):
        d, mo, y = m.groups()
    else:
        raise InvalidValue(f"'{text}' is not a date; write it as 2023-07-31 or 31-7-2023")
    try:
        day = date(int(y), int(mo), int(d))
    except ValueError:
        raise InvalidValue(f"'{text}' is not a date in the calendar") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidValue(f"'{text}' is not a year zov takes ({FIRST_YEAR}-{LAST_YEAR}); "
                           "check the year")
    return day


_CLOCK = re.compile(r"^(?P<day>[^\sT]+)[\sT]+(?P<clock>\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?)"
                    r"\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)


def parse_moment(text: str) -> datetime:
    """A recording time as people write it, timezone-aware.

    `2023-10-02` or `2-10-2023` (a date: the end of that day), `2023-10-02 17:30`,
    `2023-10-02T17:30:05`, optionally with an offset (`+02:00`, `Z`); without an offset
    the time is UTC.
    """
    cleaned = " ".join(text.split())
    match = _CLOCK.match(cleaned)
    if match is None:
        try:
            day = parse_date(cleaned)
        except InvalidValue:
            raise InvalidValue(f"'{text}' is not a timestamp; write 2023-10-02, "
                               "'2023-10-02 17:30' or 2023-10-02T17:30+02:00") from None
        return datetime.combine(day, time.max, tzinfo=UTC)
    day = parse_date(match["day"])
    try:
        clock = time.fromisoformat(match["clock"].zfill(5) if len(match["clock"]) == 4
                                   else match["clock"])
    except ValueError:
        raise InvalidValue(f"'{text}' has no valid time of day") from None
    zone = UTC
    if match["zone"] and match["zone"].upper() != "Z":
        sign = -1 if match["zone"][0] == "-" else 1
        digits = match["zone"][1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return datetime.combine(day, clock, tzinfo=zone)
