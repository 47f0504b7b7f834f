"""The installed `zov` run as a subprocess, as a caseworker would, on both stores."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ZOV = Path(sys.executable).with_name("zov")


@pytest.fixture
def zov(store_url, tmp_path):
    env = {**os.environ, "ZOV_DB": store_url, "ZOV_ACTOR": "e2e", "HOME": str(tmp_path)}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(ZOV), *args], env=env, capture_output=True, text=True,
                              timeout=60)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    run("init")
    return run


def test_one_client_goes_through_every_stage(zov):
    zov("register", "C-0001", "--hulpvorm", "MKD", "--gemeente", "Meerssen", "--cohort", "overig",
        "--arrangement", "MKD", "--arrangement-end", "31-12-2023")
    zov("triage", "C-0001", "--outcome", "transfer", "--on", "2023-05-02")
    zov("assign", "C-0001", "--combinatie", "Kracht van Dichtbij", "--aanbieder",
        "Mutsaersstichting", "--on", "2023-06-12")
    zov("plan-handover", "C-0001", "--planned", "2023-09-01", "--on", "2023-06-20")
    zov("handover", "C-0001", "--on", "2023-09-01", "--note", "warm: joint visit")
    zov("close", "C-0001", "--reason", "transferred", "--on", "2023-09-04")
    events = json.loads(zov("show", "C-0001", "--format", "json").stdout)
    assert [(e["event"], e["on"]) for e in events] == [
        ("Registered", "2023-04-01"), ("Triaged", "2023-05-02"),
        ("ReceiverAssigned", "2023-06-12"), ("HandoverPlanned", "2023-06-20"),
        ("HandoverDone", "2023-09-01"), ("Closed", "2023-09-04")]
    assert {e["by"] for e in events} == {"e2e"}
    assert events[4]["note"] == "warm: joint visit"


@pytest.mark.parametrize("args, message", [
    (("handover", "C-0001", "--on", "2023-05-01"), "warm handover needs a receiving party first"),
    (("triage", "C-0001", "--outcome", "transfer", "--on", "2023-03-01"), "before the plan's peildatum"),
    (("triage", "C-0001", "--outcome", "transfer", "--on", "2099-01-01"), "in the future"),
    (("assign", "C-0001", "--combinatie", "JENS", "--on", "2023-05-01"), "needs a triage first"),
    (("close", "C-0001", "--reason", "transferred", "--on", "2023-05-01"), "needs the warm handover"),
    (("register", "C-0001", "--hulpvorm", "MKD", "--gemeente", "Stein"), "already registered"),
    (("register", "C-0002", "--hulpvorm", "MKD", "--gemeente", "Amsterdam"), "unknown gemeente"),
    (("register", "111222333", "--hulpvorm", "MKD", "--gemeente", "Stein"), "looks like a BSN"),
    (("triage", "C-9999", "--outcome", "transfer"), "no client path 'C-9999'"),
    (("correct", "C-0001", "--event", "5", "--reason", "x"), "has no event 5"),
])
def test_every_refusal_is_one_clear_line_and_writes_nothing(zov, args, message):
    zov("register", "C-0001", "--hulpvorm", "MKD", "--gemeente", "Stein")
    before = json.loads(zov("info", "--format", "json").stdout)["events"]
    done = zov(*args, ok=False)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert json.loads(zov("info", "--format", "json").stdout)["events"] == before


def test_a_closed_path_takes_no_more_events(zov):
    zov("register", "C-0001", "--hulpvorm", "MKD", "--gemeente", "Stein")
    zov("close", "C-0001", "--reason", "moved-away", "--on", "2023-06-01")
    done = zov("triage", "C-0001", "--outcome", "transfer", "--on", "2023-06-02", ok=False)
    assert done.returncode == 1 and "already closed" in done.stderr


def test_a_write_command_imports_neither_sqlalchemy_nor_jinja(sqlite_url, tmp_path):
    probe = (
        "import sys\n"
        "from cli.main import main\n"
        "sys.argv = ['zov', '--db', sys.argv[1], *sys.argv[2:]]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'jinja2') if m in sys.modules)\n"
        "print('heavy:', ','.join(heavy) or 'none', 'exit:', code)\n"
    )
    for args in (["init"], ["register", "C-1", "-H", "MKD", "-g", "Stein"],
                 ["triage", "C-1", "-o", "transfer"], ["handover", "C-1"]):
        done = subprocess.run([sys.executable, "-c", probe, sqlite_url, *args],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "ZOV_ACTOR": "e2e"})
        assert "heavy: none" in done.stdout, (args, done.stdout, done.stderr)
