"""Enrichment of heartbeats: WGS-84 coordinates first, then the grid of every fix.

(a) A heartbeat that declares `crs` gcj02 or bd09 gets its lat/lon converted
    to WGS-84 before anything else looks at it; the declared `crs` stays in
    its column, so the row says what the device sent.
(b) The `grid` column of every heartbeat row is filled in one vectorised
    GridIndex.locate call per batch.

`refresh(conn)` reloads the grid index when registry_version 'grid' moved, so
a grid import takes effect in running slots within `ingest_refresh_s`.
"""
from __future__ import annotations

import logging

import numpy as np
import psycopg

from cloud.geo import crs
from cloud.geo.index import GridIndex
from cloud.geo.loader import IndexHolder

from .batch import Rows

log = logging.getLogger(__name__)

# Column positions in a heartbeat row (batch.heartbeat_row).
LAT, LON, CRS, GRID = 4, 5, 14, 15


def to_wgs84_rows(rows: list[tuple]) -> list[tuple]:
    """Rows with lat/lon declared gcj02/bd09 converted to WGS-84 (others unchanged)."""
    if all(r[CRS] == "wgs84" for r in rows):
        return rows  # the common case: nothing to copy
    out = list(rows)
    for name in ("gcj02", "bd09"):
        at = [i for i, r in enumerate(rows) if r[CRS] == name]
        if not at:
            continue
        lon, lat = crs.to_wgs84([rows[i][LON] for i in at], [rows[i][LAT] for i in at], name)
        for i, x, y in zip(at, lon.tolist(), lat.tolist()):
            r = rows[i]
            out[i] = r[:LAT] + (y, x) + r[LON + 1:]
    return out


def with_grids(rows: list[tuple], index: GridIndex) -> list[tuple]:
    """Rows with `grid` set from their (WGS-84) position; None outside every grid."""
    if not rows or len(index) == 0:
        return rows
    lat = np.fromiter((r[LAT] for r in rows), dtype=float, count=len(rows))
    lon = np.fromiter((r[LON] for r in rows), dtype=float, count=len(rows))
    codes = index.locate(lon, lat).tolist()
    if not any(codes):
        return rows  # outside every grid (or no grids yet): the rows already say None
    return [r[:GRID] + (g,) + r[GRID + 1:] for r, g in zip(rows, codes)]


class GridEnricher:
    """Enricher step: crs conversion, then point-in-grid, for every heartbeat row of a batch."""

    def __init__(self) -> None:
        self._holder = IndexHolder()

    @property
    def index(self) -> GridIndex:
        return self._holder.index

    def refresh(self, conn: psycopg.Connection) -> None:
        if self._holder.refresh(conn):
            log.info("grid index reloaded: %s grids, registry version %s", len(self.index), self.index.version)

    def enrich(self, rows: Rows) -> None:
        rows.heartbeat = with_grids(to_wgs84_rows(rows.heartbeat), self.index)
