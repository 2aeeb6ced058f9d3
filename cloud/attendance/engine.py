"""Judge one worker shift: the pure core of attendance.

    fixes of the device  ->  clock offset  ->  shift window  ->  local metres
      -> multipath spikes out  ->  accuracy-aware in/out  ->  debounced state
      -> on-post periods, flags, coverage  ->  verdict

Everything is judged by the fix's own time `ts` (corrected only when the
device clock is found off by more than `clock_skew_s`), never by arrival, so
a backlog uploaded hours later gives the same result as live delivery.
"""
from __future__ import annotations

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


def judge_shift(fixes: Fixes, grid: GridShape, shift: Shift, rules: Rules,
                offline: list[tuple[float, float]] = (), now: float | None = None) -> ShiftResult:
    """Minutes on post, coverage, verdict and flags of `shift` from its device's `fixes`.

    `fixes` may hold more than the shift (a day of them); `offline` are periods
    (epoch seconds) the device declared itself offline, which excuse a gap.
    With `now` inside the shift, it is judged as a shift ending now: the
    provisional result of a shift under way.
    """
    lo, hi = shift.start_s, shift.end_s if now is None else max(shift.start_s, min(shift.end_s, now))
    around = fixes.between(lo - rules.margin_s, hi + rules.margin_s)
    offset = fl.clock_offset(around.t, around.received, rules)
    if offset:
        around = fixes.shifted(offset).between(lo - rules.margin_s, hi + rules.margin_s)
    x, y = grid.proj.xy(around.lat, around.lon)
    usable = around.acc <= rules.unusable_acc_m
    clean = usable.copy()
    clean[usable] = ~spikes(x[usable], y[usable], around.t[usable], rules.spike_m)
    t, cx, cy, acc = around.t[clean], x[clean], y[clean], around.acc[clean]
    state = debounce(grid.reach(cx, cy, np.minimum(acc, rules.acc_cap_m)), t, rules)
    on = on_post_intervals(t, state, lo, hi, rules.max_fix_gap_s)
    in_shift = (t >= lo) & (t <= hi)
    found = _flags(around, x, y, clean, t, cx, cy, acc, state, in_shift, lo, hi, offset, offline, rules)
    on_min = sum(b - a for a, b in on) / 60.0
    first, last = (on[0][0], on[-1][1]) if on else (None, None)
    good = in_shift & (acc <= rules.acc_cap_m)
    return ShiftResult(
        on_post_minutes=round(on_min, 2),
        coverage=round(coverage(grid, cx[good], cy[good], rules), 4),
        verdict=verdict(on_min, (hi - lo) / 60.0, None if first is None else (first - lo) / 60.0,
                        None if last is None else (hi - last) / 60.0, found, rules),
        flags=found, first_on_post=first, last_on_post=last, fixes=int(((around.t >= lo) & (around.t <= hi)).sum()),
        on_post_now=bool(state[-1]) if len(state) else False, last_fix=float(t[-1]) if len(t) else None,
        clock_offset_s=offset,
        excursions=tuple((a, b) for a, b in off_post_periods(on, lo, hi)
                         if b - a >= rules.outside_alert_minutes * 60.0),
    )


def _flags(around: Fixes, x, y, clean, t, cx, cy, acc, state, in_shift, lo, hi, offset, offline,
           rules: Rules) -> tuple[str, ...]:
    shift = (around.t >= lo) & (around.t <= hi)
    found = []
    if around.mock[shift].any():
        found.append("mock_location")
    if fl.impossible_speed(cx[in_shift], cy[in_shift], t[in_shift], acc[in_shift], rules):
        found.append("impossible_speed")
    static = fl.static_device(around.lat[shift], around.lon[shift], x[shift], y[shift], around.t[shift],
                              around.acc[shift], rules)
    if static:
        found.append("static_device")
    # A phone on a desk is not a worker idling: static supersedes idle.
    if not static and fl.idle(cx[in_shift], cy[in_shift], t[in_shift], state[in_shift], rules):
        found.append("idle")
    if fl.signal_gap(around.t, lo, hi, list(offline), rules):
        found.append("signal_gap")
    if offset:
        found.append("clock_skew")
    return tuple(f for f in FLAGS if f in found)
