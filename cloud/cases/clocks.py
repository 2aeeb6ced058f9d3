"""SLA clocks: warn at 80% of the time, on breach mark the case overdue and
escalate it to the next level of the grid hierarchy, and while it stays
unhandled escalate one level further for every further SLA span.

Each step is one idempotent state transition in SQL (`... WHERE warned_at IS
NULL ... FOR UPDATE SKIP LOCKED ... RETURNING`), so any number of `cloud`
processes may run it, before or after a restart: a case is warned once and
escalated once, whoever gets there first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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

# The grid one level above `code`, and whether there is a level above that.
_UP = "(SELECT g.parent FROM grid g WHERE g.code = {code})"
_HAS_UP = "EXISTS (SELECT 1 FROM grid g JOIN grid p ON p.code = g.parent WHERE g.code = {code} " \
          "AND p.parent IS NOT NULL)"

_BREACH = f"""
WITH due AS (
    SELECT id FROM case_file
    WHERE overdue_at IS NULL AND due_at <= %(now)s AND status = ANY(%(clocked)s)
    ORDER BY due_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
UPDATE case_file c SET overdue_at = %(now)s, updated_at = now(),
    warned_at = coalesce(c.warned_at, %(now)s),
    escalated_to = {_UP.format(code="c.grid")},
    escalation_level = CASE WHEN {_UP.format(code="c.grid")} IS NULL THEN 0 ELSE 1 END,
    next_escalation_at = CASE WHEN {_HAS_UP.format(code="c.grid")}
                              THEN %(now)s::timestamptz + (c.due_at - c.opened_at) END
FROM due WHERE c.id = due.id
RETURNING c.id, c.status, c.escalated_to, (SELECT g.name FROM grid g WHERE g.code = c.escalated_to)
"""

# Still unhandled one SLA span after the last escalation: one level further up.
_FURTHER = f"""
WITH due AS (
    SELECT id FROM case_file
    WHERE next_escalation_at <= %(now)s AND status = ANY(%(clocked)s)
    ORDER BY next_escalation_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
UPDATE case_file c SET updated_at = now(), escalation_level = c.escalation_level + 1,
    escalated_to = {_UP.format(code="c.escalated_to")},
    next_escalation_at = CASE WHEN {_HAS_UP.format(code="c.escalated_to")}
                              THEN c.next_escalation_at + (c.due_at - c.opened_at) END
FROM due WHERE c.id = due.id
RETURNING c.id, c.status, c.escalated_to, (SELECT g.name FROM grid g WHERE g.code = c.escalated_to)
"""


@dataclass(frozen=True)
class ClockRun:
    warned: list[int]
    escalated: list[int]        # breached now: overdue, and up one level
    escalated_further: list[int] = field(default_factory=list)


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


def escalate_further(cur: psycopg.Cursor, now: datetime) -> list[int]:
    rows = cur.execute(_FURTHER, {"now": now, "clocked": list(CLOCKED), "batch": BATCH}).fetchall()
    _history(cur, [(cid, "escalate", st, f"still not handled; escalated to {up} ({name})")
                   for cid, st, up, name in rows if up is not None])
    return [r[0] for r in rows]


def run_clocks(conn: psycopg.Connection, now: datetime | None = None) -> ClockRun:
    """One pass over the clocks, one transaction per step; `now` defaults to the database's."""
    with conn.transaction():
        at = now or conn.execute("SELECT now()").fetchone()[0]
    with conn.transaction(), conn.cursor() as cur:
        warned = warn(cur, at)
    with conn.transaction(), conn.cursor() as cur:
        escalated = breach(cur, at)
    with conn.transaction(), conn.cursor() as cur:
        further = escalate_further(cur, at)
    return ClockRun(warned, escalated, further)
