"""`GET /api/v1/live`: new positions and dead letters as server-sent events, per user scope.

The app under test ends each stream after 1.5 s (TEST_LIVE), so reading one to
its end is bounded.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import psycopg

from tests.integration.test_api_support import (add_dead_letter, add_device, add_heartbeats, app, client,  # noqa: F401
                                                login_as, minutes_ago, pool)


def read_stream(client, headers, after_hello: Callable[[], None]) -> list[tuple[str, dict | None]]:
    """All events of one stream, as (event, data); `after_hello` runs once the stream is open."""
    events: list[tuple[str, dict | None]] = []
    with client.stream("GET", "/api/v1/live", headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        event, data = None, None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and event:
                events.append((event, data))
                if event == "hello":
                    after_hello()
                event, data = None, None
    return events


def test_new_heartbeats_and_dead_letters_stream_to_an_admin(client, db_url):
    add_device(db_url, "h1")
    add_heartbeats(db_url, "h1", [(1, minutes_ago(5), 31.0, 121.0, "A")])  # before the stream: not sent

    def traffic():
        add_heartbeats(db_url, "h1", [(2, minutes_ago(1), 31.1, 121.1, "A"), (3, minutes_ago(0.5), 31.2, 121.2, "B")])
        add_dead_letter(db_url, "bad_json", b"{", dev="h1")

    events = read_stream(client, login_as(db_url, "ann", "admin"), traffic)
    kinds = [e for e, _ in events]
    assert kinds[0] == "hello" and kinds[-1] == "bye"
    positions = [d for e, d in events if e == "position"]
    assert [(p["dev"], p["seq"], p["grid"]) for p in positions] == [("h1", 2, "A"), ("h1", 3, "B")]
    assert positions[0]["ts"].endswith("Z") and positions[0]["lat"] == 31.1
    dead = [d for e, d in events if e == "deadletter"]
    assert [(d["reason"], d["dev"], d["size"]) for d in dead] == [("bad_json", "h1", 1)]


def test_a_scoped_supervisor_streams_only_its_grid_and_no_dead_letters(client, db_url):
    add_device(db_url, "h1")
    add_heartbeats(db_url, "h1", [(1, minutes_ago(5), 31.0, 121.0, "A")])

    def traffic():
        add_heartbeats(db_url, "h1", [(2, minutes_ago(1), 31.1, 121.1, "A"), (3, minutes_ago(0.5), 31.2, 121.2, "B")])
        add_dead_letter(db_url, "bad_json", b"{", dev="h1")

    events = read_stream(client, login_as(db_url, "sue", "supervisor", scope="A"), traffic)
    assert [(d["seq"], d["grid"]) for e, d in events if e == "position"] == [(2, "A")]
    assert not [e for e, _ in events if e == "deadletter"]


def test_a_revoked_token_ends_its_stream(client, db_url):
    headers = login_as(db_url, "ann", "operator")

    def revoke():
        with psycopg.connect(db_url) as conn:
            conn.execute("DELETE FROM api_token")

    events = read_stream(client, headers, revoke)
    assert events[-1] == ("bye", {"reason": "token expired or revoked"})


def test_a_burst_larger_than_one_poll_arrives_whole_and_in_order(client, db_url, monkeypatch):
    add_device(db_url, "h1")
    registry = client.app.state.live
    monkeypatch.setattr(registry, "limits", replace(registry.limits, max_rows=7))  # 30 rows take 5 polls

    def burst():
        add_heartbeats(db_url, "h1", [(seq, minutes_ago(1), 31.0, 121.0, None) for seq in range(1, 31)])

    events = read_stream(client, login_as(db_url, "ann", "admin"), burst)
    assert [d["seq"] for e, d in events if e == "position"] == list(range(1, 31))


def test_open_streams_are_bounded_per_user(client, db_url):
    headers = login_as(db_url, "ann", "admin")
    with client.stream("GET", "/api/v1/live", headers=headers) as first, \
            client.stream("GET", "/api/v1/live", headers=headers) as second:
        assert first.status_code == second.status_code == 200
        third = client.get("/api/v1/live", headers=headers)
        assert third.status_code == 429 and "retry-after" in third.headers
