"""A scene: one camera's timeline of traffic and anomalies, rendered frame by frame.

`kind_scene(kind, ...)` spaces `n` events of one kind over a street with
traffic; `clean_scene(...)` has traffic, drift and noise only (false reports
are counted there). `Scene.frames()` yields `(t, frame)`; `Scene.truth` lists
what should be reported. `write_video` stores a scene as MJPG/AVI, which
OpenCV writes and reads without extra codecs.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .anomalies import PAINTERS, TAMPER_VARIANTS, Anomaly, GroundTruth
from .layout import FRAME_H, FRAME_W
from .world import Lighting, Traffic, render_background

KINDS = ("obstruction", "garbage", "crowd", "fire", "smoke", "waterlogging", "camera_tamper")


@dataclass(frozen=True)
class EventSpec:
    kind: str
    start: float
    end: float


@dataclass(frozen=True)
class SceneSpec:
    seed: int
    duration_s: float
    fps: float = 5.0
    events: tuple[EventSpec, ...] = ()
    peds_per_min: float = 10.0
    cars_per_min: float = 12.0
    drift: float = 0.15
    noise_sigma: float = 5.0


@dataclass
class Scene:
    spec: SceneSpec
    anomalies: list[Anomaly] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.spec.seed)
        self.background = render_background(rng)
        self.traffic = Traffic(np.random.default_rng(rng.integers(1 << 31)), self.spec.peds_per_min, self.spec.cars_per_min)
        self.lighting = Lighting(np.random.default_rng(rng.integers(1 << 31)), self.spec.drift, self.spec.noise_sigma)
        n_tamper = 0
        for ev in self.spec.events:
            sub = np.random.default_rng(rng.integers(1 << 31))
            painter = PAINTERS[ev.kind](ev.kind, ev.start, ev.end, sub)
            if ev.kind == "camera_tamper":
                painter.variant = TAMPER_VARIANTS[n_tamper % len(TAMPER_VARIANTS)]
                n_tamper += 1
            self.anomalies.append(painter)

    @property
    def truth(self) -> list[GroundTruth]:
        return [a.truth() for a in self.anomalies]

    @property
    def n_frames(self) -> int:
        return int(self.spec.duration_s * self.spec.fps)

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        dt = 1.0 / self.spec.fps
        for i in range(self.n_frames):
            t = i * dt
            self.traffic.step(dt)
            yield t, self.render(t)

    def render(self, t: float) -> np.ndarray:
        img = self.background.copy()
        active = [a for a in self.anomalies if a.active(t)]
        for a in active:
            if a.kind == "waterlogging":
                a.draw(img, t)      # under the traffic that drives through it
        self.traffic.draw(img, t)
        for a in active:
            if a.kind != "waterlogging":
                a.draw(img, t)
        img = self.lighting.apply(img, t)
        for a in active:
            img = a.post(img, t)
        return img


def kind_scene(kind: str, seed: int, n_events: int = 3, *, event_s: float = 45.0, gap_s: float = 40.0,
               lead_s: float = 30.0, fps: float = 5.0, **traffic) -> Scene:
    """`n_events` of `kind`, one after another, after `lead_s` of plain street."""
    if kind not in KINDS:
        raise ValueError(f"unknown anomaly kind {kind!r}; one of {', '.join(KINDS)}")
    events, t = [], lead_s
    for _ in range(n_events):
        events.append(EventSpec(kind, t, t + event_s))
        t += event_s + gap_s
    return Scene(SceneSpec(seed, t, fps, tuple(events), **traffic))


def clean_scene(seed: int, duration_s: float, fps: float = 5.0, **traffic) -> Scene:
    return Scene(SceneSpec(seed, duration_s, fps, (), **traffic))


def write_video(scene: Scene, path: Path | str, fps: float | None = None) -> Path:
    """Render `scene` into an MJPG AVI at `fps` (default: the scene's own rate)."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps or scene.spec.fps, (FRAME_W, FRAME_H))
    if not writer.isOpened():
        raise OSError(f"cannot write video {path}")
    try:
        for _, frame in scene.frames():
            writer.write(frame)
    finally:
        writer.release()
    return path
