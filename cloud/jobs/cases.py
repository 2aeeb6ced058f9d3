"""Scheduled case jobs: SLA clocks (warn, overdue, escalate) and webhook deliveries.

`add_case_jobs` puts both into the process's APScheduler (3.x). All their
state lives in the database (warned_at, overdue_at, the outbox), so a
restarted process or a second `cloud` process simply carries on: each
transition is an idempotent guarded UPDATE, claimed with SKIP LOCKED.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from psycopg_pool import ConnectionPool

from cloud.cases.clocks import ClockRun, run_clocks
from cloud.cases.webhooks import DeliveryPolicy, DeliveryRun, deliver_due
from cloud.jobs.connection import failures_logged, job_connection
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

CLOCK_JOB_ID = "gridwatch.case_clocks"
WEBHOOK_JOB_ID = "gridwatch.case_webhooks"


def add_case_jobs(scheduler: BaseScheduler, pool_or_dsn: ConnectionPool | str, settings: Settings) -> list[Job]:
    """Schedule the clocks and the webhook deliveries, both first right away."""
    common = dict(coalesce=True, misfire_grace_time=None, max_instances=1, replace_existing=True,
                  next_run_time=datetime.now(timezone.utc))
    return [
        scheduler.add_job(run_clock_job, "interval", seconds=settings.cases_clock_interval_s,
                          args=(pool_or_dsn,), id=CLOCK_JOB_ID, name="case clocks", **common),
        scheduler.add_job(run_webhook_job, "interval", seconds=settings.cases_webhook_interval_s,
                          args=(pool_or_dsn, policy_from(settings)), id=WEBHOOK_JOB_ID, name="case webhooks",
                          **common),
    ]


def policy_from(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(settings.cases_webhook_max_attempts, settings.cases_webhook_backoff_s,
                          settings.cases_webhook_timeout_s)


def run_clock_job(pool_or_dsn: ConnectionPool | str, now: datetime | None = None) -> ClockRun | None:
    """One pass; what it did, or None when it failed (logged: the next run retries)."""
    with failures_logged("case clocks"):
        with job_connection(pool_or_dsn) as conn:
            done = run_clocks(conn, now)
        if done.warned or done.escalated:
            log.info("case clocks: %d warned, %d overdue", len(done.warned), len(done.escalated))
        return done
    return None


def run_webhook_job(pool_or_dsn: ConnectionPool | str, policy: DeliveryPolicy) -> DeliveryRun | None:
    """Deliver until nothing is due (in batches); None when it failed."""
    total = DeliveryRun()
    with failures_logged("case webhooks"), job_connection(pool_or_dsn) as conn:
        while True:
            run = deliver_due(conn, policy)
            total = DeliveryRun(total.delivered + run.delivered, total.failed + run.failed,
                                total.dead + run.dead)
            if run.delivered + run.failed + run.dead < policy.batch:
                return total
    return None
