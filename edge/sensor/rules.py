"""A threshold with hysteresis and debounce, as a small state machine.

Raise after the value has been past the threshold for `debounce_s`; clear
after it has been back past `clear_at` for `clear_debounce_s`. Values between
`clear_at` and the threshold change nothing (hysteresis), and a blip shorter
than the debounce restarts nothing: the timer resets when the condition breaks.
"""
from __future__ import annotations

from .config import Rule


class Threshold:
    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.raised = False
        self._since: float | None = None      # when the pending transition's condition started to hold
        side = rule.above if rule.above is not None else rule.below
        self._clear_at = rule.clear_at if rule.clear_at is not None else side
        self._clear_debounce = rule.clear_debounce_s if rule.clear_debounce_s is not None else rule.debounce_s

    def _past(self, value: float) -> bool:
        r = self.rule
        return value > r.above if r.above is not None else value < r.below

    def _back(self, value: float) -> bool:
        return value <= self._clear_at if self.rule.above is not None else value >= self._clear_at

    def step(self, value: float, t: float) -> str | None:
        """`raised`, `cleared` or None for the value read at `t` (seconds)."""
        want = self._back(value) if self.raised else self._past(value)
        if not want:
            self._since = None
            return None
        if self._since is None:
            self._since = t
        if t - self._since < (self._clear_debounce if self.raised else self.rule.debounce_s):
            return None
        self._since = None
        self.raised = not self.raised
        return "raised" if self.raised else "cleared"
