"""`gridwatch bench attendance`: verdict accuracy against simulated ground truth, and judging speed.

Accuracy: N simulated worker shifts with realistic GPS noise (gwsim's pure
track generator, no MQTT), each judged by the attendance engine; prints the
verdict confusion matrix and each flag's precision and recall.
Speed: a day of 30-second heartbeats per worker for W workers, judged shift by
shift in this process; prints seconds and fixes/s for several W.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from shapely.geometry import Polygon

from cloud.attendance.engine import judge_shift
from cloud.attendance.geometry import GridShape
from cloud.attendance.model import Fixes, Shift
from cloud.attendance.rules import Rules
from gwsim import evaluate, plans
from gwsim.city import City
from gwsim.noise import NoiseModel
from gwsim.tracks import Track, fleet_specs, generate, truth

UTC = timezone.utc
DAY = datetime(2026, 11, 20, tzinfo=UTC)
SHIFT = (timedelta(hours=0, minutes=30), timedelta(hours=9, minutes=30))  # 08:30-17:30 Asia/Shanghai, in UTC
EVEN_MIX = {b: 1.0 for b in plans.BEHAVIOURS} | {"diligent": 3.0}
NOISE = {
    "city": NoiseModel(),
    # Deep urban canyons all day: twice the scatter at worst, a multipath jump every 20 fixes, more network fixes.
    "harsh": NoiseModel(sigma_m=(5.0, 10.0), canyon_factor=1.5, outlier_rate=0.05, network_rate=0.01),
}


@dataclass
class Fleet:
    city: City
    shapes: dict[str, GridShape]
    shifts: list[Shift]
    tracks: list[Track]
    truths: list[dict]


def grid_shapes(city: City) -> dict[str, GridShape]:
    out = {}
    for g in city.grids:
        ring = np.vstack([g.corners, g.corners[:1]])
        lat, lon = city.frame.to_deg(ring[:, 0], ring[:, 1])
        out[g.code] = GridShape(g.code, Polygon(np.column_stack((lon, lat))))
    return out


def simulate(n: int, seed: int = 1, *, mix: dict[str, float] | None = None, interval_s: float = 30.0,
             whole_day: bool = False, rows: int = 6, cols: int = 6, noise: NoiseModel = NOISE["city"]) -> Fleet:
    """`n` worker shifts on a synthetic city; `whole_day` makes each device report for 24 hours."""
    rng = np.random.default_rng(seed)
    city = City.synthetic((31.23, 121.47), rows, cols, 400.0, 0.12, rng)
    start, end = (DAY + SHIFT[0]).timestamp(), (DAY + SHIFT[1]).timestamp()
    w0, w1 = (DAY.timestamp(), DAY.timestamp() + 86400 - 1) if whole_day else (start - 3600, end + 3600)
    specs = fleet_specs(city, n, mix or EVEN_MIX, start, end, seed)
    shifts, tracks, truths = [], [], []
    for spec in specs:
        track, plan = generate(spec, city, w0, w1, interval_s, noise)
        shifts.append(Shift(spec.worker, spec.dev, spec.grid.code, datetime.fromtimestamp(start, UTC),
                            datetime.fromtimestamp(end, UTC)))
        tracks.append(track)
        truths.append(truth(spec, plan))
    return Fleet(city, grid_shapes(city), shifts, tracks, truths)


def fixes_of(track: Track) -> Fixes:
    return Fixes.build(track.t, track.lat, track.lon, track.acc, track.mock, track.received)


def judge_fleet(fleet: Fleet, rules: Rules) -> list:
    return [judge_shift(fixes_of(tr), fleet.shapes[sh.grid], sh, rules) for sh, tr in zip(fleet.shifts, fleet.tracks)]


def accuracy(n: int, seed: int = 1, rules: Rules | None = None, noise: str = "city") -> evaluate.Score:
    fleet = simulate(n, seed, noise=NOISE[noise])
    results = judge_fleet(fleet, rules or Rules())
    return evaluate.score([(t, r.verdict, r.flags) for t, r in zip(fleet.truths, results)])


def speed(workers: int, seed: int = 7, rules: Rules | None = None) -> tuple[int, float, float]:
    """(fixes judged, wall seconds, CPU seconds) for `workers` devices reporting every 30 s all day."""
    fleet = simulate(workers, seed, whole_day=True, mix={"diligent": 6, "late": 1, "leaves_early": 1, "absent": 1,
                                                        "boundary": 1, "idle": 1})
    fixes = [fixes_of(tr) for tr in fleet.tracks]
    rules = rules or Rules()
    started, cpu = time.perf_counter(), time.process_time()
    for fx, sh in zip(fixes, fleet.shifts):
        judge_shift(fx, fleet.shapes[sh.grid], sh, rules)
    return sum(len(f) for f in fixes), time.perf_counter() - started, time.process_time() - cpu


def main(shifts: int, fleet_sizes: list[int], seed: int = 1, noise: str = "city") -> int:
    import os
    import platform

    started = time.perf_counter()
    score = accuracy(shifts, seed, noise=noise)
    print(f"accuracy: {shifts} simulated shifts ({len(plans.BEHAVIOURS)} behaviours, {noise} noise), "
          f"judged in {time.perf_counter() - started:.1f} s including generation")
    print(evaluate.format_score(score))
    ok = score.accuracy >= 0.99 and all(score.precision(f) >= 0.95 and score.recall(f) >= 0.95
                                        for f in evaluate.FLAGS)
    print(f"targets (verdicts >= 99%, each flag precision and recall >= 0.95): {'met' if ok else 'NOT met'}")
    for miss in score.misses[:10]:
        print(f"  miss: {miss['worker']} {miss['behaviour']}: truth {miss['verdict']} {miss['flags']}, "
              f"judged {miss['judged']} {miss['judged_flags']}")
    print()
    print(f"speed: a day of 30-second heartbeats per worker (2,880 fixes), one shift each, "
          f"one process on {platform.processor() or platform.machine()} ({os.cpu_count()} cores)")
    print("(generating the fixes is not timed; wall time includes other load on the machine, CPU time does not)")
    print(f"{'workers':>8}{'fixes':>12}{'wall s':>9}{'CPU s':>8}{'fixes/s':>12}{'ms/shift':>10}")
    for n in fleet_sizes:
        fixes, seconds, cpu = speed(n, seed)
        print(f"{n:>8}{fixes:>12,}{seconds:>9.2f}{cpu:>8.2f}{fixes / seconds:>12,.0f}{seconds / n * 1000:>10.2f}",
              flush=True)
    return 0 if ok else 1
