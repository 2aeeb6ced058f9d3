"""A sensor gateway's configuration file (TOML or JSON). Unknown keys are refused."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(ConfigModel):
    """Raise `level` when the value goes above `above` (or below `below`) for `debounce_s`;
    clear when it comes back past `clear_at` for `clear_debounce_s` (hysteresis)."""

    level: Literal["info", "warning", "critical"]
    above: float | None = None
    below: float | None = None
    clear_at: float | None = Field(default=None, description="default: the threshold itself (no hysteresis)")
    debounce_s: float = Field(default=0.0, ge=0)
    clear_debounce_s: float | None = Field(default=None, ge=0, description="default: debounce_s")

    @model_validator(mode="after")
    def _one_side(self) -> "Rule":
        if (self.above is None) == (self.below is None):
            raise ValueError("a rule has exactly one of `above` or `below`")
        if self.clear_at is not None:
            if self.above is not None and self.clear_at > self.above:
                raise ValueError("clear_at must not be above `above` (hysteresis goes the other way)")
            if self.below is not None and self.clear_at < self.below:
                raise ValueError("clear_at must not be below `below` (hysteresis goes the other way)")
        return self


class SimulatedDriver(ConfigModel):
    """A value that drifts around `base` (+ sine and noise) and follows `steps` [[start_s, end_s, value], ...]."""

    type: Literal["sim"]
    base: float = 0.0
    amplitude: float = 0.0
    period_s: float = Field(default=60.0, gt=0)
    noise: float = Field(default=0.0, ge=0)
    steps: list[tuple[float, float, float]] = Field(default_factory=list)
    seed: int = 0


class ModbusDriver(ConfigModel):
    """One value from a Modbus TCP device: `count` registers from `address`, times `scale` plus `offset`."""

    type: Literal["modbus"]
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    device_id: int = Field(default=1, ge=0, le=247)
    table: Literal["holding", "input"] = "holding"
    address: int = Field(ge=0, le=65535)
    datatype: Literal["uint16", "int16", "uint32", "int32", "float32"] = "uint16"
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0
    timeout_s: float = Field(default=2.0, gt=0)


class Sensor(ConfigModel):
    id: str = Field(min_length=1, max_length=64, description="this gateway's name for it (logs)")
    sensor: str = Field(min_length=1, max_length=64, description="contract sensor type: manhole_tilt, water_level, ...")
    unit: str = Field(max_length=32)
    component: str | None = Field(default=None, max_length=64, description="city component code")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    driver: Annotated[SimulatedDriver | ModbusDriver, Field(discriminator="type")]
    rules: list[Rule] = Field(min_length=1)


class SensorConfig(ConfigModel):
    poll_s: float = Field(default=1.0, gt=0)
    sensors: list[Sensor] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "SensorConfig":
        ids = [s.id for s in self.sensors]
        if len(ids) != len(set(ids)):
            raise ValueError("sensor ids must be unique")
        return self


class SensorConfigError(ValueError):
    """The sensor configuration file cannot be used; the message says where."""


def load_config(path: Path | str) -> SensorConfig:
    path = Path(path)
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        return SensorConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise SensorConfigError(f"{path}: {where}: {err['msg']}") from exc
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise SensorConfigError(f"{path}: {exc}") from exc
