"""The flags of a shift, each a small pure detector over projected fixes.

Every detector takes local metres (x, y), device times t and accuracies, so
it can be tested on a handful of synthetic points.
"""
from __future__ import annotations

import numpy as np

from .onpost import runs
from .rules import Rules

BIN_S = 300.0  # static and idle are judged on 5-minute bins: ten fixes average out the noise, cheaply


def clock_offset(t: np.ndarray, received: np.ndarray, rules: Rules) -> float:
    """The correction to add to device times when the clock is off by more than clock_skew_s, else 0.

    Only fixes that arrived live say anything about the clock: those whose
    arrival kept pace with their device time. A backlog arrives in a burst (many
    fixes, one arrival time) and is left out, so an upload hours late is not a skew.
    """
    if len(t) < 6:
        return 0.0
    live = np.diff(received) >= 0.5 * np.diff(t)
    if live.sum() < 5:
        return 0.0
    offset = float(np.median((received - t)[1:][live]))
    return offset if abs(offset) > rules.clock_skew_s else 0.0


def impossible_speed(x: np.ndarray, y: np.ndarray, t: np.ndarray, acc: np.ndarray, rules: Rules) -> bool:
    """A move between consecutive good fixes faster than max_speed_mps even after both accuracies are
    granted. Multipath spikes are removed before this, so only jumps that stay count."""
    good = acc <= rules.speed_acc_m
    if good.sum() < 2:
        return False
    x, y, t, acc = x[good], y[good], t[good], acc[good]
    dt = np.diff(t)
    dist = np.hypot(np.diff(x), np.diff(y)) - acc[1:] - acc[:-1]
    ok = dt >= 1.0
    return bool(np.any(dist[ok] > rules.max_speed_mps * dt[ok]))


def _bins(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index runs of fixes falling in the same 5-minute bin: (bin number, start, end)."""
    b = np.floor(t / BIN_S).astype(np.int64)
    starts, ends = runs(b)
    return b[starts], starts, ends


def _ptp(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per bin, max - min."""
    return np.maximum.reduceat(values, starts) - np.minimum.reduceat(values, starts)


def _long_run(flags: np.ndarray, bins: np.ndarray, minutes: float) -> bool:
    """A run of consecutive flagged bins (no bin missing) lasting at least `minutes`."""
    need = int(np.ceil(minutes * 60.0 / BIN_S))
    best = count = 0
    prev = None
    for ok, b in zip(flags.tolist(), bins.tolist()):
        count = count + 1 if ok and prev is not None and b == prev + 1 and count else (1 if ok else 0)
        prev = b
        best = max(best, count)
    return best >= need


def static_device(lat: np.ndarray, lon: np.ndarray, x: np.ndarray, y: np.ndarray, t: np.ndarray,
                  acc: np.ndarray, rules: Rules) -> bool:
    """A phone that does not move at all: for static_minutes no more scatter than static_spread_m and
    an accuracy that does not change (a phone on a desk), or a replayed track repeating exact fixes.
    A worker standing still still shows metres of GPS scatter and wandering accuracy values."""
    if len(t) < 10:
        return False
    if replayed(lat, lon):
        return True
    bins, starts, ends = _bins(t)
    spread = np.maximum(_ptp(x, starts), _ptp(y, starts))
    static = (ends - starts >= 3) & (spread <= rules.static_spread_m) \
        & (_ptp(acc, starts) <= rules.static_acc_spread_m)
    return _long_run(static, bins, rules.static_minutes)


def replayed(lat: np.ndarray, lon: np.ndarray, min_share: float = 0.5, min_count: int = 20) -> bool:
    """Most fixes repeat an earlier fix exactly: real receivers never repeat to the last digit."""
    pairs = np.unique(np.column_stack((lat, lon)), axis=0)
    repeats = len(lat) - len(pairs)
    return repeats >= min_count and repeats >= min_share * len(lat)


def idle(x: np.ndarray, y: np.ndarray, t: np.ndarray, acc: np.ndarray, on_post: np.ndarray, rules: Rules) -> bool:
    """On post but staying within idle_radius_m for idle_minutes: consecutive bins whose fixes keep
    close to the bin's centre (allowing for the scatter their accuracy announces) and whose
    centres keep to one spot. A walker covers ~400 m in a bin: far beyond either."""
    keep = on_post
    if keep.sum() < 10:
        return False
    x, y, t, acc = x[keep], y[keep], t[keep], np.minimum(acc[keep], rules.acc_cap_m)
    bins, starts, ends = _bins(t)
    member = np.repeat(np.arange(len(starts)), ends - starts)
    # Centre of each bin as a trimmed mean: fixes far from the plain mean (multipath that got past
    # the spike filter) are left out of the second pass.
    w = np.ones(len(x))
    for _ in range(2):
        n = np.maximum(np.add.reduceat(w, starts), 1.0)
        mx, my = np.add.reduceat(x * w, starts) / n, np.add.reduceat(y * w, starts) / n
        dist = np.hypot(x - mx[member], y - my[member])
        w = (dist <= 2 * rules.idle_radius_m).astype(np.float64)
    k = (ends - starts).astype(np.float64)
    allow = rules.idle_radius_m + 0.5 * np.add.reduceat(acc, starts) / k
    tight = np.add.reduceat(dist, starts) / k <= allow
    return _anchored_run(mx, my, tight, allow, bins, rules)


def _anchored_run(mx, my, tight, allow, bins, rules: Rules) -> bool:
    """Consecutive tight bins whose centres stay within `allow` of the run's running centre."""
    need = int(np.ceil(rules.idle_minutes * 60.0 / BIN_S))
    n, sx, sy, prev = 0, 0.0, 0.0, None
    for k in range(len(bins)):
        fresh = not tight[k] or prev is None or bins[k] != prev + 1 or n == 0 \
            or np.hypot(mx[k] - sx / n, my[k] - sy / n) > allow[k]
        if fresh:
            n, sx, sy = (1, mx[k], my[k]) if tight[k] else (0, 0.0, 0.0)
        else:
            n, sx, sy = n + 1, sx + mx[k], sy + my[k]
        prev = bins[k]
        if n >= need:
            return True
    return False


def signal_gap(t: np.ndarray, lo: float, hi: float, offline: list[tuple[float, float]], rules: Rules) -> bool:
    """No fix for signal_gap_minutes within the shift, unless the device said it was offline then."""
    times = np.unique(np.concatenate(([lo, hi], np.clip(t, lo, hi))))
    gaps = np.flatnonzero(np.diff(times) > rules.signal_gap_minutes * 60.0)
    for g in gaps.tolist():
        a, b = times[g], times[g + 1]
        if not any(oa < b and ob > a for oa, ob in offline):
            return True
    return False
