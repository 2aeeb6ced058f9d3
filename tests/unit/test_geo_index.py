"""GridIndex: locate agrees with GEOS on a synthetic city; near/distance in metres; empty cases."""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from cloud.geo.index import GridIndex
from gridwatch.bench.geo import synthetic_city


@pytest.fixture(scope="module")
def town():
    codes, polys = synthetic_city(400, seed=3)
    return codes, polys, GridIndex(codes, polys, version=5)


def test_locate_matches_geos_point_by_point_on_an_irregular_city(town):
    codes, polys, index = town
    x0, y0, x1, y1 = shapely.total_bounds(polys)
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(x0 - 0.01, x1 + 0.01, 20_000), rng.uniform(y0 - 0.01, y1 + 0.01, 20_000)
    got = index.locate(lon, lat)
    tree = shapely.STRtree(polys)
    p, g = tree.query(shapely.points(lon, lat), predicate="within")
    want = np.full(len(lon), None, dtype=object)
    want[p] = np.asarray(codes, dtype=object)[g]
    assert (got == want).all()
    assert 0 < np.count_nonzero(want == None) < len(lon)  # noqa: E711  some points fall outside


def test_locate_keeps_the_input_shape_and_handles_holes_and_multipolygons():
    ring = shapely.Polygon([(0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01)], [[(0.004, 0.004), (0.006, 0.004),
                                                                          (0.006, 0.006), (0.004, 0.006)]])
    islands = shapely.MultiPolygon([shapely.box(0.02, 0, 0.03, 0.01), shapely.box(0.04, 0, 0.05, 0.01)])
    index = GridIndex(["RING", "ISLANDS"], [ring, islands])
    lon = np.array([[0.001, 0.005], [0.045, 0.035]])
    lat = np.full((2, 2), 0.005)
    assert index.locate(lon, lat).tolist() == [["RING", None], ["ISLANDS", None]]


def test_an_empty_index_and_no_points():
    assert GridIndex([], []).locate(np.array([1.0]), np.array([2.0])).tolist() == [None]
    codes, polys = synthetic_city(4)
    assert GridIndex(codes, polys).locate(np.empty(0), np.empty(0)).shape == (0,)


def test_near_finds_grids_within_the_accuracy_circle_in_metres():
    # two grids side by side at 31 N, the shared edge at lon 121.001
    index = GridIndex(["W", "E"], [shapely.box(121.0, 31.0, 121.001, 31.001), shapely.box(121.001, 31.0, 121.002, 31.001)])
    metre_lon = 1 / (111_195 * np.cos(np.radians(31.0005)))
    lon = np.array([121.0005, 121.001 - 10 * metre_lon, 121.001 - 30 * metre_lon])
    lat = np.full(3, 31.0005)
    hits = index.near(lon, lat, np.array([5.0, 15.0, 15.0]))
    assert hits.codes_of(3) == [("W",), ("W", "E"), ("W",)]
    assert hits.distance_m[(hits.point == 1) & (hits.code == "E")][0] == pytest.approx(10.0, abs=0.1)


def test_distance_m_is_zero_inside_and_metres_outside():
    index = GridIndex(["A"], [shapely.box(121.0, 31.0, 121.001, 31.001)])
    metre_lat = 1 / 111_195
    d = index.distance_m("A", np.array([121.0005, 121.0005]), np.array([31.0005, 31.001 + 25 * metre_lat]))
    assert d[0] == 0.0 and d[1] == pytest.approx(25.0, abs=0.1)
    with pytest.raises(KeyError):
        index.distance_m("nope", np.array([0.0]), np.array([0.0]))
