"""Scheduled storage maintenance: partitions, retention, policies.

`add_maintenance_jobs` puts the job into the process's APScheduler (3.x); the
composition root creates and starts the scheduler. Every `gridwatch cloud`
process may run it: the SQL side serialises runs with an advisory lock, and
a run that finds the work done does nothing.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from psycopg_pool import ConnectionPool

from cloud.db.partitions import MaintenanceAction, run_maintenance
from cloud.jobs.connection import failures_logged, job_connection
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

JOB_ID = "gridwatch.storage_maintenance"
INTERVAL_S = 3600


def add_maintenance_jobs(scheduler: BaseScheduler, pool_or_dsn: ConnectionPool | str, settings: Settings) -> Job:
    """Schedule the maintenance hourly and once right away (at scheduler start)."""
    return scheduler.add_job(
        run_maintenance_job, "interval", seconds=INTERVAL_S, args=(pool_or_dsn, settings),
        id=JOB_ID, name="storage maintenance", replace_existing=True,
        next_run_time=datetime.now(timezone.utc),
        # Runs missed while the process was suspended or busy collapse into one,
        # however late: the work is idempotent and catches up whole.
        coalesce=True, misfire_grace_time=None, max_instances=1,
    )


def run_maintenance_job(pool_or_dsn: ConnectionPool | str, settings: Settings) -> list[MaintenanceAction] | None:
    """One run; what it did, or None when it failed (logged: the next run retries)."""
    with failures_logged("storage maintenance", f"retried in {INTERVAL_S} s"), job_connection(pool_or_dsn) as conn:
        return run_maintenance(conn, settings)
    return None
