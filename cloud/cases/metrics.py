"""Prometheus gauges of cases, read from the database at scrape time (`GET /metrics`)."""
from __future__ import annotations

import logging

import psycopg
from prometheus_client.core import GaugeMetricFamily
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_S = 1.0  # the database gauges already waited when PostgreSQL is gone


def read_case_stats(conn: psycopg.Connection) -> dict:
    conn.execute("SET LOCAL statement_timeout = 5000")
    open_cases = conn.execute("""SELECT status, kind, count(*) FROM case_file
                                 WHERE status NOT IN ('closed', 'rejected') GROUP BY 1, 2""").fetchall()
    overdue = conn.execute("""SELECT department, count(*) FROM case_file
                              WHERE status IN ('reported', 'registered', 'dispatched') AND due_at < now()
                              GROUP BY 1""").fetchall()
    outbox = conn.execute("""SELECT CASE WHEN dead_at IS NOT NULL THEN 'dead' ELSE 'pending' END, count(*)
                             FROM case_outbox WHERE delivered_at IS NULL GROUP BY 1""").fetchall()
    return {"open": open_cases, "overdue": overdue, "outbox": outbox}


class CaseCollector:
    """Open cases by status and kind, overdue cases by department, undelivered webhooks."""

    def __init__(self, pool: ConnectionPool):
        self.pool = pool

    def collect(self):
        try:
            with self.pool.connection(timeout=SCRAPE_TIMEOUT_S) as conn:
                stats = read_case_stats(conn)
        except psycopg.Error as exc:
            log.warning("case metrics: database query failed: %s", exc)
            return
        opened = GaugeMetricFamily("gridwatch_cases_open", "Cases not closed or rejected", labels=["status", "kind"])
        for status, kind, n in stats["open"]:
            opened.add_metric([status, kind], n)
        overdue = GaugeMetricFamily("gridwatch_cases_overdue", "Unhandled cases past their deadline",
                                    labels=["department"])
        for department, n in stats["overdue"]:
            overdue.add_metric([department], n)
        outbox = GaugeMetricFamily("gridwatch_case_webhooks_undelivered", "Webhook deliveries not done",
                                   labels=["state"])
        for state, n in stats["outbox"]:
            outbox.add_metric([state], n)
        yield from (opened, overdue, outbox)
