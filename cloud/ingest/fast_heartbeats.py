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
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import msgspec
from pydantic.fields import FieldInfo

from protocols.models import MAX_HEARTBEAT_ARRAY, Heartbeat

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


def rows(dev: str, hbs: list[Any], received_us: int) -> list[tuple]:
    """Heartbeat table rows, as `batch.heartbeat_row` makes them (grid filled later).
    Inline `pg_time.from_unix_ms`: a call per heartbeat is measurable here."""
    return [(dev, h.seq, (h.ts - EPOCH_MS) * 1000, received_us, h.lat, h.lon, h.acc, h.spd, h.hdg,
             h.alt, h.batt, h.mock, h.sat, h.src, h.crs, None, None) for h in hbs]
