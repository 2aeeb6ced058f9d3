"""The ingest's msgspec fast path for heartbeats never disagrees with the contract's pydantic decoder.

It may decline a payload (the full decoder then decides), but whatever it
accepts the full decoder must accept too, yielding the very same rows; and it
must accept the plain good heartbeats that are nearly all the traffic, or it
would be dead weight. Checked on every golden heartbeat and on a systematic set
of mutations of each field (types, bounds, nulls, absence, JSON oddities).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cloud.ingest import fast_heartbeats, pg_time
from cloud.ingest.batch import Inbound, heartbeat_row
from protocols.decode import decode
from protocols.models import MAX_HEARTBEAT_ARRAY, MIN_TS_MS, Heartbeat

GOLDEN = Path(__file__).parent / "golden"
NOW_MS = 1_795_300_000_000 + 3_600_000
FUTURE_MS = 24 * 3600 * 1000
DEV = "h-001"
TOPIC = f"gw/v1/{DEV}/hb"
RECEIVED = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)

BASE = {"v": 1, "seq": 7, "ts": 1_795_300_000_000, "lat": 31.2, "lon": 121.4, "acc": 8.0, "spd": 1.5,
        "hdg": 90.0, "alt": 12.0, "batt": 0.8, "mock": False, "sat": 9, "src": "gps", "crs": "wgs84"}
ODD_VALUES = [None, True, False, 0, 1, -1, 0.0, 1.0, -0.0, 0.5, 1.5, 2, 90, 90.0, 90.0000001, -90.0000001, 180,
              180.5, 255, 256, 360, 360.1, 1000, 1000.1, 100_000, 100_001, 20_000.5, -1000.5, MIN_TS_MS - 1,
              MIN_TS_MS, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 1e308, "1", "", "gps", "network", "fused",
              "wgs84", "gcj02", "bd09", "GPS", "h-001", "h-002", [], {}, [1], {"a": 1}]


def _json(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()  # stdlib: it writes integers past 64 bits


def _verdicts(payload: bytes) -> tuple[list[tuple] | None, list[tuple] | None]:
    """(rows from the fast path or None, rows from the full decoder or None when it refused anything)."""
    fast = fast_heartbeats.decode(DEV, payload, NOW_MS, FUTURE_MS)
    fast_rows = fast_heartbeats.rows(DEV, fast, RECEIVED) if fast is not None else None
    full = decode(TOPIC, payload, NOW_MS, FUTURE_MS)
    full_rows = None if full.rejections else [heartbeat_row(DEV, m, RECEIVED) for m in full.messages]
    return fast_rows, full_rows


def _assert_batch_path_agrees(payload: bytes) -> None:
    """`shape`, the batch loop build_rows runs, takes what `decode` takes, into the same rows."""
    out: list[tuple] = []
    seqs: dict = {}
    seen: dict = {}
    at = RECEIVED.timestamp()
    rest = fast_heartbeats.shape([Inbound(TOPIC, payload, 1, at)], NOW_MS, FUTURE_MS, None, out, seqs, seen)
    fast = fast_heartbeats.decode(DEV, payload, NOW_MS, FUTURE_MS)
    if fast is None:
        assert rest and not out and not seqs and not seen, payload
        return
    assert not rest, payload
    assert out == fast_heartbeats.rows(DEV, fast, pg_time.from_unix(at)), payload
    assert seqs == {(DEV, "hb"): [h.seq for h in fast]} and seen == {DEV: at}, payload


def _assert_agree(payload: bytes, must_take: bool = False) -> None:
    _assert_batch_path_agrees(payload)
    fast_rows, full_rows = _verdicts(payload)
    if fast_rows is not None:
        assert full_rows is not None, f"fast path accepted what the contract refuses: {payload!r}"
        assert fast_rows == full_rows, payload
        assert [type(v) for r in fast_rows for v in r] == [type(v) for r in full_rows for v in r], payload
    if must_take:
        assert fast_rows is not None, f"fast path declined a plain good heartbeat: {payload!r}"


def _golden_heartbeats() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(GOLDEN.glob("*/hb_*.json")):
        case = json.loads(path.read_text())
        out.append((f"{path.parent.name}/{path.name}", _json(case["payload"])))
    return out


@pytest.mark.parametrize("name,payload", _golden_heartbeats(), ids=lambda v: v if isinstance(v, str) else "")
def test_golden_heartbeats_get_the_same_verdict(name, payload):
    _assert_agree(payload, must_take=name.startswith("valid/") and "unknown" not in name)


@pytest.mark.parametrize("field", sorted(set(Heartbeat.model_fields) | {"extra_field"}))
def test_every_odd_value_of_every_field_gets_the_same_verdict(field):
    for value in ODD_VALUES:
        _assert_agree(_json({**BASE, field: value}))
        _assert_agree(_json([BASE, {**BASE, "seq": 8, field: value}]))
    without = {k: v for k, v in BASE.items() if k != field}
    _assert_agree(_json(without), must_take=not Heartbeat.model_fields.get(field, None)
                  or not Heartbeat.model_fields[field].is_required())


def test_plain_heartbeats_take_the_fast_path_and_shape_like_the_model():
    minimal = {k: BASE[k] for k in ("v", "seq", "ts", "lat", "lon", "acc")}
    for payload in (BASE, minimal, [BASE], [minimal] * 3, {**minimal, "lat": 31, "lon": 121, "acc": 0},
                    {**minimal, "dev": DEV}, {**minimal, "crs": "gcj02"}, {**minimal, "ts": NOW_MS + FUTURE_MS}):
        _assert_agree(_json(payload), must_take=True)


@pytest.mark.parametrize("payload", [
    b"", b"{", b"null", b"[]", b"[[]]", b"1", b'"hb"', b"[null]", b"{}",
    b'{"v":1,"seq":1,"ts":1795300000000,"lat":31.2,"lon":121.4,"acc":8,"src":"g\\u0000ps"}',
    b'{"v":1,"seq":1,"ts":1795300000000,"lat":31.2,"lon":121.4,"acc":8,"src":"\\u0067ps"}',
    b'{"v":1,"seq":1,"ts":1795300000000,"lat":31.2,"lon":121.4,"acc":8,"lat":95}',
    b'{"v":1,"seq":1,"ts":1795300000000,"lat":31.2,"lon":121.4,"acc":8} trailing',
    b'{"v":1,"seq":1,"ts":1795300000000,"lat":NaN,"lon":121.4,"acc":8}',
    b'{"v":1,"seq":1,"ts":1795300000000,"lat":1e999,"lon":121.4,"acc":8}',
    b'{"v":1,"seq":1,"ts":1795300000000,"lat":31.2,"lon":121.4,"acc":8,"dev":"h-002"}',
    b'\xef\xbb\xbf{"v":1,"seq":1,"ts":1795300000000,"lat":31.2,"lon":121.4,"acc":8}',
    b'{"v":1,"seq":1,"ts":1795300000000,"lat":31.2,"lon":121.4,"acc":8,"mock":"\xff"}',
    _json({**BASE, "ts": NOW_MS + FUTURE_MS + 1}),
    _json([BASE] * (MAX_HEARTBEAT_ARRAY + 1)),
], ids=lambda p: f"{len(p)}B")
def test_malformed_payloads_get_the_same_verdict(payload):
    _assert_agree(payload)
