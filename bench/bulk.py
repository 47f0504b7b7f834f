"""The bulk benchmark's material: an overview and an event sheet as Dutch Excel saves them, and
the same events made with the aggregates' own methods for a bare save (see bench.suite).

The overview is semicolon-separated Windows-1252; the sheet has five events per client
(triage, assign, plan-handover, handover, close), in rounds as a year goes by.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder

GEMEENTEN = ["Maastricht", "Eijsden-Margraten", "Gulpen-Wittem", "Meerssen", "Vaals",
             "Valkenburg aan de Geul", "Sittard-Geleen", "Stein", "Beek", "Heerlen", "Kerkrade",
             "Landgraaf", "Brunssum", "Simpelveld", "Voerendaal", "Beekdaelen"]
HULPVORMEN = [("MKD", "MKD", "Kracht van Dichtbij"),
              ("DB Xtra", "Begeleiding Individueel", "Zorgcoöperatie Limburg"),
              ("Echtscheidingenhulp", "BOR 2-3/vrijwillig/Rechtbank", "ECLG")]
STEPS = 5  # events per client in the sheet


def client(i: int) -> dict[str, str]:
    code, arrangement, _ = HULPVORMEN[i % 3]
    return {"referentie": f"B{i:07d}", "hulpvorm": code, "gemeente": GEMEENTEN[i % 16],
            "arrangement(en)": arrangement, "einddatum_arrangement": "31-12-2023"}


def dates(i: int) -> list[date]:
    start = date(2023, 4, 3) + timedelta(days=i % 150)
    return [start + timedelta(days=d) for d in (0, 14, 21, 60, 61)]


def events(i: int) -> list[dict[str, str]]:
    c = client(i)
    combinatie = HULPVORMEN[i % 3][2]
    triage, assign, plan, handover, close = dates(i)
    base = {"ref": c["referentie"]}
    return [
        {**base, "event": "triage", "on": f"{triage.day}-{triage.month}-{triage.year}",
         "outcome": "transfer"},
        {**base, "event": "assign", "on": assign.isoformat(), "combinatie": combinatie,
         "planned": (handover - timedelta(days=7)).isoformat()},
        {**base, "event": "plan-handover", "on": plan.isoformat(), "planned": handover.isoformat()},
        {**base, "event": "handover", "on": handover.isoformat()},
        {**base, "event": "close", "on": close.isoformat(), "reason": "transferred"},
    ]


def write_files(folder: Path, clients: int, n_events: int) -> tuple[Path, Path]:
    overview, sheet = folder / "overzicht.csv", folder / "gebeurtenissen.csv"
    with open(overview, "w", encoding="cp1252", newline="") as f:
        w = csv.DictWriter(f, list(client(0)), delimiter=";", lineterminator="\r\n")
        w.writeheader()
        w.writerows(client(i) for i in range(clients))
    columns = ["ref", "event", "on", "outcome", "combinatie", "planned", "reason"]
    with open(sheet, "w", encoding="cp1252", newline="") as f:
        w = csv.DictWriter(f, columns, delimiter=";", lineterminator="\r\n")
        w.writeheader()
        # In rounds: first every client's triage, then every assign, ... as a year goes by.
        per_client = [events(i) for i in range(min(clients, -(-n_events // STEPS)))]
        written = 0
        for step in range(STEPS):
            for rows in per_client:
                if written == n_events:
                    break
                w.writerow(rows[step])
                written += 1
    return overview, sheet


def bare_aggregates(clients: int, n_events: int) -> list:
    """The same events as the files, made with the aggregates' own methods, no Tracker."""
    from transfers.path import ClientPath
    from transfers.vocab import CloseReason, Outcome

    paths = []
    budget = n_events
    for i in range(clients):
        c = client(i)
        code, arrangement, combinatie = HULPVORMEN[i % 3]
        p = ClientPath(ref=c["referentie"], hulpvorm=code, gemeente=c["gemeente"],
                       arrangements=[arrangement], arrangement_end=date(2023, 12, 31),
                       cohort=None, on=date(2023, 4, 1), by="bench", note=None)
        triage, assign, plan, handover, close = dates(i)
        steps = [(p.triage, (Outcome.TRANSFER, triage, "bench")),
                 (p.assign, (combinatie, None, handover - timedelta(days=7), assign, "bench")),
                 (p.plan_handover, (handover, plan, "bench")),
                 (p.hand_over, (handover, "bench")),
                 (p.close, (CloseReason.TRANSFERRED, close, "bench"))]
        for command, arguments in steps[:min(STEPS, budget)]:
            command(*arguments)
        budget -= min(STEPS, budget)
        paths.append(p)
    return paths


class BareApplication(Application):
    """Plain eventsourcing on the same store settings and transcodings: the yardstick for
    bulk saves (no Tracker code, no sealing of personal fields)."""

    @classmethod
    def open(cls, url: str) -> BareApplication:
        from transfers.pgstore import TOPIC
        from transfers.store import ensure_postgres_schema, parse_store_url, prepare_sqlite_file

        store = parse_store_url(url)
        if store.sqlite_path is not None:
            prepare_sqlite_file(store.sqlite_path)
        else:  # eventsourcing's own recorder, without the pipeline mode that hangs on big saves
            ensure_postgres_schema(store, f"{cls.name.lower()}_events")
            store.env["APPLICATION_RECORDER_TOPIC"] = TOPIC
        return cls(env=store.env)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        from transfers.app import DateAsISO, WordAsValue
        from transfers.vocab import CloseReason, Outcome, PlaceStage, Stage

        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        for enum in (Stage, Outcome, CloseReason, PlaceStage):
            transcoder.register(WordAsValue(enum))
