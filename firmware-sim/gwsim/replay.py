"""Send timed sightings through the real edge code: per simulated device an Outbox and a Sender,
all over ONE relay link (the relay credential publishes as any device), as `fleet` does for
handsets. Each sighting goes into its device's outbox when an accelerated replay of the day
reaches its time, so sightings of one incident race through the ingest slots as they would,
while a sensor's `cleared` 40 minutes after its alarm still arrives after it.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from edge.outbox import Outbox
from edge.sender import Sender

from .incidents import Sighting

log = logging.getLogger(__name__)


@dataclass
class Station:
    """One simulated device's uplink: its own outbox and sender on the shared link."""

    dev: str
    outbox: Outbox
    sender: Sender


@dataclass(frozen=True)
class ReplayReport:
    devices: int
    published: int
    left_in_outboxes: int
    seconds: float


def open_stations(link, devs: Iterable[str], outbox_dir: Path, resend_after_s: float = 5.0) -> dict[str, Station]:
    """An outbox and sender per device. A replay compresses hours into seconds, so an unconfirmed
    message is resent after `resend_after_s` rather than a real device's 30 s."""
    out = {}
    for dev in dict.fromkeys(devs):
        outbox = Outbox(outbox_dir / f"{dev}.sqlite3", dev=dev, durable=False, resend_after_s=resend_after_s)
        out[dev] = Station(dev, outbox, Sender(dev, outbox, link, idle_s=0.2))
    return out


def connect(link, timeout: float = 15.0) -> None:
    link.start()
    if not link.wait_connected(timeout):
        raise ConnectionError(f"cannot connect to the broker at {link.endpoint.host}:{link.endpoint.port}")


def flush(stations: Iterable[Station], timeout: float, receipts: bool) -> None:
    deadline = time.monotonic() + timeout
    for st in stations:
        if not st.sender.flush(max(0.1, deadline - time.monotonic()), confirmed=receipts):
            log.warning("%s: outbox not empty after the flush timeout", st.dev)


def close(stations: Iterable[Station]) -> int:
    """Stop the senders and close the outboxes; returns what was left unconfirmed in them."""
    left = 0
    for st in stations:
        st.sender.stop()
        stats = st.outbox.stats()
        left += stats.queued + stats.inflight
        st.outbox.close()
    return left


def replay(link, sightings: list[Sighting], outbox_dir: Path, *, speed: float, flush_timeout: float = 60.0,
           receipts: bool = True, progress: Callable[[str], None] | None = None) -> ReplayReport:
    """Put each sighting into its device's outbox at its time (`speed` simulated seconds per real
    second), then wait until the cloud confirmed everything (or, receipts=False, the broker did)."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    started = time.monotonic()
    ordered = sorted(sightings, key=lambda s: s.ts)
    stations = open_stations(link, (s.dev for s in ordered), outbox_dir)
    try:
        connect(link)
        for st in stations.values():
            st.sender.start()
        _play(stations, ordered, speed)
        if progress:
            progress(f"{len(ordered)} sightings of {len(stations)} devices put into their outboxes")
        flush(stations.values(), flush_timeout, receipts)
    finally:
        left = close(stations.values())
        link.stop()
    return ReplayReport(len(stations), len(ordered), left, time.monotonic() - started)


def _play(stations: dict[str, Station], ordered: list[Sighting], speed: float) -> None:
    if not ordered:
        return
    t0, wall0 = ordered[0].ts, time.monotonic()
    for s in ordered:
        delay = (s.ts - t0) / 1000.0 / speed - (time.monotonic() - wall0)
        if delay > 0:
            time.sleep(delay)
        stations[s.dev].outbox.put(s.kind, s.message)
