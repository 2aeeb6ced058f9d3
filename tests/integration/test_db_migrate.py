"""A fresh migrate gives the schema the code expects; `gridwatch db` reports it."""
from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from cloud.db.errors import SchemaOutOfDate, StorageModeConflict
from cloud.db.migrate import available, check_schema, migrate, plan
from gridwatch.cli import main
from tests.support import services

TIMESERIES = ("heartbeat", "detection", "sensor_alert")
CORE_TABLES = ("schema_meta", "schema_migration", "device", "device_alias", "app_user", "api_token",
               "dead_letter", "receipt_cursor", "field_report", "device_state_event",
               "timeseries_table")
FUNCTIONS = ("gw_ensure_partitions(int,int)", "gw_drop_expired_partitions(int)", "gw_apply_policies(int,int)",
             "gw_partition_report()")


@pytest.fixture
def empty_db():
    name = f"gw_e_{uuid.uuid4().hex[:12]}"
    yield services.create_database(name)
    services.drop_database(name)


def _primary_key(conn, table):
    return conn.execute("""SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i
        CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = %s::regclass AND i.indisprimary""", (table,)).fetchone()[0]


def test_fresh_migrate_applies_everything_once_then_nothing(empty_db):
    expected = [m.label for m in plan(available(), "partitioned", set())]
    assert migrate(empty_db) == expected
    assert migrate(empty_db) == []


def test_migrated_schema_has_tables_keys_partitions_and_functions(db_url):
    with psycopg.connect(db_url) as conn:
        for table in CORE_TABLES + TIMESERIES:
            assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0], table
        for table in TIMESERIES:
            kind, default = conn.execute("""SELECT c.relkind, pt.partdefid::regclass::text FROM pg_class c
                JOIN pg_partitioned_table pt ON pt.partrelid = c.oid WHERE c.oid = %s::regclass""",
                                         (table,)).fetchone()
            assert (kind, default) == ("p", f"{table}_default")
            assert _primary_key(conn, table) == ["dev", "ts", "seq"]
        registered = {r[0] for r in conn.execute("SELECT table_name FROM timeseries_table")}
        assert set(TIMESERIES) <= registered
        for fn in FUNCTIONS:
            assert conn.execute("SELECT to_regprocedure(%s)", (fn,)).fetchone()[0], fn
        mode = conn.execute("SELECT value FROM schema_meta WHERE key = 'storage_mode'").fetchone()[0]
        assert mode == "partitioned"
        check_schema(conn)


def test_storage_mode_cannot_change_after_first_migrate(db_url):
    with pytest.raises(StorageModeConflict, match="already 'partitioned'"):
        migrate(db_url, "timescale")


def test_check_schema_refuses_missing_and_pending_migrations(db_url, empty_db):
    with psycopg.connect(empty_db) as conn, pytest.raises(SchemaOutOfDate, match="db migrate"):
        check_schema(conn)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migration WHERE version = 3")
        with pytest.raises(SchemaOutOfDate, match="0003 are pending"):
            check_schema(conn)
        conn.execute("INSERT INTO schema_migration VALUES (3, 'partition_maintenance'), (9999, 'future')")
        with pytest.raises(SchemaOutOfDate, match="newer gridwatch"):
            check_schema(conn)


def _cli(monkeypatch, capsys, url, *argv):
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", url)
    code = main(["db", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_db_status_reports_mode_migrations_and_partitions(db_url, monkeypatch, capsys):
    code, out, _ = _cli(monkeypatch, capsys, db_url, "status")
    report = json.loads(out)
    assert code == 0 and report["storage_mode"] == "partitioned" and report["pending"] == []
    assert "0003_partition_maintenance" in report["applied"]
    by_table = {t["table"]: t for t in report["partitions"]}
    assert by_table["heartbeat"]["partitions"] == 0 and by_table["heartbeat"]["default_rows"] == 0


def test_db_status_before_any_migration_lists_pending(empty_db, monkeypatch, capsys):
    code, out, _ = _cli(monkeypatch, capsys, empty_db, "status")
    report = json.loads(out)
    assert code == 0 and report["storage_mode"] is None and report["partitions"] is None
    assert report["pending"][:3] == ["0001_core", "0002_timeseries", "0003_partition_maintenance"]


def test_db_migrate_command_creates_todays_partitions(db_url, monkeypatch, capsys):
    monkeypatch.setenv("GRIDWATCH_PARTITION_DAYS_AHEAD", "2")
    code, out, _ = _cli(monkeypatch, capsys, db_url, "migrate")
    assert code == 0 and out.startswith("schema is up to date")
    with psycopg.connect(db_url) as conn:
        today = conn.execute("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')").fetchone()[0]
        assert conn.execute("SELECT to_regclass(%s)", (f"heartbeat_p{today}",)).fetchone()[0]
    assert "partitions created: 12 (0 rows moved out of DEFAULT)" in out  # 3 tables x (1 back, today, 2 ahead)


def test_db_command_with_unreachable_server_prints_an_actionable_error(monkeypatch, capsys):
    code, _, err = _cli(monkeypatch, capsys, f"postgresql://gw:pw@127.0.0.1:{services.free_port()}/gw", "status")
    assert code == 2
    assert "cannot connect to PostgreSQL at gw@127.0.0.1" in err and "GRIDWATCH_DATABASE_URL" in err
    assert "pw@" not in err


def test_a_failing_migration_is_rolled_back_and_named(db_url, monkeypatch):
    from cloud.db import migrate as migrate_module

    broken = migrate_module.Migration(9000, "broken", None, "CREATE TABLE half_done (x int); SELECT nope FROM nowhere;")
    monkeypatch.setattr(migrate_module, "available", lambda: [broken])
    with pytest.raises(migrate_module.MigrationFailed, match="migration 9000_broken .* rolled back"):
        migrate(db_url)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
        assert not conn.execute("SELECT 1 FROM schema_migration WHERE version = 9000").fetchone()


def test_receipt_ledger_rows_move_into_their_cursors_when_0042_applies(empty_db, monkeypatch):
    import cloud.db.migrate as migrate_module

    everything = available()
    monkeypatch.setattr(migrate_module, "available", lambda: [m for m in everything if m.version < 42])
    migrate(empty_db)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("INSERT INTO receipt_cursor (dev, kind, seq) VALUES ('a', 'hb', 4), ('b', 'hb', 9), "
                     "('c', 'det', 0)")
        # a: two runs above a hole, one touching the other; b: only runs the cursor already covers
        conn.execute("INSERT INTO seq_ledger (dev, kind, lo, hi, since) VALUES "
                     "('a', 'hb', 7, 8, now() - interval '5 minutes'), ('a', 'hb', 9, 9, now()), "
                     "('a', 'hb', 12, 12, now()), ('b', 'hb', 3, 9, now())")
    monkeypatch.setattr(migrate_module, "available", lambda: everything)
    assert migrate(empty_db) == ["0042_receipt_pending"]
    with psycopg.connect(empty_db, autocommit=True) as conn:
        got = conn.execute("SELECT dev, seq, pending::text, pending_since < now() - interval '4 minutes' "
                           "FROM receipt_cursor ORDER BY dev").fetchall()
        assert got == [("a", 4, "{[7,10),[12,13)}", True), ("b", 9, "{}", None), ("c", 0, "{}", None)]
        assert conn.execute("SELECT to_regclass('seq_ledger')").fetchone() == (None,)


def test_a_skipped_hole_moves_the_cursor_to_the_end_of_the_first_waiting_run_only(db_url):
    dev = f"gap-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO device (dev, registered, last_seen) VALUES (%s, false, now())", (dev,))
        conn.execute("INSERT INTO receipt_cursor (dev, kind, seq, pending, pending_since) "
                     "VALUES (%s, 'hb', 1, '{[5,7],[10,11]}', now() - interval '21 minutes')", (dev,))
        skipped = conn.execute("SELECT * FROM gw_skip_receipt_gaps(interval '10 minutes') WHERE dev = %s",
                               (dev,)).fetchall()
        assert skipped == [(dev, "hb", 7)]
        # The next hole (8, 9) starts its own wait now.
        assert conn.execute("SELECT seq, pending::text, pending_since > now() - interval '1 minute', "
                            "(SELECT array_agg(ARRAY[from_seq, to_seq]) FROM receipt_gap g WHERE g.dev = c.dev) "
                            "FROM receipt_cursor c WHERE dev = %s", (dev,)).fetchone() == (
            7, "{[10,12)}", True, [[2, 4]])
