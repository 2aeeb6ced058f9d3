"""A camera's configuration file (TOML or JSON): zones, rates, detector limits.

Unknown keys are refused, so a typo fails at start-up rather than silently
switching a detector off. Zones are polygons in the camera's image
coordinates (pixels of the frames it delivers).
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CameraKind = Literal["obstruction", "garbage", "crowd", "fire", "smoke", "waterlogging", "camera_tamper"]
ZONE_KINDS = ("obstruction", "garbage", "crowd", "waterlogging")
FRAME_KINDS = ("fire", "smoke", "camera_tamper")
DEFAULT_KINDS = {"walkway": ["obstruction", "crowd"], "roadway": ["waterlogging"],
                 "no_dumping": ["garbage"], "restricted": ["crowd"]}


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Zone(ConfigModel):
    name: str = Field(min_length=1, max_length=64)
    type: Literal["walkway", "roadway", "no_dumping", "restricted"]
    polygon: list[tuple[int, int]] = Field(min_length=3)
    kinds: list[CameraKind] | None = Field(default=None, description="default: by type")
    dwell_s: float = Field(default=60.0, gt=0, description="a still object or water lasts this long before it is reported")
    crowd_limit: int = Field(default=10, ge=0, description="more people than this is a crowd")
    crowd_dwell_s: float = Field(default=10.0, gt=0)
    person_height_px: float = Field(default=90.0, gt=4, description="typical height of a person in this zone")

    @property
    def watched(self) -> tuple[str, ...]:
        return tuple(self.kinds if self.kinds is not None else DEFAULT_KINDS[self.type])

    @model_validator(mode="after")
    def _zone_kinds(self) -> "Zone":
        wrong = [k for k in self.watched if k not in ZONE_KINDS]
        if wrong:
            raise ValueError(f"zone {self.name!r}: {', '.join(wrong)} are watched over the whole frame, not per zone")
        return self


class StaticParams(ConfigModel):
    min_area_px: int = Field(default=600, ge=1, description="smallest object, full-size pixels")
    still_motion: float = Field(default=0.015, ge=0, le=1,
                                description="median share of changing pixels above which a still blob is a person")
    absorb_after_s: float = Field(default=3600.0, gt=0, description="a change this old becomes the new background")


class FireParams(ConfigModel):
    dwell_s: float = Field(default=3.0, gt=0)
    min_area_px: int = Field(default=300, ge=1)


class SmokeParams(ConfigModel):
    dwell_s: float = Field(default=6.0, gt=0)
    min_area_px: int = Field(default=2500, ge=1)


class WaterParams(ConfigModel):
    min_cover: float = Field(default=0.06, gt=0, le=1, description="share of the zone that must turn to water")


class TamperParams(ConfigModel):
    dwell_s: float = Field(default=3.0, gt=0)
    blur_ratio: float = Field(default=0.75, gt=0, lt=1, description="edges below this share of the reference: defocused")
    min_similarity: float = Field(default=0.45, ge=-1, le=1, description="view correlation below this: moved")


class CameraConfig(ConfigModel):
    cam: str | None = Field(default=None, max_length=64, description="channel name when a gateway has several cameras")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    detect_fps: float = Field(default=5.0, gt=0, le=30)
    update_s: float = Field(default=60.0, gt=0, description="at most one update per track this often")
    end_after_s: float = Field(default=4.0, gt=0, description="a thing unseen this long has ended")
    work_width: int = Field(default=192, ge=64, le=1920, description="width the motion stage works at")
    frame_kinds: list[Literal["fire", "smoke", "camera_tamper"]] = Field(default_factory=lambda: list(FRAME_KINDS))
    zones: list[Zone] = Field(default_factory=list)
    snapshot_quality: int = Field(default=80, ge=20, le=100)
    static: StaticParams = StaticParams()
    fire: FireParams = FireParams()
    smoke: SmokeParams = SmokeParams()
    water: WaterParams = WaterParams()
    tamper: TamperParams = TamperParams()
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _unique_zones(self) -> "CameraConfig":
        names = [z.name for z in self.zones]
        if len(names) != len(set(names)):
            raise ValueError("zone names must be unique")
        return self

    def watched(self) -> set[str]:
        return set(self.frame_kinds) | {k for z in self.zones for k in z.watched}


class CameraConfigError(ValueError):
    """The camera configuration file cannot be used; the message says where."""


def load_config(path: Path | str | None) -> CameraConfig:
    """A camera config from a .toml or .json file; defaults (no zones) without one."""
    if path is None:
        return CameraConfig()
    path = Path(path)
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        return CameraConfig.model_validate(data)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        if isinstance(exc, ValidationError):
            err = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in err["loc"]) or "config"
            raise CameraConfigError(f"{path}: {where}: {err['msg']}") from exc
        raise CameraConfigError(f"{path}: {exc}") from exc
