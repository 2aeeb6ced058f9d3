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

    A key whose last walk left some of this slot's seqs waiting above a hole
    (`shared`: another slot holds the seqs below, as when Mosquitto hands a
    device's messages to the slots in turn) waits `shared_factor` intervals:
    two slots then write its cursor row about once an interval between them,
    not once each. Each walk still moves the cursor over what both have
    recorded, so its receipts keep coming about once an interval, covering
    seqs up to two intervals old (`gridwatch bench ingest`, two slots, singles,
    three alternating pairs: receipt side 2.9-3.6 -> 2.0-2.2 and PostgreSQL
    8.0-8.65 -> 7.1-7.45 us of CPU per heartbeat).
    """

    interval_s: float = 1.0
    shared_factor: float = 2.0
    _seqs: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    _due: dict[tuple[str, str], float] = field(default_factory=dict)
    _shared: dict[tuple[str, str], float] = field(default_factory=dict)  # key -> when a walk last parked
    _pruned: float = 0.0

    def add(self, seqs: dict[tuple[str, str], list[int]], now: float) -> None:
        for key, values in seqs.items():
            have = self._seqs.get(key)
            if have is not None:
                have.extend(values)
                continue
            self._seqs[key] = list(values)
            parked = self._shared.get(key)
            wait = self.interval_s
            if parked is not None and now - parked < self._shared_memory_s:
                wait *= self.shared_factor
            self._due[key] = now + wait

    def take_due(self, now: float) -> dict[tuple[str, str], list[int]]:
        due = [k for k, t in self._due.items() if now >= t]
        out = {k: self._seqs.pop(k) for k in due}
        for k in due:
            del self._due[k]
        if now - self._pruned >= self._shared_memory_s and now != float("inf"):
            self._pruned = now
            self._shared = {k: t for k, t in self._shared.items() if now - t < self._shared_memory_s}
        return out

    def walked(self, seqs: dict[tuple[str, str], list[int]], reached: dict[tuple[str, str], int],
               now: float) -> None:
        """After a walk of `seqs`: the keys whose cursor stayed below their highest seq
        (`reached`: the cursors the walk reported; a key missing moved nowhere) are shared,
        the others are not (any more)."""
        for key, values in seqs.items():
            if reached.get(key, -1) < max(values):
                self._shared[key] = now
            else:
                self._shared.pop(key, None)

    @property
    def _shared_memory_s(self) -> float:
        # A shared key is walked every shared_factor intervals and marked again each time: a
        # mark older than two such periods is a device that went quiet with seqs parked.
        return 2 * self.shared_factor * self.interval_s

    def __len__(self) -> int:
        return len(self._seqs)
