"""The 1 April 2023 cohort from DOMAIN.md, as a test helper others may reuse.

    from cohort import load_cohort
    load_cohort(tracker)        # registers 184 paths and 58 Leefhuis places in one batch

MKD 105 (JENS 24 from Heerlen/Landgraaf/Voerendaal, Zorgklas 18 and Overig 63 from the other
13 municipalities); DB Xtra 57 (Begeleiding Individueel 40, Behandeling Groep 35, 18 both);
Echtscheidingenhulp 22 (BOR 15, Nieuw Ouderschap / Begeleiding Individueel 9, 2 both);
58 places over the plan's Leefhuizen, 44 occupied. References are pseudonymous codes.
"""

from __future__ import annotations

from datetime import date
from itertools import cycle

PEILDATUM = date(2023, 4, 1)
HLV = ("Heerlen", "Landgraaf", "Voerendaal")
THE_13 = ("Maastricht", "Eijsden-Margraten", "Gulpen-Wittem", "Meerssen", "Vaals",
          "Valkenburg aan de Geul", "Sittard-Geleen", "Stein", "Beek", "Kerkrade", "Brunssum",
          "Simpelveld", "Beekdaelen")
BI = "Begeleiding Individueel"
BG = "Behandeling Groep"
BOR = "BOR 2-3/vrijwillig/Rechtbank"

# (hulpvorm, cohort, arrangements, how many, municipalities)
GROUPS = [
    ("MKD", "JENS", ("MKD",), 24, HLV),
    ("MKD", "Zorgklas", ("MKD",), 18, THE_13),
    ("MKD", "Overig", ("MKD",), 63, THE_13),
    ("DB Xtra", None, (BI,), 40 - 18, HLV + THE_13),
    ("DB Xtra", None, (BG,), 35 - 18, HLV + THE_13),
    ("DB Xtra", None, (BI, BG), 18, HLV + THE_13),
    ("Echtscheidingenhulp", None, (BOR,), 15 - 2, HLV + THE_13),
    ("Echtscheidingenhulp", None, (BI,), 9 - 2, HLV + THE_13),
    ("Echtscheidingenhulp", None, (BOR, BI), 2, HLV + THE_13),
]
EXPECTED = {"MKD": 105, "DB Xtra": 57, "Echtscheidingenhulp": 22}
OCCUPIED = 44
PREFIX = {"MKD": "MKD", "DB Xtra": "DBX", "Echtscheidingenhulp": "ESH"}


def cohort_paths() -> list[dict]:
    """The 184 registrations as keyword arguments of `Tracker.register`."""
    out, numbers = [], dict.fromkeys(PREFIX, 0)
    for hulpvorm, cohort, arrangements, n, gemeenten in GROUPS:
        where = cycle(gemeenten)
        for _ in range(n):
            numbers[hulpvorm] += 1
            out.append(dict(ref=f"{PREFIX[hulpvorm]}-{numbers[hulpvorm]:03d}",
                            hulpvorm=hulpvorm, gemeente=next(where),
                            arrangements=arrangements, cohort=cohort, on=PEILDATUM))
    return out


def cohort_places(plan) -> list[dict]:
    """The 58 places of the plan's Leefhuizen, the first 44 (in plan order) occupied."""
    out = []
    for leefhuis in plan.leefhuizen:
        for i in range(1, leefhuis.places + 1):
            occupied = len(out) < OCCUPIED
            out.append(dict(place=f"{leefhuis.name}-{i:02d}", leefhuis=leefhuis.name,
                            occupied=occupied,
                            ref=f"WON-{len(out) + 1:03d}" if occupied else None,
                            on=PEILDATUM))
    return out


def load_cohort(tracker, by: str = "cohort-loader") -> None:
    """Register the whole cohort in one batch (one transaction)."""
    with tracker.batch():
        for path in cohort_paths():
            tracker.register(by=by, **path)
        for place in cohort_places(tracker.plan):
            tracker.register_place(by=by, **place)
