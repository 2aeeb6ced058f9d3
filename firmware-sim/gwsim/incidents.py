"""Injected incidents of a simulated day, with their ground truth (pure: seed -> incidents).

Each incident is something in the city that must end as exactly one case: a
camera sees garbage five times, a sensor raises, raises again and clears, three
workers report the same open manhole, a camera is tampered with. It carries
the sightings its devices send (uplink kind + message without `v`/`seq`, which
the outbox fills in) and what the cloud must make of it: the case kind, the
place, the department and the deadline.

The cloud's rules (the SLA calendar, the territorial body of a place) are
handed in as `Rules`, so the simulator does not depend on the cloud package;
the departments of catalog kinds are stated here, as the default catalog has
them, because they are the expectation under test.

Everything sits on a lattice of spots 250 m apart, further than any merge
radius of the catalog, so two incidents never join one case by proximity.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

SPACING_M = 250.0
M_PER_DEG_LAT = 111_320.0
HYDRANT_OFFSET_M = 5.0          # the hydrant next to a pipe pressure sensor: within the routing radius

# Camera-seen kinds and their department (default catalog).
CAMERA_KINDS = [("garbage", "sanitation"), ("obstruction", "urban management"), ("fire", "fire brigade"),
                ("crowd", "public security"), ("waterlogging", "water affairs")]
# sensor type -> (case kind, department, component kind that owns the case or None)
SENSOR_KINDS = [("water_level", "waterlogging", "water affairs", None),
                ("gas", "smoke", "fire brigade", None),
                ("manhole_tilt", "manhole", "city gas company", "manhole"),   # mounted on the manhole
                ("pipe_pressure", "pipe_burst", "hydrant owner", "hydrant")]  # a hydrant 5 m away
# Reported kinds; None: the catalog names no department, the territorial body of the place owns it.
REPORT_KINDS = [("manhole", None), ("garbage", "sanitation"), ("obstruction", "urban management")]
WORKERS_PER_REPORT = 3


@dataclass(frozen=True)
class Rules:
    """The cloud's rules the truth depends on, handed in by the caller.

    deadline(kind, opened_at) -> due_at; territory(lat, lon) -> the department
    that owns a place when neither a component nor the catalog names one."""

    deadline: Callable[[str, datetime], datetime]
    territory: Callable[[float, float], str]


@dataclass(frozen=True)
class Device:
    dev: str
    kind: str                   # camera | sensor
    lat: float
    lon: float


@dataclass(frozen=True)
class Component:
    code: str
    kind: str
    department: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Sighting:
    dev: str
    kind: str                   # uplink kind: det | alert | report
    message: dict

    @property
    def ts(self) -> int:
        return self.message["ts"]


@dataclass(frozen=True)
class Incident:
    kind: str                   # the case kind
    source: str                 # camera | sensor | report
    lat: float
    lon: float
    start: datetime
    department: str
    due: datetime
    sightings: tuple[Sighting, ...]

    def truth(self) -> dict:
        iso = lambda t: t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")  # noqa: E731
        return {"kind": self.kind, "source": self.source, "lat": self.lat, "lon": self.lon,
                "start": iso(self.start), "department": self.department, "due_at": iso(self.due),
                "sightings": [{"dev": s.dev, "kind": s.kind, "ts": s.ts} for s in self.sightings]}


@dataclass(frozen=True)
class IncidentDay:
    devices: tuple[Device, ...]
    components: tuple[Component, ...]
    incidents: tuple[Incident, ...]
    noise: tuple[Sighting, ...] = ()   # sightings that must not become cases

    def sightings(self) -> list[Sighting]:
        """Every sighting of the day in time order."""
        return sorted([s for inc in self.incidents for s in inc.sightings] + list(self.noise), key=lambda s: s.ts)

    def truth(self) -> dict:
        return {"devices": [vars_of(d) for d in self.devices], "components": [vars_of(c) for c in self.components],
                "incidents": [inc.truth() for inc in self.incidents]}


def vars_of(obj) -> dict:
    return dict(obj.__dict__)


@dataclass
class _Frame:
    """Metres north/east of a centre <-> degrees, and the lattice of free spots."""

    lat0: float
    lon0: float
    side: int
    rng: random.Random
    m_lon: float = field(init=False)
    order: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.m_lon = M_PER_DEG_LAT * math.cos(math.radians(self.lat0))
        self.order = list(range(self.side * self.side))
        self.rng.shuffle(self.order)   # the seed decides which incident happens where

    def at(self, north_m: float, east_m: float) -> tuple[float, float]:
        return self.lat0 + north_m / M_PER_DEG_LAT, self.lon0 + east_m / self.m_lon

    def spot(self) -> tuple[float, float]:
        # Offset by a fraction of the spacing so no spot sits on the centre lines (grid edges).
        i, j = divmod(self.order.pop(), self.side)
        half = (self.side - 1) / 2
        return self.at((i - half) * SPACING_M + 60.0, (j - half) * SPACING_M + 60.0)

    def jitter(self, rng: random.Random, pos: tuple[float, float], metres: float = 4.0) -> tuple[float, float]:
        return (pos[0] + rng.uniform(-metres, metres) / M_PER_DEG_LAT,
                pos[1] + rng.uniform(-metres, metres) / self.m_lon)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


BLOCK = len(CAMERA_KINDS) * 3 + len(SENSOR_KINDS) + len(REPORT_KINDS) + 1   # 23 incidents per camera block


def simulated_day(seed: int, start: datetime, rules: Rules, *, centre: tuple[float, float], count: int = BLOCK,
                  noise: int = 10) -> IncidentDay:
    """`count` incidents from `start` on, in blocks of 23 (one camera, four sensors, three workers each):
    15 camera sightings of five kinds, four sensor alarms, three reported problems, one tampered camera."""
    if count < 1:
        raise ValueError("count must be at least 1")
    rng = random.Random(seed)
    blocks = math.ceil(count / BLOCK)
    frame = _Frame(*centre, side=math.ceil(math.sqrt(blocks * BLOCK)), rng=rng)
    devices: list[Device] = []
    components: list[Component] = []
    incidents: list[Incident] = []
    noise_out: list[Sighting] = []
    for b in range(blocks):
        wanted = _chosen(min(BLOCK, count - b * BLOCK))
        block = _block(rng, frame, b + 1, start, rules, devices, components)
        incidents += [inc for n, inc in enumerate(block) if n in wanted]
        noise_out += [Sighting(f"cam-{b + 1}", "det", {"ts": ms(start + timedelta(minutes=i)), "kind": "person",
                                                        "score": 0.9, "box": [0.1, 0.1, 0.2, 0.2]})
                      for i in range(noise)]
    return IncidentDay(tuple(devices), tuple(components), tuple(incidents), tuple(noise_out))


def _chosen(r: int) -> set[int]:
    """Indices of a block to keep for a partial block: evenly spread, so a few incidents mix sources."""
    return {int(i * BLOCK / r) for i in range(r)}


def _block(rng, frame: _Frame, b: int, start: datetime, rules: Rules, devices: list, components: list) -> list[Incident]:
    cam = f"cam-{b}"
    cam_pos = frame.spot()
    devices.append(Device(cam, "camera", *cam_pos))
    components.append(Component(cam, "camera", "camera owner", *cam_pos))
    out = [_camera_incident(rng, frame, cam, n, kind, dept, start + timedelta(minutes=37 * n), rules)
           for n, (kind, dept) in enumerate(CAMERA_KINDS * 3)]
    out += [_sensor_incident(frame, b, spec, start + timedelta(hours=2), rules, devices, components)
            for spec in SENSOR_KINDS]
    workers = [f"worker-{b}-{w}" for w in range(WORKERS_PER_REPORT)]
    out += [_report_incident(rng, frame, workers, k, kind, dept, start + timedelta(hours=4, minutes=k), rules)
            for k, (kind, dept) in enumerate(REPORT_KINDS)]
    t0 = start + timedelta(hours=6)
    out.append(Incident("camera_tamper", "camera", *cam_pos, t0, "camera owner", rules.deadline("camera_tamper", t0),
                        tuple(Sighting(cam, "det", {"ts": ms(t0 + timedelta(minutes=i)), "kind": "camera_tamper",
                                                    "score": 0.9, "box": [0.0, 0.0, 1.0, 1.0]}) for i in range(3))))
    return out


def _camera_incident(rng, frame, cam, n, kind, dept, t0, rules) -> Incident:
    pos = frame.spot()
    track = {"track": f"t{n}"} if n % 2 else {}
    sightings = []
    for i in range(5):
        lat, lon = frame.jitter(rng, pos)
        sightings.append(Sighting(cam, "det", {"ts": ms(t0 + timedelta(minutes=2 * i)), "kind": kind,
                                               "score": round(rng.uniform(0.75, 0.99), 3),
                                               "box": [0.1, 0.1, 0.2, 0.2], "lat": lat, "lon": lon, **track}))
    return Incident(kind, "camera", *pos, t0, dept, rules.deadline(kind, t0), tuple(sightings))


def _sensor_incident(frame, b, spec, t0, rules, devices, components) -> Incident:
    sensor, kind, dept, component_kind = spec
    dev = f"s-{sensor.replace('_', '-')}-{b}"
    pos = frame.spot()
    devices.append(Device(dev, "sensor", *pos))
    extra = {}
    if component_kind == "manhole":
        code = f"MH-{b}"
        components.append(Component(code, "manhole", dept, *pos))
        extra = {"component": code}
    elif component_kind == "hydrant":
        components.append(Component(f"HY-{b}", "hydrant", dept, *frame.at(
            (pos[0] - frame.lat0) * M_PER_DEG_LAT - HYDRANT_OFFSET_M, (pos[1] - frame.lon0) * frame.m_lon)))
    body = {"sensor": sensor, "value": 1.5, "unit": "m", **extra}
    steps = [(0, "critical", "raised"), (5, "warning", "raised"), (40, "info", "cleared")]
    sightings = tuple(Sighting(dev, "alert", {"ts": ms(t0 + timedelta(minutes=m)), "level": level, "state": state,
                                              **body}) for m, level, state in steps)
    return Incident(kind, "sensor", *pos, t0, dept, rules.deadline(kind, t0), sightings)


def _report_incident(rng, frame, workers, k, kind, dept, t0, rules) -> Incident:
    pos = frame.spot()
    sightings = []
    for w, worker in enumerate(workers):
        lat, lon = frame.jitter(rng, pos)
        fixed = {"resolved": True} if k == len(REPORT_KINDS) - 1 and w == len(workers) - 1 else {}
        sightings.append(Sighting(worker, "report", {"ts": ms(t0 + timedelta(minutes=3 * w)), "lat": lat, "lon": lon,
                                                     "kind": kind, "text": "seen on patrol", **fixed}))
    department = dept or rules.territory(*pos)
    return Incident(kind, "report", *pos, t0, department, rules.deadline(kind, t0), tuple(sightings))

