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

    def sent(self, dev: str, kind: str, now: float) -> None:
        """A receipt went out at `now` (after the claim that allowed it, so the next claim,
        an interval later, finds the shared send time old enough). It carried the cursor's
        committed seq, which covers whatever was held for the key."""
        self._pending.pop((dev, kind), None)
        self._mark((dev, kind), now)

    def hold(self, dev: str, kind: str, seq: int, now: float) -> None:
        """Keep a receipt back for an interval from `now` (another slot has just sent one)."""
        key = (dev, kind)
        self._mark(key, now)
        if seq > self._pending.get(key, -1):
            self._pending[key] = seq

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


@dataclass
class DeferredSeqs:
    """Committed seqs not yet walked into receipt cursors.

    A cursor update per device and kind per batch costs as much as the data row
    itself when a device sends often; deferring lets one update per `interval_s`
    cover everything a device sent meanwhile. What is deferred is lost if the
    slot dies before recording it: the device then resends after its timeout,
    the repeat is stored once and receipted. Nothing is ever receipted that is
    not committed, because only committed seqs are added here.
    """

    interval_s: float = 1.0
    _seqs: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    _since: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, seqs: dict[tuple[str, str], list[int]], now: float) -> None:
        for key, values in seqs.items():
            self._seqs.setdefault(key, []).extend(values)
            self._since.setdefault(key, now)

    def take_due(self, now: float) -> dict[tuple[str, str], list[int]]:
        due = [k for k, t in self._since.items() if now - t >= self.interval_s]
        out = {k: self._seqs.pop(k) for k in due}
        for k in due:
            del self._since[k]
        return out

    def __len__(self) -> int:
        return len(self._seqs)
