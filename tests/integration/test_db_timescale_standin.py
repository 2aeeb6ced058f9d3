"""The TimescaleDB-mode maintenance SQL, run against a stand-in of TimescaleDB.

TimescaleDB cannot be installed on the build machines (FIELD-NOTES), so this
loads 0003_partition_maintenance.timescale.sql over plain tables plus stubs of
the catalog views and policy functions it calls, with the names and argument
names of the TimescaleDB 2.13+ documentation. It catches mistakes in our
PL/pgSQL (typos, ambiguous names, idempotency of gw_apply_policies); it proves
nothing about TimescaleDB itself.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from cloud.db.migrate import available
from tests.support import services

STANDIN = """
CREATE SCHEMA timescaledb_information;
CREATE TABLE timescaledb_information.hypertables (
    hypertable_schema name, hypertable_name name, compression_enabled boolean);
CREATE TABLE timescaledb_information.jobs (
    job_id serial, proc_name name, hypertable_schema name, hypertable_name name, config jsonb);
CREATE TABLE timescaledb_information.chunks (
    hypertable_schema name, hypertable_name name, chunk_schema name, chunk_name name,
    range_start timestamptz, range_end timestamptz);

CREATE FUNCTION _standin_policy(proc text, rel regclass, key text, age interval, if_not_exists bool)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE id int;
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.jobs j WHERE j.proc_name = proc
               AND j.hypertable_name = rel::text) THEN
        IF if_not_exists THEN RETURN -1; END IF;
        RAISE EXCEPTION 'policy already exists';
    END IF;
    INSERT INTO timescaledb_information.jobs (proc_name, hypertable_schema, hypertable_name, config)
    VALUES (proc, 'public', rel::text, jsonb_build_object(key, age::text)) RETURNING job_id INTO id;
    RETURN id;
END $$;
CREATE FUNCTION add_retention_policy(relation regclass, drop_after interval, if_not_exists bool DEFAULT false)
RETURNS int LANGUAGE sql AS $$ SELECT _standin_policy('policy_retention', relation, 'drop_after', drop_after, if_not_exists) $$;
CREATE FUNCTION add_compression_policy(hypertable regclass, compress_after interval, if_not_exists bool DEFAULT false)
RETURNS int LANGUAGE sql AS $$ SELECT _standin_policy('policy_compression', hypertable, 'compress_after', compress_after, if_not_exists) $$;
CREATE FUNCTION remove_retention_policy(relation regclass, if_exists bool DEFAULT false) RETURNS void
LANGUAGE sql AS $$ DELETE FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = relation::text $$;
CREATE FUNCTION remove_compression_policy(hypertable regclass, if_exists bool DEFAULT false) RETURNS bool
LANGUAGE sql AS $$ DELETE FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = hypertable::text RETURNING true $$;
CREATE FUNCTION drop_chunks(relation regclass, older_than timestamptz DEFAULT NULL) RETURNS SETOF text
LANGUAGE sql AS $$ DELETE FROM timescaledb_information.chunks WHERE hypertable_name = relation::text
                   AND range_end <= older_than RETURNING format('%I.%I', chunk_schema, chunk_name) $$;
CREATE FUNCTION approximate_row_count(relation regclass) RETURNS bigint LANGUAGE sql AS $$ SELECT 42::bigint $$;

CREATE TABLE heartbeat (dev text, seq bigint, ts timestamptz NOT NULL);
CREATE TABLE detection (dev text, seq bigint, ts timestamptz NOT NULL);
CREATE TABLE sensor_alert (dev text, seq bigint, ts timestamptz NOT NULL);
INSERT INTO timescaledb_information.hypertables VALUES
    ('public', 'heartbeat', true), ('public', 'detection', true), ('public', 'sensor_alert', false);
"""


def _sql(version: int, mode: str | None) -> str:
    return next(m.sql for m in available() if m.version == version and m.mode == mode)


@pytest.fixture
def conn():
    name = f"gw_ts_{uuid.uuid4().hex[:12]}"
    dsn = services.create_database(name)
    try:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(_sql(1, None))
            c.execute(STANDIN)
            c.execute(_sql(3, "timescale"))
            yield c
    finally:
        services.drop_database(name)



def test_apply_policies_adds_changes_and_then_leaves_alone(conn):
    first = conn.execute("SELECT relation, action FROM gw_apply_policies(400, 7)").fetchall()
    assert len(first) == 5  # retention on three tables, compression on the two with it enabled
    assert conn.execute("SELECT * FROM gw_apply_policies(400, 7)").fetchall() == []
    changed = conn.execute("SELECT relation, action FROM gw_apply_policies(400, 14)").fetchall()
    assert changed == [("detection", "compression policy: compress after 14 days"),
                       ("heartbeat", "compression policy: compress after 14 days")]
    jobs = conn.execute("SELECT hypertable_name, proc_name, config FROM timescaledb_information.jobs "
                        "ORDER BY 1, 2").fetchall()
    assert len(jobs) == 5
    assert ("heartbeat", "policy_compression", {"compress_after": "14 days"}) in jobs


def test_ensure_is_a_no_op_and_drop_removes_expired_chunks_and_rows(conn):
    now = datetime.now(timezone.utc)
    conn.execute("""INSERT INTO timescaledb_information.chunks VALUES
        ('public', 'heartbeat', '_timescaledb_internal', '_hyper_1_1_chunk', %s, %s),
        ('public', 'heartbeat', '_timescaledb_internal', '_hyper_1_2_chunk', %s, %s)""",
                 (now - timedelta(days=11), now - timedelta(days=10), now - timedelta(days=1), now))
    conn.execute("INSERT INTO dead_letter (received_at, topic, payload, reason) "
                 "VALUES (now() - interval '9 days', 't', '\\x00', 'bad')")
    assert conn.execute("SELECT * FROM gw_ensure_partitions(1, 7)").fetchall() == []
    dropped = conn.execute("SELECT * FROM gw_drop_expired_partitions(5)").fetchall()
    assert dropped == [("_timescaledb_internal._hyper_1_1_chunk", "dropped", None), ("dead_letter", "deleted", 1)]
    report = {r[0]: r[1:] for r in conn.execute("SELECT * FROM gw_partition_report()")}
    assert report["heartbeat"][:3] == (1, 42, None)
