"""Composition root of `gridwatch sim`: scenario -> city, workers, tracks and truth -> files,
then either the MQTT fleet (real handset code) or the tracks alone."""
from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .city import City
from .files import write_outputs
from .plans import Plan
from .scenario import Scenario
from .tracks import Track, WorkerSpec, fleet_specs, generate, truth


@dataclass
class Simulation:
    scenario: Scenario
    city: City
    workers: list[tuple[WorkerSpec, Track, Plan]]
    truths: list[dict]


def prepare(scenario: Scenario) -> Simulation:
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
    return Simulation(scenario, city, workers, truths)


def save_tracks(path: Path, sim: Simulation) -> None:
    """All fixes as flat arrays with a device index: what the cloud would store, for offline judging."""
    devs = [spec.dev for spec, _, _ in sim.workers]
    idx = np.concatenate([np.full(len(tr), i) for i, (_, tr, _) in enumerate(sim.workers)])
    cat = lambda name: np.concatenate([getattr(tr, name) for _, tr, _ in sim.workers])  # noqa: E731
    np.savez_compressed(path, devs=np.array(devs), dev_index=idx, t=cat("t"), lat=cat("lat"), lon=cat("lon"),
                        acc=cat("acc"), mock=cat("mock"), received=cat("received"))


def run_mqtt(sim: Simulation, url: str, *, outbox_dir: Path | None = None, flush_timeout: float = 60.0,
             receipts: bool = True, progress: Callable[[str], None] | None = None):
    """Play the fleet over one relay link to the broker at `url` (relay credentials in the URL)."""
    from edge.clock import ScaledClock
    from edge.link import Backoff, Link
    from gridwatch.settings import MqttEndpoint

    from .fleet import build_handsets, run_fleet

    sc = sim.scenario
    w0, w1 = sc.window()
    first = sim.workers[0][0].dev
    link = Link(MqttEndpoint.parse(url), first, client_id=f"gwsim-{uuid.uuid4().hex[:8]}", backoff=Backoff(0.1, 2.0))
    clock = ScaledClock(sc.speed, start_ms=int(w0 * 1000))
    with tempfile.TemporaryDirectory(prefix="gwsim-") as tmp:
        handsets = build_handsets(link, sim.workers, clock, (w0, w1), sc.interval_s, outbox_dir or Path(tmp))
        return run_fleet(link, handsets, clock, flush_timeout=flush_timeout, progress=progress, receipts=receipts)


def write_files(out_dir: Path, sim: Simulation) -> dict[str, Path]:
    return write_outputs(out_dir, sim.scenario, sim.city, [w[0] for w in sim.workers], sim.truths)
