"""Where a case is: its grid, the grid's territorial body, and the way up the hierarchy.

`GridPlaces.load(conn)` takes the shared point-in-grid index of `cloud.geo`
(leaf grids) and the hierarchy (district > street > community > grid) of the
`grid` table; `locate` answers the leaf grid containing a point.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg

from cloud.geo.index import GridIndex
from cloud.geo.loader import load_index


@dataclass(frozen=True, slots=True)
class GridInfo:
    code: str
    name: str
    level: str
    parent: str | None


class GridPlaces:
    def __init__(self, infos: list[GridInfo], index: GridIndex | None = None) -> None:
        self.grids = {g.code: g for g in infos}
        self.index = index or GridIndex([], [])

    @classmethod
    def load(cls, conn: psycopg.Connection) -> "GridPlaces":
        index = load_index(conn)
        rows = conn.execute("SELECT code, name, level, parent FROM grid ORDER BY code").fetchall()
        return cls([GridInfo(*r) for r in rows], index)

    def locate(self, lat: float, lon: float) -> str | None:
        """The code of the leaf grid containing the point; None outside all."""
        return self.index.locate([lon], [lat])[0]

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
