"""What the real handset code needs to play a simulated worker: a FixSource over a generated
track, a clock that is off when the worker's phone is, and a gate that cuts one device's
network while its neighbours on the shared relay link stay connected."""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from edge.clock import Clock
from edge.handset.sources import Fix

from .tracks import Track


class TrackSource:
    """The fix of `track` nearest to the reading time, or None where the track has none (GPS off).
    Exhausted once the time passes `until` (the end of the simulated window)."""

    def __init__(self, track: Track, interval_s: float, until: float, clock_offset_s: float = 0.0) -> None:
        self.track = track
        self.tolerance_s = interval_s
        self.until = until
        self.offset_s = clock_offset_s
        self.exhausted = False

    def read(self, now_ms: int) -> Fix | None:
        t = now_ms / 1000.0 - self.offset_s          # the phone's clock is off; the world is not
        if t > self.until:
            self.exhausted = True
            return None
        tt = self.track.true_t
        i = int(np.searchsorted(tt, t))
        best = min((j for j in (i - 1, i) if 0 <= j < len(tt)), key=lambda j: abs(tt[j] - t), default=None)
        if best is None or abs(tt[best] - t) > self.tolerance_s:
            return None
        return Fix(lat=float(self.track.lat[best]), lon=float(self.track.lon[best]), acc=float(self.track.acc[best]),
                   mock=True if self.track.mock[best] else None)

    def close(self) -> None:
        pass


class OffsetClock:
    """`clock` as a phone whose time is `offset_s` off shows it."""

    def __init__(self, clock: Clock, offset_s: float) -> None:
        self.clock = clock
        self.offset_ms = int(offset_s * 1000)

    def now_ms(self) -> int:
        return self.clock.now_ms() + self.offset_ms

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return self.clock.wait(event, seconds)


class GatedLink:
    """One device's view of the shared link: while the gate is shut it is disconnected."""

    def __init__(self, link) -> None:
        self.link = link
        self._open = True
        self._listeners: list[Callable[[bool], None]] = []
        link.add_listener(self._relay)

    def _relay(self, connected: bool) -> None:
        if self._open:
            for cb in self._listeners:
                cb(connected)

    def set_open(self, value: bool) -> None:
        if value != self._open:
            self._open = value
            for cb in self._listeners:
                cb(value and self.link.connected)

    @property
    def connected(self) -> bool:
        return self._open and self.link.connected

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        return self._open and self.link.publish(topic, payload, retain=retain)

    def add_listener(self, callback: Callable[[bool], None]) -> None:
        self._listeners.append(callback)

    def attach(self, dev: str, on_receipt=None, on_command=None) -> None:
        self.link.attach(dev, on_receipt, on_command)

    def unacked(self) -> int:
        return self.link.unacked()
