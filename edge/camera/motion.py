"""The shared stage every detector reads: motion now, and change against a long-term background.

Both run at `work_width` (192 px for a 768 px camera: 1/16 of the pixels), so a
quiet frame costs a resize, a MOG2 step and a few array operations.

- `MotionStage`: MOG2 background subtraction. What moves *now* (people
  walking, cars, flames, smoke), forgetting a new still thing within seconds.
- `LongTermBackground`: the street with nothing on it. It follows lighting
  (a per-channel gain fitted every frame on the unchanged pixels) and learns
  slowly only where nothing differs, so a thing that arrives and stays keeps
  differing: `diff` marks it and `age` says for how long (seconds). For its
  first `warmup_s` it learns fast wherever nothing moves, so people and cars
  in the very first frame leave no ghosts behind.
"""
from __future__ import annotations

import cv2
import numpy as np

DIFF_THRESHOLD = 22.0     # grey levels at work size (noise there is ~2)
WARMUP_S = 5.0
WARMUP_TAU_S = 1.5


class MotionStage:
    def __init__(self, history: int = 300, var_threshold: float = 25.0) -> None:
        self._args = (history, var_threshold)
        self.reset()

    def reset(self) -> None:
        self.mog = cv2.createBackgroundSubtractorMOG2(*self._args, detectShadows=False)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    def apply(self, small: np.ndarray) -> np.ndarray:
        """Moving pixels (bool), with isolated noise removed."""
        fg = self.mog.apply(small)
        return cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._kernel) > 0


class LongTermBackground:
    def __init__(self, learn_s: float = 60.0, absorb_after_s: float = 3600.0) -> None:
        self.learn_s = learn_s
        self.absorb_after_s = absorb_after_s
        self.ref: np.ndarray | None = None
        self.age: np.ndarray | None = None
        self.diff: np.ndarray | None = None
        self.elapsed = 0.0

    def reseed(self, small: np.ndarray) -> None:
        self.ref = small.astype(np.float32)
        self.age = np.zeros(small.shape[:2], np.float32)
        self.diff = np.zeros(small.shape[:2], bool)
        self.elapsed = 0.0

    def update(self, small: np.ndarray, moving: np.ndarray, dt: float) -> None:
        if self.ref is None or self.ref.shape != small.shape:
            self.reseed(small)
            return
        cur = small.astype(np.float32)
        self._follow_lighting(cur, moving)
        b, g, r = cv2.split(cv2.absdiff(cur, self.ref))
        self.diff = cv2.max(cv2.max(b, g), r) > DIFF_THRESHOLD
        # Age grows while a pixel differs and drops fast when it stops: one
        # noisy frame costs a little of a dwell, a removed thing ends at once.
        self.age = np.where(self.diff, self.age + dt, np.maximum(self.age * 0.5 - dt, 0)).astype(np.float32)
        self.elapsed += dt
        if self.elapsed < WARMUP_S:
            self.age[:] = 0
            cv2.accumulateWeighted(cur, self.ref, min(1.0, dt / WARMUP_TAU_S), mask=(~moving).astype(np.uint8))
            return
        learn = (~self.diff & ~moving).astype(np.uint8)
        cv2.accumulateWeighted(cur, self.ref, min(1.0, dt / self.learn_s), mask=learn)
        absorbed = self.age > self.absorb_after_s
        if absorbed.any():
            self.ref[absorbed] = cur[absorbed]
            self.age[absorbed] = 0

    def _follow_lighting(self, cur: np.ndarray, moving: np.ndarray) -> None:
        stable = ~moving
        if self.diff is not None:
            stable &= ~self.diff
        mask = stable.astype(np.uint8)
        if cv2.countNonZero(mask) < 100:
            return
        now, was = cv2.mean(cur, mask)[:3], cv2.mean(self.ref, mask)[:3]
        gain = np.clip(np.array(now) / np.maximum(np.array(was), 1.0), 0.8, 1.25)
        cv2.multiply(self.ref, (*gain, 0.0), dst=self.ref)

    def forget(self, mask: np.ndarray, small: np.ndarray) -> None:
        """Take the current picture as background under `mask` (a ghost, or a change accepted for good)."""
        self.ref[mask] = small[mask].astype(np.float32)
        self.age[mask] = 0
        self.diff[mask] = False

    @property
    def ref_gray(self) -> np.ndarray:
        return cv2.cvtColor(np.clip(self.ref, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
