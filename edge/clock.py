"""Time as edge agents see it: the real clock, or a scaled one for tests and simulations.

Agents never call `time` directly; they take a Clock, so a simulation can run an
eight-hour shift in a minute and every timestamp it sends still agrees with the
waits it made.
"""
from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall time in ms since the Unix epoch (the `ts` of a message)."""

    def monotonic(self) -> float:
        """Seconds that never go backwards, for intervals."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep `seconds` of clock time or until `event` is set; True when it was set."""


class SystemClock:
    """The machine's clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class ScaledClock:
    """A clock running `speed` times faster than real time, from `start_ms` on.

    With speed=600 a 30 s heartbeat interval takes 50 ms of real time, and the
    heartbeats' `ts` values are still 30 s apart.
    """

    def __init__(self, speed: float, start_ms: int | None = None) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._t0 = time.monotonic()
        self._start_ms = time.time_ns() // 1_000_000 if start_ms is None else start_ms

    def monotonic(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def now_ms(self) -> int:
        return self._start_ms + int(self.monotonic() * 1000)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds) / self.speed)
