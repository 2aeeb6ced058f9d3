"""The OsmAnd protocol of the Traccar Client app, as gridwatch heartbeats: pure, no I/O.

Two shapes arrive at `/osmand` (CONTRACT section 3):

* parameters (GET query, or POST query / form body): `id` (or `deviceid`),
  `lat`, `lon` (or `location=lat,lon`), `timestamp` (Unix seconds,
  milliseconds or ISO-8601), `speed` in KNOTS, `bearing` (or `heading`),
  `altitude`, `accuracy`, `batt` in PERCENT;
* the JSON body of newer app versions: `device_id`, `location.timestamp`
  (ISO-8601), `location.coords{latitude, longitude, accuracy, speed (m/s),
  heading, altitude}`, `location.battery.level` (0..1), `location.mock`;
  the app sends -1 for unknown speed, heading and battery: left out.

A missing timestamp means "now" (the app sends live fixes). The fix time in
ms is also the `seq` (no sequence numbers here), so a resent fix is stored
once. Range and type checks are the contract's own, run by the pipeline.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from protocols.decode import Reason, Rejection

KNOT_MPS = 1852.0 / 3600.0
# Unix time above this is milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_MS_THRESHOLD = 100_000_000_000
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
# What an `osmand:` alias segment may hold (cloud.devices): no separators, wildcards or spaces.
_IDENT_RE = re.compile(r"^[^/+#\s\x00-\x1f]{1,64}$")


@dataclass(frozen=True, slots=True)
class OsmAndFix:
    """A parsed request: who (`ident`, as sent), the heartbeat object, and an optional key."""

    ident: str
    heartbeat: dict
    key: str | None


class _Bad(ValueError):
    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail)
        self.reason = reason


def parse_timestamp(value: object, now_ms: int) -> int:
    """Milliseconds since the epoch from seconds, milliseconds or ISO-8601 (UTC when no offset)."""
    if value is None or value == "":
        return now_ms
    if isinstance(value, bool):
        raise _Bad(Reason.WRONG_TYPE, "timestamp: expected a number or ISO-8601 text")
    text = str(value).strip()
    if isinstance(value, (int, float)) or _NUMBER_RE.match(text):
        number = float(text)
        if not math.isfinite(number):
            raise _Bad(Reason.INVALID_VALUE, f"timestamp: {text!r}")
        ms = number if abs(number) >= _MS_THRESHOLD else number * 1000
        if not 0 <= ms <= 2**53:
            # Would not survive JSON or the contract's ts range: refuse it here, with a reason.
            raise _Bad(Reason.OUT_OF_RANGE, f"timestamp: {text!r} is out of range")
        return int(round(ms))
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise _Bad(Reason.INVALID_VALUE, f"timestamp: {text!r} is neither Unix time nor ISO-8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(round(parsed.timestamp() * 1000))


def _num(value: object, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Bad(Reason.WRONG_TYPE, f"{name}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Bad(Reason.WRONG_TYPE, f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise _Bad(Reason.INVALID_VALUE, f"{name}: {value!r}")
    return number


def _known(value: float | None) -> float | None:
    """The app's -1 means 'unknown'."""
    return None if value is None or value < 0 else value


def _heartbeat(ts_ms: int, lat, lon, acc, spd, hdg, alt, batt, mock) -> dict:
    hb = {"v": 1, "seq": ts_ms, "ts": ts_ms, "lat": lat, "lon": lon, "acc": acc, "spd": spd, "hdg": hdg,
          "alt": alt, "batt": batt, "mock": mock, "client": {"app": "osmand"}}
    return {k: v for k, v in hb.items() if v is not None}


def from_params(params: Mapping[str, str], now_ms: int) -> OsmAndFix:
    ident = params.get("id") or params.get("deviceid")
    if not ident:
        raise _Bad(Reason.MISSING_FIELD, "id: required")
    lat, lon = params.get("lat"), params.get("lon")
    if (lat is None or lon is None) and params.get("location"):
        lat, _, lon = params["location"].partition(",")
    speed = _num(params.get("speed"), "speed")
    batt = _num(params.get("batt"), "batt")
    hb = _heartbeat(parse_timestamp(params.get("timestamp"), now_ms), _num(lat, "lat"), _num(lon, "lon"),
                    _num(params.get("accuracy"), "accuracy"),
                    speed * KNOT_MPS if speed is not None else None,
                    _num(params.get("bearing") or params.get("heading"), "bearing"),
                    _num(params.get("altitude"), "altitude"), batt / 100.0 if batt is not None else None, None)
    return OsmAndFix(ident, hb, params.get("key") or None)


def from_json(body: dict, params: Mapping[str, str], now_ms: int) -> OsmAndFix:
    ident = body.get("device_id") or params.get("id")
    if not isinstance(ident, (str, int)) or isinstance(ident, bool) or ident == "":
        raise _Bad(Reason.MISSING_FIELD, "device_id: required")
    loc = body.get("location")
    if isinstance(loc, list) and len(loc) == 1:
        loc = loc[0]
    if not isinstance(loc, dict) or not isinstance(loc.get("coords"), dict):
        raise _Bad(Reason.MISSING_FIELD, "location.coords: required")
    c = loc["coords"]
    battery = loc.get("battery") if isinstance(loc.get("battery"), dict) else {}
    mock = loc.get("mock")
    if mock is not None and not isinstance(mock, bool):
        raise _Bad(Reason.WRONG_TYPE, f"location.mock: expected true or false, got {mock!r}")
    hb = _heartbeat(parse_timestamp(loc.get("timestamp"), now_ms), _num(c.get("latitude"), "latitude"),
                    _num(c.get("longitude"), "longitude"), _num(c.get("accuracy"), "accuracy"),
                    _known(_num(c.get("speed"), "speed")), _known(_num(c.get("heading"), "heading")),
                    _num(c.get("altitude"), "altitude"), _known(_num(battery.get("level"), "battery.level")), mock)
    key = body.get("key") or params.get("key")
    return OsmAndFix(str(ident), hb, key if isinstance(key, str) and key else None)


def _checked(fix: OsmAndFix) -> OsmAndFix:
    if not _IDENT_RE.match(fix.ident):
        raise _Bad(Reason.INVALID_VALUE, f"id: {fix.ident[:80]!r} is not a device id or alias "
                                         "(1-64 characters, no spaces, '/', '+' or '#')")
    return fix


def parse(params: Mapping[str, str], body: bytes, content_type: str, now_ms: int) -> OsmAndFix | Rejection:
    """One request (query and form parameters merged into `params`, the raw body) as a fix."""
    raw = body or b""
    try:
        if "json" in content_type.lower() or raw.lstrip().startswith(b"{"):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise _Bad(Reason.NOT_JSON, str(exc)) from None
            if not isinstance(obj, dict):
                raise _Bad(Reason.NOT_OBJECT, f"expected a JSON object, got {type(obj).__name__}")
            return _checked(from_json(obj, params, now_ms))
        return _checked(from_params(params, now_ms))
    except _Bad as bad:
        return Rejection(bad.reason, str(bad), raw)
