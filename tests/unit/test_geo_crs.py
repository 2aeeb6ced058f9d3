"""WGS-84 / GCJ-02 / BD-09 against published reference points, round trips, vectorised use."""
from __future__ import annotations

import numpy as np
import pytest

from cloud.geo import crs


def metres(lon1, lat1, lon2, lat2):
    k = 111_320.0
    return np.hypot((np.asarray(lon1) - lon2) * k * np.cos(np.radians(lat1)), (np.asarray(lat1) - lat2) * k)


# eviltransform's published vectors: (wgs lat, lon) -> (gcj lat, lon)
EVIL = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),    # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),    # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),    # Beijing
]


@pytest.mark.parametrize("wgs,gcj", EVIL)
def test_wgs84_to_gcj02_matches_published_vectors(wgs, gcj):
    lon, lat = crs.wgs84_to_gcj02(wgs[1], wgs[0])
    assert (float(lon), float(lat)) == pytest.approx((gcj[1], gcj[0]), abs=1e-9)


@pytest.mark.parametrize("wgs,gcj", EVIL)
def test_gcj02_to_wgs84_inverts_within_half_a_metre(wgs, gcj):
    lon, lat = crs.gcj02_to_wgs84(gcj[1], gcj[0])
    assert metres(lon, lat, wgs[1], wgs[0]) < 0.5


def test_bd09_matches_coordtransform_vectors():
    # wandergis/coordtransform README: (116.404, 39.915) both ways
    assert tuple(map(float, crs.bd09_to_gcj02(116.404, 39.915))) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=1e-12)
    assert tuple(map(float, crs.gcj02_to_bd09(116.404, 39.915))) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-12)


def test_outside_china_gcj02_is_wgs84():
    lon, lat = crs.wgs84_to_gcj02([-104.9903, 153.0251, 2.35], [39.7392, -27.4698, 48.85])
    assert lon.tolist() == [-104.9903, 153.0251, 2.35] and lat.tolist() == [39.7392, -27.4698, 48.85]
    assert crs.out_of_china(2.35, 48.85) and not crs.out_of_china(121.47, 31.23)


def test_round_trips_over_a_grid_of_chinese_points_stay_within_half_a_metre():
    lon, lat = np.meshgrid(np.linspace(74.0, 134.0, 60), np.linspace(18.0, 53.0, 40))
    lon, lat = lon.ravel(), lat.ravel()
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lon, lat))
    assert metres(*back, lon, lat).max() < 0.5
    back = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon, lat))
    assert metres(*back, lon, lat).max() < 0.5
    # and the offset being undone is real: hundreds of metres
    assert metres(*crs.wgs84_to_gcj02(lon, lat), lon, lat).mean() > 100


def test_to_wgs84_dispatches_on_the_declared_crs_and_refuses_unknown_ones():
    assert [float(v) for v in crs.to_wgs84(121.47, 31.23, "wgs84")] == [121.47, 31.23]
    g = crs.wgs84_to_gcj02(121.47, 31.23)
    assert metres(*crs.to_wgs84(*g, "gcj02"), 121.47, 31.23) < 0.5
    with pytest.raises(ValueError, match="unknown coordinate system"):
        crs.to_wgs84(1.0, 1.0, "epsg3857")
