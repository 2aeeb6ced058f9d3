"""The device's persistent outbox: every uplink message waits here until the cloud
has committed it.

A broker PUBACK is not durable (a killed Mosquitto loses what it acknowledged),
so a message leaves the outbox only when a cloud Receipt `{"kind", "seq": N}`
covers it. Until then it is resent, byte for byte, every `resend_after_s`; the
cloud stores a redelivered (dev, kind, seq, ts) once.

`seq` is per kind, starts at 0 for a new outbox and only grows, also across
restarts and when messages are deleted or dropped. Rows are read `ORDER BY seq`.

Thread model: agents call `put` from their threads; one Sender calls `due`,
`mark_sent` and `confirm`. One connection behind one lock serialises them.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from gridwatch.settings import Settings
from protocols.models import MAX_PAYLOAD_BYTES, SCHEMA_VERSION, UPLINK_MODELS

log = logging.getLogger(__name__)

# Kinds that carry a seq, in sending order: a backlog of heartbeats after an
# outage must not hold back an alarm.
SEQ_KINDS = ("alert", "report", "det", "hb")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seqs (
    kind      TEXT PRIMARY KEY,
    next      INTEGER NOT NULL,   -- the seq the next put of this kind gets
    published INTEGER NOT NULL    -- highest seq ever published: receipts cannot cover more
);
CREATE TABLE IF NOT EXISTS messages (
    id      INTEGER PRIMARY KEY,  -- insertion order: the cap drops the lowest
    kind    TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    payload BLOB NOT NULL,        -- the exact JSON object sent, every time
    sent_at REAL,                 -- this process's monotonic time of the last publish
    UNIQUE (kind, seq)
);
CREATE INDEX IF NOT EXISTS messages_inflight ON messages (sent_at) WHERE sent_at IS NOT NULL;
"""


class OutboxError(ValueError):
    """A message the cloud would refuse: it is not stored."""


@dataclass(frozen=True, slots=True)
class Pending:
    """One stored message, ready to publish."""

    kind: str
    seq: int
    ts: int
    payload: bytes
    resend: bool = False   # published before without a receipt since


@dataclass(frozen=True, slots=True)
class OutboxStats:
    queued: int      # stored, not published since this outbox was opened
    inflight: int    # published, not yet covered by a receipt
    dropped: int     # removed by the size cap without a receipt (since open)
    sent: int        # publishes of a message, resends included (since open)
    resent: int      # of which resends (since open)
    confirmed: int   # deleted because a receipt covered them (since open)


class Outbox:
    """SQLite (WAL) store of uplink messages for one device."""

    def __init__(self, path: Path | str, *, dev: str | None = None, max_messages: int = 500_000, max_inflight: int = 1000,
                 resend_after_s: float = 30.0, durable: bool = True,
                 clock: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        if max_messages < 1 or max_inflight < 1 or resend_after_s <= 0:
            raise ValueError("max_messages, max_inflight and resend_after_s must be positive")
        self.path = Path(path) if str(path) != ":memory:" else None
        self.max_messages = max_messages
        self.max_inflight = max_inflight
        self.resend_after_s = resend_after_s
        self._clock = clock
        self._wall_ms = wall_ms
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._dropped = self._sent = self._resent = self._confirmed = 0
        self._db = self._open(path, durable)
        if dev is not None:
            self._claim(dev)
        self._count = self._db.execute("SELECT count(*) FROM messages").fetchone()[0]

    @staticmethod
    def _open(path: Path | str, durable: bool) -> sqlite3.Connection:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a
        # transaction never upgrades from read to write halfway.
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL syncs the WAL on every commit: a power cut loses no stored message.
        db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        db.executescript(_SCHEMA)
        # A new process has published nothing yet: what the last one sent
        # but saw no receipt for is due again at once.
        db.execute("UPDATE messages SET sent_at = NULL WHERE sent_at IS NOT NULL")
        return db

    def _claim(self, dev: str) -> None:
        # Seqs count per device: two devices sharing one file would interleave them.
        self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('dev', ?)", (dev,))
        owner = self._db.execute("SELECT value FROM meta WHERE key = 'dev'").fetchone()[0]
        if owner != dev:
            self._db.close()
            raise OutboxError(f"outbox {self.path} belongs to device {owner!r}, not {dev!r}: "
                              "give each device its own outbox file")

    @classmethod
    def from_settings(cls, settings: Settings, path: Path | str | None = None, **kw: Any) -> "Outbox":
        return cls(path or settings.edge_outbox_path, max_messages=settings.edge_outbox_max_messages,
                   max_inflight=settings.edge_max_inflight, resend_after_s=settings.edge_resend_after_s, **kw)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_listener(self, callback: Callable[[], None]) -> None:
        """`callback()` runs after each put (in the putting thread): keep it to a wake-up."""
        self._listeners.append(callback)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writing -------------------------------------------------------------

    def put(self, kind: str, message: dict[str, Any]) -> int:
        """Validate `message` as a `kind` uplink, give it the next seq, store it; returns the seq.

        `v` and `seq` are filled in; `ts` is kept when given (the time of the
        observation), else set to now. Raises OutboxError for what the cloud
        would dead-letter, so a bad message is caught where it is made.
        """
        body = self._validated(kind, message)
        with self._tx() as db:
            seq = db.execute(
                "INSERT INTO seqs (kind, next, published) VALUES (?, 1, -1) "
                "ON CONFLICT (kind) DO UPDATE SET next = next + 1 RETURNING next - 1", (kind,)).fetchone()[0]
            body["seq"] = seq
            db.execute("INSERT INTO messages (kind, seq, ts, payload) VALUES (?, ?, ?, ?)",
                       (kind, seq, body["ts"], orjson.dumps(body)))
            self._count += 1
            if self._count > self.max_messages:
                self._drop_oldest(db, self._count - self.max_messages)
        for callback in self._listeners:
            callback()
        return seq

    def _validated(self, kind: str, message: dict[str, Any]) -> dict[str, Any]:
        if kind not in SEQ_KINDS:
            raise OutboxError(f"{kind!r} is not an uplink kind with a seq (one of {', '.join(SEQ_KINDS)})")
        draft = {**message, "v": SCHEMA_VERSION, "seq": 0}
        draft.setdefault("ts", self._wall_ms())
        try:
            model = UPLINK_MODELS[kind].model_validate(draft)
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in err["loc"]) or "message"
            raise OutboxError(f"invalid {kind} message: {where}: {err['msg']}") from exc
        body = model.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        # Headroom for the seq digits filled in after this check.
        if len(orjson.dumps(body)) + 20 > MAX_PAYLOAD_BYTES:
            raise OutboxError(f"{kind} message larger than the {MAX_PAYLOAD_BYTES}-byte payload limit")
        return body

    def _drop_oldest(self, db: sqlite3.Connection, n: int) -> None:
        dropped = db.execute("DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT ?)",
                             (n,)).rowcount
        self._count -= dropped
        self._dropped += dropped
        log.warning("outbox %s full (%d messages): dropped the %d oldest", self.path, self.max_messages, dropped)

    # -- sending -------------------------------------------------------------

    def due(self, now: float | None = None) -> list[Pending]:
        """What to publish now, per kind in `SEQ_KINDS` order, each `ORDER BY seq`.

        Messages whose last publish is older than `resend_after_s` come again;
        new ones only while fewer than `max_inflight` messages await a receipt
        (each publish carries at least one message, so paho never holds more
        than `max_inflight` unacknowledged publishes either).
        """
        now = self._clock() if now is None else now
        with self._lock:
            stale_before = now - self.resend_after_s
            inflight = self._db.execute("SELECT count(*) FROM messages WHERE sent_at IS NOT NULL").fetchone()[0]
            room = self.max_inflight - inflight
            out: list[Pending] = []
            for kind in SEQ_KINDS:
                rows = self._db.execute(
                    "SELECT seq, ts, payload, 1 FROM messages WHERE kind = ? AND sent_at IS NOT NULL "
                    "AND sent_at <= ? ORDER BY seq", (kind, stale_before)).fetchall()
                if room > 0:
                    fresh = self._db.execute(
                        "SELECT seq, ts, payload, 0 FROM messages WHERE kind = ? AND sent_at IS NULL "
                        "ORDER BY seq LIMIT ?", (kind, room)).fetchall()
                    room -= len(fresh)
                    rows = sorted(rows + fresh)
                out.extend(Pending(kind, seq, ts, payload, bool(again)) for seq, ts, payload, again in rows)
            return out

    def mark_sent(self, messages: list[Pending], now: float | None = None) -> None:
        """Record that `messages` were handed to the link at `now`."""
        if not messages:
            return
        now = self._clock() if now is None else now
        with self._tx() as db:
            db.executemany("UPDATE messages SET sent_at = ? WHERE kind = ? AND seq = ?",
                           [(now, m.kind, m.seq) for m in messages])
            top: dict[str, int] = {}
            for m in messages:
                top[m.kind] = max(top.get(m.kind, -1), m.seq)
            db.executemany("UPDATE seqs SET published = max(published, ?) WHERE kind = ?",
                           [(seq, kind) for kind, seq in top.items()])
        self._sent += len(messages)
        self._resent += sum(m.resend for m in messages)

    def rewind(self) -> None:
        """Make everything awaiting a receipt due now (the link dropped: it may have gone with it)."""
        with self._tx() as db:
            db.execute("UPDATE messages SET sent_at = ? WHERE sent_at IS NOT NULL",
                       (self._clock() - self.resend_after_s,))

    def confirm(self, kind: str, seq: int) -> int:
        """Apply a Receipt: delete the `kind` messages with seq <= `seq`; returns how many.

        Only what was published can be covered: a receipt naming a higher seq
        (the cloud remembers an older outbox of this device) deletes nothing unsent.
        """
        with self._tx() as db:
            row = db.execute("SELECT published FROM seqs WHERE kind = ?", (kind,)).fetchone()
            upto = min(seq, row[0]) if row else -1
            n = db.execute("DELETE FROM messages WHERE kind = ? AND seq <= ?", (kind, upto)).rowcount
            self._count -= n
        self._confirmed += n
        if seq > upto:
            log.info("outbox %s: receipt %s<=%d exceeds the highest published seq %d",
                     self.path, kind, seq, upto)
        return n

    # -- looking -------------------------------------------------------------

    def next_resend_in(self, now: float | None = None) -> float | None:
        """Seconds until the oldest message awaiting a receipt is due again, or None."""
        now = self._clock() if now is None else now
        with self._lock:
            oldest = self._db.execute("SELECT min(sent_at) FROM messages WHERE sent_at IS NOT NULL").fetchone()[0]
        return None if oldest is None else max(0.0, oldest + self.resend_after_s - now)

    def next_seq(self, kind: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT next FROM seqs WHERE kind = ?", (kind,)).fetchone()
        return row[0] if row else 0

    def stats(self) -> OutboxStats:
        with self._lock:
            inflight = self._db.execute("SELECT count(*) FROM messages WHERE sent_at IS NOT NULL").fetchone()[0]
            total = self._count
        return OutboxStats(queued=total - inflight, inflight=inflight, dropped=self._dropped,
                           sent=self._sent, resent=self._resent, confirmed=self._confirmed)

    def __len__(self) -> int:
        return self._count
