"""The pure attendance engine on small hand-made tracks, and its accuracy on simulated shifts."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from shapely.geometry import box

from cloud.attendance.engine import judge_shift, verdict
from cloud.attendance.geometry import GridShape
from cloud.attendance.model import Fixes, Shift
from cloud.attendance.onpost import debounce, spikes
from cloud.attendance.rules import Rules

UTC = timezone.utc
START = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
END = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
LAT0, LON0 = 31.23, 121.47
M_LAT = 1 / 111_195.0
M_LON = M_LAT / np.cos(np.radians(LAT0))
# A 400 m square grid with its south-west corner at (LAT0, LON0).
GRID = GridShape("G1", box(LON0, LAT0, LON0 + 400 * M_LON, LAT0 + 400 * M_LAT))
SHIFT = Shift("ann", "h-ann", "G1", START, END)
RULES = Rules()


def track(xy_at, start_min=-30, end_min=570, every_s=30.0, acc=8.0, seed=1, sigma=5.0, **kw) -> Fixes:
    """Fixes every `every_s` from `start_min` to `end_min` (minutes from the shift start) of the true
    position xy_at(minute) in metres from the grid's corner, with Gaussian scatter."""
    rng = np.random.default_rng(seed)
    t = START.timestamp() + np.arange(start_min * 60, end_min * 60, every_s)
    minutes = (t - START.timestamp()) / 60
    xy = np.array([xy_at(m) for m in minutes], dtype=float) + rng.normal(0, sigma, (len(t), 2))
    accs = np.full(len(t), acc) + rng.uniform(0, 4, len(t))
    return Fixes.build(t, LAT0 + xy[:, 1] * M_LAT, LON0 + xy[:, 0] * M_LON, accs, **kw)


def walk(m):
    """A patrol round the inside of the grid, 1.2 m/s."""
    s = (m * 72.0) % 1200.0
    side, f = divmod(s, 300.0)
    return [(50 + f, 50), (350, 50 + f), (350 - f, 350), (50, 350 - f)][int(side)]


def away(m):
    """A spot 600 m east: near enough that going there and back is a ride, not a teleport."""
    return (1000.0, 200.0)


def test_a_worker_patrolling_the_whole_shift_is_present_with_high_coverage():
    r = judge_shift(track(walk), GRID, SHIFT, RULES)
    assert (r.verdict, r.flags) == ("present", ())
    assert r.on_post_minutes == pytest.approx(540, abs=1)
    assert 0.4 < r.coverage < 0.9   # a ring 25 m either side of the walk, not the middle


def test_arrival_35_minutes_late_is_late_and_judged_by_fix_time_not_arrival():
    fixes = track(lambda m: walk(m) if m >= 35 else away(m))
    # the whole shift uploaded as one backlog after its end changes nothing
    backlog = Fixes.build(fixes.t, fixes.lat, fixes.lon, fixes.acc, received=np.full(len(fixes), END.timestamp() + 60))
    for fx in (fixes, backlog):
        r = judge_shift(fx, GRID, SHIFT, RULES)
        assert r.verdict == "late" and 30 <= (r.first_on_post - START.timestamp()) / 60 <= 37


def test_leaving_an_hour_early_is_left_early_and_late_wins_when_both():
    assert judge_shift(track(lambda m: walk(m) if m < 480 else away(m)), GRID, SHIFT, RULES).verdict == "left_early"
    both = track(lambda m: walk(m) if 40 <= m < 480 else away(m))
    assert judge_shift(both, GRID, SHIFT, RULES).verdict == "late"


def test_under_a_tenth_of_the_shift_on_post_is_absent_and_no_fix_at_all_too():
    brief = track(lambda m: walk(m) if 100 <= m < 140 else away(m))
    assert judge_shift(brief, GRID, SHIFT, RULES).verdict == "absent"
    r = judge_shift(Fixes.empty(), GRID, SHIFT, RULES)
    assert (r.verdict, r.flags, r.on_post_minutes) == ("absent", ("signal_gap",), 0)


def test_a_walk_on_the_boundary_street_just_outside_counts_by_accuracy():
    # 6 m outside the west edge, up and down: every true position is outside the polygon
    fixes = track(lambda m: (-6.0, (m * 72.0) % 400.0), sigma=8.0, acc=12.0)
    assert judge_shift(fixes, GRID, SHIFT, RULES).verdict == "present"
    # but accuracy is capped: 300 m off with a 2 km network fix is not on post
    far = track(lambda m: (-300.0, 200.0), acc=2000.0)
    assert judge_shift(far, GRID, SHIFT, RULES).verdict == "absent"


def test_single_multipath_jumps_neither_flap_the_state_nor_look_like_speed():
    fixes = track(walk)
    lat, lon = fixes.lat.copy(), fixes.lon.copy()
    lat[5::40] += 140 * M_LAT      # a 140 m jump every 20 minutes, back at the next fix
    fx = Fixes.build(fixes.t, lat, lon, fixes.acc)
    r = judge_shift(fx, GRID, SHIFT, RULES)
    assert (r.verdict, r.flags) == ("present", ())
    assert r.excursions == ()


def test_debounce_needs_a_run_of_fixes_and_dates_the_change_back_to_its_first_fix():
    raw = np.array([0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    t = np.arange(len(raw)) * 30.0
    # the lone in-fix at 2 enters nothing, the lone out-fix at 11 leaves nothing
    assert debounce(raw, t, RULES).astype(int).tolist() == [0] * 7 + [1] * 8 + [0] * 5


def test_spikes_are_single_fixes_off_the_line_not_turns_or_jumps_that_stay():
    x = np.array([0, 39, 178, 117, 156, 5000, 5039, 5078.0])
    y = np.zeros(8)
    y[2] = 120
    t = np.arange(8) * 30.0
    assert spikes(x, y, t, 45).tolist() == [False, False, True, False, False, False, False, False]


@pytest.mark.parametrize("flags,minutes,late,early,expected", [
    (("idle",), 540, 0, 0, "present"), (("mock_location",), 540, 0, 0, "suspect"),
    ((), 50, 0, 0, "absent"), ((), 500, 16, 0, "late"), ((), 500, 0, 16, "left_early"),
    ((), 500, 15, 15, "present"), (("signal_gap",), 500, 20, 20, "late")])
def test_verdict_rules_of_the_contract(flags, minutes, late, early, expected):
    assert verdict(minutes, 540, late, early, flags, RULES) == expected


def test_thresholds_come_from_the_rules():
    fixes = track(lambda m: walk(m) if m >= 20 else away(m))
    assert judge_shift(fixes, GRID, SHIFT, RULES).verdict == "late"
    assert judge_shift(fixes, GRID, SHIFT, Rules(late_minutes=30)).verdict == "present"


def test_mock_teleport_static_idle_gap_and_skew_flags():
    assert judge_shift(track(walk, mock=np.ones(1200, bool)), GRID, SHIFT, RULES).flags == ("mock_location",)
    hop = track(lambda m: walk(m) if (m // 30) % 2 else (5200.0, 0.0))
    assert judge_shift(hop, GRID, SHIFT, RULES).flags == ("impossible_speed",)
    desk = track(lambda m: (200.0, 200.0), sigma=0.2, acc=15.0)
    desk = Fixes.build(desk.t, desk.lat, desk.lon, np.full(len(desk), 15.0))
    assert judge_shift(desk, GRID, SHIFT, RULES).flags == ("static_device",)
    bench = track(lambda m: (200.0, 200.0) if 100 <= m < 170 else walk(m), sigma=6.0)
    assert judge_shift(bench, GRID, SHIFT, RULES).flags == ("idle",)
    fixes = track(walk)
    gap = (fixes.t < START.timestamp() + 3600) | (fixes.t > START.timestamp() + 5400)
    holed = Fixes.build(fixes.t[gap], fixes.lat[gap], fixes.lon[gap], fixes.acc[gap])
    assert judge_shift(holed, GRID, SHIFT, RULES).flags == ("signal_gap",)
    # ... unless the device said it was offline during the hole
    offline = [(START.timestamp() + 3500, START.timestamp() + 5500)]
    assert judge_shift(holed, GRID, SHIFT, RULES, offline).flags == ()
    ahead = Fixes.build(fixes.t + 1200, fixes.lat, fixes.lon, fixes.acc, received=fixes.t + 1)
    r = judge_shift(ahead, GRID, SHIFT, RULES)
    assert (r.verdict, r.flags, round(r.clock_offset_s / 60)) == ("present", ("clock_skew",), -20)


def test_a_ride_at_road_speed_is_not_an_impossible_speed():
    fast = track(lambda m: (200.0 + m * 60 * 30.0, 200.0) if m > 545 else walk(m))  # a 30 m/s car at the end
    assert "impossible_speed" not in judge_shift(fast, GRID, SHIFT, RULES).flags
