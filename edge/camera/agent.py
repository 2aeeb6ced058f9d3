"""The camera agent: frames from a source, through the pipeline at the detection rate, into the outbox.

Detection frames are picked on video time (`detect_fps`, 5 by default), so a
file runs as fast as the machine allows and reports the same things as the
live camera would. Each report becomes one contract Detection: `start` and
`update` carry a snapshot, `end` carries the last box and no picture.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .config import CameraConfig
from .pipeline import CameraPipeline
from .reporter import Report
from .snapshot import snapshot

log = logging.getLogger(__name__)


class Sink(Protocol):
    def put(self, kind: str, message: dict[str, Any]) -> int: ...


@dataclass
class CameraSummary:
    frames: int = 0                 # frames read from the source
    seconds: float = 0.0            # video seconds covered
    wall_s: float = 0.0
    detected: int = 0               # detection frames processed
    detections: Counter = field(default_factory=Counter)   # tracks started, per kind
    messages: int = 0               # det messages stored (start + update + end)

    def as_json(self) -> dict[str, Any]:
        return {"frames": self.frames, "seconds": round(self.seconds, 3),
                "fps": round(self.frames / self.wall_s, 1) if self.wall_s > 0 else 0.0,
                "detections": dict(sorted(self.detections.items())), "messages": self.messages,
                "detection_frames": self.detected}


class CameraAgent:
    def __init__(self, dev: str, sink: Sink, source, config: CameraConfig, stop: threading.Event,
                 pipeline: CameraPipeline | None = None, wall_ms=lambda: time.time_ns() // 1_000_000) -> None:
        self.dev, self.sink, self.source, self.config, self.stop = dev, sink, source, config, stop
        self.pipeline = pipeline or CameraPipeline(config)
        self.wall_ms = wall_ms
        self.summary = CameraSummary()
        self._base_ms = wall_ms()

    def run(self) -> CameraSummary:
        period = 1.0 / self.config.detect_fps
        next_t, t = 0.0, 0.0
        started = time.monotonic()
        while not self.stop.is_set():
            grabbed = self.source.grab()
            if grabbed is None:
                break
            t = grabbed
            self.summary.frames += 1
            if t + 1e-6 < next_t:
                continue
            next_t = next_t + period if next_t + period > t else t + period
            frame = self.source.retrieve()
            if frame is None:
                continue
            self.summary.detected += 1
            self._publish(self.pipeline.process(t, frame), frame)
        self._publish(self.pipeline.finish(t), None)
        self.summary.seconds = self.source.seconds
        self.summary.wall_s = time.monotonic() - started
        return self.summary

    def _publish(self, reports: list[Report], frame: np.ndarray | None) -> None:
        for r in reports:
            self.sink.put("det", self.message(r, frame))
            self.summary.messages += 1
            if r.phase == "start":
                self.summary.detections[r.obs.kind] += 1
            log.info("%s: %s %s %s score %.2f", self.dev, r.phase, r.obs.kind, r.track, r.obs.score)

    def message(self, r: Report, frame: np.ndarray | None) -> dict[str, Any]:
        # A file runs on video time: its observations are stamped from the start of the run.
        ts = self._base_ms + int(r.t * 1000) if not self.source.live else self.wall_ms()
        msg: dict[str, Any] = {"kind": r.obs.kind, "score": r.obs.score, "box": list(r.obs.box), "track": r.track,
                               "phase": r.phase, "ts": ts}
        for name, value in (("zone", r.obs.zone), ("cam", self.config.cam), ("lat", self.config.lat),
                            ("lon", self.config.lon)):
            if value is not None:
                msg[name] = value
        if frame is not None and r.phase != "end":
            label = f"{r.obs.kind} {r.obs.score:.2f}"
            msg["snapshot"] = snapshot(frame, r.obs.box, label, r.obs.kind, self.config.snapshot_quality)
        return msg
