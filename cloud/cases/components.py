"""The component registry: city components (CONTRACT section 5 CSV), each owned by
a department, and the in-memory index that finds the nearest one to a point.

An import is all or nothing: the first bad line refuses the whole file, with
its line number. Importing the same file again changes nothing.
"""
from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass

import psycopg

from .geometry import distance_m

COLUMNS = ("code", "kind", "department", "lat", "lon", "name")
_BUCKET_DEG = 0.002  # ~200 m: a lookup within tens of metres reads at most 3x3 buckets


class ComponentFileError(ValueError):
    """A components file that cannot be imported; the message names the line at fault."""


@dataclass(frozen=True, slots=True)
class Component:
    code: str
    kind: str
    department: str
    lat: float
    lon: float
    name: str | None = None


def _field(row: list[str], i: int, line: int, what: str) -> str:
    value = row[i].strip() if i < len(row) else ""
    if not value:
        raise ComponentFileError(f"line {line}: {what} is empty")
    return value


def _coordinate(text: str, line: int, what: str, bound: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ComponentFileError(f"line {line}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > bound:
        raise ComponentFileError(f"line {line}: {what} {value} is out of range")
    return value


def _component(row: list[str], line: int) -> Component:
    if len(row) not in (5, 6):
        raise ComponentFileError(f"line {line}: expected 5 or 6 columns ({','.join(COLUMNS)}), got {len(row)}")
    code, kind, dept = (_field(row, i, line, COLUMNS[i]) for i in range(3))
    if len(code) > 64 or len(kind) > 64 or len(dept) > 128:
        raise ComponentFileError(f"line {line}: code and kind take at most 64 characters, department 128")
    lat = _coordinate(row[3].strip(), line, "lat", 90)
    lon = _coordinate(row[4].strip(), line, "lon", 180)
    name = (row[5].strip() or None) if len(row) == 6 else None
    return Component(code, kind, dept, lat, lon, name)


def parse_components(text: str) -> list[Component]:
    """Every component of a CSV file, or ComponentFileError for the first bad line."""
    out: list[Component] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if line == 1 and row[0].strip().lower() == "code":
            if [c.strip().lower() for c in row] not in (list(COLUMNS[:5]), list(COLUMNS)):
                raise ComponentFileError(f"line 1: header must be {','.join(COLUMNS[:5])}[,name]")
            continue
        comp = _component(row, line)
        if comp.code in seen:
            raise ComponentFileError(f"line {line}: code {comp.code!r} already on line {seen[comp.code]}")
        seen[comp.code] = line
        out.append(comp)
    if not out:
        raise ComponentFileError("the file holds no components")
    return out


def import_components(conn: psycopg.Connection, components: list[Component]) -> int:
    """Insert or update the components in one transaction; returns how many changed.
    The registry version moves only when something did."""
    with conn.transaction():
        cur = conn.execute(
            """INSERT INTO component (code, kind, department, lat, lon, name)
               SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], %s::text[])
               ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, department = EXCLUDED.department,
                   lat = EXCLUDED.lat, lon = EXCLUDED.lon, name = EXCLUDED.name, imported_at = now()
               WHERE (component.kind, component.department, component.lat, component.lon, component.name)
                     IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.department, EXCLUDED.lat, EXCLUDED.lon,
                                       EXCLUDED.name)""",
            [[getattr(c, col) for c in components] for col in COLUMNS])
        changed = cur.rowcount
        if changed:
            conn.execute("UPDATE registry_version SET version = version + 1, changed_at = now() "
                         "WHERE name = 'component'")
    return changed


class ComponentIndex:
    """Components by code and by place, for routing."""

    def __init__(self, components: list[Component]):
        self.by_code = {c.code: c for c in components}
        self.positions = {c.code: (c.lat, c.lon) for c in components}
        self._buckets: dict[tuple[int, int], list[Component]] = defaultdict(list)
        for c in components:
            self._buckets[self._bucket(c.lat, c.lon)].append(c)

    @staticmethod
    def _bucket(lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / _BUCKET_DEG), math.floor(lon / _BUCKET_DEG)

    @classmethod
    def load(cls, conn: psycopg.Connection) -> "ComponentIndex":
        rows = conn.execute("SELECT code, kind, department, lat, lon, name FROM component").fetchall()
        return cls([Component(*r) for r in rows])

    def nearest(self, lat: float, lon: float, radius_m: float, kinds: tuple[str, ...]) -> Component | None:
        """The nearest component of one of `kinds` within `radius_m`, or None."""
        if not kinds:
            return None
        by, bx = self._bucket(lat, lon)
        best, best_d = None, radius_m
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                for c in self._buckets.get((by + dy, bx + dx), ()):
                    if c.kind in kinds:
                        d = distance_m(lat, lon, c.lat, c.lon)
                        if d <= best_d:
                            best, best_d = c, d
        return best
