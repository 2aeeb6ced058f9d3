"""`GET /api/v1/deadletters`: filters, newest first, payload as text or base64, truncation."""
from __future__ import annotations

import base64

import pytest

from cloud.api.routes.deadletters import PAYLOAD_PREVIEW_BYTES
from tests.integration.test_api_support import (add_dead_letter, app, client, login_as, minutes_ago,  # noqa: F401
                                                pool)


@pytest.fixture
def operator(db_url):
    return login_as(db_url, "oli", "operator")


def test_dead_letters_newest_first_with_filters(client, db_url, operator):
    add_dead_letter(db_url, "bad_json", b"{nope", dev="h1", received_at=minutes_ago(30))
    add_dead_letter(db_url, "future_ts", b'{"ts": 1}', dev="h2", received_at=minutes_ago(20))
    add_dead_letter(db_url, "bad_json", b"[", dev="h2", received_at=minutes_ago(10))
    everything = client.get("/api/v1/deadletters", headers=operator).json()
    assert everything["total"] == 3
    assert [d["payload"] for d in everything["items"]] == ["[", '{"ts": 1}', "{nope"]
    by_reason = client.get("/api/v1/deadletters?reason=bad_json", headers=operator).json()
    assert [d["dev"] for d in by_reason["items"]] == ["h2", "h1"] and by_reason["total"] == 2
    assert client.get("/api/v1/deadletters?reason=bad_json&dev=h1", headers=operator).json()["total"] == 1
    since = client.get("/api/v1/deadletters", params={"since": minutes_ago(15).isoformat()}, headers=operator)
    assert [d["payload"] for d in since.json()["items"]] == ["["]
    paged = client.get("/api/v1/deadletters?limit=1&offset=1", headers=operator).json()
    assert [d["payload"] for d in paged["items"]] == ['{"ts": 1}'] and paged["total"] == 3


def test_binary_payloads_come_as_base64_and_text_as_text(client, db_url, operator):
    raw = b"\x00\xff\xfe binary"
    add_dead_letter(db_url, "not_utf8", raw, received_at=minutes_ago(2))
    add_dead_letter(db_url, "bad_json", "{\"text\": \"héllo\"".encode(), received_at=minutes_ago(1))
    text, binary = client.get("/api/v1/deadletters", headers=operator).json()["items"]
    assert (text["encoding"], text["payload"], text["truncated"]) == ("utf-8", '{"text": "héllo"', False)
    assert binary["encoding"] == "base64" and base64.b64decode(binary["payload"]) == raw
    assert binary["size"] == len(raw)


def test_large_payloads_are_truncated_with_their_size(client, db_url, operator):
    big = ("é" * 100_000).encode()  # two bytes a character: the cut falls inside one
    add_dead_letter(db_url, "too_large", big)
    item = client.get("/api/v1/deadletters", headers=operator).json()["items"][0]
    assert item["truncated"] is True and item["size"] == len(big)
    assert item["encoding"] == "utf-8"
    assert 0 < len(item["payload"].encode()) <= PAYLOAD_PREVIEW_BYTES
    assert set(item["payload"]) == {"é"}
