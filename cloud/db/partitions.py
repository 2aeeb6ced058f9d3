"""Daily partitions, retention and storage policies of the time-series tables.

The work is done by the SQL functions of migration 0003, whose .partitioned
and .timescale variants share names and result shapes: this module is the
same for both storage modes. It picks the arguments from settings, bounds how
long a step may wait for a table lock, runs each step in its own transaction
and logs what changed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import psycopg

from cloud.db.errors import wrap_errors
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

# Partitions made for past days even before rows arrive for them. Late rows
# land in DEFAULT and get a partition on the next run anyway; one day back
# covers the hour after midnight UTC without any wait.
DAYS_BACK = 1

# How long a DDL step waits for a table lock before it is skipped until the
# next run. Every insert into the table queues behind a waiting ACCESS
# EXCLUSIVE request, so a long wait (behind a long report query, say) would
# stall the ingest for as long.
LOCK_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class MaintenanceAction:
    """One thing a maintenance step did, or skipped: `action` says which."""

    relation: str
    action: str
    row_count: int | None

    @property
    def skipped(self) -> bool:
        return self.action.startswith("skipped")


@dataclass(frozen=True)
class TableReport:
    """The partitions (or chunks) of one time-series table."""

    table: str
    partitions: int
    rows_estimate: int
    default_rows: int | None  # rows waiting in DEFAULT; None for TimescaleDB hypertables
    oldest_day: date | None
    newest_day: date | None


def ensure_partitions(conn: psycopg.Connection, settings: Settings, *, days_back: int = DAYS_BACK,
                      lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> list[MaintenanceAction]:
    """Create the daily partitions from `days_back` days ago to `partition_days_ahead`
    days ahead, and one for each day with rows waiting in DEFAULT (moved into it)."""
    # Never create what retention would drop at once.
    days_back = min(days_back, settings.retention_days)
    return _run(conn, "SELECT * FROM gw_ensure_partitions(%s, %s)",
                (days_back, settings.partition_days_ahead), lock_timeout_ms)


def drop_expired(conn: psycopg.Connection, settings: Settings, *,
                 lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> list[MaintenanceAction]:
    """Drop the partitions older than `retention_days`, delete expired rows from
    DEFAULT, prune old dead letters and expired API tokens."""
    return _run(conn, "SELECT * FROM gw_drop_expired_partitions(%s)", (settings.retention_days,),
                lock_timeout_ms)


def apply_policies(conn: psycopg.Connection, settings: Settings, *,
                   lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> list[MaintenanceAction]:
    """Set TimescaleDB's retention and compression policies from settings
    (nothing to do with native partitions)."""
    return _run(conn, "SELECT * FROM gw_apply_policies(%s, %s)",
                (settings.retention_days, settings.timescale_compress_after_days), lock_timeout_ms)


def run_maintenance(conn: psycopg.Connection, settings: Settings) -> list[MaintenanceAction]:
    """The periodic job: expire first, so that an expired backlog still in
    DEFAULT is deleted rather than given a partition dropped the next hour."""
    return drop_expired(conn, settings) + ensure_partitions(conn, settings) + apply_policies(conn, settings)


def partition_report(conn: psycopg.Connection) -> list[TableReport]:
    """Per time-series table: partitions, row estimate, DEFAULT backlog, first and last day."""
    with wrap_errors():
        rows = conn.execute("SELECT * FROM gw_partition_report()").fetchall()
    return [TableReport(*row) for row in rows]


def _run(conn: psycopg.Connection, query: str, params: tuple, lock_timeout_ms: int) -> list[MaintenanceAction]:
    with wrap_errors(), conn.transaction():
        # Local to this transaction: the caller's connection keeps its own setting.
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{lock_timeout_ms}ms",))
        actions = [MaintenanceAction(*row) for row in conn.execute(query, params)]
    for a in actions:
        if a.skipped:
            log.warning("partition maintenance: %s %s, retried on the next run", a.relation, a.action)
        else:
            log.info("partition maintenance: %s %s (%s rows)", a.relation, a.action, a.row_count)
    return actions
