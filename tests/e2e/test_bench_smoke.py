"""The benchmark suite runs end to end and prints its whole table (a smoke run on a tiny store;
the figures themselves are the benchmark's business, not a test's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MEASURES = ("projection rebuild", "catch-up of", "zov counts |", "zov counts --by gemeente",
            "zov compliance --no-cases", "zov memo 2023-09", "zov handover (write command)",
            "bulk import + apply")


def test_the_suite_prints_every_measure_next_to_its_baseline(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--paths", "150", "--quick", "--stores", "sqlite",
         "--bulk", "50", "--cache", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "ZOV_ACTOR": "bench"})
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == len(MEASURES)
    for measure, row in zip(MEASURES, rows, strict=True):
        assert row.startswith(f"| {measure}"), row
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[1] == "sqlite" and cells[2] == "150"
        assert cells[4].endswith(("ms", " s", "ev/s"))  # a figure in every row
    with_baseline = [r for r in rows if "zov memo" not in r]
    assert all(r.split("|")[7].strip().endswith("x") for r in with_baseline)
