"""Coalesce receipt cursors into at most one receipt per device and kind per interval.

Pure bookkeeping: the worker offers cursors that advanced after a commit and
publishes what `offer` and `due` return.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReceiptCoalescer:
    interval_s: float = 1.0
    max_tracked: int = 200_000
    _last_sent: dict[tuple[str, str], float] = field(default_factory=dict)
    _pending: dict[tuple[str, str], int] = field(default_factory=dict)

    def offer(self, dev: str, kind: str, seq: int, now: float) -> list[tuple[str, str, int]]:
        key = (dev, kind)
        last = self._last_sent.get(key)
        if last is None or now - last >= self.interval_s:
            self._pending.pop(key, None)
            self._mark(key, now)
            return [(dev, kind, seq)]
        if seq > self._pending.get(key, -1):
            self._pending[key] = seq
        return []

    def due(self, now: float) -> list[tuple[str, str, int]]:
        ready = [k for k in self._pending if now - self._last_sent.get(k, 0.0) >= self.interval_s]
        out = []
        for key in ready:
            out.append((key[0], key[1], self._pending.pop(key)))
            self._mark(key, now)
        return out

    def _mark(self, key: tuple[str, str], now: float) -> None:
        self._last_sent[key] = now
        if len(self._last_sent) > self.max_tracked:
            # Forget devices quiet for longer than the interval: they would be sent at once anyway.
            cutoff = now - self.interval_s
            self._last_sent = {k: t for k, t in self._last_sent.items() if t >= cutoff or k in self._pending}
