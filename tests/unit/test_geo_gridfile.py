"""Grid file checks: a good city parses; every kind of fault refuses the whole file naming the feature."""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from cloud.geo.gridfile import GridFileError, parse_grid_file
from tests.unit.test_geo_support import BOXES, city, feature


def test_a_good_city_parses_with_areas_in_square_metres():
    feats = {f.code: f for f in parse_grid_file(city())}
    assert set(feats) == set(BOXES)
    g1 = feats["G1"]
    assert (g1.level, g1.parent, g1.index) == ("grid", "C1", 4)
    # 0.025 deg x 0.05 deg at 31.2 N: 2,379 m x 5,560 m (spherical earth)
    assert g1.area_m2 == pytest.approx(2379.6 * 5559.8, rel=2e-3)
    assert feats["C1"].area_m2 == pytest.approx(feats["G1"].area_m2 + feats["G2"].area_m2, rel=1e-9)


def test_extra_properties_are_kept():
    doc = city(G1=feature("G1", "grid", "C1", shapely.box(*BOXES["G1"][2]), limit=30))
    assert {f.code: f.properties for f in parse_grid_file(doc)}["G1"] == {"limit": 30}


def refused(doc) -> list[str]:
    with pytest.raises(GridFileError) as info:
        parse_grid_file(doc)
    return info.value.problems


def test_a_self_intersecting_ring_is_refused_with_the_reason():
    bowtie = shapely.Polygon([(121.40, 31.20), (121.425, 31.25), (121.425, 31.20), (121.40, 31.25)])
    [p] = refused(city(G1=feature("G1", "grid", "C1", bowtie)))
    assert p.startswith("feature 4 (code 'G1'): invalid geometry: Self-intersection")


@pytest.mark.parametrize("geometry,match", [
    ({"type": "Point", "coordinates": [121.41, 31.22]}, "Polygon or MultiPolygon, got 'Point'"),
    ({"type": "LineString", "coordinates": [[121.41, 31.22], [121.42, 31.23]]}, "got 'LineString'"),
    (None, "got None"),
    ({"type": "Polygon", "coordinates": [[[121.4, 31.2], [121.5]]]}, "unreadable coordinates"),
    ({"type": "Polygon", "coordinates": [[[200, 31.2], [201, 31.2], [201, 32], [200, 31.2]]]}, "outside lon"),
])
def test_wrong_geometry_types_and_bad_coordinates_are_refused(geometry, match):
    bad = {"type": "Feature", "geometry": geometry,
           "properties": {"code": "G2", "name": "x", "level": "grid", "parent": "C1"}}
    [p] = refused(city(G2=bad))
    assert p.startswith("feature 5 (code 'G2')") and match in p


def test_duplicate_codes_are_refused_on_each_feature():
    doc = city()
    doc["features"].append(feature("G2", "grid", "C1", shapely.box(121.40, 31.25, 121.45, 31.30)))
    problems = refused(doc)
    assert [p.split(":")[0] for p in problems if "duplicate" in p] == ["feature 5 (code 'G2')", "feature 6 (code 'G2')"]


def test_unknown_parent_and_wrong_level_order_are_refused():
    problems = refused(city(G1=feature("G1", "grid", "C9", shapely.box(*BOXES["G1"][2])),
                            S2=feature("S2", "street", "C1", shapely.box(*BOXES["S2"][2]))))
    assert any("(code 'G1'): unknown parent 'C9'" in p for p in problems)
    assert any("(code 'S2'): a street cannot sit under the community 'C1'" in p for p in problems)


def test_overlapping_siblings_are_refused_but_slivers_within_tolerance_pass():
    # G2 reaches 0.001 deg (~95 m) into G1: refused
    problems = refused(city(G2=feature("G2", "grid", "C1", shapely.box(121.424, 31.20, 121.45, 31.25))))
    assert len(problems) == 1 and "(code 'G1'): overlaps its sibling feature 5 (code 'G2')" in problems[0]
    # a 1e-9 deg (0.1 mm) wide sliver along the 5.6 km edge, 0.5 m²: accepted
    parse_grid_file(city(G2=feature("G2", "grid", "C1", shapely.box(121.424999999, 31.20, 121.45, 31.25))))


def test_a_child_outside_its_parent_is_refused_a_few_metres_is_tolerated():
    problems = refused(city(G1=feature("G1", "grid", "C1", shapely.box(121.399, 31.20, 121.425, 31.25))))
    assert problems == [p for p in problems if "lies partly outside its parent 'C1'" in p] and len(problems) == 1
    # 1e-5 deg is about 1 m: within the 3 m tolerance
    parse_grid_file(city(G1=feature("G1", "grid", "C1", shapely.box(121.39999, 31.20, 121.425, 31.25))))


def test_every_problem_is_listed_not_just_the_first():
    problems = refused(city(G1=feature("G1", "grid", "C9", shapely.box(*BOXES["G1"][2])),
                            G2={"type": "Feature", "geometry": None, "properties": {"code": "G2"}}))
    assert len(problems) >= 3  # unknown parent, missing name, missing level


@pytest.mark.parametrize("doc,match", [
    ({"type": "Feature"}, "not a GeoJSON FeatureCollection"),
    ({"type": "FeatureCollection", "features": []}, "no features"),
    ({**city(), "crs_name": "epsg:3857"}, "crs_name"),
])
def test_not_a_grid_file_at_all(doc, match):
    assert match in refused(doc)[0]


@pytest.mark.parametrize("crs_name", ["gcj02", "bd09"])
def test_a_file_drawn_on_a_chinese_web_map_is_converted_to_wgs84(crs_name):
    feats = {f.code: f for f in parse_grid_file(city(crs_name=crs_name))}
    got = shapely.get_coordinates(feats["G1"].geom)
    want = shapely.get_coordinates(shapely.box(*BOXES["G1"][2]))
    # within 0.5 m (about 5e-6 degrees)
    assert np.abs(got - want).max() < 5e-6
