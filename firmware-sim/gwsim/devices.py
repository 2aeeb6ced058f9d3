"""Simulated cameras and sensors running the REAL edge agents.

A camera is a synthetic street scene (`gwsim.scenes`) with one injected
anomaly, rendered to a video file and played through `CameraAgent` from a
`FileSource`; a sensor is a `SensorAgent` over a simulated driver whose value
steps past its alarm threshold for a while, on an accelerated clock. Each
device writes to its own outbox, drained by its sender over ONE relay link
(`replay.open_stations`). Camera agents run in a bounded pool: detection is
CPU work, so `workers` should not exceed the cores; sensor agents mostly
sleep and run in threads of their own.

Plans are pure (seed + config -> what each device does and the truth of it);
`run_devices` is the only part with threads and a broker.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from edge.camera.agent import CameraAgent
from edge.camera.config import CameraConfig
from edge.camera.sources import FileSource
from edge.clock import ScaledClock
from edge.sensor.agent import SensorAgent
from edge.sensor.app import make_drivers
from edge.sensor.config import SensorConfig
from edge.sensor.drivers import ModbusClients

from .replay import close, connect, flush, open_stations
from .scenes import camera_layout, kind_scene, write_video

log = logging.getLogger(__name__)

M_PER_DEG_LAT = 111_320.0
SPACING_M = 300.0
# sensor type -> unit, normal value, value during the anomaly, rule (threshold side, threshold, clear_at)
SENSOR_TYPES = {
    "water_level": ("cm", 5.0, 45.0, ("above", 30.0, 20.0)),
    "manhole_tilt": ("deg", 1.0, 25.0, ("above", 15.0, 10.0)),
    "gas": ("ppm", 2.0, 80.0, ("above", 50.0, 30.0)),
    "pipe_pressure": ("bar", 3.0, 0.4, ("below", 1.0, 2.0)),
}


@dataclass(frozen=True)
class CameraPlan:
    dev: str
    kind: str                   # the injected anomaly
    seed: int
    seconds: float
    event: tuple[float, float]  # scene seconds of the anomaly
    lat: float
    lon: float

    def config(self) -> CameraConfig:
        """The scene's street layout, with dwell times short enough for the anomaly to be reported."""
        cfg = camera_layout(self.dev)
        dwell = max(3.0, (self.event[1] - self.event[0]) / 3)
        for z in cfg["zones"]:
            z["dwell_s"] = min(z["dwell_s"], dwell)
        return CameraConfig.model_validate({**cfg, "lat": self.lat, "lon": self.lon})

    def truth(self, start_ms: int) -> dict:
        return {"dev": self.dev, "source": "camera", "kind": self.kind, "lat": self.lat, "lon": self.lon,
                "start_ms": start_ms + int(self.event[0] * 1000), "end_ms": start_ms + int(self.event[1] * 1000)}


@dataclass(frozen=True)
class SensorPlan:
    dev: str
    sensor: str
    seconds: float              # simulated seconds the agent runs
    event: tuple[float, float]  # simulated seconds the value is past the threshold
    lat: float
    lon: float
    poll_s: float = 1.0

    def config(self) -> SensorConfig:
        unit, base, value, (side, threshold, clear_at) = SENSOR_TYPES[self.sensor]
        return SensorConfig.model_validate({"poll_s": self.poll_s, "sensors": [{
            "id": self.dev, "sensor": self.sensor, "unit": unit, "lat": self.lat, "lon": self.lon,
            "driver": {"type": "sim", "base": base, "steps": [[self.event[0], self.event[1], value]]},
            "rules": [{"level": "critical", side: threshold, "clear_at": clear_at, "debounce_s": 2 * self.poll_s}]}]})

    def truth(self, start_ms: int) -> dict:
        return {"dev": self.dev, "source": "sensor", "sensor": self.sensor, "lat": self.lat, "lon": self.lon,
                "start_ms": start_ms + int(self.event[0] * 1000), "end_ms": start_ms + int(self.event[1] * 1000),
                "alerts": ["raised", "cleared"]}


def _place(centre: tuple[float, float], n: int, row: int) -> tuple[float, float]:
    lat0, lon0 = centre
    return (lat0 + row * SPACING_M / M_PER_DEG_LAT,
            lon0 + n * SPACING_M / (M_PER_DEG_LAT * math.cos(math.radians(lat0))))


def camera_plans(count: int, seconds: float, kinds: list[str], seed: int, centre: tuple[float, float],
                 prefix: str = "simcam") -> list[CameraPlan]:
    """Camera i shows kinds[i % len(kinds)] once: plain street for a fifth of the scene, the anomaly
    for three fifths, then plain street again (so the agent reports its end)."""
    event = (round(seconds * 0.2, 1), round(seconds * 0.8, 1))
    return [CameraPlan(f"{prefix}-{i + 1}", kinds[i % len(kinds)], seed * 1000 + i, seconds, event,
                       *_place(centre, i, -1)) for i in range(count)]


def sensor_plans(count: int, seconds: float, types: list[str], centre: tuple[float, float],
                 prefix: str = "simsensor") -> list[SensorPlan]:
    """Sensor i of type types[i % len(types)] is past its threshold from a quarter to half of the run."""
    event = (round(seconds * 0.25, 1), round(seconds * 0.5, 1))
    return [SensorPlan(f"{prefix}-{i + 1}", types[i % len(types)], seconds, event, *_place(centre, i, -2))
            for i in range(count)]


@dataclass(frozen=True)
class DeviceDay:
    """The simulated cameras and sensors of a run, observing from `start_ms` on."""

    cameras: list[CameraPlan]
    sensors: list[SensorPlan]
    start_ms: int
    speed: float = 60.0         # sensors' simulated seconds per real second
    workers: int = 2            # camera agents at once

    def truth(self) -> dict:
        return {"start_ms": self.start_ms, "cameras": [p.truth(self.start_ms) for p in self.cameras],
                "sensors": [p.truth(self.start_ms) for p in self.sensors]}


@dataclass(frozen=True)
class DevicesReport:
    cameras: dict[str, dict]    # dev -> the camera agent's summary
    sensors: dict[str, dict]    # dev -> polls and alerts
    left_in_outboxes: int
    seconds: float


def run_devices(link, cameras: list[CameraPlan], sensors: list[SensorPlan], workdir: Path, *, start_ms: int,
                speed: float = 60.0, workers: int = 2, flush_timeout: float = 60.0,
                receipts: bool = True) -> DevicesReport:
    """Render each camera's scene, run every agent (at most `workers` at once) into its outbox,
    then wait until the cloud confirmed everything (or, receipts=False, the broker did).
    Observations are stamped from `start_ms` on: camera video time, sensors at `speed`."""
    started = time.monotonic()
    stations = open_stations(link, [p.dev for p in cameras] + [p.dev for p in sensors], workdir)
    stop = threading.Event()
    try:
        connect(link)
        for st in stations.values():
            st.sender.start()
        with (ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gwsim-camera") as cam_pool,
              ThreadPoolExecutor(max_workers=max(1, len(sensors)), thread_name_prefix="gwsim-sensor") as sens_pool):
            cams = {p.dev: cam_pool.submit(_run_camera, p, stations[p.dev].outbox, workdir, start_ms, stop)
                    for p in cameras}
            sens = {p.dev: sens_pool.submit(_run_sensor, p, stations[p.dev].outbox, start_ms, speed, stop)
                    for p in sensors}
            cam_out = {dev: f.result() for dev, f in cams.items()}
            sens_out = {dev: f.result() for dev, f in sens.items()}
        flush(stations.values(), flush_timeout, receipts)
    finally:
        stop.set()
        left = close(stations.values())
        link.stop()
    return DevicesReport(cam_out, sens_out, left, time.monotonic() - started)


def _run_camera(plan: CameraPlan, outbox, workdir: Path, start_ms: int, stop: threading.Event) -> dict:
    scene = kind_scene(plan.kind, plan.seed, 1, lead_s=plan.event[0], event_s=plan.event[1] - plan.event[0],
                       gap_s=plan.seconds - plan.event[1])
    video = write_video(scene, workdir / f"{plan.dev}.avi")
    source = FileSource(str(video))
    try:
        agent = CameraAgent(plan.dev, outbox, source, plan.config(), stop, wall_ms=lambda: start_ms)
        summary = agent.run().as_json()
    finally:
        source.close()
    log.info("%s: %s", plan.dev, summary)
    return summary


def _run_sensor(plan: SensorPlan, outbox, start_ms: int, speed: float, stop: threading.Event) -> dict:
    clock = ScaledClock(speed, start_ms=start_ms)
    clients = ModbusClients()
    config = plan.config()
    try:
        agent = SensorAgent(plan.dev, outbox, config, make_drivers(config, clock, clients), clock, stop)
        summary = agent.run(plan.seconds)
    finally:
        clients.close()
    return {"polls": summary.polls, "read_errors": summary.read_errors, **summary.alerts}
