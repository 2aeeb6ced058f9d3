"""`gridwatch bench geo`: point-in-grid throughput of GridIndex on a synthetic city.

The city is a jittered lattice of adjacent quadrilaterals (shared vertices,
so no gaps and no overlaps), like a prefecture-level city's grid map; points
fall uniformly over it and a margin around it (some outside every grid).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import shapely

from cloud.geo.index import GridIndex

CITY_CENTRE = (117.0, 31.8)   # lon, lat: somewhere in Anhui
CELL_DEG = 0.004              # ~400 m cells


def synthetic_city(n_grids: int, seed: int = 7, centre: tuple[float, float] = CITY_CENTRE,
                   cell_deg: float = CELL_DEG) -> tuple[list[str], np.ndarray]:
    """About `n_grids` adjacent jittered quadrilaterals: (codes, WGS-84 polygons)."""
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n_grids)))
    rows = int(np.ceil(n_grids / cols))
    gx, gy = np.meshgrid(np.arange(cols + 1, dtype=float), np.arange(rows + 1, dtype=float))
    # Move inner vertices by up to 30% of a cell: irregular, still simple and adjacent.
    jitter = rng.uniform(-0.3, 0.3, size=(2, rows + 1, cols + 1))
    jitter[:, [0, -1], :] = 0
    jitter[:, :, [0, -1]] = 0
    vx = centre[0] + (gx + jitter[0] - cols / 2) * cell_deg
    vy = centre[1] + (gy + jitter[1] - rows / 2) * cell_deg
    r, c = np.divmod(np.arange(n_grids), cols)
    ring_x = np.stack([vx[r, c], vx[r, c + 1], vx[r + 1, c + 1], vx[r + 1, c], vx[r, c]], axis=1)
    ring_y = np.stack([vy[r, c], vy[r, c + 1], vy[r + 1, c + 1], vy[r + 1, c], vy[r, c]], axis=1)
    polys = shapely.polygons(np.stack([ring_x, ring_y], axis=2))
    return [f"G{i:06d}" for i in range(n_grids)], polys


@dataclass(frozen=True)
class GeoBench:
    grids: int
    vertices: float  # per grid, closing vertex included
    points: int
    build_s: float
    locate_s: float
    located: int
    near_points: int
    near_s: float

    @property
    def points_per_s(self) -> float:
        return self.points / self.locate_s


def run(n_grids: int = 30_000, n_points: int = 1_000_000, repeat: int = 3, near_points: int = 100_000,
        seed: int = 7, segment_m: float | None = None) -> GeoBench:
    """`segment_m`: add vertices along the edges every so many metres (real grid maps have
    tens of vertices per grid; cost grows with the edges a point must be tested against)."""
    codes, polys = synthetic_city(n_grids, seed)
    if segment_m:
        polys = shapely.segmentize(polys, segment_m / 111_000.0)
    t0 = time.perf_counter()
    index = GridIndex(codes, polys)
    build_s = time.perf_counter() - t0
    x0, y0, x1, y1 = shapely.total_bounds(polys)
    rng = np.random.default_rng(seed + 1)
    lon = rng.uniform(x0 - 0.01, x1 + 0.01, n_points)
    lat = rng.uniform(y0 - 0.01, y1 + 0.01, n_points)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = index.locate(lon, lat)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    index.near(lon[:near_points], lat[:near_points], 20.0)
    near_s = time.perf_counter() - t0
    return GeoBench(n_grids, float(shapely.get_num_coordinates(polys).mean()), n_points, build_s, best, int(np.count_nonzero(found != None)),  # noqa: E711
                    near_points, near_s)


def report(b: GeoBench) -> str:
    return (f"grids {b.grids:,} with {b.vertices:.0f} vertices each (index built in {b.build_s:.2f} s)\n"
            f"locate: {b.points:,} points in {b.locate_s:.3f} s = {b.points_per_s:,.0f} points/s "
            f"({b.located:,} inside a grid)\n"
            f"near (20 m radius): {b.near_points:,} points in {b.near_s:.3f} s = "
            f"{b.near_points / b.near_s:,.0f} points/s")
