"""Turn a batch of raw MQTT messages into table rows, dead letters and seq runs.

Pure: no I/O. Steps run in order (decode, validate, filter, enrich, shape) and
every message ends up either as data or as a dead letter with a named reason.
"""
from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from protocols import decode as wire
from protocols import topics
from protocols.decode import Reason, Rejection
from protocols.models import MAX_PAYLOAD_BYTES, DeviceState, Detection, FieldReport, Heartbeat, SensorAlert, WireModel

from . import fast_heartbeats, pg_time

UTC = timezone.utc


@dataclass(frozen=True, slots=True)
class Inbound:
    """One MQTT message as the consumer received it."""

    topic: str
    payload: bytes
    mid: int
    received_at: float  # time.time() at arrival
    qos: int = 1  # a QoS 0 message has no PUBACK: acking it would be a protocol error


@dataclass(slots=True)
class Rows:
    """Everything one batch writes, grouped by destination."""

    heartbeat: list[tuple] = field(default_factory=list)
    detection: list[tuple] = field(default_factory=list)
    sensor_alert: list[tuple] = field(default_factory=list)
    field_report: list[tuple] = field(default_factory=list)
    state: list[tuple] = field(default_factory=list)
    dead_letter: list[tuple] = field(default_factory=list)
    # (dev, kind) -> committed seqs, stored or dead-lettered alike
    seqs: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # dev -> latest arrival (epoch seconds), for the registry's first/last seen; made a
    # timestamptz in SQL, for the few devices due a touch (Pipeline._not_touched_lately)
    seen: dict[str, float] = field(default_factory=dict)
    # table -> binary COPY image of its rows, when encoded ahead (store.encode)
    images: dict[str, bytes] = field(default_factory=dict)

    def count(self) -> int:
        return (len(self.heartbeat) + len(self.detection) + len(self.sensor_alert)
                + len(self.field_report) + len(self.state))


# Filter: given a device id, return a rejection reason or None (e.g. registration).
DeviceFilter = Callable[[str], Reason | None]


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, UTC)


def _extra(model: WireModel) -> dict | None:
    return model.__pydantic_extra__ or None


def _b64(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value else None


def heartbeat_row(dev: str, m: Heartbeat, received_us: int, grid: str | None = None) -> tuple:
    """ts and received_at in timestamptz's binary form (pg_time), as store.TABLES writes them."""
    return (dev, m.seq, pg_time.from_unix_ms(m.ts), received_us, m.lat, m.lon, m.acc, m.spd, m.hdg, m.alt,
            m.batt, m.mock, m.sat, m.src, m.crs, grid, _extra(m))


def _shape(dev: str, kind: str, m: WireModel, received: datetime, received_us: int, rows: Rows) -> None:
    if kind == "hb":
        rows.heartbeat.append(heartbeat_row(dev, m, received_us))
    elif kind == "det":
        d: Detection = m
        rows.detection.append((dev, d.seq, _dt(d.ts), received, d.kind, d.score, list(d.box), d.cam, d.zone,
                               d.track, d.lat, d.lon, _b64(d.snapshot), _extra(d)))
    elif kind == "alert":
        a: SensorAlert = m
        rows.sensor_alert.append((dev, a.seq, _dt(a.ts), received, a.sensor, a.value, a.unit, a.level,
                                  a.state, a.component, a.lat, a.lon, _extra(a)))
    elif kind == "report":
        r: FieldReport = m
        rows.field_report.append((dev, r.seq, _dt(r.ts), received, r.lat, r.lon, r.kind, r.text,
                                  _b64(r.photo), r.resolved, _extra(r)))
    elif kind == "state":
        s: DeviceState = m
        rows.state.append((dev, _dt(s.ts), received, s.online, _extra(s)))


def _dead(rows: Rows, msg: Inbound, received: datetime, dev: str | None, rej: Rejection) -> None:
    rows.dead_letter.append((received, msg.topic, rej.raw, rej.reason.value, rej.detail, dev, rej.seq))


def _note_seq(rows: Rows, dev: str | None, kind: str | None, seq: int | None) -> None:
    if dev is not None and kind not in (None, "state") and seq is not None:
        rows.seqs.setdefault((dev, kind), []).append(seq)


def translated(batch: Iterable[Inbound], translators: list, now_ms: int,
               rows: Rows) -> Iterable[tuple[Inbound, str, bytes]]:
    """Contract (topic, payload) of every message; outside formats go through their translator."""
    for msg in batch:
        if msg.topic.startswith(topics.PREFIX):
            yield msg, msg.topic, msg.payload  # the contract's own topics need no translator
            continue
        translator = next((t for t in translators if t.matches(msg.topic)), None)
        if translator is None:
            yield msg, msg.topic, msg.payload
            continue
        result = translator.translate(msg, now_ms)
        if isinstance(result, Rejection):
            _dead(rows, msg, datetime.fromtimestamp(msg.received_at, UTC), None, result)
            continue
        for topic, payload in result:
            yield msg, topic, payload


def _note_seen(seen: dict[str, float], dev: str, received_at: float) -> None:
    if dev not in seen or received_at > seen[dev]:
        seen[dev] = received_at


def _shape_translated_heartbeats(rows: Rows, seen: dict[str, float], topic: str, payload: bytes,
                                 received_at: float, received_us: int, now_ms: int, max_future_ms: int,
                                 device_filter: DeviceFilter | None) -> bool:
    """Shape an outside client's translated heartbeat straight into rows when it is plain and
    good (its made-up seqs are not tracked); False: take the full decoder."""
    if not topic.endswith("/hb") or len(payload) > MAX_PAYLOAD_BYTES:
        return False
    ref = topics.parse(topic)
    if ref is None or (device_filter is not None and device_filter(ref.dev) is not None):
        return False
    hbs = fast_heartbeats.decode(ref.dev, payload, now_ms, max_future_ms)
    if hbs is None:
        return False
    rows.heartbeat.extend(fast_heartbeats.rows(ref.dev, hbs, received_us))
    _note_seen(seen, ref.dev, received_at)
    return True


def build_rows(batch: Iterable[Inbound], now_ms: int, max_future_ms: int,
               device_filter: DeviceFilter | None = None, translators: list | None = None) -> Rows:
    rows = Rows()
    seen = rows.seen
    # Nearly all traffic: devices' own plain heartbeats, shaped in one pass; the rest below.
    batch = fast_heartbeats.shape(batch, now_ms, max_future_ms, device_filter, rows.heartbeat, rows.seqs, seen)
    for msg, topic, payload in translated(batch, translators or [], now_ms, rows):
        received_us = pg_time.from_unix(msg.received_at)
        # Outside clients read no receipts: their (made-up) seqs are not tracked.
        native = topic == msg.topic
        if not native and _shape_translated_heartbeats(rows, seen, topic, payload, msg.received_at, received_us,
                                                       now_ms, max_future_ms, device_filter):
            continue
        received = datetime.fromtimestamp(msg.received_at, UTC)
        decoded = wire.decode(topic, payload, now_ms, max_future_ms)
        dev, kind = decoded.dev, decoded.kind
        refused = device_filter(dev) if (dev is not None and device_filter) else None
        if refused is not None:
            for m in decoded.messages:
                _note_seq(rows, dev, kind, getattr(m, "seq", None))
            first = next((getattr(m, "seq", None) for m in decoded.messages), None)
            if decoded.messages:
                _dead(rows, msg, received, dev,
                      Rejection(refused, f"device {dev!r} is not registered", msg.payload, first))
            decoded.messages = []
        for rej in decoded.rejections:
            # An outside client's message is kept as it came, not as we translated it.
            _dead(rows, msg, received, dev, rej if native else replace(rej, raw=msg.payload))
            for seq in rej.covered() if native else ():
                _note_seq(rows, dev, kind, seq)
        for m in decoded.messages:
            _shape(dev, kind, m, received, received_us, rows)
            if native:
                _note_seq(rows, dev, kind, getattr(m, "seq", None))
        if dev is not None and (decoded.messages or refused is None):
            _note_seen(seen, dev, msg.received_at)
    return rows


def runs(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged [lo, hi] runs of a set of sequence numbers."""
    ordered = sorted(set(seqs))
    if ordered and ordered[-1] - ordered[0] == len(ordered) - 1:
        return [(ordered[0], ordered[-1])]  # the usual case, without a Python-level walk
    out: list[tuple[int, int]] = []
    for s in ordered:
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out
