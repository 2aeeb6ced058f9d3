"""Bytes in, committed rows out: the part of the ingest that needs no broker.

Used by the MQTT slots and by HTTP inputs (OsmAnd) alike, so every source goes
through the same decode, checks, enrichment, storage and reactions.
"""
from __future__ import annotations

import logging
import time
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

    def refresh(self, conn: psycopg.Connection, force: bool = False) -> None:
        """Reload registry state (registered devices, aliases, grids) at most every ingest_refresh_s."""
        now = time.monotonic()
        if not force and now - self._refreshed < self.settings.ingest_refresh_s:
            return
        stateful = self.steps.stateful() + ([self.registration] if self.registration else [])
        for step in stateful:
            with conn.transaction():
                step.refresh(conn)
        self._refreshed = now

    def rows(self, batch: list[Inbound]) -> Rows:
        rows = build_rows(batch, int(time.time() * 1000), self.settings.max_future_skew_s * 1000,
                          self.registration, self.steps.translators)
        for enricher in self.steps.enrichers:
            enricher.enrich(rows)
        return rows

    def commit(self, conn: psycopg.Connection, batch: list[Inbound], rows: Rows | None = None) -> list[store.Advanced]:
        """Store a batch; a batch the database refuses is bisected down to the message at fault,
        which is dead-lettered. Transient and connection errors propagate to the caller."""
        try:
            return store.write(conn, rows if rows is not None else self.rows(batch), self.steps.reactors)
        except POISON as exc:
            log.warning("batch refused by the database (%s); bisecting to isolate the message at fault", exc)
            return self._bisect(conn, batch)

    def _bisect(self, conn: psycopg.Connection, batch: list[Inbound]) -> list[store.Advanced]:
        if len(batch) == 1:
            rows = self.rows(batch)
            try:
                return store.write(conn, rows, self.steps.reactors)
            except POISON as exc:
                return store.write(conn, _as_dead_letter(batch[0], rows, exc))
        half = len(batch) // 2
        out: list[store.Advanced] = []
        for part in (batch[:half], batch[half:]):
            try:
                out += store.write(conn, self.rows(part), self.steps.reactors)
            except POISON:
                out += self._bisect(conn, part)
        return out


def _as_dead_letter(item: Inbound, rows: Rows, exc: Exception) -> Rows:
    """A message the database refused (e.g. a NUL character in text): kept, with the reason."""
    dead = Rows(seqs=rows.seqs)
    ref = topics.parse(item.topic)
    dead.dead_letter.append((datetime.fromtimestamp(item.received_at, timezone.utc), item.topic, item.payload,
                             Reason.STORE_REFUSED.value, str(exc).splitlines()[0][:500], ref.dev if ref else None, None))
    return dead
