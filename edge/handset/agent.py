"""The handset agent: a heartbeat into the outbox every interval, from a FixSource.

It only writes to the outbox; sending, resending and receipts are the Sender's
job, so an agent works the same with the link up, down or absent.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from ..clock import Clock, SystemClock
from ..outbox import Outbox, OutboxError
from .sources import FixSource

log = logging.getLogger(__name__)

POWER_SUPPLY = Path("/sys/class/power_supply")


def system_battery(root: Path = POWER_SUPPLY) -> float | None:
    """The first battery's charge as 0..1 (Linux sysfs), or None without one."""
    for supply in sorted(root.glob("*")):
        try:
            if (supply / "type").read_text().strip() != "Battery":
                continue
            return max(0.0, min(1.0, int((supply / "capacity").read_text()) / 100.0))
        except (OSError, ValueError):
            continue
    return None


class HandsetAgent:
    """Publishes a Heartbeat of device `dev` every `interval_s` of `clock` time via `outbox`.

    `count` stops it after that many heartbeats; a replayed source that ends
    stops it too. Use `start()`/`stop()` for a thread, or call `run(stop_event)`.
    """

    def __init__(self, dev: str, outbox: Outbox, source: FixSource, *, interval_s: float = 30.0,
                 clock: Clock | None = None, battery: Callable[[], float | None] | None = None,
                 count: int | None = None) -> None:
        if interval_s <= 0:
            raise ValueError("the heartbeat interval must be positive")
        self.dev = dev
        self.outbox = outbox
        self.source = source
        self.interval_s = interval_s
        self.clock = clock or SystemClock()
        self.battery = battery or (lambda: None)
        self.count = count
        self.heartbeats = 0   # stored in the outbox
        self.no_fix = 0       # intervals without a position
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"handset-{self.dev}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait(self, timeout: float | None = None) -> bool:
        """Until the agent finished on its own (count reached, recording ended)."""
        return self.finished.wait(timeout)

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or self._stop
        try:
            next_at = self.clock.monotonic()
            while not stop.is_set() and not self._done():
                self.tick()
                if self._done():
                    break
                next_at += self.interval_s
                now = self.clock.monotonic()
                if next_at < now - self.interval_s:
                    next_at = now  # we were suspended: resume the rhythm, do not burst
                if self.clock.wait(stop, next_at - now):
                    break
        finally:
            self.finished.set()

    def _done(self) -> bool:
        return (self.count is not None and self.heartbeats >= self.count) or self.source.exhausted

    def tick(self) -> int | None:
        """One heartbeat now; its seq, or None when there was no fix."""
        now_ms = self.clock.now_ms()
        fix = self.source.read(now_ms)
        if fix is None:
            self.no_fix += 1
            log.debug("%s: no fix at %d", self.dev, now_ms)
            return None
        message = {"ts": now_ms, **fix.fields()}
        batt = self.battery()
        if batt is not None:
            message["batt"] = batt
        try:
            seq = self.outbox.put("hb", message)
        except OutboxError as exc:
            # A source bug (e.g. a speed out of range) must not stop the worker's heartbeats.
            log.error("%s: heartbeat not stored: %s", self.dev, exc)
            return None
        self.heartbeats += 1
        return seq
