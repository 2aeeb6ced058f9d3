"""Detectors one by one on small synthetic frames (the scenes test them together)."""
from __future__ import annotations

import cv2
import numpy as np

from edge.camera.config import CameraConfig
from edge.camera.detectors.fire import flame_colour
from edge.camera.detectors.tamper import TamperDetector
from edge.camera.pipeline import CameraPipeline


def street(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(40, 200, (36, 48, 3), dtype=np.uint8), (384, 288), interpolation=cv2.INTER_NEAREST)


def gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.resize(img, (192, 144), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)


def test_tamper_check_tells_covered_defocused_and_turned_apart_and_ignores_light():
    ref = street()
    t = TamperDetector(CameraConfig(), 1.0)
    assert t.check(gray(cv2.convertScaleAbs(ref, alpha=1.25)), gray(ref), 0.0) is None
    assert t.check(gray(np.full_like(ref, 20)), gray(ref), 0.0) == "covered"
    assert t.check(gray(cv2.GaussianBlur(ref, (0, 0), 3.5)), gray(ref), 0.0) == "defocused"
    assert t.check(gray(street(seed=9)), gray(ref), 0.0) == "turned"


def test_flame_colour_takes_flames_not_skin_or_grey():
    px = np.array([[[0, 140, 255], [0, 60, 210], [120, 160, 210], [90, 120, 170], [128, 128, 128]]], np.uint8)
    assert flame_colour(px).tolist() == [[True, True, False, False, False]]


def run(frames) -> list:
    pipe = CameraPipeline(CameraConfig(frame_kinds=["fire"]), "t")
    out = []
    for i, f in enumerate(frames):
        out += [r for r in pipe.process(i * 0.2, f) if r.phase == "start"]
    return out


def with_patch(n: int, paint) -> list[np.ndarray]:
    frames = []
    for i in range(n):
        f = street()
        paint(f, i)
        frames.append(f)
    return frames


def test_flickering_flames_are_fire_a_still_orange_sign_and_a_passing_yellow_car_are_not():
    rng = np.random.default_rng(3)

    def flames(f, i):
        if i >= 40:
            for _ in range(4):
                c = (int(200 + rng.integers(-12, 12)), int(180 + rng.integers(-15, 15)))
                cv2.ellipse(f, c, (int(rng.integers(6, 14)), int(rng.integers(12, 26))), 0, 0, 360,
                            [(0, 140, 255), (0, 60, 210)][i % 2], -1)

    def sign(f, i):
        if i >= 40:
            cv2.rectangle(f, (180, 150), (220, 200), (0, 140, 255), -1)

    def car(f, i):
        x = -80 + 12 * (i - 40)
        if i >= 40:
            cv2.rectangle(f, (x, 150), (x + 80, 190), (30, 200, 230), -1)

    [fire] = run(with_patch(90, flames))
    assert fire.obs.kind == "fire" and 40 * 0.2 + 3.0 <= fire.t <= 40 * 0.2 + 8.0
    assert run(with_patch(90, sign)) == []
    assert run(with_patch(90, car)) == []
