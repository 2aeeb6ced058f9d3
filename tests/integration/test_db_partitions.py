"""Daily partitions: created ahead, backlog rescued from DEFAULT, expired ones dropped."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

from cloud.db.partitions import drop_expired, ensure_partitions, partition_report
from gridwatch.settings import load_settings

TIMESERIES = ("detection", "heartbeat", "sensor_alert")


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as c:
        yield c


def _settings(db_url, **kw):
    return load_settings(database_url=db_url, **kw)


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _noon(days_ago: int) -> datetime:
    d = _today() - timedelta(days=days_ago)
    return datetime(d.year, d.month, d.day, 12, tzinfo=timezone.utc)


def _add_heartbeats(conn, ts: datetime, n: int, dev: str = "h1") -> None:
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO heartbeat (dev, seq, ts, received_at, lat, lon, acc) "
                        "VALUES (%s, %s, %s, now(), 31.2, 121.5, 5)",
                        [(dev, int(ts.timestamp()) * 1000 + i, ts + timedelta(seconds=i)) for i in range(n)])
    conn.commit()


def _partitions(conn, table: str) -> set[str]:
    rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = %s::regclass", (table,))
    return {r[0] for r in rows} - {f"{table}_default"}


def _name(table: str, days_ago: int) -> str:
    return f"{table}_p{(_today() - timedelta(days=days_ago)):%Y%m%d}"


def _count(conn, relation: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]


def test_ensure_creates_the_day_window_for_every_table_and_is_idempotent(conn, db_url):
    actions = ensure_partitions(conn, _settings(db_url, partition_days_ahead=3))
    for table in TIMESERIES:
        assert _partitions(conn, table) == {_name(table, d) for d in range(-3, 2)}
    assert {a.action for a in actions} == {"created"} and len(actions) == 3 * 5
    assert ensure_partitions(conn, _settings(db_url, partition_days_ahead=3)) == []


def test_partition_bounds_are_utc_days_whatever_the_session_time_zone(conn, db_url):
    conn.execute("SET timezone = 'Pacific/Kiritimati'")  # UTC+14: its date is often tomorrow in UTC
    ensure_partitions(conn, _settings(db_url, partition_days_ahead=1), days_back=0)
    conn.execute("SET timezone = 'UTC'")
    bound = conn.execute("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = %s",
                         (_name("heartbeat", 0),)).fetchone()[0]
    d = _today()
    assert bound == f"FOR VALUES FROM ('{d} 00:00:00+00') TO ('{d + timedelta(days=1)} 00:00:00+00')"


def test_backlog_in_default_is_moved_into_its_own_partition_without_loss(conn, db_url):
    _add_heartbeats(conn, _noon(3), 40)            # a handset back online after three days
    _add_heartbeats(conn, _noon(0), 5, dev="h2")   # today's rows, before today's partition exists
    assert _count(conn, "heartbeat_default") == 45

    actions = ensure_partitions(conn, _settings(db_url, partition_days_ahead=1))

    moved = {a.relation: a.row_count for a in actions if a.relation.startswith("heartbeat")}
    assert moved[f"{_name('heartbeat', 3)}"] == 40 and moved[f"{_name('heartbeat', 0)}"] == 5
    assert _count(conn, "heartbeat") == 45 and _count(conn, "heartbeat_default") == 0
    assert _count(conn, _name("heartbeat", 3)) == 40
    # The moved partition is a full member: its primary key still refuses a duplicate.
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO heartbeat SELECT * FROM heartbeat WHERE dev = 'h1' LIMIT 1")
    conn.rollback()


def test_partition_report_shows_partitions_days_and_default_backlog(conn, db_url):
    ensure_partitions(conn, _settings(db_url, partition_days_ahead=2))
    _add_heartbeats(conn, _noon(6), 3)
    report = {r.table: r for r in partition_report(conn)}
    hb = report["heartbeat"]
    assert (hb.partitions, hb.default_rows) == (4, 3)
    assert (hb.oldest_day, hb.newest_day) == (_today() - timedelta(days=1), _today() + timedelta(days=2))
    ensure_partitions(conn, _settings(db_url, partition_days_ahead=2))
    hb = next(r for r in partition_report(conn) if r.table == "heartbeat")
    assert (hb.partitions, hb.default_rows, hb.oldest_day) == (5, 0, _today() - timedelta(days=6))


def test_drop_expired_drops_old_partitions_and_rows_and_keeps_recent_ones(conn, db_url):
    for days_ago in (10, 6, 5, 4):
        _add_heartbeats(conn, _noon(days_ago), 2)
    ensure_partitions(conn, _settings(db_url))
    _add_heartbeats(conn, _noon(8), 2)   # arrived after the run: still in DEFAULT
    conn.execute("""INSERT INTO dead_letter (received_at, topic, payload, reason) VALUES
        (now() - interval '9 days', 'gw/v1/x/hb', '\\x00', 'bad'), (now(), 'gw/v1/x/hb', '\\x00', 'bad')""")
    conn.execute("INSERT INTO app_user (name, password_hash, role) VALUES ('op', 'x', 'operator')")
    conn.execute("""INSERT INTO api_token (token_hash, user_id, expires_at)
        SELECT t, id, e FROM app_user, (VALUES ('\\x01'::bytea, now() - interval '1 s'),
                                              ('\\x02'::bytea, now() + interval '1 h')) AS v(t, e)""")
    conn.commit()

    actions = drop_expired(conn, _settings(db_url, retention_days=5))

    dropped = {a.relation for a in actions if a.action == "dropped"}
    assert dropped == {f"{_name('heartbeat', 10)}", f"{_name('heartbeat', 6)}"}
    # Day -5 holds the cutoff instant (now - 5 days): not entirely expired, kept.
    assert {_name("heartbeat", 5), _name("heartbeat", 4)} <= _partitions(conn, "heartbeat")
    assert _count(conn, "heartbeat") == 4
    deleted = {a.relation: a.row_count for a in actions if a.action == "deleted"}
    assert deleted == {"heartbeat_default": 2, "dead_letter": 1, "api_token": 1}
    assert drop_expired(conn, _settings(db_url, retention_days=5)) == []


def test_a_table_lock_held_elsewhere_skips_that_table_instead_of_waiting(conn, db_url):
    with psycopg.connect(db_url) as reader:
        reader.execute("SELECT count(*) FROM heartbeat_default")  # a long report holds its lock
        actions = ensure_partitions(conn, _settings(db_url, partition_days_ahead=1), lock_timeout_ms=100)
        skipped = [a for a in actions if a.skipped]
        assert [(a.relation, a.action) for a in skipped] == [("heartbeat", "skipped: lock timeout")]
        assert _partitions(conn, "heartbeat") == set() and len(_partitions(conn, "detection")) == 3
    # The reader is gone: the next run catches up.
    assert len(ensure_partitions(conn, _settings(db_url, partition_days_ahead=1))) == 3


def test_concurrent_runs_wait_for_each_other_and_create_nothing_twice(conn, db_url):
    settings = _settings(db_url, partition_days_ahead=2)
    conn.execute("SELECT * FROM gw_ensure_partitions(1, 2)")  # holds the maintenance lock until commit
    second: list = []
    with psycopg.connect(db_url) as other:
        worker = threading.Thread(target=lambda: second.extend(ensure_partitions(other, settings)))
        worker.start()
        deadline = time.monotonic() + 10
        while not conn.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                               "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
                               ).fetchone()[0]:
            assert time.monotonic() < deadline, "the second run never waited for the first"
            time.sleep(0.02)
        conn.commit()
        worker.join(10)
    assert not worker.is_alive() and second == []
    assert len(_partitions(conn, "heartbeat")) == 4


def test_a_table_registered_later_gets_partitions_too(conn, db_url):
    conn.execute("""CREATE TABLE probe (dev text, ts timestamptz NOT NULL, v int) PARTITION BY RANGE (ts);
                    CREATE TABLE probe_default PARTITION OF probe DEFAULT;
                    INSERT INTO timeseries_table VALUES ('probe')""")
    conn.execute("INSERT INTO probe VALUES ('p', %s, 1)", (_noon(2),))
    conn.commit()
    ensure_partitions(conn, _settings(db_url, partition_days_ahead=1))
    assert _partitions(conn, "probe") == {_name("probe", d) for d in (2, 1, 0, -1)}
    assert _count(conn, _name("probe", 2)) == 1


def test_a_misregistered_table_is_named_in_the_error(conn, db_url):
    conn.execute("CREATE TABLE plain (ts timestamptz); INSERT INTO timeseries_table VALUES ('plain')")
    conn.commit()
    with pytest.raises(psycopg.errors.RaiseException, match="plain is missing, not PARTITION BY RANGE"):
        ensure_partitions(conn, _settings(db_url))
