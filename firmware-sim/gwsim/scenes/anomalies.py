"""Painters for each anomaly kind, each with the ground truth it stands for.

An anomaly is active over [start, end) of scene time. `draw` paints it into
the scene before lighting and noise; a camera tamper instead rewrites the
finished frame in `post`. `truth()` is the event a detector should report: its
kind, times and box (normalised x, y, w, h).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import cv2
import numpy as np

from .layout import (
    FRAME_H,
    FRAME_W,
    NEAR_WALK,
    NO_DUMPING_X,
    PERSON_H_NEAR,
    ROAD,
    WALKWAY_POLY,
)
from .world import CLOTHES, SKIN, draw_person


@dataclass(frozen=True)
class GroundTruth:
    kind: str
    start: float
    end: float
    box: tuple[float, float, float, float]     # normalised x, y, w, h
    zone: str | None = None
    variant: str | None = None


def _norm(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    x0, y0 = max(0.0, x0), max(0.0, y0)
    x1, y1 = min(FRAME_W, x1), min(FRAME_H, y1)
    return (x0 / FRAME_W, y0 / FRAME_H, (x1 - x0) / FRAME_W, (y1 - y0) / FRAME_H)


@dataclass
class Anomaly(ABC):
    kind: str
    start: float
    end: float
    rng: np.random.Generator

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def draw(self, img: np.ndarray, t: float) -> None:
        """Paint into the scene (before lighting)."""

    def post(self, img: np.ndarray, t: float) -> np.ndarray:
        """Rewrite the finished camera frame (tamper)."""
        return img

    @abstractmethod
    def truth(self) -> GroundTruth:
        """Where and when this anomaly is, for scoring."""


@dataclass
class LeftObject(Anomaly):
    """A sign or stall on the walkway (obstruction), bags of refuse in the no-dumping corner (garbage)."""

    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    colour: tuple = (0, 0, 0)
    shape: str = "sign"

    def __post_init__(self) -> None:
        r = self.rng
        if self.kind == "garbage":
            w, h = int(r.integers(55, 95)), int(r.integers(35, 55))
            x = int(r.integers(NO_DUMPING_X + 10, FRAME_W - w - 10))
            self.shape, self.colour = "bags", [(20, 20, 20), (40, 90, 40), (210, 210, 200)][int(r.integers(3))]
        else:
            self.shape = "stall" if r.random() < 0.5 else "sign"
            w, h = (int(r.integers(110, 150)), int(r.integers(70, 95))) if self.shape == "stall" \
                else (int(r.integers(40, 55)), int(r.integers(60, 80)))
            x = int(r.integers(20, WALKWAY_POLY[1][0] - w - 20))
            self.colour = [(0, 200, 255), (30, 30, 200), (230, 230, 230), (200, 120, 30)][int(r.integers(4))]
        y = int(r.integers(NEAR_WALK[0] + 10, NEAR_WALK[1] - h - 4))
        self.box = (x, y, w, h)

    def draw(self, img: np.ndarray, t: float) -> None:
        x, y, w, h = self.box
        if self.shape == "bags":
            for i, (fx, fy, fr) in enumerate(((0.3, 0.6, 0.35), (0.7, 0.62, 0.32), (0.5, 0.4, 0.3))):
                shade = tuple(int(c * (0.8 + 0.1 * i)) for c in self.colour)
                cv2.ellipse(img, (x + int(fx * w), y + int(fy * h)), (int(fr * w), int(fr * h * 1.3)), 0, 0, 360, shade, -1)
        elif self.shape == "stall":
            cv2.rectangle(img, (x, y + h // 3), (x + w, y + h), (60, 90, 120), -1)
            for i in range(0, w, 20):
                cv2.rectangle(img, (x + i, y), (x + min(w, i + 10), y + h // 3), self.colour, -1)
                cv2.rectangle(img, (x + i + 10, y), (x + min(w, i + 20), y + h // 3), (240, 240, 240), -1)
            cv2.rectangle(img, (x + 8, y + h // 2), (x + w - 8, y + h // 2 + 10), (20, 120, 200), -1)
        else:
            pts = np.array([[x + w // 2 - 6, y], [x + w // 2 + 6, y], [x + w, y + h], [x, y + h]], np.int32)
            cv2.fillPoly(img, [pts], self.colour)
            cv2.putText(img, "SALE", (x + 3, y + h // 2 + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (20, 20, 20), 1)

    def truth(self) -> GroundTruth:
        x, y, w, h = self.box
        return GroundTruth(self.kind, self.start, self.end, _norm(x, y, x + w, y + h),
                           "no-dumping" if self.kind == "garbage" else "walkway", self.shape)


@dataclass
class Crowd(Anomaly):
    """People walk in, gather and mill about, then walk away. Truth: from gathered to dispersing."""

    size: int = 12
    gather_s: float = 6.0
    spots: list = field(default_factory=list)

    def __post_init__(self) -> None:
        r = self.rng
        cx = r.uniform(150, WALKWAY_POLY[1][0] - 150)
        self.spots = []
        for _ in range(self.size):
            h = PERSON_H_NEAR * r.uniform(0.85, 1.1)
            sx, feet = cx + r.uniform(-120, 120), r.uniform(NEAR_WALK[0] + h * 0.6, NEAR_WALK[1] - 4)
            origin = -60.0 if sx < FRAME_W / 2 and r.random() < 0.7 else FRAME_W * 0.7
            self.spots.append((sx, feet, h, origin, CLOTHES[int(r.integers(len(CLOTHES)))],
                               SKIN[int(r.integers(len(SKIN)))], r.uniform(0, 6.28)))

    def active(self, t: float) -> bool:
        return self.start <= t < self.end + self.gather_s

    def _x(self, sx: float, origin: float, t: float) -> float:
        if t < self.start + self.gather_s:
            f = (t - self.start) / self.gather_s
        elif t >= self.end:
            f = 1 - (t - self.end) / self.gather_s
        else:
            return sx
        return origin + (sx - origin) * max(0.0, min(1.0, f))

    def draw(self, img: np.ndarray, t: float) -> None:
        for sx, feet, h, origin, clothes, skin, ph in sorted(self.spots, key=lambda s: s[1]):
            x = self._x(sx, origin, t) + 6 * math.sin(t * 0.8 + ph) + 2 * math.sin(t * 2.1 + ph)
            walking = t < self.start + self.gather_s or t >= self.end
            draw_person(img, x, feet, h, clothes, skin, math.sin(t * 4 + ph) if walking else 0.2 * math.sin(t + ph),
                        0.5 + 0.5 * math.sin(t * 1.3 + ph))

    def truth(self) -> GroundTruth:
        xs = [s[0] for s in self.spots]
        tops = [s[1] - s[2] for s in self.spots]
        return GroundTruth("crowd", self.start + self.gather_s, self.end,
                           _norm(min(xs) - 20, min(tops), max(xs) + 20, max(s[1] for s in self.spots)), "walkway")


@dataclass
class Fire(Anomaly):
    """Flames that flicker every frame and grow from a small base (a bin, a heap)."""

    base: tuple[int, int] = (0, 0)
    max_h: int = 80

    def __post_init__(self) -> None:
        self.base = (int(self.rng.uniform(60, FRAME_W - 60)), int(self.rng.uniform(NEAR_WALK[0] + 60, NEAR_WALK[1] - 6)))
        self.max_h = int(self.rng.uniform(60, 100))

    def _size(self, t: float) -> float:
        return self.max_h * min(1.0, 0.3 + 0.7 * (t - self.start) / 10.0)

    def draw(self, img: np.ndarray, t: float) -> None:
        bx, by = self.base
        h = self._size(t)
        r = self.rng
        for colour, scale in (((0, 60, 200), 1.0), ((0, 140, 255), 0.75), ((90, 220, 255), 0.45), ((200, 250, 255), 0.2)):
            for _ in range(3):
                fh = h * scale * r.uniform(0.7, 1.1)
                cx = bx + r.uniform(-0.15, 0.15) * h
                cv2.ellipse(img, (int(cx), int(by - fh / 2)), (max(2, int(fh * 0.28)), max(2, int(fh / 2))), 0, 0, 360,
                            colour, -1)

    def truth(self) -> GroundTruth:
        bx, by = self.base
        h = self.max_h * 1.1
        return GroundTruth("fire", self.start, self.end, _norm(bx - h * 0.4, by - h, bx + h * 0.4, by))


@dataclass
class Smoke(Anomaly):
    """A grey, translucent plume rising and widening from a source in front of the buildings."""

    source: tuple[int, int] = (0, 0)
    puffs: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def __post_init__(self) -> None:
        self.source = (int(self.rng.uniform(120, FRAME_W - 120)), int(self.rng.uniform(175, 225)))
        self.puffs = self.rng.uniform(0, 1, (40, 3))   # birth phase, x jitter, size jitter

    def _blobs(self, t: float):
        age = t - self.start
        sx, sy = self.source
        for birth, jx, js in self.puffs:
            a = (age - birth * 6.0) % 6.0            # each puff lives 6 s, born continuously
            if age < birth * 6.0:
                continue
            grow = min(1.0, age / 8.0)
            yield (int(sx + (jx - 0.5) * 30 + a * 6 * math.sin(t * 0.5 + jx * 6)), int(sy - a * 28 * grow),
                   int((10 + a * 9) * (0.7 + 0.6 * js) * (0.5 + 0.5 * grow)))

    def draw(self, img: np.ndarray, t: float) -> None:
        x0, y0, x1, y1 = self._extent()
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        for x, y, r in self._blobs(t):
            cv2.circle(mask, (x - x0, y - y0), r, 0.55, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 5)
        roi = img[y0:y1, x0:x1].astype(np.float32)
        img[y0:y1, x0:x1] = (roi * (1 - mask[..., None]) + 185 * mask[..., None]).astype(np.uint8)

    def _extent(self) -> tuple[int, int, int, int]:
        sx, sy = self.source
        return max(0, sx - 110), max(0, sy - 190), min(FRAME_W, sx + 110), min(FRAME_H, sy + 30)

    def truth(self) -> GroundTruth:
        return GroundTruth("smoke", self.start, self.end, _norm(*self._extent()))


@dataclass
class Water(Anomaly):
    """Part of the road turns into a sheet of water mirroring the sky: bright, smooth, gently rippled."""

    centre: tuple[int, int] = (0, 0)
    axes: tuple[int, int] = (0, 0)
    ramp_s: float = 12.0

    def __post_init__(self) -> None:
        self.centre = (int(self.rng.uniform(220, FRAME_W - 220)), int(self.rng.uniform(320, 370)))
        self.axes = (int(self.rng.uniform(150, 210)), int(self.rng.uniform(45, 60)))
        m = np.zeros((FRAME_H, FRAME_W), np.float32)
        cv2.ellipse(m, self.centre, self.axes, 0, 0, 360, 1.0, -1)
        self._mask = cv2.GaussianBlur(m, (0, 0), 6)
        y0, y1 = self.centre[1] - self.axes[1] - 20, self.centre[1] + self.axes[1] + 20
        self._rows = (max(ROAD[0], y0), min(ROAD[1], y1))

    def draw(self, img: np.ndarray, t: float) -> None:
        f = min(1.0, (t - self.start) / self.ramp_s)
        y0, y1 = self._rows
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        xs = np.arange(FRAME_W, dtype=np.float32)[None, :]
        ripple = 3.0 * np.sin(xs * 0.05 + ys * 0.3 + t * 2.0)
        sky = np.stack([200 + ripple - 0.1 * (ys - y0), 185 + ripple - 0.1 * (ys - y0), 165 + ripple + 0 * xs], -1)
        a = (self._mask[y0:y1] * 0.92 * f)[..., None]
        img[y0:y1] = (img[y0:y1] * (1 - a) + sky * a).astype(np.uint8)

    def truth(self) -> GroundTruth:
        (cx, cy), (ax, ay) = self.centre, self.axes
        return GroundTruth("waterlogging", self.start + self.ramp_s / 2, self.end,
                           _norm(cx - ax, cy - ay, cx + ax, cy + ay), "roadway")


@dataclass
class Tamper(Anomaly):
    """The lens covered, the focus turned, or the camera knocked to look elsewhere."""

    variant: str = "covered"
    _away: np.ndarray | None = None

    def post(self, img: np.ndarray, t: float) -> np.ndarray:
        if self.variant == "covered":
            noise = self.rng.integers(0, 6, img.shape[:2], dtype=np.uint8)
            return cv2.merge([noise + 18, noise + 20, noise + 24])
        if self.variant == "defocused":
            return cv2.GaussianBlur(img, (0, 0), 7)
        # Turned away: the camera now looks at the sky and roofs, shifted down and tilted.
        m = cv2.getRotationMatrix2D((FRAME_W / 2, FRAME_H / 2), 12, 1.3)
        m[1, 2] += 180
        return cv2.warpAffine(img, m, (FRAME_W, FRAME_H), borderMode=cv2.BORDER_REFLECT)

    def truth(self) -> GroundTruth:
        return GroundTruth("camera_tamper", self.start, self.end, (0.0, 0.0, 1.0, 1.0), None, self.variant)


PAINTERS = {"obstruction": LeftObject, "garbage": LeftObject, "crowd": Crowd, "fire": Fire, "smoke": Smoke,
            "waterlogging": Water, "camera_tamper": Tamper}
TAMPER_VARIANTS = ("covered", "defocused", "turned")
