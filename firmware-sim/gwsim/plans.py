"""What each simulated worker really does: a plan of legs (stay, patrol loop, ride) plus the
handset's quirks (mock provider, static phone, replay, GPS off, network outage, clock offset),
and the verdict and flags the attendance engine must find for it.

Times are epoch seconds, places local metres of the city frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .city import Grid


@dataclass(frozen=True)
class Expected:
    verdict: str
    flags: tuple[str, ...] = ()


BEHAVIOURS: dict[str, Expected] = {
    "diligent": Expected("present"),
    "late": Expected("late"),
    "leaves_early": Expected("left_early"),
    "absent": Expected("absent"),
    "wrong_grid": Expected("absent"),
    "boundary": Expected("present"),
    "outage": Expected("present"),
    "mock_location": Expected("suspect", ("mock_location",)),
    "teleport": Expected("suspect", ("impossible_speed",)),
    "phone_left": Expected("suspect", ("static_device",)),
    "replay": Expected("suspect", ("static_device",)),
    "idle": Expected("present", ("idle",)),
    "gps_off": Expected("present", ("signal_gap",)),
    "clock_skew": Expected("present", ("clock_skew",)),
}


@dataclass(frozen=True)
class Route:
    """A closed walk at `speed` m/s, at `phase` metres along it at time t0."""

    points: np.ndarray  # (k + 1, 2), closed
    speed: float
    t0: float
    phase: float = 0.0

    def at(self, t: np.ndarray) -> np.ndarray:
        seg = np.hypot(*np.diff(self.points, axis=0).T)
        cum = np.concatenate(([0.0], np.cumsum(seg)))
        s = (self.phase + self.speed * (np.asarray(t) - self.t0)) % cum[-1]
        return np.column_stack((np.interp(s, cum, self.points[:, 0]), np.interp(s, cum, self.points[:, 1])))

    def paused(self, at: float, until: float) -> "Route":
        """The same walk stopped at `at` and taken up again at `until` from where it stopped."""
        return Route(self.points, self.speed, until, self.phase + self.speed * (at - self.t0))


@dataclass(frozen=True)
class Leg:
    t0: float
    t1: float
    kind: str                       # stay | loop | ride
    a: np.ndarray | None = None     # stay: the spot; ride: from
    b: np.ndarray | None = None     # ride: to
    route: Route | None = None
    wander_m: float = 0.0


@dataclass
class Plan:
    behaviour: str
    legs: list[Leg]
    mock: bool = False
    static: list[tuple[float, float]] = field(default_factory=list)   # phone lies still: no scatter
    replay_period_s: float = 0.0                                      # > 0: fixes repeat with this period
    gaps: list[tuple[float, float]] = field(default_factory=list)     # GPS off: no fix
    outages: list[tuple[float, float]] = field(default_factory=list)  # fixes held, uploaded at the end
    clock_offset_s: float = 0.0

    @property
    def expected(self) -> Expected:
        return BEHAVIOURS[self.behaviour]

    def positions(self, t: np.ndarray) -> np.ndarray:
        out = np.zeros((len(t), 2))
        for leg in self.legs:
            m = (t >= leg.t0) & (t < leg.t1)
            if m.any():
                out[m] = _leg_at(leg, t[m])
        return out


def _leg_at(leg: Leg, t: np.ndarray) -> np.ndarray:
    if leg.kind == "loop":
        return leg.route.at(t)
    if leg.kind == "ride":
        f = ((t - leg.t0) / max(leg.t1 - leg.t0, 1e-9))[:, None]
        return leg.a + (leg.b - leg.a) * f
    w = leg.wander_m  # a person at a spot drifts a few metres, slowly
    return leg.a + w * np.column_stack((np.sin(t / 97.0 + leg.t0), np.cos(t / 131.0 + 2 * leg.t0)))


def patrol(grid: Grid, rng: np.random.Generator, t0: float) -> Route:
    """A round of the grid: 6-9 waypoints spread around its middle, walked at 1.0-1.5 m/s."""
    k = int(rng.integers(6, 10))
    ang = np.sort(rng.uniform(0, 2 * np.pi / k, k) + np.arange(k) * 2 * np.pi / k)
    r = rng.uniform(0.2, 0.42, k)
    pts = grid.at(0.5 + r * np.cos(ang), 0.5 + r * np.sin(ang))
    return Route(np.vstack([pts, pts[:1]]), float(rng.uniform(1.0, 1.5)), t0)


def boundary_patrol(grid: Grid, rng: np.random.Generator, t0: float) -> Route:
    """The street along the grid's edge: the worker walks its outer pavement, a few metres outside."""
    return Route(grid.ring(float(rng.uniform(2.0, 6.0))), float(rng.uniform(1.0, 1.5)), t0)


def _commute(home: np.ndarray, route: Route, arrive: float, leave: float, w0: float, w1: float,
             rng: np.random.Generator) -> list[Leg]:
    """Home, a ride at road speed to the patrol, the patrol, a ride home."""
    speed = float(rng.uniform(5.0, 25.0))  # bicycle to car on a ring road
    entry = route.at(np.array([arrive]))[0]
    exit_ = route.at(np.array([leave]))[0]
    ride_in = float(np.hypot(*(entry - home))) / speed
    ride_out = float(np.hypot(*(exit_ - home))) / speed
    return [Leg(w0, arrive - ride_in, "stay", home, wander_m=10.0),
            Leg(arrive - ride_in, arrive, "ride", home, entry),
            Leg(arrive, leave, "loop", route=route),
            Leg(leave, leave + ride_out, "ride", exit_, home),
            Leg(leave + ride_out, w1 + 1, "stay", home, wander_m=10.0)]


def build(behaviour: str, grid: Grid, home: np.ndarray, start: float, end: float, w0: float, w1: float,
          rng: np.random.Generator, neighbour: Grid | None = None) -> Plan:
    """The plan of one worker shift [start, end] within the simulated window [w0, w1].

    `neighbour` is the grid next door, where a `wrong_grid` worker patrols instead."""
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r}; known: {', '.join(BEHAVIOURS)}")
    u = rng.uniform
    # Punctual is within 10 minutes either side: the verdict thresholds (15 min) are 5 minutes away
    # from both the honest and the late/early cases.
    arrive, leave = start + u(-12, 10) * 60, end + u(-10, 10) * 60
    if behaviour == "late":
        arrive = start + u(20, 60) * 60
    elif behaviour == "leaves_early":
        leave = end - u(20, 75) * 60
    if behaviour == "wrong_grid":
        grid = neighbour or grid
    route = (boundary_patrol if behaviour == "boundary" else patrol)(grid, rng, arrive)
    if behaviour == "absent":
        return _absent(grid, home, start, end, w0, w1, rng)
    if behaviour == "teleport":
        return _teleport(home, route, start, end, w0, w1, rng)
    plan = Plan(behaviour, _commute(home, route, arrive, leave, w0, w1, rng))
    _quirks(plan, route, start, end, rng)
    return plan


def _quirks(plan: Plan, route: Route, start: float, end: float, rng: np.random.Generator) -> None:
    u, b = rng.uniform, plan.behaviour
    mid = u(start + 3600, end - 3 * 3600)
    if b == "mock_location":
        plan.mock = True
    elif b == "phone_left":
        loop, ride = plan.legs[2], plan.legs[3]
        desk = route.at(np.array([loop.t0]))[0]
        plan.legs[2:4] = [Leg(loop.t0, loop.t1, "stay", desk), Leg(ride.t0, ride.t1, "ride", desk, ride.b)]
        plan.static.append((loop.t0, loop.t1))
    elif b == "replay":
        plan.replay_period_s = float(rng.choice([1200.0, 1800.0, 2400.0]))
    elif b == "gps_off":
        plan.gaps.append((mid, mid + u(30, 60) * 60))
    elif b == "outage":
        plan.outages.append((mid, mid + u(30, 90) * 60))
    elif b == "clock_skew":
        plan.clock_offset_s = float(rng.choice([-1, 1]) * u(10, 40) * 60)
    elif b == "diligent" and rng.uniform() < 0.4:
        _lunch(plan, route, mid, rng)
    elif b == "idle":
        loop = plan.legs[2]
        a, dur = mid, u(60, 120) * 60
        spot = route.at(np.array([a]))[0]
        resumed = route.paused(a, a + dur)
        plan.legs[2:4] = [Leg(loop.t0, a, "loop", route=route), Leg(a, a + dur, "stay", spot, wander_m=6.0),
                          Leg(a + dur, loop.t1, "loop", route=resumed),
                          Leg(plan.legs[3].t0, plan.legs[3].t1, "ride", resumed.at(np.array([loop.t1]))[0],
                              plan.legs[3].b)]


def _lunch(plan: Plan, route: Route, at: float, rng: np.random.Generator) -> None:
    """A 30-50 minute lunch in a restaurant well outside the grid (350-600 m from where the walk
    stops, which is at most ~300 m inside), walked to and back."""
    loop, ride = plan.legs[2], plan.legs[3]
    here = route.at(np.array([at]))[0]
    away = here - route.points[:-1].mean(axis=0)
    spot = here + away / max(np.linalg.norm(away), 1.0) * rng.uniform(350, 600)
    walk = float(np.linalg.norm(spot - here)) / 1.3
    dur = rng.uniform(30, 50) * 60
    back = at + walk + dur + walk
    resumed = route.paused(at, back)
    plan.legs[2:4] = [Leg(loop.t0, at, "loop", route=route), Leg(at, at + walk, "ride", here, spot),
                      Leg(at + walk, at + walk + dur, "stay", spot, wander_m=5.0),
                      Leg(at + walk + dur, back, "ride", spot, here),
                      Leg(back, loop.t1, "loop", route=resumed),
                      Leg(ride.t0, ride.t1, "ride", resumed.at(np.array([loop.t1]))[0], ride.b)]


def _absent(grid: Grid, home: np.ndarray, start: float, end: float, w0: float, w1: float,
            rng: np.random.Generator) -> Plan:
    """Stays away; some drop by for a few minutes (still under a tenth of the shift)."""
    if rng.uniform() < 0.6:
        return Plan("absent", [Leg(w0, w1 + 1, "stay", home, wander_m=25.0)])
    visit = rng.uniform(start + 3600, end - 3600)
    route = patrol(grid, rng, visit)
    legs = _commute(home, route, visit, visit + rng.uniform(5, 20) * 60, w0, w1, rng)
    return Plan("absent", legs)


def _teleport(home: np.ndarray, route: Route, start: float, end: float, w0: float, w1: float,
              rng: np.random.Generator) -> Plan:
    """A spoofing app that jumps between home and the grid: blocks of 15-45 minutes in each place."""
    far = home if np.hypot(*(home - route.points[0])) > 3000 else route.points[0] + (home - route.points[0]) * 4
    legs, t, there = [], w0, False
    while t < w1:
        dur = rng.uniform(15, 45) * 60
        in_shift = start - 600 < t < end
        legs.append(Leg(t, t + dur, "loop", route=route) if there and in_shift
                    else Leg(t, t + dur, "stay", far, wander_m=10.0))
        there = not there
        t += dur
    return Plan("teleport", legs)
