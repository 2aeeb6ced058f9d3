"""Play a simulated fleet through the real edge code: per worker a HandsetAgent writing to its own
outbox and a Sender, all over ONE relay Link (the relay credential publishes as any device),
on one accelerated ScaledClock. A network outage shuts one device's gate on the shared link,
so its heartbeats pile up in its outbox and go out as a backlog when the gate opens.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.clock import ScaledClock
from edge.handset.agent import HandsetAgent
from edge.outbox import Outbox
from edge.sender import Sender

from .handsets import GatedLink, OffsetClock, TrackSource
from .plans import Plan
from .tracks import Track, WorkerSpec

log = logging.getLogger(__name__)


@dataclass
class Handset:
    spec: WorkerSpec
    plan: Plan
    outbox: Outbox
    gate: GatedLink
    sender: Sender
    agent: HandsetAgent


@dataclass(frozen=True)
class FleetReport:
    devices: int
    heartbeats: int
    left_in_outboxes: int
    seconds: float


def build_handsets(link, workers: list[tuple[WorkerSpec, Track, Plan]], clock: ScaledClock, window: tuple[float, float],
                   interval_s: float, outbox_dir: Path) -> list[Handset]:
    out = []
    for spec, track, plan in workers:
        outbox = Outbox(outbox_dir / f"{spec.dev}.sqlite3", dev=spec.dev, durable=False)
        gate = GatedLink(link)
        sender = Sender(spec.dev, outbox, gate, idle_s=0.2)
        agent = HandsetAgent(spec.dev, outbox, TrackSource(track, interval_s, window[1], plan.clock_offset_s),
                             interval_s=interval_s, clock=OffsetClock(clock, plan.clock_offset_s))
        out.append(Handset(spec, plan, outbox, gate, sender, agent))
    return out


def run_fleet(link, handsets: list[Handset], clock: ScaledClock, *, flush_timeout: float = 60.0,
              progress: Callable[[str], None] | None = None, receipts: bool = True) -> FleetReport:
    """Run every handset to the end of the window, then wait until the cloud confirmed everything
    (or, with receipts=False, until the broker acknowledged every publish)."""
    started = time.monotonic()
    link.start()
    if not link.wait_connected(15):
        raise ConnectionError(f"cannot connect to the broker at {link.endpoint.host}:{link.endpoint.port}")
    for h in handsets:
        h.sender.start()
        h.agent.start()
    try:
        _steer(handsets, clock, progress)
        for h in handsets:
            h.gate.set_open(True)
        _flush(handsets, flush_timeout, receipts, progress)
    finally:
        for h in handsets:
            h.agent.stop()
            h.sender.stop()
        link.stop()
    left = sum(h.outbox.stats().queued + h.outbox.stats().inflight for h in handsets)
    beats = sum(h.agent.heartbeats for h in handsets)
    for h in handsets:
        h.outbox.close()
    return FleetReport(len(handsets), beats, left, time.monotonic() - started)


def _steer(handsets: list[Handset], clock: ScaledClock, progress) -> None:
    """Open and shut each device's network as its plan says, until every agent is done."""
    last_report = 0.0
    while not all(h.agent.finished.is_set() for h in handsets):
        now = clock.now_ms() / 1000.0
        for h in handsets:
            h.gate.set_open(not any(a <= now < b for a, b in h.plan.outages))
        if progress and time.monotonic() - last_report >= 2.0:
            last_report = time.monotonic()
            done = sum(h.agent.heartbeats for h in handsets)
            progress(f"sim time {time.strftime('%H:%M', time.gmtime(now))} UTC: {done} heartbeats stored")
        time.sleep(0.01)


def _flush(handsets: list[Handset], timeout: float, receipts: bool, progress) -> None:
    deadline = time.monotonic() + timeout
    for h in handsets:
        if not h.sender.flush(max(0.1, deadline - time.monotonic()), confirmed=receipts):
            log.warning("%s: outbox not empty after the flush timeout", h.spec.dev)
    if progress:
        progress("flushed" if receipts else "published")
