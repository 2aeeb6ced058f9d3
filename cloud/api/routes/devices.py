"""Devices and their stored positions: `GET /api/v1/devices`, `GET /api/v1/devices/{dev}/positions`."""
from __future__ import annotations

from typing import Annotated

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query, status

from cloud.api.deps import Conn, CurrentSession, PageParams, Paging, Scope, TimeWindow, Window
from cloud.api.models import DeviceOut, LastPosition, Page, PositionOut
from protocols.topics import DEVICE_ID_PATTERN

router = APIRouter(tags=["devices"])

DevPath = Annotated[str, Path(pattern=f"^{DEVICE_ID_PATTERN}$", description="device id")]

_POSITION_COLUMNS = ("ts", "lat", "lon", "acc", "grid", "seq", "received_at",
                     "spd", "hdg", "alt", "batt", "mock", "sat", "src", "crs")


def _device_where(scope: Scope, registered: bool | None) -> str:
    where = [scope.devices("d.dev")]
    if registered is not None:
        where.append("d.registered = %(registered)s")
    return " AND ".join(where)


def list_devices(conn: psycopg.Connection, scope: Scope, registered: bool | None, page: Paging) -> Page[DeviceOut]:
    where = _device_where(scope, registered)
    params = {**scope.params, "registered": registered, "limit": page.limit, "offset": page.offset}
    total = conn.execute(f"SELECT count(*) FROM device d WHERE {where}", params).fetchone()[0]
    rows = conn.execute(
        f"""SELECT d.dev, d.kind, d.registered, d.online, d.first_seen,
                   GREATEST(d.last_seen, lp.received_at), lp.ts, lp.lat, lp.lon, lp.acc, lp.grid
            FROM device d
            LEFT JOIN LATERAL (
                SELECT h.ts, h.lat, h.lon, h.acc, h.grid, h.received_at FROM heartbeat h
                WHERE h.dev = d.dev AND {scope.rows("h.grid")}
                ORDER BY h.ts DESC, h.seq DESC LIMIT 1) lp ON TRUE
            WHERE {where}
            ORDER BY d.dev LIMIT %(limit)s OFFSET %(offset)s""", params).fetchall()
    items = [DeviceOut(dev=r[0], kind=r[1], registered=r[2], online=r[3], first_seen=r[4], last_seen=r[5],
                       last_position=LastPosition(ts=r[6], lat=r[7], lon=r[8], acc=r[9], grid=r[10])
                       if r[6] is not None else None)
             for r in rows]
    return Page[DeviceOut](items=items, total=total)


@router.get("/devices", response_model=Page[DeviceOut], summary="Devices, with their last position")
def devices(session: CurrentSession, conn: Conn, page: PageParams,
            registered: Annotated[bool | None, Query(
                description="only registered devices (true), or only ones the ingest saw "
                            "but nobody registered (false)")] = None) -> Page[DeviceOut]:
    return list_devices(conn, session.scope, registered, page)


def device_visible(conn: psycopg.Connection, scope: Scope, dev: str) -> bool:
    return conn.execute(f"SELECT EXISTS (SELECT 1 FROM device d WHERE d.dev = %(dev)s AND {scope.devices('d.dev')})",
                        {**scope.params, "dev": dev}).fetchone()[0]


def list_positions(conn: psycopg.Connection, scope: Scope, dev: str, window: Window,
                   page: Paging) -> Page[PositionOut]:
    where = ["dev = %(dev)s", "ts >= %(since)s", scope.rows("grid")]
    if window.until is not None:
        where.append("ts <= %(until)s")
    cond = " AND ".join(where)
    params = {**scope.params, "dev": dev, "since": window.since, "until": window.until,
              "limit": page.limit, "offset": page.offset}
    total = conn.execute(f"SELECT count(*) FROM heartbeat WHERE {cond}", params).fetchone()[0]
    rows = conn.execute(
        f"""SELECT {", ".join(_POSITION_COLUMNS)} FROM heartbeat WHERE {cond}
            ORDER BY ts, seq LIMIT %(limit)s OFFSET %(offset)s""", params).fetchall()
    items = [PositionOut(**dict(zip(_POSITION_COLUMNS, r))) for r in rows]
    return Page[PositionOut](items=items, total=total)


@router.get("/devices/{dev}/positions", response_model=Page[PositionOut],
            summary="Stored positions of a device, oldest first",
            responses={404: {"description": "no such device, or none the caller may see"}})
def positions(dev: DevPath, session: CurrentSession, conn: Conn, window: TimeWindow,
              page: PageParams) -> Page[PositionOut]:
    # Unknown and out-of-scope devices get the same answer, so a scoped user cannot probe for ids.
    if not device_visible(conn, session.scope, dev):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {dev!r}")
    return list_positions(conn, session.scope, dev, window, page)
