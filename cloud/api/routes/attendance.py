"""Attendance (CONTRACT section 6): `GET /api/v1/attendance`, a worker's track of a day as GeoJSON
(`GET /api/v1/workers/{worker}/track`), and who is on post in a grid now
(`GET /api/v1/grids/{code}/on-post`).

Scope: every query carries the caller's `Scope` condition on the shift's grid,
so a supervisor sees only shifts in its grid subtree; a worker or grid outside
it gets the same 404 as one that does not exist.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel

from cloud.api.deps import Conn, CurrentSession, PageParams, Paging, Scope
from cloud.api.models import Instant, Page, iso_utc
from cloud.roster.shifts import shifts_for_day

router = APIRouter(tags=["attendance"])

Verdict = Literal["present", "late", "left_early", "absent", "suspect"]
WorkerPath = Annotated[str, Path(min_length=1, max_length=64, description="worker id of the roster")]
GridPath = Annotated[str, Path(min_length=1, max_length=64, description="grid code")]
DayQuery = Annotated[date, Query(description="local date of the shifts, YYYY-MM-DD")]
# A worker is "on post now" only while its last fix is this fresh.
FRESH = timedelta(minutes=10)


class AttendanceOut(BaseModel):
    worker: str
    grid: str
    start: Instant
    end: Instant
    on_post_minutes: float
    coverage: float
    verdict: Verdict
    flags: list[str]
    dev: str
    first_on_post: Instant | None
    last_on_post: Instant | None
    fixes: int
    final: bool
    computed_at: Instant


class OnPostOut(BaseModel):
    worker: str
    dev: str
    grid: str
    shift_start: Instant
    shift_end: Instant
    first_on_post: Instant | None
    on_post_minutes: float
    last_fix: Instant
    lat: float | None
    lon: float | None
    acc: float | None


_COLUMNS = ("worker", "grid", "start", "end", "on_post_minutes", "coverage", "verdict", "flags", "dev",
            "first_on_post", "last_on_post", "fixes", "final", "computed_at")
_SELECT = """a.worker, a.grid, a.shift_start, a.shift_end, a.on_post_minutes, a.coverage, a.verdict, a.flags,
             a.dev, a.first_on_post, a.last_on_post, a.fixes, a.final, a.computed_at"""


def list_attendance(conn: psycopg.Connection, scope: Scope, day: date, grid: str | None, worker: str | None,
                    page: Paging) -> Page[AttendanceOut]:
    where = ["a.day = %(day)s", scope.rows("a.grid")]
    if grid is not None:
        where.append("a.grid IN (SELECT gw_grid_subtree(%(grid)s))")
    if worker is not None:
        where.append("a.worker = %(worker)s")
    cond = " AND ".join(where)
    params = {**scope.params, "day": day, "grid": grid, "worker": worker, "limit": page.limit, "offset": page.offset}
    total = conn.execute(f"SELECT count(*) FROM attendance a WHERE {cond}", params).fetchone()[0]
    rows = conn.execute(f"""SELECT {_SELECT} FROM attendance a WHERE {cond}
                            ORDER BY a.grid, a.worker, a.shift_start LIMIT %(limit)s OFFSET %(offset)s""",
                        params).fetchall()
    return Page[AttendanceOut](items=[AttendanceOut(**dict(zip(_COLUMNS, r))) for r in rows], total=total)


@router.get("/attendance", response_model=Page[AttendanceOut], summary="Attendance of the worker shifts of a day")
def attendance(session: CurrentSession, conn: Conn, page: PageParams, day: DayQuery,
               grid: Annotated[str | None, Query(description="only this grid and the grids below it")] = None,
               worker: Annotated[str | None, Query(description="only this worker")] = None) -> Page[AttendanceOut]:
    return list_attendance(conn, session.scope, day, grid, worker, page)


def _shifts_in_scope(conn: psycopg.Connection, scope: Scope, worker: str, day: date) -> list[tuple]:
    """The worker's shifts of `day` in the caller's scope: judged ones, else the roster's."""
    rows = conn.execute(f"""SELECT a.grid, a.dev, a.shift_start, a.shift_end, a.verdict, a.flags FROM attendance a
                            WHERE a.worker = %(worker)s AND a.day = %(day)s AND {scope.rows("a.grid")}
                            ORDER BY a.shift_start""", {**scope.params, "worker": worker, "day": day}).fetchall()
    if rows:
        return rows
    visible = set(scope.grids) if scope.grids is not None else None
    return [(s.grid, s.dev, s.start, s.end, None, []) for s in shifts_for_day(conn, day)
            if s.worker == worker and (visible is None or s.grid in visible)]


def track_geojson(conn: psycopg.Connection, worker: str, shifts: list[tuple]) -> dict:
    """One LineString per shift: the device's fixes from start to end, by fix time, with their times."""
    features = []
    for grid, dev, start, end, verdict, flags in shifts:
        fixes = conn.execute("""SELECT ts, lon, lat, acc FROM heartbeat WHERE dev = %s AND ts BETWEEN %s AND %s
                                ORDER BY ts, seq""", (dev, start, end)).fetchall()
        coords = [[lon, lat] for _, lon, lat, _ in fixes]
        geometry = ({"type": "LineString", "coordinates": coords} if len(coords) > 1
                    else {"type": "Point", "coordinates": coords[0]} if coords else None)
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "worker": worker, "dev": dev, "grid": grid, "start": iso_utc(start), "end": iso_utc(end),
            "verdict": verdict, "flags": list(flags), "times": [iso_utc(f[0]) for f in fixes],
            "acc": [f[3] for f in fixes]}})
    return {"type": "FeatureCollection", "features": features}


@router.get("/workers/{worker}/track", summary="A worker's track during its shifts of a day, as GeoJSON",
            responses={404: {"description": "no such worker on that day, or none the caller may see"}})
def worker_track(worker: WorkerPath, session: CurrentSession, conn: Conn, day: DayQuery) -> dict:
    # The whole shift is shown, outside the grid too: where the worker went is what the supervisor asks.
    shifts = _shifts_in_scope(conn, session.scope, worker, day)
    if not shifts:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no shift of worker {worker!r} on {day}")
    return track_geojson(conn, worker, shifts)


def grid_visible(conn: psycopg.Connection, scope: Scope, code: str) -> bool:
    return conn.execute(f"SELECT EXISTS (SELECT 1 FROM grid g WHERE g.code = %(code)s AND {scope.rows('g.code')})",
                        {**scope.params, "code": code}).fetchone()[0]


def on_post_now(conn: psycopg.Connection, scope: Scope, code: str, now: datetime, page: Paging) -> Page[OnPostOut]:
    cond = f"""a.grid IN (SELECT gw_grid_subtree(%(code)s)) AND {scope.rows("a.grid")}
               AND a.shift_start <= %(now)s AND a.shift_end > %(now)s AND a.on_post_now
               AND a.last_fix >= %(fresh)s"""
    params = {**scope.params, "code": code, "now": now, "fresh": now - FRESH, "limit": page.limit,
              "offset": page.offset}
    total = conn.execute(f"SELECT count(*) FROM attendance a WHERE {cond}", params).fetchone()[0]
    rows = conn.execute(
        f"""SELECT a.worker, a.dev, a.grid, a.shift_start, a.shift_end, a.first_on_post, a.on_post_minutes,
                   a.last_fix, lp.lat, lp.lon, lp.acc
            FROM attendance a
            LEFT JOIN LATERAL (SELECT h.lat, h.lon, h.acc FROM heartbeat h
                               WHERE h.dev = a.dev AND h.ts <= %(now)s AND h.ts >= %(fresh)s
                               ORDER BY h.ts DESC LIMIT 1) lp ON TRUE
            WHERE {cond} ORDER BY a.grid, a.worker LIMIT %(limit)s OFFSET %(offset)s""", params).fetchall()
    keys = ("worker", "dev", "grid", "shift_start", "shift_end", "first_on_post", "on_post_minutes", "last_fix",
            "lat", "lon", "acc")
    return Page[OnPostOut](items=[OnPostOut(**dict(zip(keys, r))) for r in rows], total=total)


@router.get("/grids/{code}/on-post", response_model=Page[OnPostOut],
            summary="Workers on post now in a grid and the grids below it (as of the last attendance run)",
            responses={404: {"description": "no such grid, or none the caller may see"}})
def grid_on_post(code: GridPath, session: CurrentSession, conn: Conn, page: PageParams) -> Page[OnPostOut]:
    if not grid_visible(conn, session.scope, code):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no grid {code!r}")
    return on_post_now(conn, session.scope, code, datetime.now(timezone.utc), page)
