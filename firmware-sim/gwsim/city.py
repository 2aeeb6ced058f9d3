"""A synthetic grid city: a jittered lattice of quadrilateral grids under streets and a district.

Grids share their corners, so they tile without gaps or overlaps, each lies
inside its street band, and every band inside the district: a file that
`gridwatch grids import` accepts. Work is in local metres around `origin`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class LocalFrame:
    """Metres east/north of an origin <-> WGS-84 degrees (equirectangular, exact within a city)."""

    lat0: float
    lon0: float

    @property
    def ky(self) -> float:
        return EARTH_RADIUS_M * math.pi / 180.0

    @property
    def kx(self) -> float:
        return self.ky * math.cos(math.radians(self.lat0))

    def to_deg(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lat, lon) of metres (x east, y north)."""
        return self.lat0 + np.asarray(y) / self.ky, self.lon0 + np.asarray(x) / self.kx


@dataclass(frozen=True)
class Grid:
    code: str
    corners: np.ndarray  # (4, 2) metres, counter-clockwise

    @property
    def centre(self) -> np.ndarray:
        return self.corners.mean(axis=0)

    def at(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Bilinear map of (u, v) in [0, 1]^2 onto the quadrilateral: inside for inner (u, v)."""
        a, b, c, d = self.corners
        u, v = np.asarray(u)[..., None], np.asarray(v)[..., None]
        return (1 - u) * (1 - v) * a + u * (1 - v) * b + u * v * c + (1 - u) * v * d

    def inner_points(self, rng: np.random.Generator, n: int, margin: float = 0.1) -> np.ndarray:
        return self.at(rng.uniform(margin, 1 - margin, n), rng.uniform(margin, 1 - margin, n))

    def ring(self, outward_m: float = 0.0) -> np.ndarray:
        """The closed boundary (5 points), pushed `outward_m` away from the centre: a boundary street's pavement."""
        c = self.centre
        pts = np.array([p + (p - c) / np.linalg.norm(p - c) * outward_m for p in self.corners])
        return np.vstack([pts, pts[:1]])


@dataclass(frozen=True)
class City:
    frame: LocalFrame
    rows: int
    cols: int
    vertices: np.ndarray  # (rows + 1, cols + 1, 2) metres
    district: str = "D01"

    @classmethod
    def synthetic(cls, origin: tuple[float, float], rows: int, cols: int, cell_m: float,
                  jitter: float, rng: np.random.Generator) -> "City":
        r, c = np.meshgrid(np.arange(rows + 1), np.arange(cols + 1), indexing="ij")
        verts = np.stack([c * cell_m, r * cell_m], axis=-1).astype(np.float64)
        verts += rng.uniform(-jitter, jitter, verts.shape) * cell_m
        return cls(LocalFrame(*origin), rows, cols, verts)

    def street(self, r: int) -> str:
        return f"{self.district}-S{r + 1:02d}"

    def grid_code(self, r: int, c: int) -> str:
        return f"{self.street(r)}-G{c + 1:02d}"

    @property
    def grids(self) -> list[Grid]:
        v = self.vertices
        return [Grid(self.grid_code(r, c), np.array([v[r, c], v[r, c + 1], v[r + 1, c + 1], v[r + 1, c]]))
                for r in range(self.rows) for c in range(self.cols)]

    def _band(self, r0: int, r1: int) -> np.ndarray:
        """The outline of rows r0..r1: along the jittered side columns too, so a
        district of many streets contains every street exactly."""
        v = self.vertices
        right = v[r0 + 1:r1, -1]       # up the right side
        left = v[r1 - 1:r0:-1, 0]      # down the left side
        return np.vstack([v[r0, :], right, v[r1, ::-1], left, v[r0, :1]])

    def geojson(self) -> dict:
        """CONTRACT section 5: district > street > community > grid, WGS-84."""
        feats = [self._feature(self.district, "district", None, self._band(0, self.rows))]
        for r in range(self.rows):
            band = self._band(r, r + 1)
            feats.append(self._feature(self.street(r), "street", self.district, band))
            feats.append(self._feature(f"{self.street(r)}-C1", "community", self.street(r), band))
        for g in self.grids:
            feats.append(self._feature(g.code, "grid", g.code.rsplit("-", 1)[0] + "-C1", np.vstack([g.corners, g.corners[:1]])))
        return {"type": "FeatureCollection", "features": feats}

    def _feature(self, code: str, level: str, parent: str | None, ring_m: np.ndarray) -> dict:
        lat, lon = self.frame.to_deg(ring_m[:, 0], ring_m[:, 1])
        coords = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]
        return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [coords]},
                "properties": {"code": code, "name": code, "level": level, "parent": parent}}
