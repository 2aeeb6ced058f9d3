"""`gridwatch bench camera`: detection quality per kind on synthetic scenes, and speed.

Every kind gets scenes with injected events (traffic, drift and noise around
them); clean scenes (traffic, drift, noise, people who stop and stand) count
false reports per camera-hour. Speed is the camera pipeline's own CPU time per
detection frame at 768x576 with every detector on, OpenCV held to one thread:
frames per second per core. Rendering the scenes is not counted.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2

from edge.camera.config import CameraConfig
from edge.camera.pipeline import CameraPipeline
from gwsim.scenes import KindScore, Report, Scene, camera_layout, clean_scene, kind_scene, score_reports
from gwsim.scenes.scene import KINDS


@dataclass
class Run:
    reports: list[Report] = field(default_factory=list)
    frames: int = 0
    cpu_s: float = 0.0
    video_s: float = 0.0

    @property
    def fps_per_core(self) -> float:
        return self.frames / self.cpu_s if self.cpu_s else 0.0

    def add(self, other: "Run") -> None:
        self.reports += other.reports
        self.frames += other.frames
        self.cpu_s += other.cpu_s
        self.video_s += other.video_s


def camera_config() -> CameraConfig:
    return CameraConfig.model_validate(camera_layout())


def run_scene(scene: Scene, config: CameraConfig | None = None) -> Run:
    """Every frame of `scene` through a fresh pipeline; reports in scene time."""
    pipeline = CameraPipeline(config or camera_config(), track_prefix="bench")
    run = Run(video_s=scene.spec.duration_s)
    t = 0.0
    for t, frame in scene.frames():
        t0 = time.thread_time()
        reports = pipeline.process(t, frame)
        run.cpu_s += time.thread_time() - t0
        run.frames += 1
        run.reports += [Report(r.obs.kind, r.t, r.obs.box, r.phase, r.track) for r in reports]
    run.reports += [Report(r.obs.kind, r.t, r.obs.box, r.phase, r.track) for r in pipeline.finish(t)]
    return run


def evaluate(kinds: tuple[str, ...], seeds: list[int], events: int, clean_s: float,
             progress=lambda line: None) -> tuple[dict[str, KindScore], dict[str, KindScore], Run]:
    """(scores on the scenes with events, scores on clean scenes, all runs together)."""
    on_events = {k: KindScore(k) for k in kinds}
    clean = {k: KindScore(k) for k in kinds}
    total = Run()
    for seed in seeds:
        for kind in kinds:
            scene = kind_scene(kind, seed, events)
            run = run_scene(scene)
            scores = score_reports(scene.truth, run.reports, run.video_s, kinds)
            for k, s in scores.items():
                on_events.setdefault(k, KindScore(k)).add(s)
            total.add(run)
            false = {k: s.false_at for k, s in scores.items() if s.false_at}
            progress(f"seed {seed} {kind}: {scores[kind].detected}/{scores[kind].events} found, "
                     f"{run.fps_per_core:.0f} frames/s per core" + (f", false reports at {false}" if false else ""))
        if clean_s > 0:
            scene = clean_scene(seed + 1000, clean_s)
            run = run_scene(scene)
            scores = score_reports([], run.reports, run.video_s, kinds)
            for k, s in scores.items():
                clean.setdefault(k, KindScore(k)).add(s)
            total.add(run)
            false = {k: s.false_at for k, s in scores.items() if s.false_at}
            progress(f"seed {seed} clean {clean_s:.0f} s: " + (f"false reports at {false}" if false else "no false report"))
    return on_events, clean, total


def format_table(on_events: dict[str, KindScore], clean: dict[str, KindScore]) -> str:
    head = (f"{'kind':<14}{'events':>7}{'found':>7}{'recall':>8}{'latency_s':>10}{'repeats':>8}"
            f"{'false(ev)':>10}{'false(clean)':>13}{'clean_h':>8}{'false/cam-h':>12}")
    lines = [head]
    for k in sorted(set(on_events) | set(clean)):
        e, c = on_events.get(k, KindScore(k)), clean.get(k, KindScore(k))
        lat = f"{e.latency:.1f}" if e.latency is not None else "-"
        lines.append(f"{k:<14}{e.events:>7}{e.detected:>7}{e.recall:>8.2f}{lat:>10}{e.repeats:>8}"
                     f"{e.false:>10}{c.false:>13}{c.hours:>8.2f}{c.false_per_hour:>12.2f}")
    return "\n".join(lines)


def main(seeds: int, events: int, clean_s: float) -> int:
    cv2.setNumThreads(1)
    t0 = time.monotonic()
    on_events, clean, total = evaluate(KINDS, list(range(1, seeds + 1)), events, clean_s,
                                       progress=lambda line: print(line, flush=True))
    print()
    print(format_table(on_events, clean))
    print()
    print(f"speed: {total.frames} detection frames at 768x576, all detectors on, OpenCV on one thread: "
          f"{total.fps_per_core:.0f} frames/s per core ({total.fps_per_core / 5:.0f} cameras per core at 5 fps); "
          f"{total.video_s / 3600:.2f} h of video in {time.monotonic() - t0:.0f} s wall")
    return 0
