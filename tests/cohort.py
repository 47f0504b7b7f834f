"""The 1 April 2023 cohort from DOMAIN.md (the overview of tests/sheetgen.py), loaded straight
into a tracker for tests that need the numbers but not the import path.

    from cohort import load_cohort
    year = load_cohort(tracker)   # registers 184 paths and 58 Leefhuis places in one batch
"""

from __future__ import annotations

from datetime import date

from sheetgen import HLV, THE_13, Year, generate

from transfers.sheets import cell_date

PEILDATUM = date(2023, 4, 1)
EXPECTED = {"MKD": 105, "DB Xtra": 57, "Echtscheidingenhulp": 22}
__all__ = ["EXPECTED", "HLV", "PEILDATUM", "THE_13", "load_cohort"]


def load_cohort(tracker, by: str = "cohort-loader") -> Year:
    """Register the overview's clients and places in one batch (one transaction)."""
    year = generate()
    with tracker.batch():
        for c in year.clients:
            tracker.register(c["ref"], c["hulpvorm"], c["gemeente"], by,
                             arrangements=c["arrangements"].split("; "),
                             arrangement_end=cell_date(c["arrangement_end"]),
                             cohort=c["cohort"] or None, on=PEILDATUM)
        for p in year.places:
            tracker.register_place(p["place"], p["leefhuis"], by, occupied=p["occupied"] == "ja",
                                   ref=p["ref"] or None, on=PEILDATUM)
    return year
