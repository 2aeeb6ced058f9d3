"""`GET /api/v1/devices/{dev}/positions`: order, paging, time window, unknown devices."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.test_api_support import (add_device, add_heartbeats, app, client, login_as,  # noqa: F401
                                                minutes_ago, pool)


@pytest.fixture
def admin(db_url):
    return login_as(db_url, "ann", "admin")


@pytest.fixture
def five_fixes(db_url):
    """h1 with five fixes in the last hour, inserted out of order; seq 1 is the oldest."""
    add_device(db_url, "h1")
    times = {seq: minutes_ago(60 - 10 * seq) for seq in range(1, 6)}
    add_heartbeats(db_url, "h1", [(seq, times[seq], 31.0 + seq / 1000, 121.0, "A") for seq in (3, 1, 5, 2, 4)])
    return times


def test_positions_come_oldest_first_with_the_total_of_all_matches(client, admin, five_fixes):
    r = client.get("/api/v1/devices/h1/positions", headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 5
    assert [p["seq"] for p in body["items"]] == [1, 2, 3, 4, 5]
    first = body["items"][0]
    assert {"ts", "lat", "lon", "acc", "grid"} <= first.keys()
    assert first["grid"] == "A" and first["acc"] == 5.0 and first["lat"] == pytest.approx(31.001)


def test_timestamps_are_iso_8601_utc_strings(client, admin, five_fixes):
    first = client.get("/api/v1/devices/h1/positions", headers=admin).json()["items"][0]
    expected = five_fixes[1].astimezone(minutes_ago(0).tzinfo)
    assert first["ts"] == expected.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert first["received_at"].endswith("Z")


def test_limit_and_offset_page_through_in_order_while_total_counts_everything(client, admin, five_fixes):
    body = client.get("/api/v1/devices/h1/positions?limit=2&offset=1", headers=admin).json()
    assert [p["seq"] for p in body["items"]] == [2, 3]
    assert body["total"] == 5
    past_end = client.get("/api/v1/devices/h1/positions?limit=2&offset=10", headers=admin).json()
    assert past_end == {"items": [], "total": 5}


def test_limit_is_bounded(client, admin, five_fixes):
    assert client.get("/api/v1/devices/h1/positions?limit=10000", headers=admin).status_code == 200
    assert client.get("/api/v1/devices/h1/positions?limit=10001", headers=admin).status_code == 422
    assert client.get("/api/v1/devices/h1/positions?limit=0", headers=admin).status_code == 422
    assert client.get("/api/v1/devices/h1/positions?offset=-1", headers=admin).status_code == 422


def test_since_and_until_take_iso_8601_or_epoch_milliseconds(client, admin, five_fixes):
    since = five_fixes[2].isoformat()
    until_ms = int(five_fixes[4].timestamp() * 1000)
    r = client.get("/api/v1/devices/h1/positions", params={"since": since, "until": until_ms}, headers=admin)
    assert [p["seq"] for p in r.json()["items"]] == [2, 3, 4]
    assert r.json()["total"] == 3
    bad = client.get("/api/v1/devices/h1/positions", params={"since": "yesterday"}, headers=admin)
    assert bad.status_code == 422
    backwards = client.get("/api/v1/devices/h1/positions", params={"since": until_ms, "until": since}, headers=admin)
    assert backwards.status_code == 422


def test_the_default_window_is_the_last_24_hours(client, admin, db_url):
    add_device(db_url, "h1")
    add_heartbeats(db_url, "h1", [(1, minutes_ago(25 * 60), 31, 121, None), (2, minutes_ago(23 * 60), 31, 121, None)])
    body = client.get("/api/v1/devices/h1/positions", headers=admin).json()
    assert [p["seq"] for p in body["items"]] == [2]
    old = minutes_ago(26 * 60)
    body = client.get("/api/v1/devices/h1/positions", params={"since": old.isoformat()}, headers=admin).json()
    assert [p["seq"] for p in body["items"]] == [1, 2]
    # `until` alone: the 24 hours before it
    until = (old + timedelta(hours=2)).isoformat()
    assert [p["seq"] for p in client.get("/api/v1/devices/h1/positions", params={"until": until},
                                         headers=admin).json()["items"]] == [1]


def test_unknown_devices_are_404_and_malformed_ids_422(client, admin, five_fixes):
    assert client.get("/api/v1/devices/nosuch/positions", headers=admin).status_code == 404
    assert client.get("/api/v1/devices/No%20Such/positions", headers=admin).status_code == 422


def test_a_registered_device_without_fixes_has_an_empty_list(client, admin, db_url):
    add_device(db_url, "quiet")
    assert client.get("/api/v1/devices/quiet/positions", headers=admin).json() == {"items": [], "total": 0}


def test_an_until_at_the_start_of_the_calendar_is_a_422_not_a_server_error(client, admin, five_fixes):
    r = client.get("/api/v1/devices/h1/positions?until=0001-01-01T00:00:00Z", headers=admin)
    assert r.status_code == 422
