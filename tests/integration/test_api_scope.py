"""A user scoped to a grid sees that grid's rows only; admins and unscoped users see all."""
from __future__ import annotations

import psycopg
import pytest

from tests.integration.test_api_support import (add_dead_letter, add_device, add_heartbeats, app, client,  # noqa: F401
                                                login_as, minutes_ago, pool)


@pytest.fixture
def two_grids(db_url):
    """`walker` patrols grid A and once strays into B; `other` is only ever in B."""
    add_device(db_url, "walker")
    add_device(db_url, "other")
    add_heartbeats(db_url, "walker", [(1, minutes_ago(30), 31.0, 121.0, "A"), (2, minutes_ago(20), 31.1, 121.1, "B"),
                                      (3, minutes_ago(10), 31.0, 121.0, "A")])
    add_heartbeats(db_url, "other", [(1, minutes_ago(15), 31.2, 121.2, "B")])


def test_a_scoped_supervisor_gets_404_for_a_device_seen_only_in_another_grid(client, db_url, two_grids):
    sup_a = login_as(db_url, "sue", "supervisor", scope="A")
    r = client.get("/api/v1/devices/other/positions", headers=sup_a)
    # the same answer as for a device that does not exist at all
    assert (r.status_code, r.json()) == (404, {"detail": "no device 'other'"})
    assert client.get("/api/v1/devices/other/positions", headers=login_as(db_url, "bob", "supervisor",
                                                                          scope="B")).status_code == 200


def test_a_scoped_supervisor_sees_only_rows_of_its_grid(client, db_url, two_grids):
    sup_a = login_as(db_url, "sue", "supervisor", scope="A")
    body = client.get("/api/v1/devices/walker/positions", headers=sup_a).json()
    assert [(p["seq"], p["grid"]) for p in body["items"]] == [(1, "A"), (3, "A")]
    assert body["total"] == 2


def test_the_device_list_is_scoped_too(client, db_url, two_grids):
    sup_b = login_as(db_url, "bob", "supervisor", scope="B")
    items = client.get("/api/v1/devices", headers=sup_b).json()["items"]
    # walker's last fix is in A, so B's supervisor sees its last fix inside B
    assert {d["dev"]: d["last_position"]["grid"] for d in items} == {"walker": "B", "other": "B"}
    sup_a = login_as(db_url, "sue", "supervisor", scope="A")
    body = client.get("/api/v1/devices", headers=sup_a).json()
    assert [d["dev"] for d in body["items"]] == ["walker"] and body["total"] == 1


@pytest.mark.parametrize("role,scope", [("admin", None), ("admin", "A"), ("supervisor", None)])
def test_admins_and_unscoped_users_see_every_grid(client, db_url, two_grids, role, scope):
    headers = login_as(db_url, "u", role, scope=scope)
    assert client.get("/api/v1/devices", headers=headers).json()["total"] == 2
    assert client.get("/api/v1/devices/walker/positions", headers=headers).json()["total"] == 3


def test_a_scoped_operator_sees_dead_letters_of_its_devices_only(client, db_url, two_grids):
    add_dead_letter(db_url, "bad_json", b"{", dev="walker")
    add_dead_letter(db_url, "bad_json", b"{", dev="other")
    add_dead_letter(db_url, "bad_topic", b"?", dev=None)
    scoped = login_as(db_url, "oli", "operator", scope="A")
    assert [d["dev"] for d in client.get("/api/v1/deadletters", headers=scoped).json()["items"]] == ["walker"]
    unscoped = login_as(db_url, "ola", "operator")
    assert client.get("/api/v1/deadletters", headers=unscoped).json()["total"] == 3


def test_the_scope_expands_through_gw_grid_subtree(client, db_url, two_grids):
    # What the grids migration will do: make a district's scope include its grids.
    with psycopg.connect(db_url) as conn:
        conn.execute("""CREATE OR REPLACE FUNCTION gw_grid_subtree(root text) RETURNS SETOF text
                        LANGUAGE sql STABLE AS $$ SELECT root UNION ALL SELECT 'A' WHERE root = 'D1' $$""")
    district = login_as(db_url, "dee", "supervisor", scope="D1")
    body = client.get("/api/v1/devices/walker/positions", headers=district).json()
    assert [p["grid"] for p in body["items"]] == ["A", "A"]
    assert client.get("/api/v1/devices/other/positions", headers=district).status_code == 404
