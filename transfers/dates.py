"""Dates as caseworkers and Excel write them."""

from __future__ import annotations

import re
from datetime import date

from transfers.errors import InvalidValue

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
        return date(int(y), int(mo), int(d))
    except ValueError:
        raise InvalidValue(f"'{text}' is not a date in the calendar") from None
