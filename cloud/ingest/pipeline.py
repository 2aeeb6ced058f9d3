"""Bytes in, committed rows out: the part of the ingest that needs no broker.

Used by the MQTT slots and by HTTP inputs (OsmAnd) alike, so every source goes
through the same decode, checks, enrichment, storage and reactions.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone

import psycopg
from psycopg import errors as pgerr

from gridwatch.settings import Settings
from protocols import topics
from protocols.decode import Reason

from . import store
from .batch import Inbound, Rows, build_rows
from .steps import Steps

log = logging.getLogger(__name__)

# Errors where the same batch can simply be tried again.
TRANSIENT = (pgerr.DeadlockDetected, pgerr.SerializationFailure, pgerr.LockNotAvailable)
# Errors caused by one message's content: isolate it and dead-letter it.
POISON = (psycopg.DataError, psycopg.IntegrityError, pgerr.ProgramLimitExceeded)


class RegistrationFilter:
    """When registration is required, messages of unknown devices are dead-lettered."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def refresh(self, conn: psycopg.Connection) -> None:
        self._known = {r[0] for r in conn.execute("SELECT dev FROM device WHERE registered")}

    def __call__(self, dev: str) -> Reason | None:
        return None if dev in self._known else Reason.UNREGISTERED_DEVICE


class Pipeline:
    def __init__(self, settings: Settings, steps: Steps):
        self.settings = settings
        self.steps = steps
        self.registration = RegistrationFilter() if settings.require_registration else None
        self._refreshed = float("-inf")
        self._touched: dict[str, float] = {}
        # Steps keep state (registry, throttles): an ingest slot builds rows on its decode side
        # and, when it bisects a failed batch, on its store side too.
        self._steps_lock = threading.Lock()

    def refresh(self, conn: psycopg.Connection, force: bool = False) -> None:
        """Reload registry state (registered devices, aliases, grids) at most every ingest_refresh_s."""
        now = time.monotonic()
        if not force and now - self._refreshed < self.settings.ingest_refresh_s:
            return
        stateful = self.steps.stateful() + ([self.registration] if self.registration else [])
        with self._steps_lock:
            for step in stateful:
                with conn.transaction():
                    step.refresh(conn)
        self._refreshed = now

    def rows(self, batch: list[Inbound]) -> Rows:
        with self._steps_lock:
            rows = build_rows(batch, int(time.time() * 1000), self.settings.max_future_skew_s * 1000,
                              self.registration, self.steps.translators)
            for enricher in self.steps.enrichers:
                enricher.enrich(rows)
            rows.seen = self._not_touched_lately(rows.seen)
        return rows

    def _not_touched_lately(self, seen: dict) -> dict:
        """The registry's last_seen moves at most once a minute per device: skip the rest here,
        before they cost a row lock each (an upsert locks the row even when it changes nothing)."""
        now = time.monotonic()
        touched, due = self._touched, now - 60.0
        fresh = {d: t for d, t in seen.items() if touched.get(d, -math.inf) <= due}
        for dev in fresh:
            self._touched[dev] = now
        if len(self._touched) > 500_000:
            self._touched = {d: t for d, t in self._touched.items() if now - t < 60.0}
        return fresh

    def commit(self, conn: psycopg.Connection, batch: list[Inbound], rows: Rows | None = None) -> list[store.Advanced]:
        """Store a batch. A batch that fails for its content (the database refuses a value, or a
        step raises on it) is bisected down to the message at fault, which is dead-lettered:
        one bad message must not stop the slot or cost its neighbours. Connection and
        transient errors propagate: the caller retries the whole batch."""
        try:
            return store.write(conn, rows if rows is not None else self.rows(batch), self.steps.reactors)
        except (psycopg.OperationalError, *TRANSIENT):
            raise
        except Exception as exc:  # noqa: BLE001 - isolated, logged and kept as a dead letter below
            log.warning("batch of %d failed (%s: %s); bisecting to isolate the message at fault",
                        len(batch), type(exc).__name__, exc)
            return self._bisect(conn, batch)

    def _bisect(self, conn: psycopg.Connection, batch: list[Inbound]) -> list[store.Advanced]:
        if len(batch) == 1:
            return self._one(conn, batch[0])
        half = len(batch) // 2
        out: list[store.Advanced] = []
        for part in (batch[:half], batch[half:]):
            try:
                out += store.write(conn, self.rows(part), self.steps.reactors)
            except (psycopg.OperationalError, *TRANSIENT):
                raise
            except Exception:  # noqa: BLE001 - narrowed down further
                out += self._bisect(conn, part)
        return out

    def _one(self, conn: psycopg.Connection, item: Inbound) -> list[store.Advanced]:
        """One message that failed in a batch: store its data if only a reaction failed,
        else keep it as a dead letter with the error."""
        try:
            rows = self.rows([item])
        except Exception as exc:  # noqa: BLE001 - a decode or enrich step failed on this input
            log.exception("step failed on a message from %s; kept as a dead letter", item.topic)
            return store.write(conn, _as_dead_letter(item, None, Reason.PROCESSING_FAILED, exc))
        try:
            return store.write(conn, rows, self.steps.reactors)
        except (psycopg.OperationalError, *TRANSIENT):
            raise
        except Exception as exc:  # noqa: BLE001 - find out whether the data or a reaction is at fault
            first = exc
        try:
            # The data alone: a reactor's failure must not cost the evidence. The message is
            # also kept as a dead letter so its reaction (a case, ...) can be replayed.
            noted = replace(rows, dead_letter=rows.dead_letter + _as_dead_letter(
                item, None, Reason.REACTION_FAILED, first).dead_letter)
            stored = store.write(conn, noted, [])
            log.error("a reaction failed on a message from %s (%s); data stored, message kept",
                      item.topic, first)
            return stored
        except (psycopg.OperationalError, *TRANSIENT):
            raise
        except POISON as exc:
            return store.write(conn, _as_dead_letter(item, rows, Reason.STORE_REFUSED, exc))


def _as_dead_letter(item: Inbound, rows: Rows | None, reason: Reason, exc: Exception) -> Rows:
    """A message the database refused (e.g. a value it cannot hold) or a step failed on: kept, with why."""
    dead = Rows(seqs=rows.seqs if rows is not None else {})
    ref = topics.parse(item.topic)
    detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
    dead.dead_letter.append((datetime.fromtimestamp(item.received_at, timezone.utc), item.topic, item.payload,
                             reason.value, detail, ref.dev if ref else None, None))
    return dead
