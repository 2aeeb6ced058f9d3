"""Where a handset's position comes from: one small interface, and a simulated walker.

A FixSource answers "where am I now?" with a Fix or None (no fix: nothing is
sent rather than a made-up position). NMEA receivers live in `nmea.py`; the
fleet simulator builds richer walkers on this same interface.
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class Fix:
    """One position, in the units of the Heartbeat fields."""

    lat: float
    lon: float
    acc: float                  # metres, horizontal
    spd: float | None = None    # m/s
    hdg: float | None = None    # degrees from true north
    alt: float | None = None    # metres
    sat: int | None = None
    src: str | None = "gps"
    mock: bool | None = None

    def fields(self) -> dict[str, float | int | str | bool]:
        """The Heartbeat fields this fix knows."""
        return {k: v for k, v in asdict(self).items() if v is not None}


class FixSource(Protocol):
    exhausted: bool  # a replayed recording has ended: no fix will ever come again

    def read(self, now_ms: int) -> Fix | None:
        """The position at `now_ms`, or None when there is no fix."""

    def close(self) -> None: ...


def parse_path(text: str) -> list[tuple[float, float]]:
    """`"lat,lon;lat,lon;..."` -> waypoints; ValueError names the bad point."""
    points = []
    for i, part in enumerate(p for p in text.split(";") if p.strip()):
        try:
            lat, lon = (float(x) for x in part.split(","))
        except ValueError:
            raise ValueError(f"waypoint {i + 1} {part.strip()!r} is not 'lat,lon'") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"waypoint {i + 1} ({lat}, {lon}) is out of range")
        points.append((lat, lon))
    if not points:
        raise ValueError("a path needs at least one waypoint")
    return points


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    y = math.sin(lo2 - lo1) * math.cos(la2)
    x = math.cos(la1) * math.sin(la2) - math.sin(la1) * math.cos(la2) * math.cos(lo2 - lo1)
    return math.degrees(math.atan2(y, x)) % 360.0


def offset(point: tuple[float, float], north_m: float, east_m: float) -> tuple[float, float]:
    """A point moved by metres; a local flat-earth step, exact enough within a city."""
    lat, lon = point
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 1e-6)))
    return lat + dlat, lon + dlon


class SimulatedPath:
    """A worker walking the waypoints back and forth at `speed_mps`, from the first read on.

    Positions carry Gaussian noise of `noise_m` per axis and report `acc_m`;
    `mock` is passed through so a simulation can play a spoofing handset.
    """

    exhausted = False

    def __init__(self, waypoints: Sequence[tuple[float, float]], *, speed_mps: float = 1.3,
                 noise_m: float = 3.0, acc_m: float = 5.0, sat: int | None = 10,
                 mock: bool | None = None, seed: int | None = None) -> None:
        if not waypoints:
            raise ValueError("a path needs at least one waypoint")
        self.waypoints = list(waypoints)
        self.speed_mps = speed_mps
        self.noise_m = noise_m
        self.acc_m = acc_m
        self.sat = sat
        self.mock = mock
        self._rng = random.Random(seed)
        self._legs = [distance_m(a, b) for a, b in zip(self.waypoints, self.waypoints[1:])]
        self._length = sum(self._legs)
        self._t0_ms: int | None = None

    def read(self, now_ms: int) -> Fix:
        if self._t0_ms is None:
            self._t0_ms = now_ms
        walked = self.speed_mps * max(0, now_ms - self._t0_ms) / 1000.0
        point, heading = self._along(walked)
        noisy = offset(point, self._rng.gauss(0, self.noise_m), self._rng.gauss(0, self.noise_m))
        moving = self._length > 0 and self.speed_mps > 0
        return Fix(lat=noisy[0], lon=noisy[1], acc=self.acc_m, spd=self.speed_mps if moving else 0.0,
                   hdg=heading if moving else None, sat=self.sat, src="gps", mock=self.mock)

    def _along(self, walked: float) -> tuple[tuple[float, float], float]:
        """Where `walked` metres of back-and-forth patrol end, and the heading there."""
        if self._length == 0:
            return self.waypoints[0], 0.0
        lap, pos = divmod(walked, self._length)
        backwards = int(lap) % 2 == 1
        if backwards:
            pos = self._length - pos
        last = len(self._legs) - 1
        for i, leg in enumerate(self._legs):
            if pos <= leg or i == last:
                a, b = self.waypoints[i], self.waypoints[i + 1]
                f = min(1.0, pos / leg) if leg else 0.0
                here = (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
                heading = bearing_deg(a, b)
                return here, (heading + 180.0) % 360.0 if backwards else heading
            pos -= leg
        raise AssertionError("unreachable: pos lies within the path")

    def close(self) -> None:
        pass
