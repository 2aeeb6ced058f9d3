"""Every MQTT topic of the contract is built and parsed here, and only here."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

ROOT = "gw/v1"
PREFIX = ROOT + "/"  # every contract topic starts so; an outside client's does not
DEVICE_ID_PATTERN = r"[a-z0-9][a-z0-9_-]{0,63}"
DEVICE_ID_RE = re.compile(rf"^{DEVICE_ID_PATTERN}$")

UPLINK_KINDS = ("hb", "alert", "det", "report", "state")
DOWNLINK_KINDS = ("cmd", "ack")
Kind = Literal["hb", "alert", "det", "report", "state", "cmd", "ack"]

_TOPIC_RE = re.compile(
    rf"^gw/v1/(?P<dev>{DEVICE_ID_PATTERN})/(?P<kind>{'|'.join(UPLINK_KINDS + DOWNLINK_KINDS)})$"
)
_OWNTRACKS_RE = re.compile(r"^owntracks/(?P<user>[^/+#]{1,64})/(?P<device>[^/+#]{1,64})$")

OWNTRACKS_SUBSCRIPTION = "owntracks/+/+"
FRIGATE_EVENTS = "frigate/events"


@dataclass(frozen=True, slots=True)
class TopicRef:
    dev: str
    kind: str


def is_device_id(dev: str) -> bool:
    return bool(DEVICE_ID_RE.match(dev))


def build(dev: str, kind: Kind) -> str:
    if not is_device_id(dev):
        raise ValueError(f"not a valid device id: {dev!r}")
    if kind not in UPLINK_KINDS and kind not in DOWNLINK_KINDS:
        raise ValueError(f"unknown topic kind: {kind!r}")
    return f"{ROOT}/{dev}/{kind}"


# Every message's topic is parsed on the ingest's hot path, and a fleet has few distinct
# topics (a device's five uplinks): a cache hit is ~0.1 us against ~1 us for the match.
@functools.lru_cache(maxsize=1 << 16)
def parse(topic: str) -> TopicRef | None:
    """The device and kind of a gridwatch topic, or None for anything else."""
    m = _TOPIC_RE.match(topic)
    return TopicRef(m["dev"], m["kind"]) if m else None


def parse_owntracks(topic: str) -> tuple[str, str] | None:
    m = _OWNTRACKS_RE.match(topic)
    return (m["user"], m["device"]) if m else None


def device_filter(dev: str) -> str:
    """Everything a device may publish to (its ACL prefix)."""
    if not is_device_id(dev):
        raise ValueError(f"not a valid device id: {dev!r}")
    return f"{ROOT}/{dev}/#"


def shared_subscription(group: str, kind: str) -> str:
    """The MQTT 5 shared subscription the ingest uses for one uplink kind."""
    if kind not in UPLINK_KINDS:
        raise ValueError(f"not an uplink kind: {kind!r}")
    return f"$share/{group}/{ROOT}/+/{kind}"
