"""Translator for the OwnTracks app: `owntracks/{user}/{device}` -> gridwatch heartbeats.

Only `_type: "location"` messages carry fixes. The app also publishes other
types on the same topic (`transition`, `waypoint`, `lwt`, `card`, `status`,
...): those are ignored on purpose, neither stored nor dead-lettered, since
they are normal traffic, not bad input. A location from a user/device pair
that no device alias (`owntracks:USER/DEVICE`) maps is dead-lettered
`unknown_alias`, so an operator can see whom to register.

Units: `tst` seconds -> ms; `vel` km/h -> m/s; `batt` percent -> 0..1;
`cog` -> `hdg`; `acc`, `alt` as they are. OwnTracks has no sequence number:
`seq` is the fix time in ms, so a re-sent identical fix is stored once.
Values of the wrong type are passed through unconverted, so the contract's
own checks name them (wrong_type) like any device's.
"""
from __future__ import annotations

import orjson
import psycopg

from cloud.devices import owntracks_alias
from protocols import topics
from protocols.decode import Reason, Rejection

from .batch import Inbound


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scaled(value: object, factor: float) -> object:
    return value * factor if _number(value) else value


def location_to_heartbeat(obj: dict) -> dict:
    """An OwnTracks location object as a contract Heartbeat object (not yet validated)."""
    tst = obj.get("tst")
    ms = tst * 1000 if isinstance(tst, int) and not isinstance(tst, bool) else tst
    hb = {"v": 1, "seq": ms, "ts": ms, "lat": obj.get("lat"), "lon": obj.get("lon"), "acc": obj.get("acc")}
    optional = {"spd": _scaled(obj.get("vel"), 1 / 3.6), "hdg": obj.get("cog"), "alt": obj.get("alt"),
                "batt": _scaled(obj.get("batt"), 0.01)}
    hb.update({k: v for k, v in optional.items() if v is not None})
    if isinstance(obj.get("tid"), str):
        hb["client"] = {"app": "owntracks", "tid": obj["tid"]}
    return {k: v for k, v in hb.items() if v is not None}


class OwnTracksTranslator:
    subscriptions = (topics.OWNTRACKS_SUBSCRIPTION,)

    def __init__(self) -> None:
        self._aliases: dict[str, str] = {}

    def refresh(self, conn: psycopg.Connection) -> None:
        # Small table, read whole: a device added with --alias is picked up within ingest_refresh_s.
        self._aliases = dict(conn.execute("SELECT alias, dev FROM device_alias WHERE alias LIKE 'owntracks:%'"))

    def matches(self, topic: str) -> bool:
        return topic.startswith("owntracks/")

    def translate(self, msg: Inbound, now_ms: int) -> list[tuple[str, bytes]] | Rejection:
        ref = topics.parse_owntracks(msg.topic)
        if ref is None:
            return Rejection(Reason.BAD_TOPIC, f"not an OwnTracks location topic: {msg.topic!r}", msg.payload)
        try:
            obj = orjson.loads(msg.payload)
        except orjson.JSONDecodeError as exc:
            return Rejection(Reason.NOT_JSON, str(exc), msg.payload)
        if not isinstance(obj, dict):
            return Rejection(Reason.NOT_OBJECT, f"expected a JSON object, got {type(obj).__name__}", msg.payload)
        if obj.get("_type") != "location":
            return []
        alias = owntracks_alias(*ref)
        dev = self._aliases.get(alias)
        if dev is None:
            return Rejection(Reason.UNKNOWN_ALIAS, f"no device has the alias {alias!r}: "
                             f"gridwatch devices add DEV --kind handset --alias {alias}", msg.payload)
        return [(topics.build(dev, "hb"), orjson.dumps(location_to_heartbeat(obj)))]
