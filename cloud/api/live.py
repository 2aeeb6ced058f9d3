"""The live feed behind `GET /api/v1/live`: server-sent events polled from the database.

Each stream polls once a second for heartbeats and dead letters that arrived
since its cursor, filtered by the caller's scope. The cursor is the last row's
(received_at, key...), so a burst is read in pages without loss or repeats.
Rows younger than `settle_s` are left for the next poll: the ingest stamps
`received_at` before its transaction commits, and a row committed late with an
earlier stamp would otherwise be skipped.

Bounded on every side: streams per process and per user, rows per poll, and a
stream's lifetime (it ends at the token's expiry or after `max_duration_s`;
clients reconnect). The token is re-checked while streaming, so a revoked
token stops its streams.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import psycopg
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import Scope, Session, connection
from cloud.api.models import iso_utc
from cloud.api.routes.cases import case_visibility
from cloud.attendance.live import new_events
from cloud.users import lookup_token

log = logging.getLogger(__name__)

_DAWN = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Live means recent: fixes older than this (a device flushing a backlog) stay out of the feed.
LIVE_MAX_AGE = "1 day"


@dataclass(frozen=True)
class LiveLimits:
    poll_s: float = 1.0
    settle_s: float = 2.0
    max_rows: int = 500
    keepalive_s: float = 15.0
    max_duration_s: float = 3600.0
    recheck_token_s: float = 30.0
    max_streams: int = 32
    max_streams_per_user: int = 4


class Lease:
    """One open stream's slot; frees itself when released or garbage-collected."""

    def __init__(self, registry: "LiveRegistry", user_id: int):
        self.user_id = user_id
        self._registry = registry

    def release(self) -> None:
        self._registry._leases.discard(self)


class LiveRegistry:
    """Counts open streams. Leases are held weakly, so a stream that never ran frees its slot too."""

    def __init__(self, limits: LiveLimits):
        self.limits = limits
        self._leases: weakref.WeakSet[Lease] = weakref.WeakSet()

    def open_streams(self, user_id: int | None = None) -> int:
        return sum(1 for lease in list(self._leases) if user_id is None or lease.user_id == user_id)

    def acquire(self, user_id: int) -> Lease | None:
        if (self.open_streams() >= self.limits.max_streams
                or self.open_streams(user_id) >= self.limits.max_streams_per_user):
            return None
        lease = Lease(self, user_id)
        self._leases.add(lease)
        return lease


@dataclass(frozen=True)
class Cursor:
    heartbeat: tuple  # (received_at, dev, ts, seq) of the last row sent
    dead_letter: tuple  # (received_at, id)
    case: tuple = (_DAWN, -1)  # (at, id) of the last case history row sent
    attendance: tuple = (_DAWN, -1)  # (created_at, id) of the last attendance event sent


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def start_cursor(pool: ConnectionPool, settle_s: float) -> Cursor:
    with connection(pool) as conn:
        start = conn.execute("SELECT now() - make_interval(secs => %s)", (settle_s,)).fetchone()[0]
    return Cursor((start, "", _DAWN, -1), (start, -1), (start, -1), (start, -1))


def _heartbeat_rows(conn, scope: Scope, cursor: Cursor, limits: LiveLimits) -> list[tuple]:
    at, dev, ts, seq = cursor.heartbeat
    return conn.execute(
        f"""SELECT received_at, dev, ts, seq, lat, lon, acc, grid FROM heartbeat
            WHERE received_at >= %(at)s AND (received_at, dev, ts, seq) > (%(at)s, %(dev)s, %(ts)s, %(seq)s)
              AND received_at <= now() - make_interval(secs => %(settle)s)
              AND ts > now() - interval '{LIVE_MAX_AGE}' AND {scope.rows("grid")}
            ORDER BY received_at, dev, ts, seq LIMIT %(cap)s""",
        {**scope.params, "at": at, "dev": dev, "ts": ts, "seq": seq,
         "settle": limits.settle_s, "cap": limits.max_rows}).fetchall()


def _dead_letter_rows(conn, scope: Scope, cursor: Cursor, limits: LiveLimits) -> list[tuple]:
    at, last_id = cursor.dead_letter
    return conn.execute(
        f"""SELECT dl.received_at, dl.id, dl.topic, dl.reason, dl.detail, dl.dev, dl.seq, octet_length(dl.payload)
            FROM dead_letter dl
            WHERE dl.received_at >= %(at)s AND (dl.received_at, dl.id) > (%(at)s, %(id)s)
              AND dl.received_at <= now() - make_interval(secs => %(settle)s) AND {scope.devices("dl.dev")}
            ORDER BY dl.received_at, dl.id LIMIT %(cap)s""",
        {**scope.params, "at": at, "id": last_id, "settle": limits.settle_s, "cap": limits.max_rows}).fetchall()


def _case_rows(conn, session: Session, cursor: Cursor, limits: LiveLimits) -> list[tuple]:
    visible, params = case_visibility(session)
    at, last_id = cursor.case
    return conn.execute(
        f"""SELECT h.at, h.id, h.case_id, h.action, h.from_status, h.to_status, h.actor,
                   c.kind, c.status, c.department, c.grid, c.due_at, c.evidence_count
            FROM case_history h JOIN case_file c ON c.id = h.case_id
            WHERE h.at >= %(at)s AND (h.at, h.id) > (%(at)s, %(id)s)
              AND h.at <= now() - make_interval(secs => %(settle)s) AND {visible}
            ORDER BY h.at, h.id LIMIT %(cap)s""",
        {**params, "at": at, "id": last_id, "settle": limits.settle_s, "cap": limits.max_rows}).fetchall()


def _case_event(r: tuple) -> str:
    return sse("case", {"id": r[2], "event": r[3], "from": r[4], "to": r[5], "actor": r[6], "at": iso_utc(r[0]),
                        "kind": r[7], "status": r[8], "department": r[9], "grid": r[10], "due_at": iso_utc(r[11]),
                        "evidence_count": r[12]})


def poll(pool: ConnectionPool, session: Session, cursor: Cursor, limits: LiveLimits) -> tuple[list[str], Cursor]:
    """The events that arrived since the cursor, and the cursor after them."""
    with connection(pool) as conn:
        hbs = _heartbeat_rows(conn, session.scope, cursor, limits)
        dls = _dead_letter_rows(conn, session.scope, cursor, limits) if may_see_dead_letters(session) else []
        cases = _case_rows(conn, session, cursor, limits)
        absences = new_events(conn, session.scope, cursor.attendance, limits.settle_s, limits.max_rows)
    events = [sse("position", {"dev": r[1], "seq": r[3], "ts": iso_utc(r[2]), "received_at": iso_utc(r[0]),
                               "lat": r[4], "lon": r[5], "acc": r[6], "grid": r[7]}) for r in hbs]
    events += [sse("deadletter", {"id": r[1], "received_at": iso_utc(r[0]), "topic": r[2], "reason": r[3],
                                  "detail": r[4], "dev": r[5], "seq": r[6], "size": r[7]}) for r in dls]
    if hbs:
        cursor = replace(cursor, heartbeat=hbs[-1][:4])
    events += [_case_event(r) for r in cases]
    if dls:
        cursor = replace(cursor, dead_letter=dls[-1][:2])
    if cases:
        cursor = replace(cursor, case=cases[-1][:2])
    events += [sse("attendance", payload) for _, payload in absences]
    if absences:
        cursor = replace(cursor, attendance=absences[-1][0])
    return events, cursor


def may_see_dead_letters(session: Session) -> bool:
    return session.user.role in ("admin", "operator")


def token_valid(pool: ConnectionPool, token: str) -> bool:
    with connection(pool) as conn:
        return lookup_token(conn, token) is not None


async def stream(pool: ConnectionPool, session: Session, limits: LiveLimits, lease: Lease) -> AsyncIterator[str]:
    """The event stream of one client: hello, then positions and dead letters, then bye."""
    try:
        async for chunk in _events(pool, session, limits):
            yield chunk
    except psycopg.OperationalError as exc:
        log.warning("live stream of %s ends: database unavailable: %s", session.user.name, exc)
        yield sse("bye", {"reason": "database unavailable; reconnect"})
    finally:
        lease.release()


async def _events(pool: ConnectionPool, session: Session, limits: LiveLimits) -> AsyncIterator[str]:
    cursor = await run_in_threadpool(start_cursor, pool, limits.settle_s)
    yield f"retry: 3000\n{sse('hello', {'user': session.user.name, 'scope': session.user.scope_grid})}"
    ttl = (session.expires_at - datetime.now(timezone.utc)).total_seconds()
    deadline = time.monotonic() + min(limits.max_duration_s, ttl)
    last_sent = time.monotonic()
    next_check = last_sent + limits.recheck_token_s
    while time.monotonic() < deadline:
        await asyncio.sleep(limits.poll_s)
        now = time.monotonic()
        if now >= next_check:
            if not await run_in_threadpool(token_valid, pool, session.token):
                yield sse("bye", {"reason": "token expired or revoked"})
                return
            next_check = now + limits.recheck_token_s
        events, cursor = await run_in_threadpool(poll, pool, session, cursor, limits)
        for event in events:
            yield event
        if events:
            last_sent = now
        elif now - last_sent >= limits.keepalive_s:
            yield ": keepalive\n\n"
            last_sent = now
    yield sse("bye", {"reason": "stream time limit reached; reconnect"})
