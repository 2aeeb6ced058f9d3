"""One ingest slot: gather a batch, build rows, commit, ack, send receipts.

The broker only learns a message is handled (PUBACK) after its rows are
committed, so a killed worker loses nothing: the broker redelivers exactly its
unacked messages and idempotent storage keeps them single.

Two sides run at once, in order, joined by a one-batch hand-over: the decode
side (the caller's thread) gathers batches and builds rows; the store side (a
thread with the slot's database connection) commits them and acks. Measured: a
serial slot spent ~45% of its time waiting for PostgreSQL to finish a COPY
while the next batch sat undecoded. A third thread, the receipt side
(receipt_side.py), turns what was committed into receipts on a connection of
its own.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from gridwatch.settings import Settings

from . import metrics, store
from .batch import Inbound, Rows
from .consumer import SlotConsumer
from .pipeline import TRANSIENT, Pipeline
from .receipt_side import ReceiptSide
from .steps import Steps, default_steps
from .thread_name import name_os_thread

log = logging.getLogger(__name__)


def gather(inbox: queue.SimpleQueue, max_items: int, flush_s: float, idle_s: float = 0.2) -> list[Inbound]:
    """Up to `max_items`, waiting at most `flush_s` after the first arrives (`idle_s` for it).

    The inbox is polled after short sleeps, never waited on: a waiter makes every put of
    the MQTT thread wake it (a futex call under the GIL; ~10 us a message with one
    heartbeat each, py-spy --gil), and SimpleQueue.get with a timeout can block for good
    when a signal interrupts it near its deadline (CPython 3.11; seen here: a slot that
    never saw its SIGTERM; tests/unit/test_gather.py)."""
    batch: list[Inbound] = []
    get = inbox.get_nowait
    deadline = time.monotonic() + idle_s
    while len(batch) < max_items:
        try:
            batch.append(get())
            if len(batch) == 1:
                deadline = time.monotonic() + flush_s
            continue
        except queue.Empty:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(left, GATHER_POLL_S))
    return batch


# Every wake-up takes the GIL from the MQTT thread. Polling a filling batch every 1 ms, a one-slot
# full ingest's decode side switched ~1,800-2,300 times a second and its MQTT thread was preempted
# ~1,000 times a second; at 5 ms, ~900-1,000 and ~510 (/proc/<pid>/task/<tid>/status, 250,000
# single heartbeats, two runs each). A batch waits at most 5 ms longer; an idle slot wakes 200
# times a second.
GATHER_POLL_S = 0.005


@dataclass(slots=True)
class Prepared:
    """A batch with the rows the decode side built for it (None: a step failed; the store bisects)."""

    batch: list[Inbound]
    rows: Rows | None
    seqs: dict


_DONE = object()  # hand-over sentinel: the decode side has stopped


class IngestWorker:
    def __init__(self, settings: Settings, slot: int,
                 connect: Callable[[], psycopg.Connection] | None = None, steps: Steps | None = None):
        self.settings = settings
        self.slot = slot
        self.steps = steps if steps is not None else default_steps(settings)
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.consumer = SlotConsumer(settings, slot, self.inbox,
                                     on_session_lost=lambda cid: metrics.SESSION_LOST.inc(),
                                     extra_subscriptions=self.steps.extra_subscriptions())
        self._connect = connect or (lambda: psycopg.connect(settings.database_url))
        self._conn: psycopg.Connection | None = None  # the store side's
        # The decode side's: registry refreshes, and type adapters for COPY images.
        self._decode_conn: psycopg.Connection | None = None
        self.pipeline = Pipeline(settings, self.steps)
        self.receipts = ReceiptSide(settings, slot, self._connect, self.consumer.publish)
        self.stored = 0

    # -- lifecycle -------------------------------------------------------
    def run(self, stop: threading.Event, end_session: bool = False) -> None:
        """Consume until `stop` is set; `end_session` also retires the slot (tests, one-off runs)."""
        name_os_thread("gw-decode")  # this thread is the decode side
        self._ensure_db(stop)
        self.consumer.start()
        log.info("ingest slot %s running", self.consumer.client_id)
        handover: queue.Queue = queue.Queue(maxsize=1)
        failure: list[BaseException] = []
        store_side = threading.Thread(target=self._store_side, args=(handover, stop, failure),
                                      name=f"ingest-{self.slot}-store", daemon=True)
        store_done = threading.Event()
        receipt_side = threading.Thread(target=self.receipts.run, args=(store_done,),
                                        name=f"ingest-{self.slot}-receipts", daemon=True)
        store_side.start()
        receipt_side.start()
        try:
            while not stop.is_set() and store_side.is_alive():
                batch = gather(self.inbox, self.settings.ingest_batch_size, self.settings.ingest_flush_ms / 1000)
                if batch:
                    self._hand_over(handover, self._prepare(batch), store_side)
        except BaseException:
            stop.set()  # the store side stops retrying too: its current batch stays unacked
            raise
        finally:
            self._hand_over(handover, _DONE, store_side)
            store_side.join()
            store_done.set()  # the receipt side's last round covers everything committed
            receipt_side.join()
            self.consumer.stop(end_session=end_session)
            self._close()
        if failure:
            raise RuntimeError(f"ingest slot {self.slot}: store failed") from failure[0]

    @staticmethod
    def _hand_over(handover: queue.Queue, job: object, store_side: threading.Thread) -> None:
        while store_side.is_alive():
            try:
                handover.put(job, timeout=0.2)
                return
            except queue.Full:
                continue

    def _store_side(self, handover: queue.Queue, stop: threading.Event, failure: list[BaseException]) -> None:
        """Commit handed-over batches in order."""
        name_os_thread("gw-store")
        try:
            while (job := handover.get()) is not _DONE:
                try:
                    self._store(job, stop)
                except InterruptedError:
                    return  # stopping during a database outage: the broker keeps what is unacked
        except BaseException as exc:  # noqa: BLE001 - handed to the decode side, which raises it
            log.exception("slot %s: store side failed", self.slot)
            failure.append(exc)

    def _close(self) -> None:
        for conn in (self._conn, self._decode_conn):
            if conn is not None:
                conn.close()
        self.receipts.close()

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
                self.receipts.round(time.monotonic())
            self.receipts.round(float("inf"))
        finally:
            self.consumer.stop(end_session=True)
            self._close()
        return handled

    def _ensure_db(self, stop: threading.Event) -> psycopg.Connection:
        delay = 0.5
        while self._conn is None or self._conn.closed:
            try:
                self._conn = self._connect()
            except psycopg.OperationalError as exc:
                log.warning("slot %s: database unavailable (%s); retrying in %.1f s", self.slot, exc, delay)
                if stop.wait(delay):
                    raise
                delay = min(delay * 2, 10.0)
        return self._conn

    # -- one batch -------------------------------------------------------
    def handle(self, batch: list[Inbound], stop: threading.Event | None = None) -> None:
        """Both sides for one batch, in the caller's thread."""
        stop = stop or threading.Event()
        self._store(self._prepare(batch), stop)

    def _prepare(self, batch: list[Inbound]) -> Prepared:
        """Decode side. Rows are built once: translators keep state (Frigate's update throttle),
        so a retried commit must store what this decided, not decide again."""
        self._refresh()
        try:
            rows = self.pipeline.rows(batch)
        except Exception:  # noqa: BLE001 - a step failed on some message: the pipeline isolates it
            return Prepared(batch, None, {})
        # Receipt cursors move once per device and kind per interval, not per batch (DeferredSeqs).
        seqs, rows.seqs = rows.seqs, {}
        if self._decode_conn is not None and not self._decode_conn.closed:
            # Formatted here, the store side only streams bytes to PostgreSQL (little GIL-bound work).
            try:
                with self._decode_conn.cursor() as cur:
                    rows.images = store.encode(cur, rows)
            except Exception:  # noqa: BLE001 - a value COPY cannot take: the store side meets it and isolates it
                rows.images = {}
        return Prepared(batch, rows, seqs)

    def _store(self, job: Prepared, stop: threading.Event) -> None:
        """Store side: commit, then ack, then hand what was committed to the receipt side."""
        started = time.perf_counter()
        advanced = self._commit(job, stop)
        self.consumer.ack_batch(job.batch)
        self.receipts.committed(job.seqs, advanced)
        self._count(job.batch, job.rows or Rows())
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    def _refresh(self) -> None:
        """Registry state for the decode side, on its own connection (the store side's is busy)."""
        try:
            if self._decode_conn is None or self._decode_conn.closed:
                self._decode_conn = self._connect()
            self.pipeline.refresh(self._decode_conn)
        except psycopg.OperationalError as exc:
            # Keep going on the registry state we have; the next batch tries again.
            log.warning("slot %s: registry refresh failed (%s)", self.slot, exc)
            if self._decode_conn is not None:
                self._decode_conn.close()
                self._decode_conn = None

    def _commit(self, job: Prepared, stop: threading.Event) -> list[store.Advanced]:
        """Commit the batch, retrying through connection loss and transient conflicts (never acked before)."""
        delay = 0.2
        while True:
            conn = self._ensure_db(stop)
            try:
                return self.pipeline.commit(conn, job.batch, job.rows)
            except TRANSIENT as exc:
                metrics.STORE_RETRIES.labels(type(exc).__name__).inc()
                log.info("slot %s: %s; retrying the batch", self.slot, type(exc).__name__)
            except psycopg.OperationalError as exc:
                metrics.STORE_RETRIES.labels("OperationalError").inc()
                log.warning("slot %s: store failed (%s); retrying in %.1f s", self.slot, exc, delay)
                self._drop_conn()
            if stop.wait(delay):
                raise InterruptedError("stopped while the batch was not committed: it stays unacked")
            delay = min(delay * 2, 10.0)

    def _drop_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _count(self, batch: list[Inbound], rows: Rows) -> None:
        metrics.MESSAGES.labels(str(self.slot)).inc(len(batch))
        for name in ("heartbeat", "detection", "sensor_alert", "field_report"):
            n = len(getattr(rows, name))
            if n:
                metrics.ROWS.labels(name).inc(n)
        for r in rows.dead_letter:
            metrics.DEAD.labels(r[3]).inc()
        self.stored += rows.count()
