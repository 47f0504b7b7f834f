"""Stress run: eight caseworkers logging at once, half through the `zov` command, half through
the Tracker in a process of their own, on overlapping and on separate clients.

    python -m bench.stress --store sqlite --seconds 10
    python -m bench.stress --store postgres --seconds 10

Every worker process logs for the given time from one shared start moment. Each command carries
a unique note (`w3-0017`), so afterwards every command that reported success can be found in
the log, exactly once. Shared clients S-01 … S-06 are triaged, re-triaged, assigned and amended
by everybody (some of that is refused by the rules once another worker moved the path on);
registration races on R-001 … R-012 must end with one registration each; every worker also
takes clients of its own (P3-001 …) from registration to close. The `zov` workers run a read
command now and then, so the read models catch up while others write.

Prints events/s held, refusals per reason and the write conflicts the Tracker retried. The
tests in tests/reliability/test_stress.py run the same thing and check the log afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SHARED = [f"S-{i:02d}" for i in range(1, 7)]
RACES = [f"R-{i:03d}" for i in range(1, 13)]
GEMEENTEN = ["Stein", "Beek", "Heerlen", "Kerkrade", "Maastricht", "Vaals"]
COMBINATIES = ["Kracht van Dichtbij", "Zorgcoöperatie Limburg"]
LIFE = ["register", "triage", "assign", "handover", "close"]  # a private client's steps
READ_EVERY = {"cli": 5, "api": 10}  # a read command after this many writes
PG_DSN = os.environ.get("ZOV_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Op:
    """One command a worker gives: what, on which client, with which unique note."""

    kind: str
    ref: str
    token: str
    value: str = ""  # outcome, combinatie or gemeente
    private: bool = False

    def args(self) -> list[str]:
        """As `zov` arguments."""
        extra = {"register": ["--hulpvorm", "MKD", "--gemeente", self.value or "Stein"],
                 "triage": ["--outcome", self.value], "assign": ["--combinatie", self.value],
                 "handover": [], "close": ["--reason", "transferred"],
                 "amend": ["--gemeente", self.value]}[self.kind]
        return [self.kind, self.ref, *extra, "--note", self.token]

    def call(self, tracker, by: str) -> None:
        """Through the Tracker's API."""
        from transfers.vocab import CloseReason, Outcome

        note = self.token
        if self.kind == "register":
            tracker.register(self.ref, "MKD", self.value or "Stein", by, note=note)
        elif self.kind == "triage":
            tracker.triage(self.ref, Outcome(self.value), by, note=note)
        elif self.kind == "assign":
            tracker.assign(self.ref, self.value, by, note=note)
        elif self.kind == "handover":
            tracker.hand_over(self.ref, by, note=note)
        elif self.kind == "close":
            tracker.close_path(self.ref, CloseReason.TRANSFERRED, by, note=note)
        else:
            tracker.amend(self.ref, by, gemeente=self.value, note=note)


def ops(worker: int, seed: int):
    """An endless, reproducible stream of commands for one worker."""
    rnd = random.Random(seed * 100 + worker)
    own, step, n = 0, 0, 0
    while True:
        n += 1
        token = f"w{worker}-{n:04d}"
        roll = rnd.random()
        if roll < 0.40:
            kind = rnd.choice(["triage", "triage", "assign", "amend"])
            value = {"triage": rnd.choice(["transfer", "transfer", "continue"]),
                     "assign": rnd.choice(COMBINATIES), "amend": rnd.choice(GEMEENTEN)}[kind]
            yield Op(kind, rnd.choice(SHARED), token, value)
        elif roll < 0.50:
            yield Op("register", rnd.choice(RACES), token, rnd.choice(GEMEENTEN))
        else:
            if step == 0:
                own += 1
            kind = LIFE[step]
            value = {"triage": "transfer", "assign": COMBINATIES[worker % 2]}.get(kind, "")
            yield Op(kind, f"P{worker}-{own:03d}", token, value, private=True)
            step = (step + 1) % len(LIFE)


# -- a worker process ------------------------------------------------------------------------


def work(mode: str, url: str, worker: int, start: float, seconds: float, seed: int,
         out: Path, zov: str) -> None:
    """Log commands from `start` for `seconds`; one JSON line per command in `out`."""
    by = f"worker-{worker}"
    env = {**os.environ, "ZOV_DB": url, "ZOV_ACTOR": by}
    tracker, conflicts = None, [0]
    if mode == "api":
        tracker = _counting_tracker(url, conflicts)
    time.sleep(max(0.0, start - time.time()))
    deadline = start + seconds
    with open(out, "w", encoding="utf-8") as log:
        for i, op in enumerate(ops(worker, seed)):
            if time.time() >= deadline:
                break
            t0 = time.perf_counter()
            if mode == "cli":
                record = _by_command(zov, op, env)
            else:
                record = _by_api(tracker, op, by)
            record.update(token=op.token, kind=op.kind, ref=op.ref, private=op.private,
                          seconds=round(time.perf_counter() - t0, 4))
            log.write(json.dumps(record) + "\n")
            if i % READ_EVERY[mode] == READ_EVERY[mode] - 1:
                t0 = time.perf_counter()
                record = _read(mode, zov, env, tracker)
                record["seconds"] = round(time.perf_counter() - t0, 4)
                log.write(json.dumps(record) + "\n")
        log.write(json.dumps({"kind": "summary", "mode": mode, "conflicts": conflicts[0]}) + "\n")
    if tracker is not None:
        tracker.close()


def _counting_tracker(url: str, conflicts: list[int]):
    """A Tracker that counts the write conflicts it meets (each one is reloaded and retried,
    or becomes a refusal)."""
    from eventsourcing.persistence import IntegrityError

    from transfers.app import Tracker

    class Counting(Tracker):
        name = Tracker.name  # the same tables: eventsourcing names them after the class

        def _save(self, *aggregates):
            try:
                return super()._save(*aggregates)
            except IntegrityError:
                conflicts[0] += 1
                raise

    return Counting.open(url)


def _by_command(zov: str, op: Op, env: dict[str, str]) -> dict:
    result = subprocess.run([zov, *op.args()], capture_output=True, text=True, env=env,
                            timeout=120)
    return {"ok": result.returncode == 0, "code": result.returncode, "stderr": result.stderr}


def _by_api(tracker, op: Op, by: str) -> dict:
    from transfers.errors import ZovError

    try:
        op.call(tracker, by)
    except ZovError as exc:
        return {"ok": False, "code": 1, "stderr": f"Error: {exc}\n",
                "error": type(exc).__name__}
    except Exception:  # recorded, not raised: the check afterwards reports it
        return {"ok": False, "code": -1, "stderr": traceback.format_exc()}
    return {"ok": True, "code": 0, "stderr": ""}


def _read(mode: str, zov: str, env: dict[str, str], tracker) -> dict:
    """A read command (which catches the read models up) between the writes."""
    if mode == "cli":
        result = subprocess.run([zov, "counts", "--format", "json"], capture_output=True,
                                text=True, env=env, timeout=120)
        return {"kind": "read", "ok": result.returncode == 0, "code": result.returncode,
                "stderr": result.stderr}
    from projections import ReadModels

    try:
        ReadModels(tracker).close()
    except Exception:
        return {"kind": "read", "ok": False, "code": -1, "stderr": traceback.format_exc()}
    return {"kind": "read", "ok": True, "code": 0, "stderr": ""}


# -- running eight of them -------------------------------------------------------------------


@dataclass
class Run:
    """What the workers did: every command's record, and the figures."""

    records: list[dict]
    seconds: float
    conflicts: int  # write conflicts met by the API workers

    @property
    def writes(self) -> list[dict]:
        return [r for r in self.records if r["kind"] not in ("read", "summary")]

    @property
    def ok(self) -> list[dict]:
        return [r for r in self.writes if r["ok"]]

    @property
    def by_command(self) -> int:
        """Events written by the `zov` workers (the even-numbered ones)."""
        return sum(1 for r in self.ok if int(r["token"][1:].split("-")[0]) % 2 == 0)

    @property
    def refused(self) -> list[dict]:
        return [r for r in self.writes if not r["ok"]]

    def figures(self) -> str:
        refusals = Counter(_reason(r) for r in self.refused)
        reads = sum(1 for r in self.records if r["kind"] == "read")
        changed = refusals.get("changed meanwhile", 0)
        races = sum(1 for r in self.refused if r["kind"] == "register")
        lines = [
            f"{len(self.writes)} commands in {self.seconds:.1f} s by 8 workers "
            f"(4 through `zov`, 4 through the Tracker), {reads} read commands between them",
            f"written: {len(self.ok)} events, {len(self.ok) / self.seconds:.0f} events/s held "
            f"({self.by_command} by `zov` commands, the rest by the Tracker)",
            f"refused: {len(self.refused)} — " + ", ".join(
                f"{n} {why}" for why, n in refusals.most_common()),
            f"write conflicts met by the Tracker workers: {self.conflicts} "
            f"(registration races and retried commands; {changed} gave up after 10 tries)",
            f"registration races: {races} refused as already registered",
        ]
        return "\n".join(lines)


def _reason(record: dict) -> str:
    text = record["stderr"].strip().lower()
    for words, reason in (("already registered", "already registered"),
                          ("changed meanwhile", "changed meanwhile")):
        if words in text:
            return reason
    return "step not allowed in the path's stage by then"


def run(url: str, seconds: float, folder: Path, seed: int = 2023, zov: str | None = None) -> Run:
    """Eight workers on the store at `url` (which has a plan and the shared clients)."""
    zov = zov or str(Path(sys.executable).with_name("zov"))
    root = str(Path(__file__).resolve().parent.parent)
    start = time.time() + 3.0  # time for every worker to start and open the store
    procs = []
    for worker in range(8):
        mode = "cli" if worker % 2 == 0 else "api"
        command = [sys.executable, "-m", "bench.stress", "--worker", mode, "--db", url,
                   "--number", str(worker), "--start", repr(start), "--seconds", str(seconds),
                   "--seed", str(seed), "--out", str(folder / f"w{worker}.jsonl"), "--zov", zov]
        procs.append(subprocess.Popen(command, cwd=root, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError(f"a stress worker failed: {err}")
    records, conflicts = [], 0
    for worker in range(8):
        for line in (folder / f"w{worker}.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["kind"] == "summary":
                conflicts += record["conflicts"]
            else:
                records.append(record)
    return Run(records, seconds, conflicts)


def prepare(url: str) -> None:
    """A store in use: the built-in plan, the shared clients and the read models."""
    from projections import ReadModels
    from transfers.app import Tracker

    tracker = Tracker.open(url)
    try:
        tracker.adopt_plan(None, "built-in", "stress")
        for i, ref in enumerate(SHARED):
            tracker.register(ref, "MKD", GEMEENTEN[i % len(GEMEENTEN)], "stress")
        ReadModels(tracker).close()
    finally:
        tracker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--worker", choices=["cli", "api"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--number", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--zov", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work(args.worker, args.db, args.number, args.start, args.seconds, args.seed, args.out,
             args.zov)
        return
    schema = f"zov_stress_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="zov-stress-") as tmp:
        url = (f"sqlite:///{Path(tmp) / 'stress.sqlite'}" if args.store == "sqlite"
               else f"{PG_DSN}?schema={schema}")
        try:
            prepare(url)
            result = run(url, args.seconds, Path(tmp), args.seed)
        finally:
            if args.store == "postgres":
                import psycopg

                with psycopg.connect(PG_DSN, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    print(f"store: {args.store}")
    print(result.figures())


if __name__ == "__main__":
    main()
