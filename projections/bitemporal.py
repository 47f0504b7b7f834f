"""The read-model tables: effective-dated, bitemporal intervals of every path and place.

Each row says: "from `valid_from` until `valid_to` (exclusive) the stream was in this state",
and that this was what the log said from recording time `known_from` until `known_to`
(microseconds since 1970 UTC, exclusive). A plain new step only ends the open interval
before it: rather than copying that row, its `valid_to` is filled in and `end_known` says
from when that end was known (before then the interval was open-ended). So

    as of date D, as known at time T  <=>  known_from <= T < known_to
                                           and valid_from <= D
                                           and (D < valid_to or T < end_known)

and with everything known (T = now) simply `known_to = NEVER and valid_from <= D < valid_to`.
A voided event counts nowhere: the correction closes the rows it invalidates and writes the
ones that hold without it. The tables are derived from the log alone; `zov projections
rebuild` drops and refills them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

# Bump when the shape or meaning of the rows changes: stores with another version are
# rebuilt automatically on their next catch-up.
PROJECTION_VERSION = 6  # 3: longer ref columns (references encrypted with the store key)
#                         4: the as-of index covers what counts and compliance read
#                         5: the position row keeps the latest recording time folded in
#                         6: ... and the plan adopted last
PROJECTION_NAME = "tracker"

FAR_DATE = date(9999, 12, 31)  # valid_to of an interval that has not ended
NEVER = 2**63 - 1  # known_to of a row that is still what the log says

POSITION = "zov_projection_position"
PATH_INTERVAL = "zov_path_interval"
PLACE_INTERVAL = "zov_place_interval"
# Running totals for the everyday question, "how many paths per stage on D, as things stand":
# for every row that is what the log says now, +1 on valid_from and -1 on valid_to, so the
# paths per hulpvorm and stage on D are the sums of the changes on or before D.
STAGE_DELTA = "zov_stage_delta"


def visible(as_of: date, known: int | None, day) -> tuple[str, list]:
    """SQL condition (with ? markers) and parameters: rows in effect on `as_of` as the log
    stood at `known` (None: as it stands now). `day` turns a date into a parameter."""
    d = day(as_of)
    if known is None:
        return f"known_to = {NEVER} AND valid_from <= ? AND valid_to > ?", [d, d]
    return ("known_from <= ? AND known_to > ? AND valid_from <= ? "
            "AND (valid_to > ? OR end_known > ?)", [known, known, d, d, known])


def known_then(known: int | None) -> tuple[str, list]:
    """SQL condition and parameters: rows that were what the log said at `known`."""
    if known is None:
        return f"known_to = {NEVER}", []
    return "known_from <= ? AND known_to > ?", [known, known]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """A recording time as the integer the tables store: microseconds since 1970 UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // MICROSECOND


def moment(value: int) -> datetime:
    """The inverse of `micros`."""
    return EPOCH + value * MICROSECOND
