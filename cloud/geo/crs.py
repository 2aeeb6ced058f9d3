"""WGS-84 <-> GCJ-02 <-> BD-09, vectorised with numpy.

Chinese web maps (AMap, Tencent: GCJ-02; Baidu: BD-09) draw on obfuscated
coordinates; everything gridwatch stores and compares is WGS-84. These are
the published formulas (as in eviltransform / coordtransform). GCJ-02 has no
closed-form inverse: `gcj02_to_wgs84` iterates the forward transform until the
residual is below ~1 cm, well inside the 0.5 m this project promises. Outside
mainland China's bounding box GCJ-02 equals WGS-84; the BD-09 offset applies
everywhere (it is applied on top of GCJ-02).

Every function takes and returns (lon, lat) as float arrays (scalars work too).
"""
from __future__ import annotations

import numpy as np

CRS_NAMES = ("wgs84", "gcj02", "bd09")

_A = 6378245.0                      # Krasovsky 1940 semi-major axis, as GCJ-02 uses
_EE = 0.00669342162296594323        # its eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
# Residual of the inversion, degrees: 1e-8 deg is about 1 mm.
_INVERSE_TOLERANCE_DEG = 1e-8
_INVERSE_MAX_ITERATIONS = 30


def out_of_china(lon, lat) -> np.ndarray:
    """True where GCJ-02 is not applied (the usual rough bounding box of mainland China)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _shift(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at a WGS-84 position."""
    x, y = lon - 105.0, lat - 35.0
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    tlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    tlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (tlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (tlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon.astype(float, copy=True), lat.astype(float, copy=True)


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _shift(lon, lat)
    inside = ~out_of_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `wgs84_to_gcj02` by fixed-point iteration (converges in ~5 steps)."""
    glon, glat = _arrays(lon, lat)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(_INVERSE_MAX_ITERATIONS):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon -= elon
        wlat -= elat
        if elon.size == 0 or max(np.abs(elon).max(), np.abs(elat).max()) < _INVERSE_TOLERANCE_DEG:
            break
    return wlon, wlat


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _arrays(lon, lat)
    x, y = lon - 0.0065, lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def to_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates declared in `crs` (one of CRS_NAMES) as WGS-84."""
    if crs == "wgs84":
        return _arrays(lon, lat)
    try:
        return _TO_WGS84[crs](lon, lat)
    except KeyError:
        raise ValueError(f"unknown coordinate system {crs!r}: expected one of {', '.join(CRS_NAMES)}") from None
