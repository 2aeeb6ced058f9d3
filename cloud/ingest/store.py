"""Write one batch in one transaction: COPY, or when that meets a duplicate, staging and idempotent inserts.

Replays are harmless: data tables take `INSERT ... ON CONFLICT DO NOTHING` on
the contract's message identity (dev, ts, seq), so a redelivered message is
stored once. Receipt cursors advance in the same transaction, so a receipt is
only ever sent for what is committed.
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.copy import Copy, FileWriter
from psycopg.types.json import Jsonb

from . import pg_time
from .batch import Rows, runs

# Columns and COPY types of each staged table (the staging tables mirror them). INT_TIMES are
# timestamptz columns whose rows carry ints in that type's binary form (pg_time), which int8's
# dumper writes byte for byte.
INT_TIMES: dict[str, tuple[str, ...]] = {"heartbeat": ("ts", "received_at")}
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "heartbeat": (("dev", "text"), ("seq", "int8"), ("ts", "int8"), ("received_at", "int8"),
                  ("lat", "float8"), ("lon", "float8"), ("acc", "float4"), ("spd", "float4"),
                  ("hdg", "float4"), ("alt", "float4"), ("batt", "float4"), ("mock", "bool"),
                  ("sat", "int2"), ("src", "text"), ("crs", "text"), ("grid", "text"), ("extra", "jsonb")),
    "detection": (("dev", "text"), ("seq", "int8"), ("ts", "timestamptz"), ("received_at", "timestamptz"),
                  ("kind", "text"), ("score", "float4"), ("box", "float4[]"), ("cam", "text"),
                  ("zone", "text"), ("track", "text"), ("lat", "float8"), ("lon", "float8"),
                  ("snapshot", "bytea"), ("extra", "jsonb")),
    "sensor_alert": (("dev", "text"), ("seq", "int8"), ("ts", "timestamptz"), ("received_at", "timestamptz"),
                     ("sensor", "text"), ("value", "float8"), ("unit", "text"), ("level", "text"),
                     ("state", "text"), ("component", "text"), ("lat", "float8"), ("lon", "float8"),
                     ("extra", "jsonb")),
    "field_report": (("dev", "text"), ("seq", "int8"), ("ts", "timestamptz"), ("received_at", "timestamptz"),
                     ("lat", "float8"), ("lon", "float8"), ("kind", "text"), ("text", "text"),
                     ("photo", "bytea"), ("resolved", "bool"), ("extra", "jsonb")),
}
_JSON_COL = {name: [i for i, (col, _) in enumerate(cols) if col == "extra"][0] for name, cols in TABLES.items()}


@dataclass(frozen=True, slots=True)
class Advanced:
    """A receipt cursor to tell its device about: it moved in this commit, or
    the batch repeated seqs it already covers (the device missed a receipt)."""

    dev: str
    kind: str
    seq: int


_key = itemgetter(0, 2, 1)  # (dev, ts, seq): the primary key, in index order


def _format(cp: Copy, name: str, rows: list[tuple]) -> None:
    cols = TABLES[name]
    jcol = _JSON_COL[name]
    cp.set_types([t for _, t in cols])
    if any(row[jcol] is not None for row in rows):
        rows = [row if row[jcol] is None else row[:jcol] + (Jsonb(row[jcol]),) + row[jcol + 1:] for row in rows]
    write_row = cp.write_row
    for row in rows:
        write_row(row)


def encode(cur: psycopg.Cursor, rows: Rows) -> dict[str, bytes]:
    """Binary COPY images of a batch's data rows, made without a round trip (the cursor only
    lends its type adapters): an ingest slot formats one batch while it streams another."""
    images = {}
    for name in TABLES:
        data = getattr(rows, name)
        if data:
            images[name] = binary_image(cur, lambda cp: _format(cp, name, data))
    return images


def binary_image(cur: psycopg.Cursor, fill: Callable[[Copy], object]) -> bytes:
    """The binary COPY stream that `fill` writes, made in memory (the cursor only lends its
    type adapters)."""
    buf = io.BytesIO()
    with Copy(cur, binary=True, writer=FileWriter(buf)) as cp:
        fill(cp)
    return buf.getvalue()


def copy_statement(target: str, name: str) -> str:
    """Binary COPY into `target` with the columns of TABLES[name], in their order."""
    return f"COPY {target} ({', '.join(c for c, _ in TABLES[name])}) FROM STDIN (FORMAT BINARY)"


def _write_copy(cur: psycopg.Cursor, target: str, name: str, rows: list[tuple], image: bytes | None = None) -> None:
    with cur.copy(copy_statement(target, name)) as cp:
        if image is None:
            _format(cp, name, rows)
        else:
            cp.write(image)


def _insert_new(cur: psycopg.Cursor, name: str, rows: list[tuple], want_fresh: bool) -> list[tuple]:
    """The slower way `write` takes when a direct COPY met an existing key (in the table or
    twice in the batch): COPY into staging, then INSERT ... ON CONFLICT DO NOTHING, sorted by
    key so concurrent slots take index locks in one order. Returns the new rows when asked."""
    unique = list(dict(zip(map(_key, rows), rows)).values())
    # Temporary: private to this connection, emptied at commit; made here, on the rare path.
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS stage_{name} (LIKE {name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    _write_copy(cur, f"stage_{name}", name, unique)
    col_list = ", ".join(c for c, _ in TABLES[name])
    cur.execute(f"INSERT INTO {name} ({col_list}) SELECT {col_list} FROM stage_{name} "
                "ORDER BY dev, ts, seq ON CONFLICT DO NOTHING" + (f" RETURNING {row_columns(name)}" if want_fresh else ""))
    return cur.fetchall() if want_fresh else []


def row_columns(name: str) -> str:
    """A select list of TABLES[name]'s columns that reads them back as the ingest's rows carry
    them (INT_TIMES as ints)."""
    return ", ".join(f"((extract(epoch FROM {c}) * 1000000)::int8 - {pg_time.EPOCH_MS * 1000})"
                     if c in INT_TIMES.get(name, ()) else c for c, _ in TABLES[name])


def _store_states(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    cur.executemany("INSERT INTO device_state_event (dev, ts, received_at, online, extra) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(d, ts, rcv, online, Jsonb(x) if x else None) for d, ts, rcv, online, x in rows])
    latest: dict[str, tuple] = {}
    for d, ts, rcv, online, _x in rows:
        # A will carries the ts of its CONNECT (it is written before the device goes
        # online), so it would always look older than the "online" that followed.
        # The broker publishes it when the connection dies: that is its real time.
        when = ts if online else max(ts, rcv)
        if d not in latest or when > latest[d][0]:
            latest[d] = (when, online)
    cur.executemany("UPDATE device SET online = %s, state_ts = %s "
                    "WHERE dev = %s AND (state_ts IS NULL OR state_ts < %s)",
                    [(online, ts, d, ts) for d, (ts, online) in sorted(latest.items())])


def _touch_devices(cur: psycopg.Cursor, seen: dict[str, float]) -> None:
    # Row churn matters at fleet scale: last_seen moves at most once a minute.
    devs = sorted(seen)
    cur.execute(
        "INSERT INTO device (dev, registered, first_seen, last_seen) "
        "SELECT d, false, to_timestamp(t), to_timestamp(t) FROM unnest(%s::text[], %s::float8[]) AS u(d, t) "
        "ON CONFLICT (dev) DO UPDATE SET last_seen = EXCLUDED.last_seen, "
        "first_seen = coalesce(device.first_seen, EXCLUDED.first_seen) "
        "WHERE device.last_seen IS NULL OR device.last_seen < EXCLUDED.last_seen - interval '60 seconds'",
        (devs, [seen[d] for d in devs]))


# Receipt statements take their keys as one JSON parameter: psycopg dumps a list parameter
# element by element in Python, which was ~40% of a receipt's CPU (cProfile, 250 keys a round);
# orjson makes the whole list in one C call.
_KEYS = "SELECT k->>0, k->>1 FROM jsonb_array_elements(%s::jsonb) AS k"  # [[dev, kind], ...]


def _json(values: list) -> str:
    return orjson.dumps(values).decode()


def _one_run(seqs: list[int]) -> tuple[int, int] | None:
    """(lo, hi) when the seqs are exactly lo..hi (repeats allowed), else None."""
    lo, hi = min(seqs), max(seqs)
    return (lo, hi) if len(set(seqs)) == hi - lo + 1 else None


def walk(cursor: int, seqs: list[int], pending: str) -> tuple[int, str]:
    """A receipt cursor walked up through a walk's seqs and what waited above a hole
    (`pending`: int8multirange's text): the new cursor, and the literal of what still waits
    above it (a repeat never moves the cursor back)."""
    run = _one_run(seqs) if pending == "{}" else None
    if run is not None and run[0] <= cursor + 1:
        return max(cursor, run[1]), "{}"  # the usual case: one run that touches the cursor
    spans = runs(seqs) + _pending_runs(pending)
    spans.sort()
    taken = 0
    for lo, hi in spans:
        if lo > cursor + 1:
            break
        cursor = max(cursor, hi)
        taken += 1
    # What is left starts above a hole: PostgreSQL merges its overlapping and touching runs.
    return cursor, "{" + ",".join(f"[{lo},{hi}]" for lo, hi in spans[taken:]) + "}"


# Cursors are walked here rather than in SQL: multirange arithmetic per row in one statement
# cost PostgreSQL more than the Python below costs the slot (a walk of 250 keys, 21.2 against
# 11.2 ms of CPU in all).
# A receipt may go out when no slot has sent one for this key within the interval (%s seconds).
_RECEIPT_DUE = "(c.sent_at IS NULL OR c.sent_at <= now() - %s * interval '1 s')"
_LOCK = (f"SELECT dev, kind, seq, pending::text, {_RECEIPT_DUE} "
         f"FROM receipt_cursor c WHERE (dev, kind) IN ({_KEYS}) ORDER BY dev, kind FOR UPDATE")
_WRITE = """
UPDATE receipt_cursor c
SET seq = (m->>2)::int8, pending = (m->>3)::int8multirange, updated_at = now(),
    pending_since = CASE WHEN m->>3 = '{}' THEN NULL
                         WHEN (m->>4)::bool OR c.pending_since IS NULL THEN now()
                         ELSE c.pending_since END,
    sent_at = CASE WHEN (m->>5)::bool THEN now() ELSE c.sent_at END
FROM jsonb_array_elements(%s::jsonb) AS m  -- [[dev, kind, seq, '{[lo,hi],...}', moved, claimed], ...]
WHERE c.dev = m->>0 AND c.kind = m->>1
"""
_RUN = re.compile(r"\[(-?\d+),(-?\d+)\)")  # int8multirange's canonical text: {[lo,hi+1),...}


def _pending_runs(text: str) -> list[tuple[int, int]]:
    return [(int(lo), int(hi) - 1) for lo, hi in _RUN.findall(text)] if text != "{}" else []


def _advance_cursors(cur: psycopg.Cursor, seqs: dict[tuple[str, str], list[int]],
                     claim_s: float | None = None) -> tuple[list[Advanced], list[Advanced]]:
    """Lock, read, walk, write: every cursor of this call (created at -1 if new) is locked
    first, in key order (two slots walking the same devices' cursors otherwise deadlocked now
    and then, each time stalling a slot for PostgreSQL's deadlock_timeout), so what another
    slot parked above a hole (`pending`, migration 0042) is committed and seen here.

    Returns the cursors to tell devices about (moved, or repeated: the device missed their
    receipt) in two lists: claimed, and not. With `claim_s`, a cursor whose last receipt from
    any slot is at least that old is claimed in the same row write (see claim_receipts)."""
    if not seqs:
        return [], []
    keys = sorted(seqs)
    param = _json(keys)
    cur.execute(f"INSERT INTO receipt_cursor (dev, kind) {_KEYS} ON CONFLICT DO NOTHING", (param,))
    writes: list[list] = []
    claimed: list[Advanced] = []
    unclaimed: list[Advanced] = []
    for dev, kind, before, pending_text, due in cur.execute(_LOCK, (claim_s or 0.0, param)).fetchall():
        mine = seqs[(dev, kind)]
        new, left = walk(before, mine, pending_text)
        # A repeat of what the cursor already covers: its receipt was lost, send it again.
        tell = new > before or (before >= 0 and min(mine) <= before)
        claim = tell and claim_s is not None and due
        if new > before or max(mine) > new or claim:
            writes.append([dev, kind, new, left, new > before, claim])
        if tell:
            (claimed if claim else unclaimed).append(Advanced(dev, kind, new))
    if writes:
        cur.execute(_WRITE, (_json(writes),))
    return claimed, unclaimed


_CLAIM_RECEIPTS = f"""
WITH mine AS (
    SELECT c.dev, c.kind FROM receipt_cursor c
    WHERE (c.dev, c.kind) IN ({_KEYS})
    ORDER BY c.dev, c.kind FOR UPDATE  -- in key order, as the cursor walks lock them
)
UPDATE receipt_cursor c SET sent_at = now()
FROM mine
WHERE c.dev = mine.dev AND c.kind = mine.kind AND c.seq >= 0
  AND {_RECEIPT_DUE}
RETURNING c.dev, c.kind, c.seq
"""


def claim_receipts(conn: psycopg.Connection, keys: list[tuple[str, str]], interval_s: float) -> list[Advanced]:
    """The receipts that may go out now, across all slots: for each (dev, kind) whose last
    receipt from any slot is older than `interval_s`, the cursor's committed seq (which may
    be past what this slot knows); the others wait.

    The commit does not wait for the disk: a claim lost in a database crash costs at most
    one extra receipt, while a flush per claim cost a slot half its throughput (measured)."""
    keys = sorted(set(keys))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit = off")
        rows = cur.execute(_CLAIM_RECEIPTS, (_json(keys), interval_s)).fetchall()
    return [Advanced(*r) for r in rows]


# The usual walk in one statement: a key whose seqs are one run [lo, hi] just above its cursor,
# with nothing waiting above a hole, steps to hi. A key whose cursor is elsewhere (another slot
# moved it, a repeat, a hole) is left out by the WHERE, rechecked on the row's latest version
# once locked, and takes the full walk.
_STEP = f"""
WITH want AS (
    SELECT m->>0 AS dev, m->>1 AS kind, (m->>2)::int8 AS lo, (m->>3)::int8 AS hi
    FROM jsonb_array_elements(%s::jsonb) AS m  -- [[dev, kind, lo, hi], ...]
), mine AS (
    SELECT c.dev, c.kind, w.hi FROM receipt_cursor c JOIN want w ON c.dev = w.dev AND c.kind = w.kind
    WHERE c.seq = w.lo - 1 AND isempty(c.pending)
    ORDER BY c.dev, c.kind FOR UPDATE OF c  -- in key order, as the full walk locks them
)
UPDATE receipt_cursor c
SET seq = mine.hi, pending_since = NULL, updated_at = now(),
    sent_at = CASE WHEN {_RECEIPT_DUE} THEN now() ELSE c.sent_at END
FROM mine
WHERE c.dev = mine.dev AND c.kind = mine.kind
RETURNING c.dev, c.kind, c.seq, c.sent_at = now()
"""


def record_seqs(conn: psycopg.Connection, seqs: dict[tuple[str, str], list[int]],
                claim_s: float) -> tuple[list[Advanced], list[Advanced]]:
    """Walk committed seqs into the receipt cursors, claiming the receipts that are due in the
    same row writes: (claimed, not claimed). A separate claim locked and wrote each row a second
    time (two slots: every device's row, each second).

    Keys whose seqs continue their cursor step in one statement (`_STEP`), the rest take the
    full walk; each in a transaction of its own, so no transaction locks rows in two rounds
    of key order (two slots could then deadlock). A device that sends less often than once a
    receipt interval is nearly always such a key, on one slot or several: it costs PostgreSQL
    one statement instead of three (`gridwatch bench rows`)."""
    steps = [[dev, kind, *run] for (dev, kind), values in sorted(seqs.items())
             if (run := _one_run(values)) is not None]
    claimed: list[Advanced] = []
    unclaimed: list[Advanced] = []
    stepped: set[tuple[str, str]] = set()
    if steps:
        with conn.transaction(), conn.cursor() as cur:
            for dev, kind, seq, got in cur.execute(_STEP, (_json(steps), claim_s)).fetchall():
                (claimed if got else unclaimed).append(Advanced(dev, kind, seq))
                stepped.add((dev, kind))
    rest = {key: values for key, values in seqs.items() if key not in stepped}
    if rest:
        with conn.transaction(), conn.cursor() as cur:
            more_claimed, more_unclaimed = _advance_cursors(cur, rest, claim_s)
        claimed += more_claimed
        unclaimed += more_unclaimed
    return claimed, unclaimed


def write(conn: psycopg.Connection, rows: Rows, reactors: list | None = None) -> list[Advanced]:
    """Store one batch atomically, run the reactors on what was new; returns receipts to send.

    Redeliveries are rare (a slot crash, a device resend), so every table is first COPYed
    directly (from `rows.images` when encoded ahead): when that succeeds every row was new
    and unique. A duplicate rolls the whole batch back and stores it through staging
    (`_insert_new`); no savepoint per table (two round trips a table and batch, a few
    microseconds per message when messages come one heartbeat each). Two slots racing on
    the same new keys directly can deadlock; the worker retries that as a transient error."""
    try:
        return _write(conn, rows, reactors or [], direct=True)
    except pg_errors.UniqueViolation:
        return _write(conn, rows, reactors or [], direct=False)


def _write(conn: psycopg.Connection, rows: Rows, reactors: list, direct: bool) -> list[Advanced]:
    wanted = {t for r in reactors for t in r.tables}
    fresh: dict[str, list[tuple]] = {}
    with conn.transaction(), conn.cursor() as cur:
        for name in TABLES:
            data = getattr(rows, name)
            if not data:
                continue
            if direct:
                _write_copy(cur, name, name, data, rows.images.get(name))
                fresh[name] = data if name in wanted else []
            else:
                fresh[name] = _insert_new(cur, name, data, name in wanted)
        if rows.dead_letter:
            with cur.copy("COPY dead_letter (received_at, topic, payload, reason, detail, dev, seq) "
                          "FROM STDIN") as cp:
                for r in rows.dead_letter:
                    cp.write_row(r)
        if rows.seen:
            _touch_devices(cur, rows.seen)
        if rows.state:
            _store_states(cur, rows.state)
        for reactor in reactors:
            mine = {t: fresh[t] for t in reactor.tables if fresh.get(t)}
            if mine:
                reactor.react(cur, mine)
        # No claim here: the receipt side claims what the store side hands it after the commit.
        return _advance_cursors(cur, rows.seqs)[1]
