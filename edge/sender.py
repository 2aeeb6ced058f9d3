"""Moves one device's outbox to the link and applies the receipts that come back.

One thread per device, the only one that reads the outbox to send and deletes
from it. Receipts arrive in paho's thread and are only queued; they are applied
here, so the data flows one way: agents -> outbox -> sender -> link -> broker,
and broker -> link -> receipt queue -> sender -> outbox.

Several pending heartbeats go out as one JSON array (at most 500, under the
256 KiB payload limit): after an outage that is the difference between
hundreds of publishes and one. Other kinds go one per message.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from protocols import topics
from protocols.models import MAX_HEARTBEAT_ARRAY, MAX_PAYLOAD_BYTES, Receipt

from .outbox import Outbox, Pending

log = logging.getLogger(__name__)

# Room for the MQTT fixed header, topic and properties below the payload limit.
PAYLOAD_BUDGET = MAX_PAYLOAD_BYTES - 1024


def batches(messages: Iterable[Pending], max_items: int = MAX_HEARTBEAT_ARRAY,
            max_bytes: int = PAYLOAD_BUDGET) -> Iterator[list[Pending]]:
    """Group heartbeats of consecutive messages into arrays; every other kind alone."""
    group: list[Pending] = []
    size = 2  # the brackets
    for m in messages:
        if m.kind != "hb":
            yield [m]
            continue
        if group and (len(group) >= max_items or size + len(m.payload) + 1 > max_bytes):
            yield group
            group, size = [], 2
        group.append(m)
        size += len(m.payload) + 1
    if group:
        yield group


def encode(group: list[Pending]) -> bytes:
    """One message as its object; several heartbeats as an array (stored bytes, not re-serialised)."""
    if len(group) == 1:
        return group[0].payload
    return b"[" + b",".join(m.payload for m in group) + b"]"


class Sender:
    """Drains `outbox` for device `dev` over `link`; start() runs it in a thread."""

    def __init__(self, dev: str, outbox: Outbox, link: Any, *, idle_s: float = 1.0) -> None:
        self.dev = dev
        self.outbox = outbox
        self.link = link
        self._idle_s = idle_s
        self._topics = {kind: topics.build(dev, kind) for kind in ("hb", "alert", "det", "report")}
        self._receipts: queue.SimpleQueue[Receipt] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reconnected = threading.Event()
        self._thread: threading.Thread | None = None
        outbox.add_listener(self._wake.set)
        link.add_listener(self._on_link)
        link.attach(dev, self._on_receipt)

    # Callbacks from other threads: record and wake, nothing more.
    def _on_receipt(self, receipt: Receipt) -> None:
        self._receipts.put(receipt)
        self._wake.set()

    def _on_link(self, connected: bool) -> None:
        if connected:
            self._reconnected.set()
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"sender-{self.dev}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        while not self._stop.is_set():
            # Cleared before the pass, so a put during it wakes the next one.
            self._wake.clear()
            self.step()
            self._wake.wait(self._sleep_for())

    def step(self) -> int:
        """One pass: apply receipts, then publish what is due; returns messages published."""
        self.apply_receipts()
        if self._reconnected.is_set():
            self._reconnected.clear()
            # Whatever awaited a receipt when the link dropped may have died with
            # a broker that had PUBACKed it: send it again now, not after the timeout.
            self.outbox.rewind()
        if not self.link.connected:
            return 0
        return self.send_due()

    def apply_receipts(self) -> int:
        n = 0
        while True:
            try:
                receipt = self._receipts.get_nowait()
            except queue.Empty:
                return n
            n += self.outbox.confirm(receipt.kind, receipt.seq)

    def send_due(self) -> int:
        sent: list[Pending] = []
        for group in batches(self.outbox.due()):
            if not self.link.publish(self._topics[group[0].kind], encode(group)):
                break  # disconnected or paho's queue full: the rest stays due
            sent.extend(group)
        self.outbox.mark_sent(sent)
        if sent:
            log.debug("%s: published %d messages", self.dev, len(sent))
        return len(sent)

    def _sleep_for(self) -> float:
        resend_in = self.outbox.next_resend_in()
        return self._idle_s if resend_in is None else min(self._idle_s, resend_in + 0.01)

    def flush(self, timeout: float, *, confirmed: bool = True) -> bool:
        """Wait until the outbox is empty (every message receipted), or with
        confirmed=False until everything was published and acknowledged by the
        broker. Returns False on timeout; what remains stays stored for the next run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = self.outbox.stats()
            if confirmed and stats.queued + stats.inflight == 0:
                return True
            if not confirmed and stats.queued == 0 and self.link.connected and self.link.unacked() == 0:
                return True
            self._wake.set()
            time.sleep(0.02)
        return False
