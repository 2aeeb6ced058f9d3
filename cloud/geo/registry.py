"""The grid registry in PostgreSQL: import a checked grid file, read it back.

An import replaces the registry: the file is the whole city. Grids in the
file are inserted or updated (by code), grids missing from it are deleted,
all in one transaction that also bumps registry_version 'grid' so running
ingest slots reload. Re-importing the same file leaves the same registry
(idempotent). A grid that roster shifts still use cannot disappear: such an
import is refused naming the grids, nothing is changed.
"""
from __future__ import annotations

from dataclasses import dataclass

import orjson
import psycopg
import shapely
from psycopg.types.json import Jsonb

from .gridfile import GridFeature


class GridImportError(ValueError):
    """The import would break references to grids; nothing was changed."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    inserted: int
    updated: int
    deleted: int
    version: int


@dataclass(frozen=True, slots=True)
class GridRow:
    code: str
    name: str
    level: str
    parent: str | None
    geom: shapely.Geometry  # WGS-84


def _row(f: GridFeature) -> tuple:
    x0, y0, x1, y1 = f.geom.bounds
    return (f.code, f.name, f.level, f.parent, shapely.to_wkb(f.geom), Jsonb(orjson.loads(shapely.to_geojson(f.geom))),
            f.area_m2, x0, y0, x1, y1, Jsonb(f.properties) if f.properties else None)


_COLUMNS = "code, name, level, parent, geom_wkb, geojson, area_m2, min_lon, min_lat, max_lon, max_lat, properties"


def bump_version(conn: psycopg.Connection, name: str) -> int:
    return conn.execute("UPDATE registry_version SET version = version + 1, changed_at = now() "
                        "WHERE name = %s RETURNING version", (name,)).fetchone()[0]


def registry_version(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute("SELECT version FROM registry_version WHERE name = %s", (name,)).fetchone()
    return row[0] if row else 0


def import_grids(conn: psycopg.Connection, features: list[GridFeature]) -> ImportResult:
    """Make the registry exactly `features` (see the module docstring); one transaction."""
    try:
        return _import(conn, features)
    except psycopg.errors.ForeignKeyViolation as exc:
        # Another table (added later) still points at a grid the file leaves out.
        raise GridImportError(f"the file leaves out a grid that is still referenced: {exc.diag.message_detail or exc}; "
                              "nothing was changed") from None


def _import(conn: psycopg.Connection, features: list[GridFeature]) -> ImportResult:
    with conn.transaction():
        # One import at a time; slots keep reading the old registry until the commit.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('gridwatch.grid_import'))")
        # Dropped here too: inside a caller's transaction this block is a savepoint, not a commit.
        conn.execute("DROP TABLE IF EXISTS pg_temp.stage_grid_import")
        conn.execute("CREATE TEMP TABLE stage_grid_import (LIKE grid INCLUDING DEFAULTS) ON COMMIT DROP")
        with conn.cursor().copy(f"COPY stage_grid_import ({_COLUMNS}) FROM STDIN") as cp:
            for f in features:
                cp.write_row(_row(f))
        _refuse_orphaned_shifts(conn)
        deleted = conn.execute("DELETE FROM grid WHERE code NOT IN (SELECT code FROM stage_grid_import)").rowcount
        flags = conn.execute(
            f"""INSERT INTO grid ({_COLUMNS}) SELECT {_COLUMNS} FROM stage_grid_import ORDER BY code
                ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,
                    parent = EXCLUDED.parent, geom_wkb = EXCLUDED.geom_wkb, geojson = EXCLUDED.geojson,
                    area_m2 = EXCLUDED.area_m2, min_lon = EXCLUDED.min_lon, min_lat = EXCLUDED.min_lat,
                    max_lon = EXCLUDED.max_lon, max_lat = EXCLUDED.max_lat, properties = EXCLUDED.properties,
                    imported_at = now()
                RETURNING xmax = 0""").fetchall()
        version = bump_version(conn, "grid")
        conn.execute("DROP TABLE stage_grid_import")
    inserted = sum(1 for (new,) in flags if new)
    return ImportResult(inserted, len(flags) - inserted, deleted, version)


def _refuse_orphaned_shifts(conn: psycopg.Connection) -> None:
    gone = [r[0] for r in conn.execute(
        """SELECT DISTINCT grid FROM roster_shift
           WHERE grid NOT IN (SELECT code FROM stage_grid_import) ORDER BY grid LIMIT 20""")]
    if gone:
        raise GridImportError(f"the file leaves out grids that roster shifts still use: {', '.join(gone)}; "
                              "import a roster without them first, or keep them in the file")


def load_grids(conn: psycopg.Connection, level: str | None = "grid") -> list[GridRow]:
    """Grids of one level (default: the leaves workers patrol), or all with level=None."""
    rows = conn.execute("SELECT code, name, level, parent, geom_wkb FROM grid "
                        "WHERE %(level)s::text IS NULL OR level = %(level)s ORDER BY code", {"level": level}).fetchall()
    geoms = shapely.from_wkb([bytes(r[4]) for r in rows]) if rows else []
    return [GridRow(r[0], r[1], r[2], r[3], g) for r, g in zip(rows, geoms)]
