"""Attendance events for the live feed (`GET /api/v1/live`, event `attendance`): new rows of
attendance_event after a cursor (created_at, id), within the caller's scope."""
from __future__ import annotations

from datetime import datetime

import psycopg

from cloud.api.deps import Scope
from cloud.api.models import iso_utc


def new_events(conn: psycopg.Connection, scope: Scope, after: tuple[datetime, int], settle_s: float,
               cap: int) -> list[tuple[tuple[datetime, int], dict]]:
    """[(cursor of the row, event payload)], oldest first."""
    at, last_id = after
    rows = conn.execute(
        f"""SELECT e.created_at, e.id, e.kind, e.worker, e.grid, e.dev, e.shift_start, e.since, e.until
            FROM attendance_event e
            WHERE e.created_at >= %(at)s AND (e.created_at, e.id) > (%(at)s, %(id)s)
              AND e.created_at <= now() - make_interval(secs => %(settle)s) AND {scope.rows("e.grid")}
            ORDER BY e.created_at, e.id LIMIT %(cap)s""",
        {**scope.params, "at": at, "id": last_id, "settle": settle_s, "cap": cap}).fetchall()
    return [((r[0], r[1]), {"id": r[1], "kind": r[2], "worker": r[3], "grid": r[4], "dev": r[5],
                            "shift_start": iso_utc(r[6]), "since": iso_utc(r[7]), "until": iso_utc(r[8]),
                            "minutes": round((r[8] - r[7]).total_seconds() / 60, 1)}) for r in rows]
