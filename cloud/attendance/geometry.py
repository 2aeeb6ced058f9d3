"""A grid in local metres: accuracy-aware point-in-grid and the coverage raster.

Distances within a grid are a few kilometres at most, so an equirectangular
projection around the grid's centre is exact to well under a metre there and
costs two multiplications per fix (no pyproj).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6_371_008.8
_DEG = math.pi / 180.0


@dataclass(frozen=True)
class Projection:
    lat0: float
    lon0: float

    @property
    def kx(self) -> float:
        return EARTH_RADIUS_M * _DEG * math.cos(self.lat0 * _DEG)

    @property
    def ky(self) -> float:
        return EARTH_RADIUS_M * _DEG

    def xy(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def geometry(self, geom: BaseGeometry) -> BaseGeometry:
        kx, ky, lon0, lat0 = self.kx, self.ky, self.lon0, self.lat0
        return shapely.transform(geom, lambda c: np.column_stack(((c[:, 0] - lon0) * kx, (c[:, 1] - lat0) * ky)))


@dataclass
class GridShape:
    """One grid polygon (WGS-84 lon/lat) prepared for judging many shifts."""

    code: str
    polygon: BaseGeometry
    proj: Projection = field(init=False)
    metric: BaseGeometry = field(init=False)
    _rasters: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        c = self.polygon.centroid
        self.proj = Projection(c.y, c.x)
        self.metric = self.proj.geometry(self.polygon)
        shapely.prepare(self.metric)

    @property
    def area_m2(self) -> float:
        return float(self.metric.area)

    def reach(self, x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> np.ndarray:
        """True where the grid lies within `radius` metres of (x, y): inside, or near enough."""
        inside = shapely.contains_xy(self.metric, x, y)
        minx, miny, maxx, maxy = self.metric.bounds
        near = ~inside & (x >= minx - radius) & (x <= maxx + radius) & (y >= miny - radius) & (y <= maxy + radius)
        if near.any():
            idx = np.flatnonzero(near)
            dist = shapely.distance(self.metric, shapely.points(x[idx], y[idx]))
            inside[idx] = dist <= radius[idx]
        return inside

    def raster(self, cell_m: float) -> tuple[np.ndarray, float, float]:
        """Cells whose centre lies in the grid, and the raster's lower-left corner (cached per cell size)."""
        if cell_m not in self._rasters:
            minx, miny, maxx, maxy = self.metric.bounds
            nx = max(1, int(math.ceil((maxx - minx) / cell_m)))
            ny = max(1, int(math.ceil((maxy - miny) / cell_m)))
            cx = minx + (np.arange(nx) + 0.5) * cell_m
            cy = miny + (np.arange(ny) + 0.5) * cell_m
            gx, gy = np.meshgrid(cx, cy)
            mask = shapely.contains_xy(self.metric, gx, gy)
            if not mask.any():  # a sliver thinner than a cell: count its middle cell
                mask[ny // 2, nx // 2] = True
            self._rasters[cell_m] = (mask, minx, miny)
        return self._rasters[cell_m]
