"""OsmAnd (Traccar Client) requests as heartbeats: query and JSON forms, unit quirks, rejections."""
from __future__ import annotations

import orjson
import pytest

from cloud.ingest import osmand
from protocols.decode import Rejection

NOW_MS = 1_790_000_100_000


def q(**params) -> osmand.OsmAndFix | Rejection:
    return osmand.parse({k: str(v) for k, v in params.items()}, b"", "", NOW_MS)


@pytest.mark.parametrize("stamp,ms", [
    ("1790000000", 1_790_000_000_000),                  # seconds
    ("1790000000123", 1_790_000_000_123),               # milliseconds
    ("1790000000.5", 1_790_000_000_500),                # fractional seconds
    ("2026-09-21T14:13:20Z", 1_790_000_000_000),       # ISO-8601, UTC
    ("2026-09-21T22:13:20+08:00", 1_790_000_000_000),  # ISO-8601 with an offset
    ("2026-09-21 14:13:20", 1_790_000_000_000),        # naive: UTC
    ("", NOW_MS),                                       # missing: now
])
def test_timestamps_in_seconds_milliseconds_or_iso(stamp, ms):
    fix = q(id="123456", lat=31.23, lon=121.47, accuracy=8, timestamp=stamp)
    assert fix.heartbeat["ts"] == fix.heartbeat["seq"] == ms


def test_query_form_units_knots_and_battery_percent():
    fix = q(id="123456", lat=31.23, lon=121.47, timestamp=1790000000, speed=10, bearing=90.5, altitude=12,
            accuracy=7.5, batt=64, key="s3cret")
    assert (fix.ident, fix.key) == ("123456", "s3cret")
    hb = fix.heartbeat
    assert hb["spd"] == pytest.approx(5.144, abs=1e-3) and hb["batt"] == 0.64
    assert (hb["lat"], hb["lon"], hb["acc"], hb["hdg"], hb["alt"]) == (31.23, 121.47, 7.5, 90.5, 12)
    assert "mock" not in hb and hb["client"] == {"app": "osmand"}


def test_query_form_alternatives_deviceid_location_heading():
    fix = q(deviceid="abc", location="31.5,121.25", heading=45, accuracy=3)
    assert (fix.ident, fix.heartbeat["lat"], fix.heartbeat["lon"], fix.heartbeat["hdg"]) == ("abc", 31.5, 121.25, 45)


JSON = {"device_id": "123456", "location": {
    "timestamp": "2026-09-21T14:13:20.250Z", "is_moving": True, "mock": True,
    "coords": {"latitude": 31.23, "longitude": 121.47, "accuracy": 6.2, "speed": 1.4, "heading": 180,
               "altitude": 9}, "battery": {"level": 0.55, "is_charging": False}}}


def test_json_body_of_newer_app_versions_speed_already_in_mps():
    fix = osmand.parse({}, orjson.dumps(JSON), "application/json", NOW_MS)
    hb = fix.heartbeat
    assert fix.ident == "123456" and hb["ts"] == 1_790_000_000_250
    assert (hb["spd"], hb["hdg"], hb["batt"], hb["mock"], hb["acc"], hb["alt"]) == (1.4, 180, 0.55, True, 6.2, 9)


def test_json_minus_one_means_unknown():
    body = {**JSON, "location": {**JSON["location"], "coords": {**JSON["location"]["coords"], "speed": -1,
                                                               "heading": -1}, "battery": {"level": -1}}}
    hb = osmand.parse({}, orjson.dumps(body), "application/json", NOW_MS).heartbeat
    assert "spd" not in hb and "hdg" not in hb and "batt" not in hb


@pytest.mark.parametrize("params,body,reason", [
    ({"lat": "31", "lon": "121"}, b"", "missing_field"),
    ({"id": "1", "lat": "north", "lon": "121"}, b"", "wrong_type"),
    ({"id": "1", "lat": "31", "lon": "121", "timestamp": "yesterday"}, b"", "invalid_value"),
    ({"id": "1", "lat": "nan", "lon": "121"}, b"", "invalid_value"),
    ({"id": "a b", "lat": "31", "lon": "121"}, b"", "invalid_value"),
    ({"id": "x\x00", "lat": "31", "lon": "121"}, b"", "invalid_value"),
    ({"id": "1" * 65, "lat": "31", "lon": "121"}, b"", "invalid_value"),
    ({}, b"{not json", "not_json"),
    ({}, b'{"device_id": "1"}', "missing_field"),
    ({}, orjson.dumps({**JSON, "location": {**JSON["location"], "mock": "yes"}}), "wrong_type"),
])
def test_malformed_requests_are_rejections_with_the_raw_body(params, body, reason):
    got = osmand.parse(params, body, "application/json" if body else "", NOW_MS)
    assert isinstance(got, Rejection) and got.reason == reason and got.raw == body


def test_a_timestamp_beyond_any_clock_is_refused_with_a_reason_not_a_server_error():
    import pytest

    from cloud.ingest import osmand
    from protocols.decode import Reason

    for value in ("99999999999999999999999", -5, 10**30):
        with pytest.raises(ValueError) as info:
            osmand.parse_timestamp(value, 1_795_300_000_000)
        assert info.value.reason == Reason.OUT_OF_RANGE
