"""From fixes to on-post time: multipath spikes out, accuracy-aware sides, debounced states.

A fix is "in" when the grid lies within its accuracy circle (capped, so a
2 km network fix proves nothing). The raw in/out sequence is then debounced: a
change of side counts only once it holds for `enter_fixes`/`leave_fixes`
fixes or `enter_s`/`leave_s` seconds, and then from the first fix of that run
on, so one noisy fix never flaps the state and a real arrival is not delayed.
"""
from __future__ import annotations

import numpy as np

from .rules import Rules


def spikes(x: np.ndarray, y: np.ndarray, t: np.ndarray, spike_m: float) -> np.ndarray:
    """Single fixes far off the line between their two neighbours that the track then returns to.

    Interpolated by time, so a walker turning round at a street's end is not a
    spike; a persistent jump (a teleport that stays) is not one either.
    """
    out = np.zeros(len(x), dtype=bool)
    if len(x) < 3:
        return out
    dt = t[2:] - t[:-2]
    f = np.divide(t[1:-1] - t[:-2], dt, out=np.full(len(dt), 0.5), where=dt > 0)
    ix = x[:-2] + (x[2:] - x[:-2]) * f
    iy = y[:-2] + (y[2:] - y[:-2]) * f
    dev = np.hypot(x[1:-1] - ix, y[1:-1] - iy)
    skip = np.hypot(x[2:] - x[:-2], y[2:] - y[:-2])
    out[1:-1] = (dev > spike_m) & (dev > 0.5 * skip + 20.0)
    return out


def runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of equal values."""
    if len(values) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(values)]))
    return starts, ends


def majority(raw: np.ndarray, window: int = 5) -> np.ndarray:
    """Each fix takes the majority side of the `window` fixes centred on it.

    A worker on a boundary street sees in, in, out, in, in, out...: no run is
    long enough to count, but the majority is plainly "in".
    """
    if len(raw) < 3:
        return raw.copy()
    kernel = np.ones(window)
    votes = np.convolve(raw.astype(np.float64), kernel, mode="same")
    counts = np.convolve(np.ones(len(raw)), kernel, mode="same")
    return votes * 2 > counts


def debounce(raw: np.ndarray, t: np.ndarray, rules: Rules) -> np.ndarray:
    """The debounced on-post state of each fix (starting off post)."""
    raw = majority(raw)
    state = np.zeros(len(raw), dtype=bool)
    starts, ends = runs(raw)
    current = False
    run_from = 0  # index where the current state's run began
    for s, e in zip(starts.tolist(), ends.tolist()):
        value = bool(raw[s])
        if value == current:
            continue
        need_n, need_s = (rules.enter_fixes, rules.enter_s) if value else (rules.leave_fixes, rules.leave_s)
        if e - s >= need_n or t[e - 1] - t[s] >= need_s:
            state[run_from:s] = current
            current, run_from = value, s
    state[run_from:] = current
    return state


def on_post_intervals(t: np.ndarray, state: np.ndarray, lo: float, hi: float,
                      max_gap_s: float) -> list[tuple[float, float]]:
    """Merged [from, to) periods on post within [lo, hi]; each fix vouches until the next, at most max_gap_s."""
    if len(t) == 0 or not state.any():
        return []
    nxt = np.append(t[1:], t[-1] + max_gap_s)
    until = np.minimum(nxt, t + max_gap_s)
    a = np.clip(t[state], lo, hi)
    b = np.clip(until[state], lo, hi)
    keep = b > a
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return []
    # Merge touching pieces: a new period starts where a piece begins after the previous one ended.
    cut = np.flatnonzero(a[1:] > b[:-1]) + 1
    starts = np.concatenate(([0], cut))
    ends = np.concatenate((cut, [len(a)])) - 1
    return list(zip(a[starts].tolist(), b[ends].tolist()))


def off_post_periods(on: list[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    """The complement of `on` within [lo, hi]."""
    out, cursor = [], lo
    for a, b in on:
        if a > cursor:
            out.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < hi:
        out.append((cursor, hi))
    return out
