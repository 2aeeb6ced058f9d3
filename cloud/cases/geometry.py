"""Distances and the spatial cells behind "one case per incident".

Two cell grids per merge radius r, both in metres on a per-row equirectangular
projection (each row of cells uses the cosine of its own centre latitude, so
a point's cell depends on the point alone):

- the *incident cell* (side r/1.5): two points in one cell are less than r
  apart, so two open cases of one kind never share a cell, and a partial
  unique index on (kind, incident_cell) makes that an invariant of the database;
- the *lock cells* (side 2r): a point locks every lock cell its r-box touches
  (at most 2x2, occasionally 2x3). Two points within r of each other always
  share a lock cell, so concurrent ingest workers deciding about nearby
  evidence take turns, while far-apart evidence never waits.
"""
from __future__ import annotations

import hashlib
import math

M_PER_DEG = 111_320.0
EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _row(lat: float, size_m: float) -> int:
    return math.floor(lat * M_PER_DEG / size_m)


def _col(lon: float, row: int, size_m: float) -> int:
    centre = (row + 0.5) * size_m / M_PER_DEG
    return math.floor(lon * M_PER_DEG * math.cos(math.radians(centre)) / size_m)


def incident_cell(lat: float, lon: float, radius_m: float) -> str:
    size = radius_m / 1.5
    row = _row(lat, size)
    return f"r{radius_m:g}:{row}:{_col(lon, row, size)}"


def lock_cells(lat: float, lon: float, radius_m: float) -> list[tuple[int, int]]:
    """Every lock cell (row, col) that the box of +-radius around the point touches."""
    size = 2 * radius_m
    dlat = radius_m * 1.01 / M_PER_DEG
    worst_lat = min(89.9, abs(lat) + dlat)
    dlon = radius_m * 1.01 / (M_PER_DEG * math.cos(math.radians(worst_lat)))
    cells = []
    for row in range(_row(lat - dlat, size), _row(lat + dlat, size) + 1):
        for col in range(_col(lon - dlon, row, size), _col(lon + dlon, row, size) + 1):
            cells.append((row, col))
    return cells


def lock_key(*parts: object) -> int:
    """A signed 64-bit advisory lock key for a tuple of parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
