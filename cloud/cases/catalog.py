"""The event catalog: kinds of problem, their owners, clocks and merge rules.

Read from a TOML file (the packaged `catalog.default.toml` unless
`GRIDWATCH_CASES_CATALOG_FILE` names another); unknown keys fail at load time,
so a typo does not silently change routing.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Source = Literal["detection", "sensor", "report"]


class CatalogError(ValueError):
    """The catalog file cannot be used; the message names the file and the key at fault."""


class KindSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    department: str
    sla_hours: float = Field(gt=0)
    round_the_clock: bool = False
    auto_register: float = Field(default=0.6, ge=0, le=1)
    merge_radius_m: float = Field(default=30, gt=0, le=1000)
    merge_window_min: float = Field(default=120, ge=0)
    component_kinds: tuple[str, ...] = ()


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: dict[str, KindSpec]
    sources: dict[Source, dict[str, str]] = {}
    sensor_levels: dict[Literal["info", "warning", "critical"], float] = {}


@dataclass(frozen=True)
class Catalog:
    kinds: dict[str, KindSpec]
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    sensor_levels: dict[str, float] = field(default_factory=dict)

    def kind_for(self, source: Source, name: str) -> str | None:
        """The catalog kind a detection kind, sensor type or report kind stands for, or None."""
        mapped = self.sources.get(source, {}).get(name)
        if mapped is not None:
            return mapped
        return name if source != "sensor" and name in self.kinds else None

    def level_confidence(self, level: str) -> float:
        return self.sensor_levels.get(level, 1.0)


def parse_catalog(text: str, origin: str = "catalog") -> Catalog:
    try:
        raw = _CatalogFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{origin}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise CatalogError(f"{origin}: {problems}") from None
    for source, mapping in raw.sources.items():
        for name, kind in mapping.items():
            if kind not in raw.kinds:
                raise CatalogError(f"{origin}: sources.{source}.{name} maps to {kind!r}, which is not a kind")
    return Catalog(dict(raw.kinds), {k: dict(v) for k, v in raw.sources.items()}, dict(raw.sensor_levels))


def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog at `path`, or the packaged default."""
    if path is None:
        text = resources.files("cloud.cases").joinpath("catalog.default.toml").read_text("utf-8")
        return parse_catalog(text, "catalog.default.toml")
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog {path}: {exc.strerror}") from None
    return parse_catalog(text, str(path))
