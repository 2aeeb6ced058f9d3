"""Where a case is: its grid, the grid's territorial body, and the way up the hierarchy.

`GridPlaces.load(conn)` reads the `grid` table (district > street > community >
grid, WGS-84 WKB) into an STRtree; `locate` answers the smallest grid that
contains a point. This is the one function to switch to the shared grid index
of `cloud.geo` once it is there.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg
import shapely
from shapely import STRtree

_LEVEL_RANK = {"grid": 0, "community": 1, "street": 2, "district": 3}


@dataclass(frozen=True, slots=True)
class GridInfo:
    code: str
    name: str
    level: str
    parent: str | None


class GridPlaces:
    def __init__(self, infos: list[GridInfo], geoms: list) -> None:
        self.grids = {g.code: g for g in infos}
        self._infos = infos
        self._geoms = geoms
        self._tree = STRtree(geoms) if geoms else None

    @classmethod
    def load(cls, conn: psycopg.Connection) -> "GridPlaces":
        rows = conn.execute("SELECT code, name, level, parent, geom_wkb FROM grid ORDER BY code").fetchall()
        infos = [GridInfo(r[0], r[1], r[2], r[3]) for r in rows]
        geoms = [shapely.from_wkb(bytes(r[4])) for r in rows]
        return cls(infos, geoms)

    def locate(self, lat: float, lon: float) -> str | None:
        """The code of the lowest-level, then smallest, grid containing the point; None outside all."""
        if self._tree is None:
            return None
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        best = min(hits, key=lambda i: (_LEVEL_RANK.get(self._infos[i].level, 9), self._geoms[i].area))
        return self._infos[best].code

    def chain(self, code: str) -> list[GridInfo]:
        """The grid and its ancestors, lowest first."""
        out: list[GridInfo] = []
        seen: set[str] = set()
        while code is not None and code in self.grids and code not in seen:
            seen.add(code)
            out.append(self.grids[code])
            code = self.grids[code].parent
        return out

    def territorial_body(self, code: str | None, suffix: str) -> str | None:
        """The body answering for a grid's territory: its street-level ancestor's office
        (the highest ancestor's when no street is above it)."""
        chain = self.chain(code) if code else []
        if not chain:
            return None
        street = next((g for g in chain if g.level == "street"), chain[-1])
        return f"{street.name}{suffix}"
