"""The sensor agent: every `poll_s`, read each sensor, step its rules, store alerts."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..clock import Clock
from .config import Sensor, SensorConfig
from .drivers import Driver, DriverError
from .rules import Threshold

log = logging.getLogger(__name__)


class Sink(Protocol):
    def put(self, kind: str, message: dict[str, Any]) -> int: ...


@dataclass
class Watched:
    spec: Sensor
    driver: Driver
    rules: list[Threshold]


@dataclass
class SensorSummary:
    polls: int = 0
    read_errors: int = 0
    alerts: dict[str, int] = field(default_factory=lambda: {"raised": 0, "cleared": 0})


class SensorAgent:
    def __init__(self, dev: str, sink: Sink, config: SensorConfig, drivers: dict[str, Driver], clock: Clock,
                 stop: threading.Event) -> None:
        self.dev, self.sink, self.config, self.clock, self.stop = dev, sink, config, clock, stop
        self.watched = [Watched(s, drivers[s.id], [Threshold(r) for r in s.rules]) for s in config.sensors]
        self.summary = SensorSummary()

    def poll(self) -> None:
        """One round over every sensor."""
        self.summary.polls += 1
        t = self.clock.monotonic()
        for w in self.watched:
            try:
                value = w.driver.read()
            except DriverError as exc:
                self.summary.read_errors += 1
                log.warning("%s: sensor %s: %s", self.dev, w.spec.id, exc)
                continue
            for rule in w.rules:
                state = rule.step(value, t)
                if state is not None:
                    self.sink.put("alert", self.message(w.spec, rule, value, state))
                    self.summary.alerts[state] += 1
                    log.info("%s: %s %s %s at %s %s", self.dev, w.spec.id, rule.rule.level, state, value, w.spec.unit)

    def message(self, spec: Sensor, rule: Threshold, value: float, state: str) -> dict[str, Any]:
        msg: dict[str, Any] = {"sensor": spec.sensor, "value": value, "unit": spec.unit, "level": rule.rule.level,
                               "state": state, "ts": self.clock.now_ms()}
        for name in ("component", "lat", "lon"):
            if getattr(spec, name) is not None:
                msg[name] = getattr(spec, name)
        return msg

    def run(self, duration_s: float | None = None) -> SensorSummary:
        start = self.clock.monotonic()
        while not self.stop.is_set():
            self.poll()
            if duration_s is not None and self.clock.monotonic() - start >= duration_s:
                break
            self.clock.wait(self.stop, self.config.poll_s)
        return self.summary
