"""Response models of the REST API (requests are forms and query parameters).

Every instant leaves the API as an ISO-8601 UTC string with milliseconds and a
`Z`, e.g. `2024-05-01T08:00:00.000Z` - including a position's `ts`, which the
devices send as epoch milliseconds.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, PlainSerializer

T = TypeVar("T")


def iso_utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Instant = Annotated[datetime, PlainSerializer(iso_utc, return_type=str, when_used="json")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MeOut(BaseModel):
    name: str
    role: str
    scope: str | None
    department: str | None
    expires_at: Instant


class PositionOut(BaseModel):
    ts: Instant
    lat: float
    lon: float
    acc: float
    grid: str | None
    seq: int
    received_at: Instant
    spd: float | None = None
    hdg: float | None = None
    alt: float | None = None
    batt: float | None = None
    mock: bool | None = None
    sat: int | None = None
    src: str | None = None
    crs: str = "wgs84"


class LastPosition(BaseModel):
    ts: Instant
    lat: float
    lon: float
    acc: float
    grid: str | None


class DeviceOut(BaseModel):
    dev: str
    kind: str | None
    registered: bool
    online: bool | None
    first_seen: Instant | None
    last_seen: Instant | None
    last_position: LastPosition | None


class DeadLetterOut(BaseModel):
    id: int
    received_at: Instant
    topic: str
    reason: str
    detail: str
    dev: str | None
    seq: int | None
    size: int
    encoding: Literal["utf-8", "base64"]
    payload: str
    truncated: bool
