"""`GET /api/v1/devices`: registered and unregistered devices, last position, paging."""
from __future__ import annotations

import psycopg

from tests.integration.test_api_support import (add_device, add_heartbeats, app, client, login_as,  # noqa: F401
                                                minutes_ago, pool)


def test_devices_list_last_position_and_registration(client, db_url):
    add_device(db_url, "h1", registered=True, online=True)
    add_device(db_url, "stray", registered=False)
    add_heartbeats(db_url, "h1", [(1, minutes_ago(9), 31.0, 121.0, "A"), (2, minutes_ago(3), 31.5, 121.5, "A")])
    body = client.get("/api/v1/devices", headers=login_as(db_url, "ann", "admin")).json()
    assert body["total"] == 2
    h1, stray = body["items"]
    assert (h1["dev"], h1["registered"], h1["online"]) == ("h1", True, True)
    assert h1["last_position"]["lat"] == 31.5 and h1["last_position"]["grid"] == "A"
    assert h1["last_seen"].endswith("Z")
    assert (stray["dev"], stray["registered"], stray["last_position"]) == ("stray", False, None)


def test_registered_filter_lists_what_the_ingest_saw_but_nobody_registered(client, db_url):
    add_device(db_url, "h1", registered=True)
    add_device(db_url, "stray", registered=False)
    headers = login_as(db_url, "ann", "operator")
    unregistered = client.get("/api/v1/devices?registered=false", headers=headers).json()
    assert [d["dev"] for d in unregistered["items"]] == ["stray"] and unregistered["total"] == 1
    assert [d["dev"] for d in client.get("/api/v1/devices?registered=true", headers=headers).json()["items"]] == ["h1"]


def test_last_seen_is_the_latest_of_the_registry_and_the_last_fix(client, db_url):
    add_device(db_url, "h1")
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE device SET last_seen = now() - interval '2 hours'")
    add_heartbeats(db_url, "h1", [(1, minutes_ago(5), 31.0, 121.0, None)])  # received now
    h1 = client.get("/api/v1/devices", headers=login_as(db_url, "ann", "admin")).json()["items"][0]
    assert h1["last_seen"] > minutes_ago(1).isoformat()[:16]


def test_device_list_pages(client, db_url):
    for i in range(5):
        add_device(db_url, f"d{i}")
    body = client.get("/api/v1/devices?limit=2&offset=2", headers=login_as(db_url, "ann", "admin")).json()
    assert [d["dev"] for d in body["items"]] == ["d2", "d3"] and body["total"] == 5
