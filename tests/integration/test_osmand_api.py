"""The Traccar Client app at /osmand through the API: stored with a grid via the pipeline, or
400 with the reason and dead-lettered; aliases, registered ids, per-device key."""
from __future__ import annotations

import time

import orjson
import psycopg
import pytest

from cloud.api.app import create_app
from cloud.devices import add_device
from cloud.geo.gridfile import parse_grid_file
from cloud.geo.registry import import_grids
from gridwatch.settings import load_settings
from tests.integration.test_api_support import LOCAL_CLIENT, TEST_LIVE, TestClient, app, client, pool  # noqa: F401
from tests.unit.test_geo_support import IN_G1, IN_G2, city

PASSWORD = "handset-password-1"


@pytest.fixture
def registry(db_url):
    with psycopg.connect(db_url) as conn:
        import_grids(conn, parse_grid_file(city()))
        add_device(conn, "hs-ann", "handset", alias="osmand:123456", password=PASSWORD, iterations=10)
        add_device(conn, "hs-bob", "handset", iterations=10)


def rows(db_url, sql, params=()):
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchall()


def now_s() -> int:
    return int(time.time()) - 60


def test_query_form_by_alias_is_stored_with_its_grid_and_converted_units(client, db_url, registry):
    ts = now_s()
    r = client.get("/osmand", params={"id": "123456", "lat": IN_G2[1], "lon": IN_G2[0], "timestamp": ts,
                                      "speed": 2, "bearing": 90, "accuracy": 8, "batt": 80})
    assert (r.status_code, r.json()) == (200, {"stored": True})
    [(dev, seq, spd, batt, grid)] = rows(db_url, "SELECT dev, seq, spd, batt, grid FROM heartbeat")
    assert (dev, seq, grid, batt) == ("hs-ann", ts * 1000, "G2", pytest.approx(0.8))
    assert spd == pytest.approx(1.029, abs=1e-3)
    # the same fix again (the app retries): stored once, still 200
    assert client.get("/osmand", params={"id": "123456", "lat": IN_G2[1], "lon": IN_G2[0], "timestamp": ts,
                                         "accuracy": 8}).status_code == 200
    assert rows(db_url, "SELECT count(*) FROM heartbeat") == [(1,)]
    assert rows(db_url, "SELECT count(*) FROM receipt_cursor") == [(0,)]  # no receipts tracked for outside clients


def test_post_json_and_post_with_query_by_registered_device_id(client, db_url, registry):
    body = {"device_id": "hs-bob", "location": {"timestamp": "2026-09-21T14:13:20Z", "mock": True,
                                                "coords": {"latitude": IN_G1[1], "longitude": IN_G1[0],
                                                           "accuracy": 5, "speed": 1.5, "heading": -1}}}
    r = client.post("/osmand", content=orjson.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    r = client.post("/osmand", params={"id": "hs-bob", "lat": IN_G1[1], "lon": IN_G1[0], "accuracy": 4,
                                       "timestamp": 1790000100000})
    assert r.status_code == 200
    got = rows(db_url, "SELECT seq, mock, spd, hdg, grid FROM heartbeat WHERE dev = 'hs-bob' ORDER BY seq")
    assert got == [(1790000000000, True, 1.5, None, "G1"), (1790000100000, None, None, None, "G1")]


def test_form_body_is_read_too(client, db_url, registry):
    r = client.post("/osmand", content=f"id=123456&lat={IN_G1[1]}&lon={IN_G1[0]}&accuracy=9&timestamp={now_s()}",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and rows(db_url, "SELECT grid FROM heartbeat") == [("G1",)]


@pytest.mark.parametrize("params,reason", [
    ({"id": "999999", "lat": 31.2, "lon": 121.4, "accuracy": 5}, "unknown_alias"),
    ({"id": "123456", "lat": 95, "lon": 121.4, "accuracy": 5}, "out_of_range"),
    ({"id": "123456", "lat": 31.2, "lon": 121.4}, "missing_field"),
    ({"id": "123456", "lat": "x", "lon": 121.4, "accuracy": 5}, "wrong_type"),
    ({"id": "123456", "lat": 31.2, "lon": 121.4, "accuracy": 5, "timestamp": "1700000000000000"}, "ts_in_future"),
])
def test_rejected_requests_get_400_with_the_reason_and_are_dead_lettered_as_they_came(client, db_url, registry,
                                                                                       params, reason):
    r = client.get("/osmand", params=params)
    assert r.status_code == 400 and r.json()["reason"] == reason
    [(topic, payload, stored_reason)] = rows(db_url, "SELECT topic, payload, reason FROM dead_letter")
    assert (topic, stored_reason) == ("osmand", reason)
    assert bytes(payload).startswith(b"GET /osmand?id=")
    assert rows(db_url, "SELECT count(*) FROM heartbeat") == [(0,)]


def test_a_key_when_sent_must_be_the_devices_password(client, db_url, registry):
    fix = {"id": "123456", "lat": IN_G1[1], "lon": IN_G1[0], "accuracy": 5, "timestamp": now_s()}
    assert client.get("/osmand", params={**fix, "key": "wrong"}).status_code == 403
    assert client.get("/osmand", params={**fix, "id": "hs-bob", "key": "anything"}).status_code == 403  # no password
    assert rows(db_url, "SELECT count(*) FROM heartbeat") == [(0,)]
    assert rows(db_url, "SELECT count(*) FROM dead_letter") == [(0,)]
    assert client.get("/osmand", params={**fix, "key": PASSWORD}).status_code == 200


def test_with_keys_required_a_request_without_one_is_refused(db_url, pool, registry):  # noqa: F811
    strict = create_app(load_settings(database_url=db_url, geo_osmand_require_key=True), pool, live_limits=TEST_LIVE)
    with TestClient(strict, client=LOCAL_CLIENT) as c:
        fix = {"id": "123456", "lat": IN_G1[1], "lon": IN_G1[0], "accuracy": 5, "timestamp": now_s()}
        assert c.get("/osmand", params=fix).status_code == 401
        assert c.get("/osmand", params={**fix, "key": PASSWORD}).status_code == 200


def test_an_oversized_body_is_refused_and_not_kept(client, db_url):
    r = client.post("/osmand", content=b"x" * (17 * 1024), headers={"content-type": "application/json"})
    assert r.status_code == 413
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0] == 0
