"""GET /api/v1/grids and /grids/{code}: GeoJSON, paging, filters, and scope through the subtree."""
from __future__ import annotations

import psycopg
import pytest

from cloud.geo.gridfile import parse_grid_file
from cloud.geo.registry import import_grids
from tests.integration.test_api_support import app, client, login_as, pool  # noqa: F401
from tests.unit.test_geo_support import city


@pytest.fixture
def grids(db_url):
    with psycopg.connect(db_url) as conn:
        import_grids(conn, parse_grid_file(city()))


def test_an_admin_lists_every_grid_as_geojson_with_paging(client, db_url, grids):
    admin = login_as(db_url, "root", "admin")
    body = client.get("/api/v1/grids", headers=admin, params={"limit": 4}).json()
    assert body["type"] == "FeatureCollection" and body["total"] == 6
    assert [f["id"] for f in body["features"]] == ["C1", "D1", "G1", "G2"]
    g1 = body["features"][2]
    assert g1["geometry"]["type"] == "Polygon" and g1["properties"]["parent"] == "C1"
    assert g1["properties"]["area_m2"] > 1.3e7
    leaves = client.get("/api/v1/grids", headers=admin, params={"level": "grid", "parent": "C1"}).json()
    assert [f["id"] for f in leaves["features"]] == ["G1", "G2"] and leaves["total"] == 2
    assert leaves["items"] == leaves["features"]  # the contract's list envelope too


def test_a_scoped_supervisor_sees_its_subtree_only_and_404_elsewhere(client, db_url, grids):
    sup = login_as(db_url, "sue", "supervisor", scope="S1")
    body = client.get("/api/v1/grids", headers=sup).json()
    assert [f["id"] for f in body["features"]] == ["C1", "G1", "G2", "S1"] and body["total"] == 4
    assert client.get("/api/v1/grids/G2", headers=sup).json()["properties"]["name"] == "G2 name"
    for code in ("S2", "D1", "nope"):
        r = client.get(f"/api/v1/grids/{code}", headers=sup)
        assert (r.status_code, r.json()) == (404, {"detail": f"no grid {code!r}"})


def test_grids_need_a_token(client, grids):
    assert client.get("/api/v1/grids").status_code == 401
    assert client.get("/api/v1/grids/G1").status_code == 401
