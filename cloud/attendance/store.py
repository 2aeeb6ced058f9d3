"""The database edge of attendance: load shifts, grids and fixes in bulk, save results and events.

Fixes of many devices come in one query per chunk, ordered by device and
time, and are split with numpy: recomputing a day of thousands of shifts
costs a handful of round trips, not one per shift.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import numpy as np
import psycopg
import shapely
from psycopg.types.json import Jsonb

from cloud.roster.shifts import shifts_between, shifts_for_day

from .geometry import GridShape
from .model import UTC, Fixes, Shift, ShiftResult

CHUNK = 200
_SHAPES: dict[bytes, GridShape] = {}  # by WKB: a re-imported grid with new geometry gets a new shape


def _shift(s) -> tuple[Shift, date]:
    return Shift(s.worker, s.dev, s.grid, s.start, s.end), s.day


def day_shifts(conn: psycopg.Connection, day: date) -> list[tuple[Shift, date]]:
    """Every rostered shift starting on local date `day` (the roster's calendar rules)."""
    return [_shift(s) for s in shifts_for_day(conn, day)]


def shifts_overlapping(conn: psycopg.Connection, since: datetime, until: datetime) -> list[tuple[Shift, date]]:
    return [_shift(s) for s in shifts_between(conn, since, until)]


def grid_shapes(conn: psycopg.Connection, codes: Iterable[str]) -> dict[str, GridShape]:
    rows = conn.execute("SELECT code, geom_wkb FROM grid WHERE code = ANY(%s)", (sorted(set(codes)),)).fetchall()
    out = {}
    for code, wkb in rows:
        wkb = bytes(wkb)
        if wkb not in _SHAPES:
            _SHAPES[wkb] = GridShape(code, shapely.from_wkb(wkb))
        out[code] = _SHAPES[wkb]
    return out


def union_shape(parts: list[GridShape]) -> GridShape:
    """One post made of several grids (cached like single grids, by their geometry)."""
    key = b"|".join(sorted(shapely.to_wkb(p.polygon) for p in parts))
    if key not in _SHAPES:
        _SHAPES[key] = GridShape("+".join(sorted(p.code for p in parts)), shapely.union_all([p.polygon for p in parts]))
    return _SHAPES[key]


def device_fixes(conn: psycopg.Connection, devs: list[str], since: datetime, until: datetime) -> dict[str, Fixes]:
    """Each device's fixes with `ts` in [since, until], oldest first."""
    out: dict[str, Fixes] = {}
    for i in range(0, len(devs), CHUNK):
        chunk = devs[i:i + CHUNK]
        rows = conn.execute(
            """SELECT dev, extract(epoch FROM ts)::float8, lat, lon, acc::float8, coalesce(mock, false),
                      extract(epoch FROM received_at)::float8
               FROM heartbeat WHERE dev = ANY(%s) AND ts BETWEEN %s AND %s ORDER BY dev, ts, seq""",
            (chunk, since, until)).fetchall()
        out.update(_split(rows))
    return out


def _split(rows: list[tuple]) -> dict[str, Fixes]:
    if not rows:
        return {}
    devs = np.array([r[0] for r in rows], dtype=object)
    cols = np.array([r[1:] for r in rows], dtype=np.float64)
    cut = np.flatnonzero(devs[1:] != devs[:-1]) + 1
    out = {}
    for a, b in zip(np.concatenate(([0], cut)), np.concatenate((cut, [len(rows)]))):
        c = cols[a:b]
        out[devs[a]] = Fixes.build(c[:, 0], c[:, 1], c[:, 2], c[:, 3], c[:, 4].astype(bool), c[:, 5])
    return out


def offline_periods(conn: psycopg.Connection, devs: list[str], since: datetime,
                    until: datetime) -> dict[str, list[tuple[float, float]]]:
    """When each device said it was offline (its MQTT will or a clean goodbye) until it came back."""
    rows = conn.execute(
        """SELECT dev, online, extract(epoch FROM received_at)::float8 FROM device_state_event
           WHERE dev = ANY(%s) AND received_at BETWEEN %s AND %s ORDER BY dev, received_at""",
        (devs, since - timedelta(hours=12), until)).fetchall()
    out: dict[str, list[tuple[float, float]]] = {}
    down: dict[str, float] = {}
    for dev, online, at in rows:
        if not online:
            down.setdefault(dev, at)
        elif dev in down:
            out.setdefault(dev, []).append((down.pop(dev), at))
    for dev, at in down.items():
        out.setdefault(dev, []).append((at, float("inf")))
    return out


def _ts(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def save(conn: psycopg.Connection, items: list[tuple[Shift, date, ShiftResult, bool]]) -> None:
    """Upsert results: (shift, local day, result, final)."""
    if not items:
        return
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO attendance (worker, grid, shift_start, shift_end, day, dev, on_post_minutes, coverage,
                   verdict, flags, first_on_post, last_on_post, fixes, on_post_now, last_fix, final, detail,
                   computed_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
               ON CONFLICT (worker, grid, shift_start) DO UPDATE SET
                   shift_end = EXCLUDED.shift_end, day = EXCLUDED.day, dev = EXCLUDED.dev,
                   on_post_minutes = EXCLUDED.on_post_minutes, coverage = EXCLUDED.coverage,
                   verdict = EXCLUDED.verdict, flags = EXCLUDED.flags, first_on_post = EXCLUDED.first_on_post,
                   last_on_post = EXCLUDED.last_on_post, fixes = EXCLUDED.fixes, on_post_now = EXCLUDED.on_post_now,
                   last_fix = EXCLUDED.last_fix, final = EXCLUDED.final, detail = EXCLUDED.detail,
                   computed_at = now()""",
            [(s.worker, s.grid, s.start, s.end, day, s.dev, r.on_post_minutes, r.coverage, r.verdict, list(r.flags),
              _ts(r.first_on_post), _ts(r.last_on_post), r.fixes, r.on_post_now, _ts(r.last_fix), final,
              Jsonb(r.as_detail())) for s, day, r, final in items])


def save_events(conn: psycopg.Connection, items: list[tuple[Shift, ShiftResult]]) -> int:
    """Off-post periods over the alert time become live events, each stored once."""
    rows = [(s.worker, s.grid, s.dev, s.start, _ts(a), _ts(b)) for s, r in items for a, b in r.excursions]
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO attendance_event (kind, worker, grid, dev, shift_start, since, until)
               VALUES ('off_post', %s, %s, %s, %s, %s, %s)
               ON CONFLICT (worker, grid, shift_start, since) DO UPDATE SET until = EXCLUDED.until""", rows)
        return cur.rowcount


def settled_keys(conn: psycopg.Connection, since: datetime,
                 fresh_after: datetime) -> tuple[set[tuple], set[tuple]]:
    """Of the results of shifts ending after `since`: the keys (worker, grid, shift_start) of those
    final or computed after `fresh_after`, and of those final."""
    rows = conn.execute("""SELECT worker, grid, shift_start, final FROM attendance
                           WHERE shift_end >= %s AND (final OR computed_at >= %s)""",
                        (since, fresh_after)).fetchall()
    return {(w, g, s) for w, g, s, _ in rows}, {(w, g, s) for w, g, s, f in rows if f}
