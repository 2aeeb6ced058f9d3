"""A slot's receipt side: committed seqs into receipt cursors, then claimed receipts out.

It runs in a thread of its own with a database connection of its own. On the
store side's connection, its rounds (a cursor walk and a claim, each a
transaction) sat between two batches' COPYs while PostgreSQL's backend for the
data waited: ~9% of the store side's time (py-spy), and with receipts nearly
off (`GRIDWATCH_RECEIPT_MIN_INTERVAL_S=30`) the full ingest ran at 1.07 of the
bare pipeline against 0.89 with them (`gridwatch bench ingest`, one slot).

Nothing is receipted that is not committed: the store side hands over only
what its commits covered. What is handed over but not yet walked is lost if
the slot dies; the device then resends it, the repeat is stored once and
receipted (receipts.DeferredSeqs).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import orjson
import psycopg

from gridwatch.settings import Settings
from protocols import topics

from . import metrics, store
from .pipeline import TRANSIENT
from .receipts import DeferredSeqs, ReceiptCoalescer
from .thread_name import name_os_thread

log = logging.getLogger(__name__)

Seqs = dict[tuple[str, str], list[int]]


class ReceiptSide:
    def __init__(self, settings: Settings, slot: int, connect: Callable[[], psycopg.Connection],
                 publish: Callable[[str, bytes], None]):
        self.settings = settings
        self.slot = slot
        self._connect = connect
        self._publish = publish
        self.coalescer = ReceiptCoalescer(settings.receipt_min_interval_s)
        self.deferred = DeferredSeqs(settings.receipt_min_interval_s)
        # A few rounds per receipt interval: a receipt comes at most a quarter interval late.
        self.round_s = settings.receipt_min_interval_s / 4
        self._committed: queue.SimpleQueue = queue.SimpleQueue()
        self._outgoing: list[tuple[str, str, int]] = []
        self._conn: psycopg.Connection | None = None
        self._gaps_checked = time.monotonic()

    def committed(self, seqs: Seqs, advanced: list[store.Advanced]) -> None:
        """From the store side, after a commit: seqs to walk into cursors, and cursors the commit
        itself moved (or a repeat of what they cover: the device missed a receipt)."""
        if seqs or advanced:
            self._committed.put((seqs, advanced, time.monotonic()))

    def run(self, store_done: threading.Event) -> None:
        """A round every `round_s` until the store side is done, then one for everything left."""
        name_os_thread("gw-receipts")
        try:
            self._connect_early()
            while not store_done.wait(self.round_s):
                self._guarded_round(time.monotonic())
            self._guarded_round(float("inf"))
        finally:
            self.close()

    def _connect_early(self) -> None:
        """Connected before the first receipt is due: a database that refuses shows at start,
        and the connection is there for whoever counts this slot's backends (bench ingest)."""
        try:
            self._db()
        except psycopg.OperationalError as exc:
            self._failed("no database yet", exc)

    def _guarded_round(self, now: float) -> None:
        try:
            self.round(now)
        except Exception:  # noqa: BLE001 - a receipt side that stopped would stall every device's outbox
            log.exception("slot %s: receipt round failed; next round", self.slot)
            self.close()

    def round(self, now: float) -> None:
        """Walk what is due into cursors, check for old holes, then claim and publish every
        receipt that is due (`now` = inf: everything, when stopping)."""
        while True:
            try:
                seqs, advanced, when = self._committed.get_nowait()
            except queue.Empty:
                break
            self.deferred.add(seqs, when)
            for adv in advanced:
                self._outgoing += self.coalescer.offer(adv.dev, adv.kind, adv.seq, when)
        self._record_seqs(now)
        self._outgoing += self.coalescer.due(now)
        self._skip_gaps()
        self._flush()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _db(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _failed(self, what: str, exc: Exception) -> None:
        log.warning("slot %s: %s (%s); next round", self.slot, what, exc)
        if isinstance(exc, psycopg.OperationalError):
            self.close()

    def _record_seqs(self, now: float) -> None:
        due = self.deferred.take_due(now)
        if not due:
            return
        try:
            claimed, held = store.record_seqs(self._db(), due, self.settings.receipt_min_interval_s)
        except (psycopg.OperationalError, *TRANSIENT) as exc:
            self._failed("receipt cursors not recorded", exc)
            self.deferred.add(due, now if now != float("inf") else time.monotonic())
            return
        mono = time.monotonic()
        self.deferred.walked(due, {(a.dev, a.kind): a.seq for a in (*claimed, *held)}, mono)
        self._send(claimed, mono)
        for adv in held:  # another slot has just sent one: an interval from now, _flush claims it
            self.coalescer.hold(adv.dev, adv.kind, adv.seq, mono)

    def _skip_gaps(self) -> None:
        """Step receipt cursors over holes that stayed open too long (migration 0006)."""
        now = time.monotonic()
        if now - self._gaps_checked < 60:
            return
        self._gaps_checked = now
        try:
            with self._db().transaction() as tx:
                moved = tx.connection.execute("SELECT dev, kind, seq FROM gw_skip_receipt_gaps(%s * interval '1 s')",
                                              (self.settings.receipt_gap_timeout_s,)).fetchall()
        except psycopg.OperationalError as exc:
            self._failed("gap check failed", exc)
            return
        for dev, kind, seq in moved:
            log.warning("receipts for %s/%s skipped a hole in its seqs, now at %s", dev, kind, seq)
            self._outgoing += self.coalescer.offer(dev, kind, seq, now)

    def _flush(self) -> None:
        """Publish the receipts the coalescer let through that no other slot has just sent
        (one claim for all of them)."""
        if not self._outgoing:
            return
        wanted: dict[tuple[str, str], int] = {}
        for dev, kind, seq in self._outgoing:
            wanted[(dev, kind)] = max(seq, wanted.get((dev, kind), -1))
        self._outgoing = []
        claimed: list[store.Advanced] = []
        try:
            claimed = store.claim_receipts(self._db(), list(wanted), self.settings.receipt_min_interval_s)
        except (psycopg.OperationalError, *TRANSIENT) as exc:
            self._failed("receipts held back", exc)
        now = time.monotonic()
        for dev, kind in wanted.keys() - {(a.dev, a.kind) for a in claimed}:
            self.coalescer.hold(dev, kind, wanted[(dev, kind)], now)
        self._send(claimed, now)

    def _send(self, claimed: list[store.Advanced], now: float) -> None:
        now_ms = int(time.time() * 1000)
        for adv in claimed:
            self.coalescer.sent(adv.dev, adv.kind, now)
            self._publish(topics.build(adv.dev, "ack"),
                          orjson.dumps({"v": 1, "kind": adv.kind, "seq": adv.seq, "ts": now_ms}))
        if claimed:
            metrics.RECEIPTS.inc(len(claimed))  # once a round: a multiprocess counter's inc costs ~0.8 us
