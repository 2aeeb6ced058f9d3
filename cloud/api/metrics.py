"""Prometheus metrics read from the database at scrape time (`GET /metrics`).

Processes register their own counters in prometheus_client's default registry;
these gauges live in a registry of the app, so several apps in one process (as
in tests) do not collide.
"""
from __future__ import annotations

import logging

import psycopg
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_S = 2.0


def read_stats(conn: psycopg.Connection) -> dict:
    conn.execute("SET LOCAL statement_timeout = 5000")
    hb = conn.execute("SELECT count(*) FROM heartbeat WHERE received_at > now() - interval '1 minute'").fetchone()[0]
    dead = conn.execute("""SELECT reason, count(*) FROM dead_letter
                           WHERE received_at > now() - interval '1 day' GROUP BY reason""").fetchall()
    devices = conn.execute("""SELECT registered, coalesce(online::text, 'unknown'), count(*)
                              FROM device GROUP BY 1, 2""").fetchall()
    return {"heartbeats_last_minute": hb, "dead_letters": dead, "devices": devices}


class DatabaseCollector:
    """Gauges computed by a few cheap queries per scrape; `gridwatch_db_up` 0 when they fail."""

    def __init__(self, pool: ConnectionPool):
        self.pool = pool

    def collect(self):
        up = GaugeMetricFamily("gridwatch_db_up", "1 when the API could query PostgreSQL during this scrape")
        try:
            with self.pool.connection(timeout=SCRAPE_TIMEOUT_S) as conn:
                stats = read_stats(conn)
        except psycopg.Error as exc:
            log.warning("metrics: database query failed: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _families(stats)


def _families(stats: dict):
    hb = GaugeMetricFamily("gridwatch_heartbeats_received_last_minute",
                           "Heartbeat rows stored with a receive time in the last minute")
    hb.add_metric([], stats["heartbeats_last_minute"])
    dead = GaugeMetricFamily("gridwatch_dead_letters_last_day",
                             "Dead letters received in the last 24 h, by reason", labels=["reason"])
    for reason, count in stats["dead_letters"]:
        dead.add_metric([reason], count)
    devices = GaugeMetricFamily("gridwatch_devices", "Known devices, by registration and last MQTT state",
                                labels=["registered", "online"])
    for registered, online, count in stats["devices"]:
        devices.add_metric([str(registered).lower(), online], count)
    return [hb, dead, devices]


def database_registry(pool: ConnectionPool) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(pool))
    return registry
