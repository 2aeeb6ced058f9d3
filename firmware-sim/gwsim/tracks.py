"""The pure track generator: each worker's fixes as arrays, with the ground truth, no MQTT.

`fleet_specs` deals behaviours out to workers and grids; `generate` turns one
spec into a `Track` (what the cloud would store: device time, position,
accuracy, mock flag, arrival time). The MQTT fleet replays the same tracks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import noise, plans
from .city import City, Grid

LATENCY_S = (0.3, 2.5)


@dataclass(frozen=True)
class WorkerSpec:
    worker: str
    dev: str
    grid: Grid
    behaviour: str
    start: float            # shift, epoch seconds UTC
    end: float
    home: np.ndarray        # metres
    seed: int
    neighbour: Grid | None = None


@dataclass(frozen=True)
class Track:
    t: np.ndarray           # device time, epoch seconds
    lat: np.ndarray
    lon: np.ndarray
    acc: np.ndarray
    mock: np.ndarray
    received: np.ndarray    # when the cloud would receive it
    true_t: np.ndarray      # real time of each fix (differs from t when the clock is off)

    def __len__(self) -> int:
        return len(self.t)


def fleet_specs(city: City, n: int, mix: dict[str, float], start: float, end: float, seed: int) -> list[WorkerSpec]:
    """`n` workers, behaviours in proportion to `mix` (shuffled), spread over the city's grids."""
    rng = np.random.default_rng(seed)
    names = sorted(mix)
    weights = np.array([mix[k] for k in names], dtype=float)
    counts = np.floor(weights / weights.sum() * n).astype(int)
    for i in np.argsort(-(weights / weights.sum() * n - counts))[: n - counts.sum()]:
        counts[i] += 1
    behaviours = [b for b, c in zip(names, counts) for _ in range(c)]
    rng.shuffle(behaviours)
    grids = city.grids
    specs = []
    for i, b in enumerate(behaviours):
        k = i % len(grids)
        grid = grids[k]
        neighbour = grids[k + 1] if (k + 1) % city.cols else grids[k - 1] if city.cols > 1 else None
        ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(700, 6000)
        home = grid.centre + dist * np.array([np.cos(ang), np.sin(ang)])
        specs.append(WorkerSpec(f"w{i + 1:05d}", f"h-w{i + 1:05d}", grid, b, start, end, home,
                                seed * 100_003 + i, neighbour))
    return specs


def generate(spec: WorkerSpec, city: City, w0: float, w1: float, interval_s: float = 30.0,
             model: noise.NoiseModel = noise.NoiseModel()) -> tuple[Track, plans.Plan]:
    """Fixes every `interval_s` over the window [w0, w1] of one worker, and the plan behind them."""
    rng = np.random.default_rng(spec.seed)
    plan = plans.build(spec.behaviour, spec.grid, spec.home, spec.start, spec.end, w0, w1, rng, spec.neighbour)
    true_t = w0 + np.arange(int((w1 - w0) // interval_s) + 1) * interval_s + rng.uniform(0, 0.9)
    xy, acc = noise.apply(rng, plan.positions(true_t), model)
    for a, b in plan.static:
        m = (true_t >= a) & (true_t < b)
        xy[m], acc[m] = noise.still(rng, plan.positions(true_t[m]))
    if plan.replay_period_s:
        period = int(plan.replay_period_s // interval_s)
        idx = np.arange(len(true_t)) % period
        xy, acc = xy[idx], acc[idx]
    keep = np.ones(len(true_t), dtype=bool)
    for a, b in plan.gaps:
        keep &= ~((true_t >= a) & (true_t < b))
    received = true_t + rng.uniform(*LATENCY_S, len(true_t))
    for a, b in plan.outages:
        m = (true_t >= a) & (true_t < b)
        received[m] = b + rng.uniform(1, 20) + np.arange(m.sum()) * 0.01
    lat, lon = city.frame.to_deg(xy[:, 0], xy[:, 1])
    track = Track(true_t[keep] + plan.clock_offset_s, lat[keep], lon[keep], acc[keep],
                  np.full(int(keep.sum()), plan.mock), received[keep], true_t[keep])
    return track, plan


def truth(spec: WorkerSpec, plan: plans.Plan) -> dict:
    """The ground-truth record of one worker shift."""
    exp = plan.expected
    return {"worker": spec.worker, "dev": spec.dev, "grid": spec.grid.code, "behaviour": spec.behaviour,
            "start": spec.start, "end": spec.end, "verdict": exp.verdict, "flags": sorted(exp.flags)}
