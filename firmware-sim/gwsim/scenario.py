"""A simulation scenario file (TOML or JSON): the city, the shift, the fleet and its behaviour mix.

    seed = 7
    day = "2026-11-20"          # local date of the shift
    tz = "Asia/Shanghai"
    start = "08:30"
    end = "17:30"
    workers = 24
    interval_s = 30             # heartbeat interval
    speed = 600                 # simulated seconds per real second (MQTT mode)

    [city]                      # a synthetic grid city (rows x cols grids)
    origin = [31.23, 121.47]
    rows = 2
    cols = 3

    [mix]                       # behaviour -> weight (gwsim.plans.BEHAVIOURS)
    diligent = 4
    late = 1

    [incidents]                 # optional: injected incidents (gwsim.incidents) from the shift start
    count = 23                  # cameras, sensors, field reports, repeated sightings
    speed = 3000                # simulated seconds per real second of their replay

    [cameras]                   # optional: synthetic scenes through the real camera agent
    count = 2
    seconds = 60                # scene length; the anomaly runs from 20 % to 80 % of it
    kinds = ["garbage", "fire"] # camera i shows kinds[i % len(kinds)]
    workers = 2                 # camera agents at once (CPU: at most the cores)

    [sensors]                   # optional: simulated drivers through the real sensor agent
    count = 3
    seconds = 600               # simulated; past the threshold from 25 % to 50 % of it
    types = ["water_level", "gas", "manhole_tilt", "pipe_pressure"]
    speed = 60

Unknown keys are refused, so a typo fails before anything runs.
"""
from __future__ import annotations

import json
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .plans import BEHAVIOURS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CityConfig(_Strict):
    origin: tuple[float, float] = (31.23, 121.47)
    rows: int = Field(default=2, ge=1, le=200)
    cols: int = Field(default=3, ge=1, le=200)
    cell_m: float = Field(default=400.0, ge=50, le=5000)
    jitter: float = Field(default=0.12, ge=0, le=0.2)


class IncidentsConfig(_Strict):
    count: int = Field(default=23, ge=1, le=10_000)
    speed: float = Field(default=3000.0, gt=0, le=1_000_000)
    noise: int = Field(default=10, ge=0, le=1000)   # non-case detections per camera


SceneKind = Literal["obstruction", "garbage", "crowd", "fire", "smoke", "waterlogging", "camera_tamper"]
SensorType = Literal["water_level", "manhole_tilt", "gas", "pipe_pressure"]


class CamerasConfig(_Strict):
    count: int = Field(default=2, ge=1, le=1000)
    seconds: float = Field(default=60.0, ge=20, le=3600)
    kinds: list[SceneKind] = Field(default_factory=lambda: ["garbage", "fire"], min_length=1)
    workers: int = Field(default=2, ge=1, le=64)


class SensorsConfig(_Strict):
    count: int = Field(default=3, ge=1, le=10_000)
    seconds: float = Field(default=600.0, ge=20, le=86_400)
    types: list[SensorType] = Field(default_factory=lambda: ["water_level", "gas", "manhole_tilt", "pipe_pressure"],
                                    min_length=1)
    speed: float = Field(default=60.0, gt=0, le=10_000)


class Scenario(_Strict):
    seed: int = 1
    day: date
    tz: str = "Asia/Shanghai"
    start: time = time(8, 30)
    end: time = time(17, 30)
    workers: int = Field(default=12, ge=1, le=100_000)
    interval_s: float = Field(default=30.0, ge=1, le=600)
    speed: float = Field(default=600.0, gt=0, le=100_000)
    lead_minutes: float = Field(default=30.0, ge=0, le=720)
    tail_minutes: float = Field(default=30.0, ge=0, le=720)
    city: CityConfig = CityConfig()
    mix: dict[str, float] = Field(default_factory=lambda: {"diligent": 1.0})
    incidents: IncidentsConfig | None = None
    cameras: CamerasConfig | None = None
    sensors: SensorsConfig | None = None

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        ZoneInfo(v)  # raises for an unknown zone
        return v

    @field_validator("mix")
    @classmethod
    def _behaviours(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(BEHAVIOURS))
        if unknown:
            raise ValueError(f"unknown behaviours {unknown}; known: {', '.join(BEHAVIOURS)}")
        if not v or any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("mix needs positive weights")
        return v

    @model_validator(mode="after")
    def _order(self) -> "Scenario":
        if self.start == self.end:
            raise ValueError("a shift needs start != end")
        return self

    def shift_utc(self) -> tuple[float, float]:
        """The shift as epoch seconds (an end before the start runs past midnight)."""
        zone = ZoneInfo(self.tz)
        start = datetime.combine(self.day, self.start, tzinfo=zone)
        end_day = self.day if self.end > self.start else self.day + timedelta(days=1)
        return start.timestamp(), datetime.combine(end_day, self.end, tzinfo=zone).timestamp()

    def window(self) -> tuple[float, float]:
        start, end = self.shift_utc()
        return start - self.lead_minutes * 60, end + self.tail_minutes * 60


def load_scenario(path: Path | str) -> Scenario:
    path = Path(path)
    text = path.read_text("utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    return Scenario.model_validate(data)
