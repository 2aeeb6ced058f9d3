"""One camera's processing of a detection frame: shared stage, tamper check, detectors, reporter."""
from __future__ import annotations

import time
from collections import deque

import cv2
import numpy as np

from .config import CameraConfig
from .detectors import TamperDetector, build
from .detectors.base import LAG_S, FrameContext, Observation, ZoneMask
from .motion import LongTermBackground, MotionStage
from .reporter import Report, Reporter

CHANGE_THRESHOLD = 10      # grey levels between detection frames at work size


class CameraPipeline:
    def __init__(self, config: CameraConfig, track_prefix: str | None = None) -> None:
        self.config = config
        self.motion = MotionStage()
        self.background = LongTermBackground(absorb_after_s=config.static.absorb_after_s)
        self.reporter = Reporter(config.update_s, config.end_after_s,
                                 track_prefix or format(time.time_ns() // 1_000_000, "x"))
        self.tamper = TamperDetector(config, 1.0) if "camera_tamper" in config.watched() else None
        self.detectors: list = []
        self.zones: list[ZoneMask] = []
        self._size: tuple[int, int] | None = None
        self._prev: np.ndarray | None = None
        self._last_t: float | None = None
        self._lag: deque[tuple[float, np.ndarray]] = deque()

    def _setup(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        ww = min(self.config.work_width, w)
        self._size = (ww, max(1, round(h * ww / w)))
        scale = w / ww
        self.detectors = build(self.config, scale)
        self.zones = []
        for z in self.config.zones:
            m = np.zeros((self._size[1], self._size[0]), np.uint8)
            cv2.fillPoly(m, [np.round(np.array(z.polygon, np.float32) / scale).astype(np.int32)], 1)
            self.zones.append(ZoneMask(z, m > 0, int(m.sum())))

    def process(self, t: float, frame: np.ndarray) -> list[Report]:
        """Reports (start/update/end) caused by the detection frame at video time `t`."""
        if self._size is None:
            self._setup(frame)
        dt = 1.0 / self.config.detect_fps if self._last_t is None else max(1e-3, t - self._last_t)
        self._last_t = t
        small = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        if self.background.ref is None:
            self.background.reseed(small)
        ref_gray = self.background.ref_gray
        if self.tamper is not None and self.tamper.suspect(gray, ref_gray, t):
            # Everything looks changed: learn nothing and judge nothing but the tamper itself.
            self._prev = None
            self._lag.clear()
            if t - self.tamper.since > self.config.static.absorb_after_s:
                self.background.reseed(small)     # moved for good: this is the new view
            return self.reporter.step(t, self._observe_tamper(t, frame, small, gray, ref_gray, dt))
        moving = self.motion.apply(small)
        self.background.update(small, moving, dt)
        changed = (cv2.absdiff(gray, self._prev) > CHANGE_THRESHOLD) if self._prev is not None \
            else np.zeros(gray.shape, bool)
        ctx = FrameContext(t, dt, frame, small, gray, moving, changed, self.background.diff, self.background.age,
                           self.background.ref, self.background.ref_gray, self.zones, prev_gray=self._prev,
                           lag_gray=self._lagged(t, gray), forget=lambda mask: self.background.forget(mask, small))
        self._prev = gray
        observations: list[Observation] = []
        for detector in self.detectors:
            observations += detector.observe(ctx)
        return self.reporter.step(t, observations)

    def _lagged(self, t: float, gray: np.ndarray) -> np.ndarray:
        self._lag.append((t, gray))
        while len(self._lag) > 1 and self._lag[1][0] <= t - LAG_S:
            self._lag.popleft()
        return self._lag[0][1]

    def _observe_tamper(self, t, frame, small, gray, ref_gray, dt) -> list[Observation]:
        empty = np.zeros(gray.shape, bool)
        ctx = FrameContext(t, dt, frame, small, gray, empty, empty, empty, np.zeros(gray.shape, np.float32),
                           self.background.ref, ref_gray, self.zones)
        return self.tamper.observe(ctx)

    def finish(self, t: float) -> list[Report]:
        return self.reporter.finish(t)
