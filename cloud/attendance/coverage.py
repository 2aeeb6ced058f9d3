"""Patrol coverage: the share of a grid's area within `coverage_radius_m` of the worker's track.

The grid is rasterised once (cells of `coverage_cell_m`); the track is
densified between consecutive walking fixes, stamped onto the raster and
dilated by a disc of the radius. Pure numpy, no H3 dependency.
"""
from __future__ import annotations

import numpy as np

from .geometry import GridShape
from .rules import Rules

# Consecutive fixes further apart than this are not joined: the worker may have gone round a block.
MAX_JOIN_M = 150.0


def densify(x: np.ndarray, y: np.ndarray, step_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The track's points plus points every `step_m` along legs shorter than MAX_JOIN_M."""
    if len(x) < 2:
        return x, y
    dx, dy = np.diff(x), np.diff(y)
    leg = np.hypot(dx, dy)
    parts = np.where(leg <= MAX_JOIN_M, np.ceil(leg / step_m), 1).astype(np.int64)
    parts = np.maximum(parts, 1)
    owner = np.repeat(np.arange(len(leg)), parts)
    first = np.cumsum(parts) - parts
    frac = (np.arange(parts.sum()) - first[owner]) / parts[owner]
    px = np.append(x[:-1][owner] + dx[owner] * frac, x[-1])
    py = np.append(y[:-1][owner] + dy[owner] * frac, y[-1])
    return px, py


def _disc(radius_cells: float) -> list[tuple[int, int]]:
    r = int(np.floor(radius_cells))
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dx * dx + dy * dy <= radius_cells ** 2]


def coverage(grid: GridShape, x: np.ndarray, y: np.ndarray, rules: Rules) -> float:
    """Share (0..1) of the grid's cells within the radius of the densified track (x, y in grid metres)."""
    if len(x) == 0:
        return 0.0
    cell = rules.coverage_cell_m
    mask, minx, miny = grid.raster(cell)
    px, py = densify(x, y, cell)
    ix = np.floor((px - minx) / cell).astype(np.int64)
    iy = np.floor((py - miny) / cell).astype(np.int64)
    pad = int(np.ceil(rules.coverage_radius_m / cell))
    ny, nx = mask.shape
    keep = (ix >= -pad) & (ix < nx + pad) & (iy >= -pad) & (iy < ny + pad)
    if not keep.any():
        return 0.0
    stamp = np.zeros((ny + 2 * pad, nx + 2 * pad), dtype=bool)
    stamp[iy[keep] + pad, ix[keep] + pad] = True
    seen = np.zeros((ny, nx), dtype=bool)
    for dy, dx in _disc(rules.coverage_radius_m / cell):
        seen |= stamp[pad + dy:pad + dy + ny, pad + dx:pad + dx + nx]
    return float((seen & mask).sum() / mask.sum())
