"""The ingest's fast path for heartbeats: bytes to table rows without building pydantic models.

Heartbeats are nearly all the traffic, and validating each one as a pydantic
model cost more than everything else the ingest does to it (py-spy, README
"Benchmarks"). Here a msgspec Struct *derived from* `protocols.models.Heartbeat`
(its field names, types, defaults and ge/le bounds; a model change the
derivation cannot follow fails at import) decodes a payload in one C pass.

It only ever says yes to payloads the pydantic model accepts as they are: any
unknown field (the model keeps those as `extra`), a NUL escape, an array of the
wrong size, a dev that does not match, a ts too far ahead, or any decode error
returns None and the message takes the full decoder, which names the problem.
tests/contract/test_fast_heartbeats.py holds the two to the same verdicts.
"""
from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import msgspec
from pydantic.fields import FieldInfo

from protocols import topics
from protocols.models import MAX_HEARTBEAT_ARRAY, MAX_PAYLOAD_BYTES, Heartbeat

from . import pg_time
from .pg_time import EPOCH_MS

_BOUNDS = {at.Ge: "ge", at.Le: "le", at.Gt: "gt", at.Lt: "lt"}


def _annotation(name: str, info: FieldInfo) -> Any:
    base = info.annotation
    args = get_args(base)
    optional = get_origin(base) in (Union, types.UnionType) and type(None) in args
    inner = next(a for a in args if a is not type(None)) if optional else base
    if not (inner in (int, float, bool, str) or get_origin(inner) is Literal):
        raise TypeError(f"Heartbeat.{name}: {base!r} has no msgspec equivalent here; extend fast_heartbeats")
    bounds = {}
    for m in info.metadata:
        if type(m) not in _BOUNDS:
            raise TypeError(f"Heartbeat.{name}: constraint {m!r} has no msgspec equivalent here")
        bounds[_BOUNDS[type(m)]] = getattr(m, _BOUNDS[type(m)])
    if bounds:
        inner = Annotated[inner, msgspec.Meta(**bounds)]
    return inner | None if optional else inner


def _struct_from_model() -> type[msgspec.Struct]:
    fields = []
    for name, info in Heartbeat.model_fields.items():
        if info.is_required():
            fields.append((name, _annotation(name, info)))
        else:
            fields.append((name, _annotation(name, info), info.default))
    # Required fields first, as msgspec (like dataclasses) needs; keyword decoding ignores order.
    fields.sort(key=len)
    # gc=False: scalar fields only, so no cycles; a batch holds tens of thousands of them.
    return msgspec.defstruct("HeartbeatStruct", fields, forbid_unknown_fields=True, frozen=True, gc=False)


HeartbeatStruct = _struct_from_model()
_decoder = msgspec.json.Decoder(Union[list[HeartbeatStruct], HeartbeatStruct])


def decode(dev: str, payload: bytes, now_ms: int, max_future_ms: int) -> list[Any] | None:
    """The heartbeats of a payload the full decoder would accept unchanged, or None."""
    if b"\\u0000" in payload:
        return None  # PostgreSQL text cannot hold NUL: the full decoder names it
    try:
        value = _decoder.decode(payload)
    except msgspec.ValidationError:
        return None
    except msgspec.DecodeError:
        return None
    hbs = value if type(value) is list else [value]
    if not 0 < len(hbs) <= MAX_HEARTBEAT_ARRAY:
        return None
    limit = now_ms + max_future_ms
    for h in hbs:
        if h.ts > limit or (h.dev is not None and h.dev != dev):
            return None
    return hbs


def shape(batch: Iterable[Any], now_ms: int, max_future_ms: int, device_filter: Callable[[str], Any] | None,
          out: list[tuple], seqs: dict[tuple[str, str], list[int]], seen: dict[str, float]) -> list[Any]:
    """Shape every message of `batch` that is a device's own (contract topic) plain good
    heartbeat payload straight into heartbeat rows, its seqs and its device's latest arrival;
    returns the other messages, in order, for the full path.

    One loop for the batch, not a call per message with ten arguments: build_rows of 500 single
    heartbeats took 2.2 instead of 2.85 us a heartbeat (timeit, back to back; the bare benchmark
    pipeline's rows take 1.9)."""
    rest = []
    parse, prefix = topics.parse, topics.PREFIX
    for msg in batch:
        topic = msg.topic
        if not (topic.endswith("/hb") and topic.startswith(prefix)) or len(msg.payload) > MAX_PAYLOAD_BYTES:
            rest.append(msg)
            continue
        ref = parse(topic)
        if ref is None or (device_filter is not None and device_filter(ref.dev) is not None):
            rest.append(msg)
            continue
        dev = ref.dev
        hbs = decode(dev, msg.payload, now_ms, max_future_ms)
        if hbs is None:
            rest.append(msg)
            continue
        received_at = msg.received_at
        received_us = pg_time.from_unix(received_at)
        key = (dev, "hb")
        if len(hbs) == 1:  # most messages: a list comprehension's frame costs ~0.5 us here
            h = hbs[0]
            out.append((dev, h.seq, (h.ts - EPOCH_MS) * 1000, received_us, h.lat, h.lon, h.acc, h.spd, h.hdg,
                        h.alt, h.batt, h.mock, h.sat, h.src, h.crs, None, None))  # as rows() makes them
            known = seqs.get(key)
            if known is None:
                seqs[key] = [h.seq]
            else:
                known.append(h.seq)
        else:
            out.extend(rows(dev, hbs, received_us))
            seqs.setdefault(key, []).extend([h.seq for h in hbs])
        if received_at > seen.get(dev, -1.0):
            seen[dev] = received_at
    return rest


def rows(dev: str, hbs: list[Any], received_us: int) -> list[tuple]:
    """Heartbeat table rows, as `batch.heartbeat_row` makes them (grid filled later).
    Inline `pg_time.from_unix_ms`: a call per heartbeat is measurable here."""
    return [(dev, h.seq, (h.ts - EPOCH_MS) * 1000, received_us, h.lat, h.lon, h.acc, h.spd, h.hdg,
             h.alt, h.batt, h.mock, h.sat, h.src, h.crs, None, None) for h in hbs]
