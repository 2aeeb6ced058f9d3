"""One pydantic model per wire message of the contract.

Wire models keep unknown fields (`extra="allow"`) so an older cloud accepts a
newer device, and validate strictly so a string where a number belongs is an
error rather than a silent coercion.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_HEARTBEAT_ARRAY = 500
MAX_SNAPSHOT_BYTES = 200 * 1024
# Anything before 2000-01-01 is a clock that was never set or a value in
# seconds rather than milliseconds: both would poison time-ordered storage.
MIN_TS_MS = 946_684_800_000


class WireModel(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class Uplink(WireModel):
    """Fields common to every device-to-cloud message with a sequence."""

    v: Literal[1] = Field(description="schema version")
    seq: int = Field(ge=0, le=2**63 - 1, description="per device and topic, increasing")
    ts: int = Field(ge=MIN_TS_MS, le=2**53, description="device clock, ms since the Unix epoch, UTC")
    dev: str | None = Field(default=None, description="if present must equal {dev} of the topic")


def _lat(default: Any = ...) -> Any:
    return Field(default=default, ge=-90.0, le=90.0, description="degrees, WGS-84 unless crs says otherwise")


def _lon(default: Any = ...) -> Any:
    return Field(default=default, ge=-180.0, le=180.0, description="degrees, WGS-84 unless crs says otherwise")


class Heartbeat(Uplink):
    lat: float = _lat()
    lon: float = _lon()
    acc: float = Field(ge=0.0, le=100_000.0, description="horizontal accuracy, metres")
    spd: float | None = Field(default=None, ge=0.0, le=1000.0, description="m/s")
    hdg: float | None = Field(default=None, ge=0.0, le=360.0, description="degrees")
    alt: float | None = Field(default=None, ge=-1000.0, le=20_000.0, description="metres")
    batt: float | None = Field(default=None, ge=0.0, le=1.0)
    mock: bool | None = Field(default=None, description="the OS reported a mock-location provider")
    sat: int | None = Field(default=None, ge=0, le=255)
    src: Literal["gps", "network", "fused"] | None = None
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"


def _check_base64_jpeg(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    # 4 base64 characters carry 3 bytes: refuse before decoding a huge string.
    if len(value) > (limit * 4) // 3 + 4:
        raise ValueError(f"image larger than {limit} bytes")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("image is not valid base64") from exc
    if len(raw) > limit:
        raise ValueError(f"image larger than {limit} bytes")
    if not raw.startswith(b"\xff\xd8"):
        raise ValueError("image is not a JPEG")
    return value


class Detection(Uplink):
    kind: str = Field(min_length=1, max_length=64)
    score: float = Field(ge=0.0, le=1.0)
    box: list[float] = Field(min_length=4, max_length=4, description="[x, y, w, h] normalised to the frame")
    cam: str | None = Field(default=None, max_length=64)
    zone: str | None = Field(default=None, max_length=64)
    track: str | None = Field(default=None, max_length=128)
    lat: float | None = _lat(None)
    lon: float | None = _lon(None)
    snapshot: str | None = Field(default=None, description="base64 JPEG, at most 200 KiB decoded")

    @field_validator("box")
    @classmethod
    def _box_in_frame(cls, box: list[float]) -> list[float]:
        if any(not 0.0 <= b <= 1.0 for b in box):
            raise ValueError("box values must lie in 0..1")
        return box

    @field_validator("snapshot")
    @classmethod
    def _snapshot(cls, value: str | None) -> str | None:
        return _check_base64_jpeg(value, MAX_SNAPSHOT_BYTES)


class SensorAlert(Uplink):
    sensor: str = Field(min_length=1, max_length=64)
    value: float
    unit: str = Field(max_length=32)
    level: Literal["info", "warning", "critical"]
    state: Literal["raised", "cleared"]
    component: str | None = Field(default=None, max_length=64)
    lat: float | None = _lat(None)
    lon: float | None = _lon(None)


class FieldReport(Uplink):
    lat: float = _lat()
    lon: float = _lon()
    kind: str = Field(min_length=1, max_length=64)
    text: str = Field(max_length=4000)
    photo: str | None = Field(default=None, description="base64 JPEG")
    resolved: bool = False

    @field_validator("photo")
    @classmethod
    def _photo(cls, value: str | None) -> str | None:
        return _check_base64_jpeg(value, MAX_PAYLOAD_BYTES)


class DeviceState(WireModel):
    """Retained on `state`; the same with online=false is the device's MQTT will."""

    v: Literal[1]
    online: bool
    ts: int = Field(ge=MIN_TS_MS, le=2**53)
    dev: str | None = None


class Command(WireModel):
    """Cloud to device: a config push, a shift roster or a ping."""

    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64, description="the cloud's id of this command")
    cmd: Literal["config", "roster", "ping"]
    ts: int = Field(ge=MIN_TS_MS)
    body: dict[str, Any] = Field(default_factory=dict)


class Receipt(WireModel):
    """Cloud to device: every `kind` message of this device up to `seq` is committed."""

    v: Literal[1] = 1
    kind: Literal["hb", "alert", "det", "report"]
    seq: int = Field(ge=0)
    ts: int


# The model each uplink topic kind carries.
UPLINK_MODELS: dict[str, type[WireModel]] = {
    "hb": Heartbeat,
    "alert": SensorAlert,
    "det": Detection,
    "report": FieldReport,
    "state": DeviceState,
}
DOWNLINK_MODELS: dict[str, type[WireModel]] = {"cmd": Command, "ack": Receipt}
