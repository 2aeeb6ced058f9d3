"""Freshly stored detections, sensor alerts and field reports as sightings:
a catalog kind, a place, a confidence and what they may do to a case.

Pure functions over the row tuples of `cloud.ingest.store.TABLES`; rows whose
kind the catalog does not know are no problem to case (None).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from .catalog import Catalog


@dataclass(frozen=True, slots=True)
class Sighting:
    source: str                 # detection | sensor_alert | field_report
    dev: str
    ts: datetime
    seq: int
    received_at: datetime
    kind: str
    confidence: float
    lat: float | None
    lon: float | None
    track_key: str | None = None
    component: str | None = None  # named by the message (a sensor mounted on it)
    opens: bool = True          # a sensor's `cleared` adds evidence, never opens
    resolved: bool = False      # a worker handled it on the spot
    note: str = ""
    has_image: bool = False

    @property
    def origin(self) -> str:
        return f"{self.source}:{self.dev}:{self.seq}"

    @property
    def opened_at(self) -> datetime:
        # A device clock ahead of ours must not push the deadline out.
        return min(self.ts, self.received_at)


Position = tuple[float, float]


def from_detection(row: tuple, catalog: Catalog) -> Sighting | None:
    dev, seq, ts, rcv, kind, score, _box, cam, zone, track, lat, lon, snapshot, _x = row
    case_kind = catalog.kind_for("detection", kind)
    if case_kind is None:
        return None
    track_key = f"{dev}/{cam or ''}/{track}" if track else None
    note = f"{kind} score {score:.2f}" + (f" zone {zone}" if zone else "")
    return Sighting("detection", dev, ts, seq, rcv, case_kind, float(score), lat, lon, track_key=track_key,
                    note=note, has_image=snapshot is not None)


def from_sensor_alert(row: tuple, catalog: Catalog) -> Sighting | None:
    dev, seq, ts, rcv, sensor, value, unit, level, state, component, lat, lon, _x = row
    case_kind = catalog.kind_for("sensor", sensor)
    if case_kind is None:
        return None
    return Sighting("sensor_alert", dev, ts, seq, rcv, case_kind, catalog.level_confidence(level), lat, lon,
                    component=component, opens=state != "cleared",
                    note=f"{sensor} {value:g} {unit} {level} {state}")


def from_field_report(row: tuple, catalog: Catalog) -> Sighting | None:
    dev, seq, ts, rcv, lat, lon, kind, text, photo, resolved, _x = row
    case_kind = catalog.kind_for("report", kind)
    if case_kind is None:
        return None
    return Sighting("field_report", dev, ts, seq, rcv, case_kind, 1.0, lat, lon, resolved=bool(resolved),
                    note=text[:500], has_image=photo is not None)


_READERS = {"detection": from_detection, "sensor_alert": from_sensor_alert, "field_report": from_field_report}
TABLES = tuple(_READERS)


def sightings(fresh: dict[str, list[tuple]], catalog: Catalog) -> list[Sighting]:
    """Every row that stands for a catalog kind, oldest first (the first sighting opens)."""
    out = [s for table, rows in fresh.items() if table in _READERS
           for s in (_READERS[table](row, catalog) for row in rows) if s is not None]
    return sorted(out, key=lambda s: (s.ts, s.dev, s.seq))


def placed(s: Sighting, device_positions: dict[str, Position], component_positions: dict[str, Position]) -> Sighting:
    """The sighting with a position: its own, else its named component's, else its device's."""
    if s.lat is not None and s.lon is not None:
        return s
    pos = component_positions.get(s.component) if s.component else None
    pos = pos or device_positions.get(s.dev)
    return s if pos is None else replace(s, lat=pos[0], lon=pos[1])
