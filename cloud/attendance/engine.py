"""Judge one worker shift: the pure core of attendance.

    fixes of the device  ->  clock offset  ->  shift window  ->  local metres
      -> multipath spikes out  ->  accuracy-aware in/out  ->  debounced state
      -> on-post periods, flags, coverage  ->  verdict

Everything is judged by the fix's own time `ts` (corrected only when the
device clock is found off by more than `clock_skew_s`), never by arrival, so
a backlog uploaded hours later gives the same result as live delivery.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import flags as fl
from .coverage import coverage
from .geometry import GridShape
from .model import Fixes, Shift, ShiftResult
from .onpost import debounce, off_post_periods, on_post_intervals, spikes
from .rules import Rules

VERDICTS = ("present", "late", "left_early", "absent", "suspect")
FLAGS = ("mock_location", "impossible_speed", "static_device", "idle", "signal_gap", "clock_skew")


def verdict(on_post_min: float, shift_min: float, late_min: float | None, early_min: float | None,
            flags: tuple[str, ...], rules: Rules) -> str:
    """CONTRACT section 6: suspect on a spoofing flag; absent under absent_share; late wins over left_early."""
    if any(f in rules.spoofing_flags for f in flags):
        return "suspect"
    if on_post_min < rules.absent_share * shift_min or late_min is None or early_min is None:
        return "absent"
    if late_min > rules.late_minutes:
        return "late"
    if early_min > rules.early_minutes:
        return "left_early"
    return "present"


@dataclass(frozen=True)
class Track:
    """A device's fixes around one shift, prepared: clock-corrected, in grid metres, cleaned, judged in/out."""

    fx: Fixes               # every fix of the window [lo - margin, hi + margin]
    x: np.ndarray           # ... in grid metres
    y: np.ndarray
    clean: np.ndarray       # usable accuracy and not a multipath spike
    state: np.ndarray       # debounced on-post state of the clean fixes
    lo: float
    hi: float
    offset: float           # clock correction applied (0 when the clock is fine)

    @property
    def t(self) -> np.ndarray:
        return self.fx.t[self.clean]

    @property
    def in_shift(self) -> np.ndarray:
        """Of the clean fixes, those within the shift."""
        t = self.t
        return (t >= self.lo) & (t <= self.hi)

    @property
    def shift_mask(self) -> np.ndarray:
        """Of all fixes, those within the shift."""
        return (self.fx.t >= self.lo) & (self.fx.t <= self.hi)


def prepare(fixes: Fixes, grid: GridShape, lo: float, hi: float, rules: Rules) -> Track:
    around = fixes.between(lo - rules.margin_s, hi + rules.margin_s)
    offset = fl.clock_offset(around.t, around.received, rules)
    if offset:
        around = fixes.shifted(offset).between(lo - rules.margin_s, hi + rules.margin_s)
    x, y = grid.proj.xy(around.lat, around.lon)
    usable = around.acc <= rules.unusable_acc_m
    clean = usable.copy()
    clean[usable] = ~spikes(x[usable], y[usable], around.t[usable], rules.spike_m)
    acc = around.acc[clean]
    state = debounce(grid.reach(x[clean], y[clean], np.minimum(acc, rules.acc_cap_m)), around.t[clean], rules)
    return Track(around, x, y, clean, state, lo, hi, offset)


def judge_shift(fixes: Fixes, grid: GridShape, shift: Shift, rules: Rules,
                offline: list[tuple[float, float]] = (), now: float | None = None,
                cover: GridShape | None = None) -> ShiftResult:
    """Minutes on post, coverage, verdict and flags of `shift` from its device's `fixes`.

    `fixes` may hold more than the shift (a day of them); `offline` are periods
    (epoch seconds) the device declared itself offline, which excuse a gap.
    With `now` inside the shift, it is judged as a shift ending now: the
    provisional result of a shift under way. `grid` is the post (the union of
    a worker's grids when it holds several at once); `cover`, when given, the
    one grid whose coverage is reported.
    """
    lo, hi = shift.start_s, shift.end_s if now is None else max(shift.start_s, min(shift.end_s, now))
    tr = prepare(fixes, grid, lo, hi, rules)
    on = on_post_intervals(tr.t, tr.state, lo, hi, rules.max_fix_gap_s)
    found = _flags(tr, offline, rules)
    on_min = sum(b - a for a, b in on) / 60.0
    first, last = (on[0][0], on[-1][1]) if on else (None, None)
    return ShiftResult(
        on_post_minutes=round(on_min, 2),
        coverage=round(_coverage(tr, grid, cover or grid, rules), 4),
        verdict=verdict(on_min, (hi - lo) / 60.0, None if first is None else (first - lo) / 60.0,
                        None if last is None else (hi - last) / 60.0, found, rules),
        flags=found, first_on_post=first, last_on_post=last, fixes=int(tr.shift_mask.sum()),
        on_post_now=bool(tr.state[-1]) if len(tr.state) else False,
        last_fix=float(tr.t[-1]) if len(tr.t) else None, clock_offset_s=tr.offset,
        excursions=tuple((a, b) for a, b in off_post_periods(on, lo, hi)
                         if b - a >= rules.outside_alert_minutes * 60.0),
    )


def _coverage(tr: Track, post: GridShape, cover: GridShape, rules: Rules) -> float:
    good = tr.in_shift & (tr.fx.acc[tr.clean] <= rules.acc_cap_m)
    if cover is post:
        return coverage(cover, tr.x[tr.clean][good], tr.y[tr.clean][good], rules)
    x, y = cover.proj.xy(tr.fx.lat[tr.clean][good], tr.fx.lon[tr.clean][good])
    return coverage(cover, x, y, rules)


def _flags(tr: Track, offline, rules: Rules) -> tuple[str, ...]:
    fx, sm, cm, ins = tr.fx, tr.shift_mask, tr.clean, tr.in_shift
    cx, cy, acc = tr.x[cm], tr.y[cm], fx.acc[cm]
    found = []
    if fx.mock[sm].any():
        found.append("mock_location")
    if fl.impossible_speed(cx[ins], cy[ins], tr.t[ins], acc[ins], rules):
        found.append("impossible_speed")
    static = fl.static_device(fx.lat[sm], fx.lon[sm], tr.x[sm], tr.y[sm], fx.t[sm], fx.acc[sm], rules)
    if static:
        found.append("static_device")
    # A phone on a desk is not a worker idling: static supersedes idle.
    if not static and fl.idle(cx[ins], cy[ins], tr.t[ins], acc[ins], tr.state[ins], rules):
        found.append("idle")
    if fl.signal_gap(fx.t, tr.lo, tr.hi, list(offline), rules):
        found.append("signal_gap")
    if tr.offset:
        found.append("clock_skew")
    return tuple(f for f in FLAGS if f in found)
