"""Local metric coordinates for a city: lon/lat degrees <-> metres.

Cylindrical equal-area (Lambert) with its standard parallel through the
city: areas are exact (on the sphere) wherever the points are, and distances
are true at the standard parallel, off by cos(lat)/cos(lat0) elsewhere: under
1% within 0.5 degree (55 km) north or south of it. Good for a city's grids;
a whole-country registry would want one projection per region.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


@dataclass(frozen=True, slots=True)
class LocalProjection:
    lon0: float
    lat0: float

    @classmethod
    def around(cls, geoms) -> "LocalProjection":
        """Centred on the bounding box of `geoms` (a geometry or an array of them)."""
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
        return cls((x0 + x1) / 2.0, (y0 + y1) / 2.0)

    @property
    def _k(self) -> tuple[float, float, float]:
        c = np.cos(np.radians(self.lat0))
        return EARTH_RADIUS_M * c, EARTH_RADIUS_M / c, np.sin(np.radians(self.lat0))

    def forward(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        kx, ky, s0 = self._k
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        return np.radians(lon - self.lon0) * kx, (np.sin(np.radians(lat)) - s0) * ky

    def inverse(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        kx, ky, s0 = self._k
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        return self.lon0 + np.degrees(x / kx), np.degrees(np.arcsin(np.clip(y / ky + s0, -1.0, 1.0)))

    def geometries(self, geoms):
        """Geometries (one or an array) in metres."""
        return shapely.transform(geoms, lambda xy: np.column_stack(self.forward(xy[:, 0], xy[:, 1])))
