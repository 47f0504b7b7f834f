"""PostgreSQL: a role that records events and one that only reads, with the GRANTs that
`zov grants` prints; the log is append-only for every role."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.conftest import PG_DSN, fresh_schema_url

pytestmark = pytest.mark.postgres


def test_a_writer_records_a_reader_only_reads_and_nobody_edits_the_log(cli_runner):
    suffix = uuid.uuid4().hex[:8]
    writer, reader = f"zov_w_{suffix}", f"zov_r_{suffix}"
    with fresh_schema_url() as owner_url, psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {writer} LOGIN; CREATE ROLE {reader} LOGIN")
        try:
            as_role = {name: cli_runner(owner_url.replace("postgres@", f"{name}@", 1))
                       for name in (writer, reader)}
            owner = cli_runner(owner_url)
            owner("init")
            # Before the GRANTs neither role can even read.
            denied = as_role[reader]("list", code=1)
            assert "permission denied" in denied.stderr and "Traceback" not in denied.output
            admin.execute(owner("grants", "--writer", writer, "--reader", reader).output)

            w, r = as_role[writer], as_role[reader]
            w("register", "ZR-0001", "-H", "MKD", "-g", "Stein")
            w("triage", "ZR-0001", "--outcome", "transfer", "--on", "2023-05-02")
            listed = r("list", "--format", "csv").output  # catches the read models up
            assert "ZR-0001" in listed and "triaged" in listed
            assert "ZR-0001 (MKD)" in r("audit").output

            for command in (("triage", "ZR-0001", "--outcome", "continue"),
                            ("register", "ZR-0002", "-H", "MKD", "-g", "Stein"),
                            ("forget", "ZR-0001", "--reason", "AVG 1")):
                refused = r(*command, code=1)
                assert "permission denied" in refused.stderr, command
                assert "this database role may not do that" in refused.stderr
                assert len(refused.stderr.strip().splitlines()) == 1
            assert "ZR-0002" not in r("list").output  # nothing half-written

            w("forget", "ZR-0001", "--reason", "AVG 1")  # the writer may forget
            assert "(verwijderd)" in r("list").output
            schema = owner_url.split("schema=")[1]
            for sql in (f'DELETE FROM "{schema}".tracker_events',
                        f'UPDATE "{schema}".tracker_events SET topic = topic',
                        f'TRUNCATE "{schema}".tracker_events'):
                with pytest.raises(psycopg.Error, match="append-only"):
                    admin.execute(sql)  # not even the owner
        finally:
            admin.execute(f"DROP OWNED BY {writer}, {reader}; DROP ROLE {writer}, {reader}")
