"""The scheduled storage maintenance: hourly, once at start, never raising."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from psycopg_pool import ConnectionPool

from cloud.jobs.maintenance import JOB_ID, add_maintenance_jobs, run_maintenance_job
from gridwatch.settings import load_settings
from tests.support import services


def _today_partition(db_url) -> bool:
    name = f"heartbeat_p{datetime.now(timezone.utc):%Y%m%d}"
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def test_job_is_hourly_coalesced_single_and_runs_once_at_start(db_url):
    scheduler = BackgroundScheduler(timezone=timezone.utc)
    job = add_maintenance_jobs(scheduler, db_url, load_settings(database_url=db_url))
    assert job.id == JOB_ID and job.coalesce and job.max_instances == 1
    assert job.trigger.interval == timedelta(hours=1)
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while not _today_partition(db_url):
            assert time.monotonic() < deadline, "the first run did not happen at start"
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)


def test_job_runs_through_a_pool(db_url):
    settings = load_settings(database_url=db_url, partition_days_ahead=2)
    with ConnectionPool(db_url, min_size=1, max_size=1, open=True) as pool:
        actions = run_maintenance_job(pool, settings)
        assert actions and {a.action for a in actions} == {"created"}
        assert run_maintenance_job(pool, settings) == []
    assert _today_partition(db_url)


def test_job_logs_an_unreachable_database_instead_of_raising(caplog):
    url = f"postgresql://postgres@127.0.0.1:{services.free_port()}/gw"
    with caplog.at_level(logging.ERROR, logger="cloud.jobs.maintenance"):
        assert run_maintenance_job(url, load_settings(database_url=url)) is None
    assert "storage maintenance failed" in caplog.text and "cannot connect to PostgreSQL" in caplog.text


def test_job_logs_an_unexpected_error_with_its_traceback(db_url, caplog):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE plain (ts timestamptz); INSERT INTO timeseries_table VALUES ('plain')")
    with caplog.at_level(logging.ERROR, logger="cloud.jobs.maintenance"):
        assert run_maintenance_job(db_url, load_settings(database_url=db_url)) is None
    assert "plain is missing" in caplog.text and caplog.records[-1].exc_info
