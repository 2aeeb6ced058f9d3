"""The thresholds of the attendance engine, as one frozen value built from settings.

The defaults are CONTRACT section 6's rules; every one is a `GRIDWATCH_ATTENDANCE_*`
setting so a city can tune them without a code change.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gridwatch.settings import Settings

SPOOFING_FLAGS = ("mock_location", "impossible_speed", "static_device")


@dataclass(frozen=True, slots=True)
class Rules:
    # Accuracy: a fix is on post when the grid lies within min(acc, acc_cap_m) of it;
    # fixes worse than unusable_acc_m say nothing about where the worker is.
    acc_cap_m: float = 50.0
    unusable_acc_m: float = 500.0
    # Debounce: a change of side counts once it holds for this many fixes or seconds.
    enter_fixes: int = 3
    enter_s: float = 90.0
    leave_fixes: int = 3
    leave_s: float = 120.0
    # A fix vouches for where the worker is until the next one, but for no longer than this.
    max_fix_gap_s: float = 300.0
    # A single fix this far off the line between its neighbours is multipath, not a walk.
    spike_m: float = 45.0
    # Fixes judged from this long before the start to this long after the end.
    margin_s: float = 1800.0
    # Verdicts
    absent_share: float = 0.10
    late_minutes: float = 15.0
    early_minutes: float = 15.0
    spoofing_flags: tuple[str, ...] = SPOOFING_FLAGS
    # Flags
    max_speed_mps: float = 50.0
    speed_acc_m: float = 50.0
    static_minutes: float = 30.0
    static_spread_m: float = 1.5
    static_acc_spread_m: float = 0.5
    idle_minutes: float = 40.0
    idle_radius_m: float = 30.0
    signal_gap_minutes: float = 15.0
    clock_skew_s: float = 300.0
    # Coverage: share of the grid within coverage_radius_m of the track, on a raster of cell_m.
    coverage_radius_m: float = 25.0
    coverage_cell_m: float = 10.0
    # Live event when a worker is off post this long during a shift.
    outside_alert_minutes: float = 10.0

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Rules":
        """Every field from the setting `attendance_<field>`, where one exists."""
        values = {}
        for f in fields(cls):
            name = f"attendance_{f.name}"
            if hasattr(settings, name):
                value = getattr(settings, name)
                values[f.name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)
