"""The grid registry as GeoJSON: `GET /api/v1/grids` and `GET /api/v1/grids/{code}`, scoped.

A scoped user sees its grid and everything below it (gw_grid_subtree through
deps.Scope); an unknown grid and one outside the scope get the same 404.
The list is a FeatureCollection with the contract's paging: `limit`,
`offset`, and `total` (a GeoJSON foreign member) counting every match.
"""
from __future__ import annotations

from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query, status

from cloud.api.deps import Conn, CurrentSession, PageParams, Paging, Scope

router = APIRouter(tags=["grids"])

Level = Literal["district", "street", "community", "grid"]
_COLUMNS = "code, name, level, parent, area_m2, properties, geojson"


def _feature(row: tuple) -> dict:
    code, name, level, parent, area, extra, geometry = row
    return {"type": "Feature", "id": code, "geometry": geometry,
            "properties": {"code": code, "name": name, "level": level, "parent": parent,
                           "area_m2": round(area, 1), **(extra or {})}}


def list_grids(conn: psycopg.Connection, scope: Scope, level: str | None, parent: str | None,
               page: Paging) -> dict:
    where = [scope.rows("code")]
    if level is not None:
        where.append("level = %(level)s")
    if parent is not None:
        where.append("parent = %(parent)s")
    cond = " AND ".join(where)
    params = {**scope.params, "level": level, "parent": parent, "limit": page.limit, "offset": page.offset}
    total = conn.execute(f"SELECT count(*) FROM grid WHERE {cond}", params).fetchone()[0]
    rows = conn.execute(f"SELECT {_COLUMNS} FROM grid WHERE {cond} ORDER BY code LIMIT %(limit)s OFFSET %(offset)s",
                        params).fetchall()
    features = [_feature(r) for r in rows]
    # GeoJSON for map clients, and the contract's list envelope (`items`, `total`) for everyone else.
    return {"type": "FeatureCollection", "features": features, "items": features, "total": total}


@router.get("/grids", summary="Grids under the caller's scope, as a GeoJSON FeatureCollection (WGS-84)")
def grids(session: CurrentSession, conn: Conn, page: PageParams,
          level: Annotated[Level | None, Query(description="only this level")] = None,
          parent: Annotated[str | None, Query(description="only the children of this grid")] = None) -> dict:
    return list_grids(conn, session.scope, level, parent, page)


@router.get("/grids/{code}", summary="One grid as a GeoJSON Feature",
            responses={404: {"description": "no such grid, or none the caller may see"}})
def grid(code: Annotated[str, Path(min_length=1, max_length=64)], session: CurrentSession, conn: Conn) -> dict:
    scope = session.scope
    row = conn.execute(f"SELECT {_COLUMNS} FROM grid WHERE code = %(code)s AND {scope.rows('code')}",
                       {**scope.params, "code": code}).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no grid {code!r}")
    return _feature(row)
