"""SLA clocks: warn at 80% of the time, and on breach mark the case overdue and
escalate it to the next level of the grid hierarchy.

Each step is one idempotent state transition in SQL (`... WHERE warned_at IS
NULL ... FOR UPDATE SKIP LOCKED ... RETURNING`), so any number of `cloud`
processes may run it, before or after a restart: a case is warned once and
escalated once, whoever gets there first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from .workflow import CLOCKED

BATCH = 500

_WARN = """
WITH due AS (
    SELECT id FROM case_file
    WHERE warned_at IS NULL AND warn_at <= %(now)s AND status = ANY(%(clocked)s)
    ORDER BY warn_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
UPDATE case_file c SET warned_at = %(now)s, updated_at = now()
FROM due WHERE c.id = due.id
RETURNING c.id, c.status, c.due_at
"""

_BREACH = """
WITH due AS (
    SELECT id FROM case_file
    WHERE overdue_at IS NULL AND due_at <= %(now)s AND status = ANY(%(clocked)s)
    ORDER BY due_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
UPDATE case_file c SET overdue_at = %(now)s, updated_at = now(),
    warned_at = coalesce(c.warned_at, %(now)s),
    escalated_to = (SELECT g.parent FROM grid g WHERE g.code = c.grid)
FROM due WHERE c.id = due.id
RETURNING c.id, c.status, c.escalated_to, (SELECT g.name FROM grid g WHERE g.code = c.escalated_to)
"""


@dataclass(frozen=True)
class ClockRun:
    warned: list[int]
    escalated: list[int]


def _history(cur: psycopg.Cursor, rows: list[tuple[int, str, str, str]]) -> None:
    """rows: (case_id, action, status, note), all by the system."""
    if rows:
        cur.execute("INSERT INTO case_history (case_id, actor, action, from_status, to_status, note) "
                    "SELECT id, 'system', action, status, status, note "
                    "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS u(id, action, status, note)",
                    [list(col) for col in zip(*rows)])


def warn(cur: psycopg.Cursor, now: datetime) -> list[int]:
    rows = cur.execute(_WARN, {"now": now, "clocked": list(CLOCKED), "batch": BATCH}).fetchall()
    _history(cur, [(cid, "warn", st, f"80% of the time used; due at {due.isoformat()}") for cid, st, due in rows])
    return [r[0] for r in rows]


def breach(cur: psycopg.Cursor, now: datetime) -> list[int]:
    rows = cur.execute(_BREACH, {"now": now, "clocked": list(CLOCKED), "batch": BATCH}).fetchall()
    events = []
    for cid, st, up, up_name in rows:
        events.append((cid, "overdue", st, "deadline passed"))
        if up is not None:
            events.append((cid, "escalate", st, f"escalated to {up} ({up_name})"))
    _history(cur, events)
    return [r[0] for r in rows]


def run_clocks(conn: psycopg.Connection, now: datetime | None = None) -> ClockRun:
    """One pass over the clocks, one transaction per step; `now` defaults to the database's."""
    with conn.transaction():
        at = now or conn.execute("SELECT now()").fetchone()[0]
    with conn.transaction(), conn.cursor() as cur:
        warned = warn(cur, at)
    with conn.transaction(), conn.cursor() as cur:
        escalated = breach(cur, at)
    return ClockRun(warned, escalated)
