"""One ingest slot: gather a batch, build rows, commit, ack, send receipts.

The broker only learns a message is handled (PUBACK) after its rows are
committed, so a killed worker loses nothing: the broker redelivers exactly its
unacked messages and idempotent storage keeps them single.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import orjson
import psycopg
from psycopg import errors as pgerr

from gridwatch.settings import Settings
from protocols import topics
from protocols.decode import Reason

from . import metrics, store
from .batch import Inbound, Rows, build_rows
from .consumer import SlotConsumer
from .receipts import ReceiptCoalescer
from .steps import Steps, default_steps

log = logging.getLogger(__name__)

# Errors where the same batch can simply be tried again.
TRANSIENT = (pgerr.DeadlockDetected, pgerr.SerializationFailure, pgerr.LockNotAvailable)
# Errors caused by one message's content: isolate it and dead-letter it.
POISON = (psycopg.DataError, psycopg.IntegrityError, pgerr.ProgramLimitExceeded)


def gather(inbox: queue.Queue, max_items: int, flush_s: float, idle_s: float = 0.2) -> list[Inbound]:
    """Up to `max_items`, waiting at most `flush_s` after the first arrives."""
    try:
        batch = [inbox.get(timeout=idle_s)]
    except queue.Empty:
        return []
    deadline = time.monotonic() + flush_s
    while len(batch) < max_items:
        try:
            batch.append(inbox.get_nowait())
            continue
        except queue.Empty:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            batch.append(inbox.get(timeout=min(left, 0.02)))
        except queue.Empty:
            continue
    return batch


class RegistrationFilter:
    """When registration is required, messages of unknown devices are dead-lettered."""

    def __init__(self, refresh_s: float = 10.0):
        self.refresh_s = refresh_s
        self._known: set[str] = set()
        self._loaded = 0.0

    def refresh(self, conn: psycopg.Connection, now: float) -> None:
        if now - self._loaded >= self.refresh_s:
            with conn.transaction():
                self._known = {r[0] for r in conn.execute("SELECT dev FROM device WHERE registered")}
            self._loaded = now

    def __call__(self, dev: str) -> Reason | None:
        return None if dev in self._known else Reason.UNREGISTERED_DEVICE


class IngestWorker:
    def __init__(self, settings: Settings, slot: int,
                 connect: Callable[[], psycopg.Connection] | None = None, steps: Steps | None = None):
        self.settings = settings
        self.slot = slot
        self.steps = steps if steps is not None else default_steps(settings)
        self.inbox: queue.Queue = queue.Queue(maxsize=settings.ingest_receive_maximum * 2)
        self.consumer = SlotConsumer(settings, slot, self.inbox,
                                     on_session_lost=lambda cid: metrics.SESSION_LOST.inc(),
                                     extra_subscriptions=self.steps.extra_subscriptions())
        self._connect = connect or (lambda: psycopg.connect(settings.database_url))
        self._conn: psycopg.Connection | None = None
        self.receipts = ReceiptCoalescer(settings.receipt_min_interval_s)
        self.registration = RegistrationFilter() if settings.require_registration else None
        self.stored = 0
        self._refreshed = float("-inf")
        self._gaps_checked = time.monotonic()

    # -- lifecycle -------------------------------------------------------
    def run(self, stop: threading.Event, end_session: bool = False) -> None:
        """Consume until `stop` is set; `end_session` also retires the slot (tests, one-off runs)."""
        self._ensure_db(stop)
        self.consumer.start()
        log.info("ingest slot %s running", self.consumer.client_id)
        try:
            while not stop.is_set():
                batch = gather(self.inbox, self.settings.ingest_batch_size, self.settings.ingest_flush_ms / 1000)
                if batch:
                    self.handle(batch, stop)
                self._send(self.receipts.due(time.monotonic()))
                self._skip_gaps(stop)
            self._send(self.receipts.due(float("inf")))
        finally:
            self.consumer.stop(end_session=end_session)
            if self._conn is not None:
                self._conn.close()

    def drain(self, idle_s: float = 5.0) -> int:
        """Retire this slot without losing what the broker holds for it.

        Reconnects as the slot, leaves the share group (no new traffic), stores
        and acks everything still held, and once idle ends the session with
        expiry 0. Field notes: a slot that just vanishes keeps taking 1/N of the
        traffic until its session expires, and then that backlog is deleted.
        """
        stop = threading.Event()
        self._ensure_db(stop)
        self.consumer.start()
        self.consumer.leave_share_group()
        handled, last = 0, time.monotonic()
        try:
            while time.monotonic() - last < idle_s:
                batch = gather(self.inbox, self.settings.ingest_batch_size, self.settings.ingest_flush_ms / 1000)
                if batch:
                    self.handle(batch, stop)
                    handled += len(batch)
                    last = time.monotonic()
            self._send(self.receipts.due(float("inf")))
        finally:
            self.consumer.stop(end_session=True)
            if self._conn is not None:
                self._conn.close()
        return handled

    def _ensure_db(self, stop: threading.Event) -> psycopg.Connection:
        delay = 0.5
        while self._conn is None or self._conn.closed:
            try:
                conn = self._connect()
                store.prepare(conn)
                self._conn = conn
            except psycopg.OperationalError as exc:
                log.warning("slot %s: database unavailable (%s); retrying in %.1f s", self.slot, exc, delay)
                if stop.wait(delay):
                    raise
                delay = min(delay * 2, 10.0)
        return self._conn

    # -- one batch -------------------------------------------------------
    def handle(self, batch: list[Inbound], stop: threading.Event | None = None) -> None:
        started = time.perf_counter()
        self._refresh(stop or threading.Event())
        rows = self._rows(batch)
        advanced = self._commit(batch, rows, stop or threading.Event())
        for item in batch:
            self.consumer.ack(item.mid)
        now = time.monotonic()
        for adv in advanced:
            self._send(self.receipts.offer(adv.dev, adv.kind, adv.seq, now))
        self._count(batch, rows)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    def _refresh(self, stop: threading.Event) -> None:
        """Reload registry state (registered devices, aliases, grids) at most every ingest_refresh_s."""
        now = time.monotonic()
        if now - self._refreshed < self.settings.ingest_refresh_s:
            return
        conn = self._ensure_db(stop)
        if self.registration is not None:
            self.registration.refresh(conn, now)
        for step in self.steps.stateful():
            with conn.transaction():
                step.refresh(conn)
        self._refreshed = now

    def _skip_gaps(self, stop: threading.Event) -> None:
        """Step receipt cursors over holes that stayed open too long (migration 0006)."""
        now = time.monotonic()
        if now - self._gaps_checked < 60:
            return
        self._gaps_checked = now
        try:
            with self._ensure_db(stop).transaction() as tx:
                moved = tx.connection.execute("SELECT dev, kind, seq FROM gw_skip_receipt_gaps(%s * interval '1 s')",
                                              (self.settings.receipt_gap_timeout_s,)).fetchall()
        except psycopg.OperationalError as exc:
            log.warning("slot %s: gap check failed (%s); next time", self.slot, exc)
            self._drop_conn()
            return
        for dev, kind, seq in moved:
            log.warning("receipts for %s/%s skipped a hole in its seqs, now at %s", dev, kind, seq)
            self._send(self.receipts.offer(dev, kind, seq, now))

    def _rows(self, batch: list[Inbound]) -> Rows:
        rows = build_rows(batch, int(time.time() * 1000), self.settings.max_future_skew_s * 1000,
                          self.registration, self.steps.translators)
        for enricher in self.steps.enrichers:
            enricher.enrich(rows)
        return rows

    def _commit(self, batch: list[Inbound], rows: Rows, stop: threading.Event) -> list[store.Advanced]:
        delay = 0.2
        while True:
            conn = self._ensure_db(stop)
            try:
                return store.write(conn, rows, self.steps.reactors)
            except TRANSIENT as exc:
                metrics.STORE_RETRIES.labels(type(exc).__name__).inc()
            except POISON as exc:
                log.warning("slot %s: batch refused by the database (%s); bisecting to isolate the message at fault", self.slot, exc)
                return self._commit_one_by_one(conn, batch)
            except psycopg.OperationalError as exc:
                metrics.STORE_RETRIES.labels("OperationalError").inc()
                log.warning("slot %s: store failed (%s); retrying in %.1f s", self.slot, exc, delay)
                self._drop_conn()
                if stop.wait(delay):
                    raise
                delay = min(delay * 2, 10.0)

    def _commit_one_by_one(self, conn: psycopg.Connection, batch: list[Inbound]) -> list[store.Advanced]:
        """Bisect a refused batch: good halves commit, a lone bad message is dead-lettered."""
        if len(batch) == 1:
            rows = self._rows(batch)
            try:
                return store.write(conn, rows, self.steps.reactors)
            except POISON as exc:
                return store.write(conn, _as_dead_letter(batch[0], rows, exc))
        half = len(batch) // 2
        out: list[store.Advanced] = []
        for part in (batch[:half], batch[half:]):
            try:
                out += store.write(conn, self._rows(part), self.steps.reactors)
            except POISON:
                out += self._commit_one_by_one(conn, part)
        return out

    def _drop_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _send(self, receipts: list[tuple[str, str, int]]) -> None:
        now_ms = int(time.time() * 1000)
        for dev, kind, seq in receipts:
            payload = orjson.dumps({"v": 1, "kind": kind, "seq": seq, "ts": now_ms})
            self.consumer.publish(topics.build(dev, "ack"), payload)
            metrics.RECEIPTS.inc()

    def _count(self, batch: list[Inbound], rows: Rows) -> None:
        metrics.MESSAGES.labels(str(self.slot)).inc(len(batch))
        for name in ("heartbeat", "detection", "sensor_alert", "field_report"):
            n = len(getattr(rows, name))
            if n:
                metrics.ROWS.labels(name).inc(n)
        for r in rows.dead_letter:
            metrics.DEAD.labels(r[3]).inc()
        self.stored += rows.count()


def _as_dead_letter(item: Inbound, rows: Rows, exc: Exception) -> Rows:
    """A message the database refused (e.g. a NUL character in text): kept, with the reason."""
    from datetime import datetime, timezone

    dead = Rows(seqs=rows.seqs)
    ref = topics.parse(item.topic)
    dead.dead_letter.append((datetime.fromtimestamp(item.received_at, timezone.utc), item.topic, item.payload,
                             Reason.STORE_REFUSED.value, str(exc).splitlines()[0][:500], ref.dev if ref else None, None))
    return dead
