"""Plain values the engine works on: a device's fixes, a shift, a shift's result."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

UTC = timezone.utc


@dataclass(frozen=True)
class Fixes:
    """One device's fixes, sorted by device time. Times are epoch seconds (float64).

    `t` is the device's `ts` (when the fix was taken), `received` when the cloud
    stored it: a backlog upload has received >> t, and only `t` places a fix in a shift.
    """

    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    acc: np.ndarray
    mock: np.ndarray
    received: np.ndarray

    @classmethod
    def build(cls, t, lat, lon, acc, mock=None, received=None) -> "Fixes":
        t = np.asarray(t, dtype=np.float64)
        n = len(t)
        mock = np.zeros(n, dtype=bool) if mock is None else np.asarray(mock, dtype=bool)
        received = t.copy() if received is None else np.asarray(received, dtype=np.float64)
        arrays = (t, np.asarray(lat, np.float64), np.asarray(lon, np.float64), np.asarray(acc, np.float64),
                  mock, received)
        if n and np.any(np.diff(t) < 0):
            order = np.argsort(t, kind="stable")
            arrays = tuple(a[order] for a in arrays)
        return cls(*arrays)

    @classmethod
    def empty(cls) -> "Fixes":
        return cls.build(np.empty(0), np.empty(0), np.empty(0), np.empty(0))

    def __len__(self) -> int:
        return len(self.t)

    def between(self, lo: float, hi: float) -> "Fixes":
        """The fixes with lo <= t <= hi (a view: no copy)."""
        i = int(np.searchsorted(self.t, lo, side="left"))
        j = int(np.searchsorted(self.t, hi, side="right"))
        return Fixes(*(a[i:j] for a in (self.t, self.lat, self.lon, self.acc, self.mock, self.received)))

    def shifted(self, seconds: float) -> "Fixes":
        """The same fixes with device times moved by `seconds` (a clock offset corrected)."""
        return Fixes(self.t + seconds, self.lat, self.lon, self.acc, self.mock, self.received)


@dataclass(frozen=True, slots=True)
class Shift:
    """One roster line expanded to a day: `worker` holds `grid` with device `dev` from start to end."""

    worker: str
    dev: str
    grid: str
    start: datetime
    end: datetime

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def end_s(self) -> float:
        return self.end.timestamp()


@dataclass(frozen=True)
class ShiftResult:
    on_post_minutes: float
    coverage: float
    verdict: str
    flags: tuple[str, ...]
    first_on_post: float | None       # epoch seconds
    last_on_post: float | None
    fixes: int
    on_post_now: bool                 # the state after the last fix
    last_fix: float | None
    clock_offset_s: float             # added to device times when clock_skew was found, else 0
    excursions: tuple[tuple[float, float], ...] = field(default=())  # off-post periods over the alert time

    def as_detail(self) -> dict:
        return {"clock_offset_s": round(self.clock_offset_s, 1),
                "excursions": [[_iso(a), _iso(b)] for a, b in self.excursions]}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
