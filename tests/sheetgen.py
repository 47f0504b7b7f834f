"""A generated 1 April 2023 overview and a year of events, matching the numbers in DOMAIN.md.

Clients (184 paths, one per client per hulpvorm):
- MKD 105: 24 JENS (Heerlen, Landgraaf, Voerendaal), 18 Zorgklas and 63 Overig (the 13);
- DB Xtra 57: 22 Begeleiding Individueel only, 17 Behandeling Groep only, 18 both;
- Echtscheidingenhulp 22: 13 BOR only, 7 Nieuw Ouderschap (Begeleiding Individueel), 2 both.
Leefhuizen: 58 places in LH-A..LH-H, 44 occupied and 14 empty.

The year (2023-04-01 .. 2024-03-31) follows the documents where they speak and is invented,
plausibly, where they do not; EXPECTED_STAGES says where every path ends up.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from transfers.sheets import cell_date

HLV = ["Heerlen", "Landgraaf", "Voerendaal"]
THE_13 = ["Maastricht", "Eijsden-Margraten", "Gulpen-Wittem", "Meerssen", "Vaals",
          "Valkenburg aan de Geul", "Sittard-Geleen", "Stein", "Beek", "Kerkrade", "Brunssum",
          "Simpelveld", "Beekdaelen"]
BI, BG, BOR = "Begeleiding Individueel", "Behandeling Groep", "BOR 2-3/vrijwillig/Rechtbank"
KVD, IJZL, ZCL = "Kracht van Dichtbij", "Initiatiefgroep Jeugdhulp Zuid-Limburg", \
    "Zorgcoöperatie Limburg"

CLIENT_COLUMNS = ["ref", "hulpvorm", "gemeente", "arrangements", "arrangement_end", "cohort"]
PLACE_COLUMNS = ["place", "leefhuis", "occupied", "ref"]
EVENT_COLUMNS = ["ref", "hulpvorm", "place", "event", "on", "outcome", "combinatie",
                 "aanbieder", "planned", "reason", "voids", "gemeente", "note"]


@dataclass
class Year:
    clients: list[dict[str, str]] = field(default_factory=list)
    places: list[dict[str, str]] = field(default_factory=list)
    events: list[dict[str, str]] = field(default_factory=list)
    stages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (hulpvorm, stage)
    place_stages: Counter[str] = field(default_factory=Counter)


def d(text: str) -> str:
    """Dates as a Dutch Excel writes them: 2-5-2023."""
    y, m, day = (int(p) for p in text.split("-"))
    return f"{day}-{m}-{y}"


def generate() -> Year:
    """The overview, the places and the year of events, with where everything ends up."""
    year = Year()
    seq = iter(range(1, 10_000))
    dated: list[tuple[str, int, dict[str, str]]] = []

    def client(hulpvorm: str, gemeente: str, arrangements: list[str], end: str,
               cohort: str = "") -> str:
        ref = f"ZL{next(seq):04d}"
        year.clients.append({"ref": ref, "hulpvorm": hulpvorm, "gemeente": gemeente,
                             "arrangements": "; ".join(arrangements),
                             "arrangement_end": d(end), "cohort": cohort})
        return ref

    def event(on: str, **cells: str) -> None:
        row = {"on": d(on) if on else "", **cells}
        dated.append((on or "9999", len(dated), row))

    def path(ref: str, steps: list[tuple[str, str, dict[str, str]]], hulpvorm: str,
             stage: str) -> None:
        for name, on, extra in steps:
            event(on, ref=ref, event=name, **extra)
        year.stages[hulpvorm, stage] += 1

    # -- MKD ----------------------------------------------------------------------------------
    for i in range(24):  # JENS: bridged in XONAR's groups during 2023, then the JENS facility
        ref = client("MKD", HLV[i % 3], ["MKD"], "2023-12-31", "JENS")
        path(ref, [("triage", "2023-05-15", {"outcome": "transfer"}),
                   ("assign", "2023-06-01", {"combinatie": "JENS", "planned": "2024-01-08"}),
                   ("handover", "2024-01-08", {}),
                   ("close", "2024-01-09", {"reason": "transferred"})], "MKD", "closed")
    for i in range(18):  # Zorgklassen: 2 gone before the May holiday, 16 to a follow-up place
        ref = client("MKD", THE_13[i % 13], ["MKD"], "2023-07-31", "Zorgklas")
        if i < 2:
            path(ref, [("triage", "2023-04-20", {"outcome": "ends"}),
                       ("close", "2023-04-28", {"reason": "moved-away"})], "MKD", "closed")
        elif i < 16:
            path(ref, [("triage", "2023-06-01", {"outcome": "follow-up"}),
                       ("close", "2023-08-31", {"reason": "education"})], "MKD", "closed")
        else:  # the 2 without a follow-up place after summer: still open
            path(ref, [("triage", "2023-06-01", {"outcome": "follow-up"})], "MKD", "triaged")
    for i in range(63):  # 30 to Mutsaersstichting (Kracht van Dichtbij), the rest to IJZL
        ref = client("MKD", THE_13[i % 13], ["MKD"], "2023-12-31", "Overig")
        if i < 30:
            steps = [("triage", "2023-06-15", {"outcome": "transfer"}),
                     ("assign", "2023-07-01", {"combinatie": "KvD",
                                               "aanbieder": "Mutsaersstichting",
                                               "planned": "2023-11-01"})]
            if i < 10:
                steps.append(("plan-handover", "2023-10-15", {"planned": "2023-12-01"}))
            done = "2023-12-01" if i < 10 else "2023-11-01"
            steps += [("handover", done, {}), ("close", done, {"reason": "transferred"})]
            path(ref, steps, "MKD", "closed")
        elif i < 58:
            path(ref, [("triage", "2023-06-15", {"outcome": "transfer"}),
                       ("assign", "2023-07-15", {"combinatie": "IJZL", "aanbieder": "CECL",
                                                 "planned": "2023-12-15"}),
                       ("handover", "2023-12-15", {}),
                       ("close", "2023-12-18", {"reason": "transferred"})], "MKD", "closed")
        else:  # 5 overdue: receiving party known, no handover yet
            path(ref, [("triage", "2023-06-15", {"outcome": "transfer"}),
                       ("assign", "2023-07-15", {"combinatie": "IJZL",
                                                 "planned": "2024-04-15"})],
                 "MKD", "assigned")

    # -- DB Xtra: the ambulant part stays at XONAR, group treatment mostly ends --------------
    for i in range(57):
        arrangements = [BI] if i < 22 else [BG] if i < 39 else [BI, BG]
        ref = client("DB Xtra", THE_13[i % 13] if i % 4 else HLV[i % 3], arrangements,
                     "2024-06-30" if BI in arrangements else "2023-07-31")
        if BI in arrangements:
            path(ref, [("triage", "2023-05-10", {"outcome": "continue"}),
                       ("close", "2023-05-31", {"reason": "continued"})], "DB Xtra", "closed")
        elif i < 34:  # 12 whose group treatment really ends in summer
            path(ref, [("triage", "2023-05-10", {"outcome": "ends"}),
                       ("close", "2023-07-31", {"reason": "ended"})], "DB Xtra", "closed")
        else:  # 5 placed case by case with another contracted provider
            path(ref, [("triage", "2023-05-10", {"outcome": "transfer"}),
                       ("assign", "2023-08-01", {"combinatie": "ZCL"}),
                       ("handover", "2023-09-15", {}),
                       ("close", "2023-09-16", {"reason": "transferred"})], "DB Xtra", "closed")

    # -- Echtscheidingenhulp: to the three consortia, end 2023 / 2024 ------------------------
    receivers = [("IJZL", "CECL")] * 8 + [("ECLG", "Axnaga")] * 7 + \
        [("Kracht van Binnenuit", "Plinthos")] * 7
    for i in range(22):
        arrangements = [BOR] if i < 13 else [BI] if i < 20 else [BOR, BI]
        ref = client("Echtscheidingenhulp", THE_13[(i + 5) % 13], arrangements, "2024-03-31")
        combinatie, aanbieder = receivers[i]
        steps = [("triage", "2023-09-01", {"outcome": "transfer"}),
                 ("assign", "2023-10-02", {"combinatie": combinatie, "aanbieder": aanbieder,
                                           "planned": "2024-01-15"})]
        if combinatie == "Kracht van Binnenuit":  # still waiting at the end of the year
            steps.append(("plan-handover", "2024-01-10", {"planned": "2024-04-15"}))
            path(ref, steps, "Echtscheidingenhulp", "assigned")
        else:
            steps += [("handover", "2024-01-15", {}),
                      ("close", "2024-01-16", {"reason": "transferred"})]
            path(ref, steps, "Echtscheidingenhulp", "closed")

    # -- a mistake and its correction, and an amended registration --------------------------
    first_kvd = next(c["ref"] for c in year.clients if c["cohort"] == "Overig")
    wrong = [row for _, _, row in dated if row["ref"] == first_kvd and
             row["event"] in ("handover", "close")]
    dated[:] = [item for item in dated if item[2] not in wrong]
    # Logged wrongly (a handover on 2 December), voided, then logged as it happened (1-12).
    for key, row in [
        ("2023-12-02", {"on": d("2023-12-02"), "event": "handover"}),
        ("2023-12-03", {"on": "", "event": "correct", "voids": "5",
                        "reason": "handover was op 1-12"}),
        ("2023-12-03", {"on": d("2023-12-01"), "event": "handover"}),
        ("2023-12-04", {"on": d("2023-12-04"), "event": "close", "reason": "transferred"}),
    ]:
        dated.append((key, len(dated), {"ref": first_kvd, **row}))
    amended = year.clients[30]["ref"]
    dated.append(("2023-04-05", len(dated), {"on": "", "ref": amended, "event": "amend",
                                             "gemeente": "Meerssen",
                                             "note": "gemeente in overzicht onjuist"}))

    # -- Leefhuizen: keep A-D (30 places), shed E-H (28) ----------------------------------------
    houses = [("LH-A", 8), ("LH-B", 8), ("LH-C", 8), ("LH-D", 6), ("LH-E", 8), ("LH-F", 8),
              ("LH-G", 6), ("LH-H", 6)]
    empty_in_kept = {"LH-A-08", "LH-A-07", "LH-B-08", "LH-B-07", "LH-C-08", "LH-D-06"}
    resident = iter(range(1, 100))
    for house, size in houses:
        for n in range(1, size + 1):
            code = f"{house}-{n:02d}"
            occupied = house != "LH-E" and code not in empty_in_kept
            ref = f"W{next(resident):03d}" if occupied else ""
            year.places.append({"place": code, "leefhuis": house,
                                "occupied": "ja" if occupied else "nee", "ref": ref})
            if house in ("LH-A", "LH-B", "LH-C", "LH-D"):
                event("2023-05-23", place=code, event="place-keep")
                year.place_stages["kept"] += 1
            elif house == "LH-E":  # 10 May: the 8 empty places to HOOM
                event("2023-05-10", place=code, event="place-decide", combinatie="HOOM")
                event("2023-05-10", place=code, event="place-transfer")
                year.place_stages["transferred"] += 1
            else:  # 23 May: the other 20 to a member of Combinatie XONAR; clients stay put
                event("2023-05-23", place=code, event="place-decide",
                      combinatie="Combinatie XONAR")
                event("2023-07-01", place=code, event="place-transfer")
                year.place_stages["transferred"] += 1
    event("2023-09-01", place="LH-A-02", event="place-vacate")
    event("2023-10-01", place="LH-A-07", event="place-occupy", ref="W900")

    year.events = [row for _, _, row in sorted(dated, key=lambda item: (item[0], item[1]))]
    return year


# -- writing the files as Excel would -----------------------------------------------------------


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str], *,
              delimiter: str = ";", encoding: str = "cp1252", headers: list[str] | None = None
              ) -> Path:
    """A CSV as Dutch Excel saves it: ';', Windows-1252, CRLF, no BOM."""
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(headers or columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
    return path


def write_xlsx(path: Path, rows: list[dict[str, str]], columns: list[str],
               dates: tuple[str, ...] = ()) -> Path:
    """An .xlsx made by openpyxl; the `dates` columns become real Excel dates."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Blad1"
    sheet.append(columns)
    for row in rows:
        values: list[object] = []
        for c in columns:
            value = row.get(c, "")
            if c in dates and value:
                value = cell_date(value)
            values.append(value or None)
        sheet.append(values)
    book.save(path)
    return path


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps({k: v for k, v in row.items() if v}, ensure_ascii=False) + "\n")
    return path
