"""Frigate NVR events (`frigate/events`) translated into contract `det` messages.

A Frigate event is one tracked object: `new` when it appears, `update` as it
changes, `end` when it is gone; `after` holds its latest state. It becomes a
Detection with the same track semantics as gridwatch's own cameras:
`track` = "frigate-" + the event id, `phase` = start / update / end, and
updates forwarded at most every `update_s` per event.

- Label to kind by configuration (`GRIDWATCH_CAMERA_FRIGATE_LABELS`); a label
  that maps to no kind (a passing car) is not an anomaly and is skipped.
- Camera to device by the registry: the alias `frigate:CAMERA`, loaded in
  `refresh(conn)`. A camera without one is dead-lettered as `unknown_alias`.
- Frigate boxes are pixels `[x1, y1, x2, y2]` of its detect resolution
  (`GRIDWATCH_CAMERA_FRIGATE_DETECT_SIZE`), normalised to `[x, y, w, h]`.
- Frigate reads no receipts; `seq` is derived from the event's time and id, so
  a redelivered event maps to the same (dev, det, seq, ts) and is stored once.
"""
from __future__ import annotations

import zlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson
import psycopg

from protocols import topics
from protocols.decode import Reason, Rejection

if TYPE_CHECKING:
    from .batch import Inbound

ALIAS_PREFIX = "frigate:"     # cloud.devices.frigate_alias
PHASES = {"new": "start", "update": "update", "end": "end"}
_REMEMBER = 10_000            # events whose last forwarded update is remembered


class FrigateTranslator:
    subscriptions = (topics.FRIGATE_EVENTS,)

    def __init__(self, labels: dict[str, str], update_s: float = 60.0,
                 detect_size: tuple[int, int] = (1280, 720), aliases: dict[str, str] | None = None) -> None:
        self.labels = labels
        self.update_ms = int(update_s * 1000)
        self.detect_size = detect_size
        self.aliases: dict[str, str] = dict(aliases or {})      # Frigate camera name -> device id
        self._forwarded: OrderedDict[str, int] = OrderedDict()  # event id -> ts of its last forwarded message

    def refresh(self, conn: psycopg.Connection) -> None:
        rows = conn.execute("SELECT alias, dev FROM device_alias WHERE alias LIKE %s", (ALIAS_PREFIX + "%",))
        self.aliases = {alias[len(ALIAS_PREFIX):]: dev for alias, dev in rows}

    def matches(self, topic: str) -> bool:
        return topic == topics.FRIGATE_EVENTS

    def translate(self, msg: "Inbound", now_ms: int) -> list[tuple[str, bytes]] | Rejection:
        event = _parse(msg.payload)
        if isinstance(event, Rejection):
            return event
        kind_of, after = event
        kind = self.labels.get(str(after.get("label")))
        if kind is None:
            return []
        camera = str(after.get("camera"))
        dev = self.aliases.get(camera)
        if dev is None:
            return Rejection(Reason.UNKNOWN_ALIAS, f"Frigate camera {camera!r} maps to no device: register one "
                             f"with `gridwatch devices add DEV --kind camera --alias frigate:{camera}`", msg.payload)
        body = self._detection(kind_of, after, kind, now_ms)
        if isinstance(body, Rejection):
            return Rejection(body.reason, body.detail, msg.payload)
        if not self._due(str(after["id"]), kind_of, body["ts"]):
            return []
        return [(topics.build(dev, "det"), orjson.dumps(body))]

    def _detection(self, kind_of: str, after: dict[str, Any], kind: str, now_ms: int) -> dict[str, Any] | Rejection:
        try:
            when = after.get("end_time") if kind_of == "end" and after.get("end_time") else after.get("frame_time")
            ts = int(float(when) * 1000) if when is not None else now_ms
            score = float(after.get("top_score") or after.get("score") or 0.0)
            box = self._box(after.get("box"))
        except (TypeError, ValueError) as exc:
            return Rejection(Reason.WRONG_TYPE, f"Frigate event field: {exc}", b"")
        body: dict[str, Any] = {"v": 1, "seq": _seq(ts, str(after["id"]), kind_of), "ts": ts, "kind": kind,
                                "score": round(min(1.0, max(0.0, score)), 4), "box": box,
                                "track": f"frigate-{after['id']}"[:128], "phase": PHASES[kind_of],
                                "frigate_label": str(after.get("label"))}
        zones = after.get("current_zones") or after.get("entered_zones") or []
        if zones:
            body["zone"] = str(zones[0])[:64]
        return body

    def _box(self, box: Any) -> list[float]:
        if not isinstance(box, list) or len(box) != 4:
            raise ValueError("after.box must be [x1, y1, x2, y2]")
        w, h = self.detect_size
        x1, y1, x2, y2 = (float(v) for v in box)
        x1, x2 = sorted((min(max(x1 / w, 0.0), 1.0), min(max(x2 / w, 0.0), 1.0)))
        y1, y2 = sorted((min(max(y1 / h, 0.0), 1.0), min(max(y2 / h, 0.0), 1.0)))
        return [round(x1, 4), round(y1, 4), round(x2 - x1, 4), round(y2 - y1, 4)]

    def _due(self, event_id: str, kind_of: str, ts: int) -> bool:
        """new and end always; an update when the event's last forwarded message is `update_s` old."""
        last = self._forwarded.get(event_id)
        if kind_of == "update" and last is not None and ts - last < self.update_ms:
            return False
        if kind_of == "end":
            self._forwarded.pop(event_id, None)
            return True
        self._forwarded[event_id] = ts
        self._forwarded.move_to_end(event_id)
        while len(self._forwarded) > _REMEMBER:
            self._forwarded.popitem(last=False)
        return True


def _parse(payload: bytes) -> tuple[str, dict[str, Any]] | Rejection:
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return Rejection(Reason.NOT_JSON, "Frigate event is not JSON", payload)
    if not isinstance(event, dict) or not isinstance(event.get("after"), dict):
        return Rejection(Reason.MISSING_FIELD, "Frigate event without an `after` object", payload)
    if event.get("type") not in PHASES:
        return Rejection(Reason.INVALID_VALUE, f"Frigate event type {event.get('type')!r} is not new/update/end", payload)
    after = event["after"]
    missing = [k for k in ("id", "camera", "label") if not after.get(k)]
    if missing:
        return Rejection(Reason.MISSING_FIELD, f"Frigate event without after.{missing[0]}", payload)
    return event["type"], after


def _seq(ts: int, event_id: str, kind_of: str) -> int:
    """Made-up but deterministic: the same event message always gets the same seq."""
    return ts * 1024 + zlib.crc32(f"{event_id}/{kind_of}".encode()) % 1024
