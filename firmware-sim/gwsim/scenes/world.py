"""The ordinary street: a static background, lighting drift, sensor noise, traffic.

Traffic is pedestrians on both sidewalks, cars in both lanes and, now and then,
a pedestrian who stops and stands for a while (swaying, gesturing) before going
on: a standing person is not an object, and clean scenes keep testing that.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .layout import (BUILDINGS, FAR_WALK, FRAME_H, FRAME_W, LANES, NEAR_WALK, PERSON_H_FAR, PERSON_H_NEAR,
                     ROAD, SKY, WALKWAY_POLY)

CAR_COLOURS = [(40, 40, 200), (30, 200, 230), (235, 235, 235), (25, 25, 25), (170, 170, 165),
               (160, 80, 20), (60, 110, 60), (90, 90, 140)]
CLOTHES = [(40, 40, 40), (150, 60, 30), (30, 30, 150), (200, 200, 200), (60, 120, 160), (110, 110, 110),
           (30, 100, 40), (140, 40, 120), (80, 60, 50)]
SKIN = [(120, 160, 210), (90, 120, 170), (60, 80, 120)]


def _lowfreq(rng: np.random.Generator, h: int, w: int, cell: int, amp: float) -> np.ndarray:
    small = rng.normal(0, amp, (max(2, h // cell), max(2, w // cell))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def render_background(rng: np.random.Generator) -> np.ndarray:
    """A street at daytime, deterministic for a seed."""
    img = np.zeros((FRAME_H, FRAME_W, 3), np.float32)
    for y in range(*SKY):
        img[y] = (235 - y, 205 - y // 2, 170)
    _buildings(img, rng)
    img[slice(*FAR_WALK)] = (150, 158, 165)
    road = np.full((ROAD[1] - ROAD[0], FRAME_W), 78.0, np.float32)
    road += _lowfreq(rng, *road.shape, cell=10, amp=14) + rng.normal(0, 5, road.shape)
    img[slice(*ROAD)] = road[..., None]
    img[slice(*NEAR_WALK)] = (135, 150, 160)
    img[slice(*NEAR_WALK)] += _lowfreq(rng, NEAR_WALK[1] - NEAR_WALK[0], FRAME_W, 24, 8)[..., None]
    out = np.clip(img, 0, 255).astype(np.uint8)
    _markings(out)
    return out


def _buildings(img: np.ndarray, rng: np.random.Generator) -> None:
    x = 0
    while x < FRAME_W:
        w = int(rng.integers(110, 220))
        colour = rng.integers(60, 200, 3).astype(np.float32)
        img[BUILDINGS[0]:BUILDINGS[1], x:x + w] = colour
        for wy in range(BUILDINGS[0] + 12, BUILDINGS[1] - 30, 34):
            for wx in range(x + 12, min(x + w, FRAME_W) - 20, 30):
                img[wy:wy + 20, wx:wx + 16] = (70, 60, 50) if rng.random() < 0.7 else (150, 200, 220)
        img[BUILDINGS[1] - 40:BUILDINGS[1], x + w // 2 - 12:x + w // 2 + 12] = (40, 50, 60)  # door
        x += w


def _markings(img: np.ndarray) -> None:
    cv2.line(img, (0, ROAD[0] + 4), (FRAME_W, ROAD[0] + 4), (200, 200, 200), 3)   # curbs
    cv2.line(img, (0, ROAD[1] - 4), (FRAME_W, ROAD[1] - 4), (200, 200, 200), 3)
    for x in range(0, FRAME_W, 80):
        cv2.rectangle(img, (x, 360), (x + 40, 364), (220, 220, 220), -1)
    for y in range(NEAR_WALK[0] + 36, NEAR_WALK[1], 36):
        cv2.line(img, (0, y), (FRAME_W, y), (105, 118, 128), 1)
    for x in range(0, FRAME_W, 48):
        cv2.line(img, (x, NEAR_WALK[0]), (x, NEAR_WALK[1]), (105, 118, 128), 1)
    for x in range(0, FRAME_W, 40):
        cv2.line(img, (x, FAR_WALK[0]), (x, FAR_WALK[1]), (125, 130, 135), 1)


def draw_person(img: np.ndarray, x: float, feet: float, h: float, clothes: tuple, skin: tuple,
                stride: float, arms: float = 0.0) -> None:
    """A stick-and-block pedestrian; `stride` -1..1 spreads the legs, `arms` -1..1 raises an arm."""
    x, feet, h = int(x), int(feet), float(h)
    w = max(4, int(h * 0.28))
    hip, shoulder, head_r = feet - int(h * 0.47), feet - int(h * 0.82), max(2, int(h * 0.09))
    legs = (30, 30, 60)
    spread = int(stride * w * 0.6)
    t = max(1, int(w * 0.35))
    cv2.line(img, (x, hip), (x - spread, feet), legs, t)
    cv2.line(img, (x, hip), (x + spread, feet), legs, t)
    cv2.rectangle(img, (x - w // 2, shoulder), (x + w // 2, hip), clothes, -1)
    hand = (x + w // 2 + int(h * 0.12), shoulder + int(h * 0.3 * (1 - arms)))
    cv2.line(img, (x + w // 2, shoulder + 2), hand, clothes, max(1, t - 1))
    cv2.line(img, (x - w // 2, shoulder + 2), (x - w // 2 - int(spread * 0.5), hip), clothes, max(1, t - 1))
    cv2.circle(img, (x, shoulder - head_r), head_r, skin, -1)


@dataclass
class Walker:
    x: float
    feet: float
    h: float
    vx: float                       # px/s, signed
    clothes: tuple
    skin: tuple
    stop_x: float | None = None     # a loiterer stops here ...
    stand_s: float = 0.0            # ... for this long
    stood: float = 0.0
    phase: float = 0.0

    def step(self, dt: float) -> None:
        if self.stop_x is not None and abs(self.x - self.stop_x) < abs(self.vx) * dt + 1 and self.stood < self.stand_s:
            self.stood += dt
            return
        self.x += self.vx * dt
        self.phase += abs(self.vx) * dt / (self.h * 0.35)

    def draw(self, img: np.ndarray, t: float) -> None:
        standing = self.stop_x is not None and 0 < self.stood < self.stand_s
        if standing:   # people who stand still still move: weight shifts, gestures, a phone
            sway = 3.0 * math.sin(t * 0.9 + self.phase) + 2.0 * math.sin(t * 2.3)
            arms = 0.5 + 0.5 * math.sin(t * 1.7 + self.phase)
            draw_person(img, self.x + sway, self.feet, self.h, self.clothes, self.skin, 0.15, arms)
        else:
            draw_person(img, self.x, self.feet, self.h, self.clothes, self.skin, math.sin(self.phase))

    def gone(self) -> bool:
        return self.x < -60 or self.x > FRAME_W + 60


@dataclass
class Car:
    x: float
    lane: int
    length: int
    vx: float
    colour: tuple

    def step(self, dt: float) -> None:
        self.x += self.vx * dt

    def draw(self, img: np.ndarray) -> None:
        top, bottom = LANES[self.lane]
        x0, x1 = int(self.x), int(self.x) + self.length
        cv2.rectangle(img, (x0, top + 18), (x1, bottom - 8), self.colour, -1)
        cv2.rectangle(img, (x0 + self.length // 4, top), (x1 - self.length // 4, top + 20), self.colour, -1)
        cv2.rectangle(img, (x0 + self.length // 4 + 6, top + 4), (x1 - self.length // 4 - 6, top + 17),
                      (60, 50, 40), -1)
        for wx in (x0 + 28, x1 - 28):
            cv2.circle(img, (wx, bottom - 8), 12, (20, 20, 20), -1)

    def gone(self) -> bool:
        return self.x < -260 or self.x > FRAME_W + 60


@dataclass
class Traffic:
    """Spawns and moves pedestrians and cars; rates per minute."""

    rng: np.random.Generator
    peds_per_min: float = 10.0
    cars_per_min: float = 12.0
    loiter_share: float = 0.12      # share of near-side pedestrians who stop and stand
    walkers: list[Walker] = field(default_factory=list)
    cars: list[Car] = field(default_factory=list)

    def step(self, dt: float) -> None:
        if self.rng.random() < self.peds_per_min / 60 * dt:
            self.walkers.append(self._walker())
        if self.rng.random() < self.cars_per_min / 60 * dt:
            self.cars.append(self._car())
        for m in (*self.walkers, *self.cars):
            m.step(dt)
        self.walkers = [w for w in self.walkers if not w.gone()]
        self.cars = [c for c in self.cars if not c.gone()]

    def _walker(self) -> Walker:
        near = self.rng.random() < 0.6
        h = PERSON_H_NEAR * self.rng.uniform(0.85, 1.1) if near else PERSON_H_FAR * self.rng.uniform(0.85, 1.1)
        feet = self.rng.uniform(NEAR_WALK[0] + h * 0.55, NEAR_WALK[1] - 4) if near \
            else self.rng.uniform(FAR_WALK[0] + 30, FAR_WALK[1] - 2)
        direction = 1 if self.rng.random() < 0.5 else -1
        speed = self.rng.uniform(1.0, 1.6) * h / 1.7
        w = Walker(-40.0 if direction > 0 else FRAME_W + 40.0, feet, h, direction * speed,
                   CLOTHES[self.rng.integers(len(CLOTHES))], SKIN[self.rng.integers(len(SKIN))])
        if near and self.rng.random() < self.loiter_share:
            w.stop_x = self.rng.uniform(40, WALKWAY_POLY[1][0] - 40)
            w.stand_s = self.rng.uniform(20, 70)
        return w

    def _car(self) -> Car:
        lane = int(self.rng.integers(2))
        length = int(self.rng.integers(150, 200))
        speed = self.rng.uniform(150, 350)
        return Car(FRAME_W + 20.0 if lane == 0 else -length - 20.0, lane, length,
                   -speed if lane == 0 else speed, CAR_COLOURS[self.rng.integers(len(CAR_COLOURS))])

    def draw(self, img: np.ndarray, t: float) -> None:
        for c in self.cars:
            c.draw(img)
        for w in sorted(self.walkers, key=lambda w: w.feet):
            w.draw(img, t)


class Lighting:
    """Slow daylight drift (clouds, sun) plus a little colour shift, then sensor noise."""

    def __init__(self, rng: np.random.Generator, drift: float = 0.15, noise_sigma: float = 5.0) -> None:
        self.drift = drift
        self.phases = rng.uniform(0, 2 * math.pi, 3)
        bank = rng.normal(0, noise_sigma, (8, FRAME_H, FRAME_W, 3)) if noise_sigma > 0 else np.zeros((1, 1, 1, 3))
        self.noise_pos = np.clip(bank, 0, 255).astype(np.uint8)
        self.noise_neg = np.clip(-bank, 0, 255).astype(np.uint8)
        self.rng = rng

    def gain(self, t: float) -> float:
        p = self.phases
        return 1.0 + self.drift * (0.7 * math.sin(2 * math.pi * t / 900 + p[0]) + 0.3 * math.sin(2 * math.pi * t / 140 + p[1]))

    def apply(self, img: np.ndarray, t: float) -> np.ndarray:
        g = self.gain(t)
        tint = 0.03 * self.drift / 0.15 * math.sin(2 * math.pi * t / 600 + self.phases[2])
        m = np.diag([g * (1 + tint), g, g * (1 - tint)]).astype(np.float32)
        out = cv2.transform(img, m)
        if self.noise_pos.shape[1] > 1:
            k = int(self.rng.integers(len(self.noise_pos)))
            cv2.add(out, self.noise_pos[k], out)
            cv2.subtract(out, self.noise_neg[k], out)
        return out
