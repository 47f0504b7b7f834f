"""End to end, as a user would: the installed `zov` loads the 1 April 2023 overview of
DOMAIN.md (184 client paths, 58 Leefhuis places), applies a year of events from a sheet,
and the counts come out as the story says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sheetgen import (
    CLIENT_COLUMNS,
    EVENT_COLUMNS,
    PLACE_COLUMNS,
    generate,
    write_csv,
    write_xlsx,
)

from transfers.app import Tracker
from transfers.path import ClientPath
from transfers.place import LeefhuisPlace

DUTCH_HEADERS = ["referentie", "hulpvorm", "gemeente", "arrangement(en)",
                 "einddatum_arrangement", "cohort"]


def zov_command() -> str:
    beside = Path(sys.executable).with_name("zov")
    found = str(beside) if beside.exists() else shutil.which("zov")
    if not found:
        pytest.skip("the zov console script is not installed")
    return found


def run(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZOV_DB": url, "ZOV_ACTOR": "projectteam"}
    result = subprocess.run([zov_command(), *args], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_the_overview_and_a_year_of_events_give_the_domains_numbers(store_url, tmp_path):
    year = generate()
    overview = write_csv(tmp_path / "overzicht-1-april-2023.csv", year.clients, CLIENT_COLUMNS,
                         headers=DUTCH_HEADERS)
    places = write_xlsx(tmp_path / "leefhuisplaatsen.xlsx", year.places, PLACE_COLUMNS)
    sheet = write_xlsx(tmp_path / "gebeurtenissen-2023.xlsx", year.events, EVENT_COLUMNS,
                       dates=("on", "planned"))

    run(store_url, "init")
    result = run(store_url, "import", "clients", str(overview))
    assert result.stdout.splitlines()[0] == \
        "overzicht-1-april-2023.csv: 184 rows; 184 registered, 0 unchanged"
    assert [line.split() for line in result.stdout.splitlines()[3:]] == [
        ["MKD", "105", "0"], ["DB", "Xtra", "57", "0"], ["Echtscheidingenhulp", "22", "0"]]
    run(store_url, "import", "places", str(places))
    result = run(store_url, "apply", str(sheet), "--format", "json")
    report = json.loads(result.stdout)
    assert (report["written"], report["unchanged"], report["errors"]) == (678, 0, [])
    again = json.loads(run(store_url, "apply", str(sheet), "--format", "json").stdout)
    assert (again["written"], again["unchanged"]) == (0, 678)

    stages, place_stages, occupied = fold(store_url)
    assert stages == year.stages
    assert place_stages == year.place_stages
    assert occupied == 44  # one place emptied, one filled: still 44 of 58
    check_counts_command(store_url, year)


def fold(url: str) -> tuple[Counter, Counter, int]:
    """Where every path and place stands, read from the log itself."""
    tracker = Tracker.open(url)
    try:
        records = [json.loads(line) for line in run(url, "export").stdout.splitlines()]
        streams = {r["stream"] for r in records if r["topic"].endswith(".Registered.v1")}
        stages: Counter = Counter()
        place_stages: Counter = Counter()
        occupied = 0
        for stream_id in streams:
            stream = tracker.repository.get(__import__("uuid").UUID(stream_id))
            if isinstance(stream, ClientPath):
                stages[stream.hulpvorm, stream.stage.value] += 1
            elif isinstance(stream, LeefhuisPlace):
                place_stages[stream.stage.value] += 1
                occupied += stream.state.occupied
        return stages, place_stages, occupied
    finally:
        tracker.close()


def check_counts_command(url: str, year) -> None:
    """`zov counts --format json` (the read models) agrees with the story."""
    counts = json.loads(run(url, "counts", "--as-of", "2024-03-31", "--format", "json").stdout)
    found = {(row["hulpvorm"], stage.replace("_", "-")): row[stage] for row in counts["rows"]
             for stage in ("registered", "triaged", "assigned", "handed_over", "closed")
             if row[stage]}
    assert found == dict(year.stages)
    assert {row["hulpvorm"]: row["total"] for row in counts["rows"]} == {
        "MKD": 105, "DB Xtra": 57, "Echtscheidingenhulp": 22}
    # On 30 September 2023, by effective date: the JENS bridge and KvD handovers still open.
    autumn = json.loads(run(url, "counts", "--as-of", "2023-09-30", "--format",
                            "json").stdout)
    mkd = next(row for row in autumn["rows"] if row["hulpvorm"] == "MKD")
    assert (mkd["closed"], mkd["open"]) == (2 + 14, 105 - 16)
