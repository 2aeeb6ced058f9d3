"""Decode and validate one MQTT message into wire models, or named rejections.

Pure: bytes and a topic in, models and reasons out. A heartbeat array is
judged element by element, so one bad fix does not cost the good ones around it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from . import topics
from .models import MAX_HEARTBEAT_ARRAY, MAX_PAYLOAD_BYTES, UPLINK_MODELS, Heartbeat, WireModel


class Reason(StrEnum):
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    BAD_TOPIC = "bad_topic"
    ARRAY_NOT_ALLOWED = "array_not_allowed"
    ARRAY_TOO_LARGE = "array_too_large"
    EMPTY_ARRAY = "empty_array"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    INVALID_VALUE = "invalid_value"
    UNSUPPORTED_VERSION = "unsupported_version"
    DEV_MISMATCH = "dev_mismatch"
    TS_IN_FUTURE = "ts_in_future"
    UNREGISTERED_DEVICE = "unregistered_device"
    UNKNOWN_ALIAS = "unknown_alias"
    STORE_REFUSED = "store_refused"
    PROCESSING_FAILED = "processing_failed"
    REACTION_FAILED = "reaction_failed"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    detail: str
    raw: bytes
    seq: int | None = None
    # Every seq the rejected payload carried (a whole array refused at once), so
    # receipts can cover them: a device must not resend a refused message forever.
    seqs: tuple[int, ...] = ()

    def covered(self) -> tuple[int, ...]:
        return self.seqs or ((self.seq,) if self.seq is not None else ())


@dataclass(slots=True)
class Decoded:
    """What one MQTT message yielded: zero or more models, zero or more rejections."""

    dev: str | None
    kind: str | None
    messages: list[WireModel] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal",
                 "too_short", "too_long", "string_too_short", "string_too_long"}


def _reason_of(exc: ValidationError) -> tuple[Reason, str]:
    err = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(p) for p in err["loc"]) or "payload"
    etype = err["type"]
    if etype == "missing":
        return Reason.MISSING_FIELD, f"{loc}: required"
    if loc == "v" and etype == "literal_error":
        return Reason.UNSUPPORTED_VERSION, "v: only version 1 is understood"
    if etype in _RANGE_ERRORS:
        return Reason.OUT_OF_RANGE, f"{loc}: {err['msg']}"
    if etype.endswith("_type") or etype.endswith("_parsing") or etype in {"int_from_float", "model_type"}:
        return Reason.WRONG_TYPE, f"{loc}: {err['msg']}"
    return Reason.INVALID_VALUE, f"{loc}: {err['msg']}"


def _seq_of(obj: Any) -> int | None:
    seq = obj.get("seq") if isinstance(obj, dict) else None
    return seq if type(seq) is int and seq >= 0 else None


def validate_one(kind: str, dev: str, obj: Any, now_ms: int, max_future_ms: int) -> WireModel | Rejection:
    """One decoded JSON value checked against the model of its topic kind."""
    if not isinstance(obj, dict):
        return Rejection(Reason.NOT_OBJECT, f"expected a JSON object, got {type(obj).__name__}",
                         orjson.dumps(obj))
    try:
        model = UPLINK_MODELS[kind].model_validate(obj)
    except ValidationError as exc:
        reason, detail = _reason_of(exc)
        return Rejection(reason, detail, orjson.dumps(obj), _seq_of(obj))
    if model.dev is not None and model.dev != dev:
        return Rejection(Reason.DEV_MISMATCH, f"dev {model.dev!r} does not match topic device {dev!r}",
                         orjson.dumps(obj), _seq_of(obj))
    if model.ts > now_ms + max_future_ms:
        return Rejection(Reason.TS_IN_FUTURE, f"ts {model.ts} is more than {max_future_ms // 1000} s ahead",
                         orjson.dumps(obj), _seq_of(obj))
    return model


_HEARTBEATS = TypeAdapter(list[Heartbeat])


def _fast(kind: str, dev: str, payload: bytes, now_ms: int, max_future_ms: int) -> list[WireModel] | None:
    """Good messages in one pass from bytes to models (pydantic's own JSON parser), or None
    when anything is off: the slow path then finds and names every problem."""
    if b"\\u0000" in payload:
        return None
    try:
        if kind == "hb" and payload.lstrip()[:1] == b"[":
            models = _HEARTBEATS.validate_json(payload)
            if not 0 < len(models) <= MAX_HEARTBEAT_ARRAY:
                return None
        else:
            models = [UPLINK_MODELS[kind].model_validate_json(payload)]
    except ValidationError:
        return None
    limit = now_ms + max_future_ms
    if any(m.ts > limit or (m.dev is not None and m.dev != dev) for m in models):
        return None
    return models


def decode(topic: str, payload: bytes, now_ms: int, max_future_ms: int = 24 * 3600 * 1000) -> Decoded:
    ref = topics.parse(topic)
    if ref is None or ref.kind not in UPLINK_MODELS:
        return Decoded(None, None, rejections=[Rejection(Reason.BAD_TOPIC, f"not an uplink topic: {topic!r}", payload)])
    out = Decoded(ref.dev, ref.kind)
    if len(payload) <= MAX_PAYLOAD_BYTES:
        models = _fast(ref.kind, ref.dev, payload, now_ms, max_future_ms)
        if models is not None:
            out.messages = models
            return out

    def reject(reason: Reason, detail: str, obj: Any = None) -> Decoded:
        seqs = tuple(q for q in map(_seq_of, obj if isinstance(obj, list) else [obj]) if q is not None)
        out.rejections.append(Rejection(reason, detail, payload, seqs[0] if seqs else None, seqs))
        return out

    if len(payload) > MAX_PAYLOAD_BYTES:
        return reject(Reason.PAYLOAD_TOO_LARGE, f"{len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        payload.decode("utf-8")
        obj = orjson.loads(payload)
    except UnicodeDecodeError as exc:
        return reject(Reason.NOT_UTF8, str(exc))
    except orjson.JSONDecodeError as exc:
        return reject(Reason.NOT_JSON, str(exc))
    if b"\\u0000" in payload:
        # Valid JSON, but PostgreSQL text and jsonb cannot hold a NUL character.
        return reject(Reason.INVALID_VALUE, "a string contains a NUL character (\\u0000)", obj)
    if isinstance(obj, list):
        if ref.kind != "hb":
            return reject(Reason.ARRAY_NOT_ALLOWED, f"only heartbeats may come as an array, not {ref.kind}", obj)
        if not obj:
            return reject(Reason.EMPTY_ARRAY, "an empty heartbeat array")
        if len(obj) > MAX_HEARTBEAT_ARRAY:
            return reject(Reason.ARRAY_TOO_LARGE, f"{len(obj)} heartbeats exceeds {MAX_HEARTBEAT_ARRAY}", obj)
        items = obj
    else:
        items = [obj]
    for item in items:
        result = validate_one(ref.kind, ref.dev, item, now_ms, max_future_ms)
        if isinstance(result, Rejection):
            out.rejections.append(result if len(items) > 1 else Rejection(result.reason, result.detail, payload, result.seq))
        else:
            out.messages.append(result)
    return out
