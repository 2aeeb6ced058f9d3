"""Composition root of `gridwatch sim`: scenario -> city, workers, tracks, injected incidents and
truth -> files, then either the MQTT fleet (real handset code) and the incidents' sightings (real
outboxes and senders) or the tracks alone."""
from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .city import City
from .files import write_outputs
from .incidents import IncidentDay, Rules, simulated_day
from .plans import Plan
from .scenario import Scenario
from .tracks import Track, WorkerSpec, fleet_specs, generate, truth

if TYPE_CHECKING:
    from .devices import DeviceDay    # imports the edge camera and sensor code


@dataclass
class Simulation:
    scenario: Scenario
    city: City
    workers: list[tuple[WorkerSpec, Track, Plan]]
    truths: list[dict]
    incidents: IncidentDay | None = None
    devices: DeviceDay | None = None


def prepare(scenario: Scenario, rules: Callable[[City], Rules] | None = None) -> Simulation:
    """The simulated day; `rules(city)` gives the cloud's case rules when the scenario injects incidents."""
    rng = np.random.default_rng(scenario.seed)
    c = scenario.city
    city = City.synthetic(c.origin, c.rows, c.cols, c.cell_m, c.jitter, rng)
    start, end = scenario.shift_utc()
    w0, w1 = scenario.window()
    specs = fleet_specs(city, scenario.workers, scenario.mix, start, end, scenario.seed)
    workers, truths = [], []
    for spec in specs:
        track, plan = generate(spec, city, w0, w1, scenario.interval_s)
        workers.append((spec, track, plan))
        truths.append(truth(spec, plan))
    return Simulation(scenario, city, workers, truths, _incidents(scenario, city, rules), _devices(scenario, city))


def _incidents(scenario: Scenario, city: City, rules: Callable[[City], Rules] | None) -> IncidentDay | None:
    cfg = scenario.incidents
    if cfg is None:
        return None
    if rules is None:
        raise ValueError("a scenario with [incidents] needs the cloud's case rules for their truth")
    from .caserules import city_centre

    start = datetime.fromtimestamp(scenario.shift_utc()[0], timezone.utc)
    return simulated_day(scenario.seed, start, rules(city), centre=city_centre(city), count=cfg.count,
                         noise=cfg.noise)


def _devices(scenario: Scenario, city: City) -> DeviceDay | None:
    """Cameras and sensors observing up to now (the ingest takes nothing from the future)."""
    cams, sens = scenario.cameras, scenario.sensors
    if cams is None and sens is None:
        return None
    from .caserules import city_centre
    from .devices import DeviceDay, camera_plans, sensor_plans

    centre = city_centre(city)
    cameras = camera_plans(cams.count, cams.seconds, list(cams.kinds), scenario.seed, centre) if cams else []
    sensors = sensor_plans(sens.count, sens.seconds, list(sens.types), centre) if sens else []
    longest = max([cams.seconds if cams else 0.0, sens.seconds if sens else 0.0])
    return DeviceDay(cameras, sensors, int((time.time() - longest) * 1000), speed=sens.speed if sens else 60.0,
                     workers=cams.workers if cams else 1)


def save_tracks(path: Path, sim: Simulation) -> None:
    """All fixes as flat arrays with a device index: what the cloud would store, for offline judging."""
    devs = [spec.dev for spec, _, _ in sim.workers]
    idx = np.concatenate([np.full(len(tr), i) for i, (_, tr, _) in enumerate(sim.workers)])
    cat = lambda name: np.concatenate([getattr(tr, name) for _, tr, _ in sim.workers])  # noqa: E731
    np.savez_compressed(path, devs=np.array(devs), dev_index=idx, t=cat("t"), lat=cat("lat"), lon=cat("lon"),
                        acc=cat("acc"), mock=cat("mock"), received=cat("received"))


def relay_link(url: str, dev: str):
    """ONE link for every simulated device, with the relay credentials of `url` (it may publish as any device)."""
    from edge.link import Backoff, Link
    from gridwatch.settings import MqttEndpoint

    return Link(MqttEndpoint.parse(url), dev, client_id=f"gwsim-{uuid.uuid4().hex[:8]}", backoff=Backoff(0.1, 2.0))


def run_mqtt(sim: Simulation, url: str, *, outbox_dir: Path | None = None, flush_timeout: float = 60.0,
             receipts: bool = True, progress: Callable[[str], None] | None = None):
    """Play the fleet over one relay link to the broker at `url` (relay credentials in the URL)."""
    from edge.clock import ScaledClock

    from .fleet import build_handsets, run_fleet

    sc = sim.scenario
    w0, w1 = sc.window()
    link = relay_link(url, sim.workers[0][0].dev)
    clock = ScaledClock(sc.speed, start_ms=int(w0 * 1000))
    with tempfile.TemporaryDirectory(prefix="gwsim-") as tmp:
        handsets = build_handsets(link, sim.workers, clock, (w0, w1), sc.interval_s, outbox_dir or Path(tmp))
        return run_fleet(link, handsets, clock, flush_timeout=flush_timeout, progress=progress, receipts=receipts)


def run_incidents(sim: Simulation, url: str, *, outbox_dir: Path | None = None, flush_timeout: float = 60.0,
                  receipts: bool = True, progress: Callable[[str], None] | None = None):
    """Send the injected incidents' sightings through per-device outboxes and senders on one relay link."""
    from .replay import replay

    day = sim.incidents
    with tempfile.TemporaryDirectory(prefix="gwsim-") as tmp:
        return replay(relay_link(url, day.devices[0].dev), day.sightings(), outbox_dir or Path(tmp),
                      speed=sim.scenario.incidents.speed, flush_timeout=flush_timeout, receipts=receipts,
                      progress=progress)


def run_devices(sim: Simulation, url: str, workdir: Path, *, flush_timeout: float = 60.0, receipts: bool = True):
    """Run the simulated cameras and sensors (real agents) over one relay link; videos go to `workdir`."""
    from .devices import run_devices as run

    d = sim.devices
    first = (d.cameras or d.sensors)[0].dev
    return run(relay_link(url, first), d.cameras, d.sensors, workdir, start_ms=d.start_ms, speed=d.speed,
               workers=d.workers, flush_timeout=flush_timeout, receipts=receipts)


def write_files(out_dir: Path, sim: Simulation) -> dict[str, Path]:
    paths = write_outputs(out_dir, sim.scenario, sim.city, [w[0] for w in sim.workers], sim.truths)
    # Next to the shifts: the incidents (devices and components to register, the expected cases)
    # and the anomalies the simulated cameras and sensors must report.
    extra = {k: v.truth() for k, v in (("incidents", sim.incidents), ("devices", sim.devices)) if v is not None}
    if extra:
        doc = json.loads(paths["truth"].read_text("utf-8"))
        paths["truth"].write_text(json.dumps({**doc, **extra}, indent=1), "utf-8")
    return paths
