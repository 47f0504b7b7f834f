"""A small fixed history for the memo tests: a few paths of each care type and some places."""

from datetime import date as D

from transfers.app import Tracker
from transfers.vocab import CloseReason, Outcome


def record_history(t: Tracker) -> None:
    """Effective dates are fixed; recording times are whenever the test runs."""
    by = "tester"
    t.register("C-01", "MKD", "Meerssen", by, arrangements=["MKD"], cohort="Overig")
    t.triage("C-01", Outcome.TRANSFER, by, on=D(2023, 5, 2))
    t.assign("C-01", "Kracht van Dichtbij", by, aanbieder="Mutsaersstichting",
             planned=D(2023, 9, 1), on=D(2023, 6, 12))
    t.hand_over("C-01", by, on=D(2023, 9, 1))
    t.close_path("C-01", CloseReason.TRANSFERRED, by, on=D(2023, 9, 4))
    t.register("C-02", "MKD", "Stein", by, cohort="Zorgklas")
    t.triage("C-02", Outcome.FOLLOW_UP, by, on=D(2023, 5, 10))
    t.close_path("C-02", CloseReason.EDUCATION, by, on=D(2023, 8, 28))
    t.register("C-03", "MKD", "Heerlen", by, cohort="JENS", arrangement_end=D(2024, 2, 29))
    t.register("C-04", "DB Xtra", "Beek", by, arrangements=["Begeleiding Individueel"])
    t.triage("C-04", Outcome.CONTINUE, by, on=D(2023, 4, 20))
    t.close_path("C-04", CloseReason.CONTINUED, by, on=D(2023, 6, 30))
    t.register("C-05", "DB Xtra", "Vaals", by, arrangements=["Behandeling Groep"])
    t.triage("C-05", Outcome.TRANSFER, by, on=D(2023, 6, 1))
    t.assign("C-05", "Zorgcoöperatie Limburg", by, planned=D(2024, 1, 15), on=D(2023, 7, 3))
    t.register("C-06", "Echtscheidingenhulp", "Maastricht", by)
    t.triage("C-06", Outcome.TRANSFER, by, on=D(2023, 9, 12))
    t.assign("C-06", "ECLG", by, aanbieder="Axnaga", on=D(2023, 9, 20))
    t.hand_over("C-06", by, on=D(2023, 9, 29), note="<script>alert('x')</script>")
    t.register("C-07", "Echtscheidingenhulp", "Kerkrade", by)
    t.triage("C-07", Outcome.ENDS, by, on=D(2023, 7, 1))
    t.correct("C-07", 2, "outcome was transfer", by)
    t.triage("C-07", Outcome.TRANSFER, by, on=D(2023, 7, 5))
    t.register_place("LH-E-01", "LH-E", by, occupied=True, ref="C-90")
    t.decide_place_transfer("LH-E-01", "HOOM", by, on=D(2023, 5, 10))
    t.transfer_place("LH-E-01", by, on=D(2023, 7, 1))
    t.register_place("LH-E-02", "LH-E", by)
    t.decide_place_transfer("LH-E-02", "HOOM", by, on=D(2023, 5, 10))
    t.register_place("LH-A-01", "LH-A", by, occupied=True, ref="C-91")
    t.keep_place("LH-A-01", by, on=D(2023, 5, 23))
