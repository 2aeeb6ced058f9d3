"""Write one batch in one transaction: COPY into staging, then idempotent inserts.

Replays are harmless: data tables take `INSERT ... ON CONFLICT DO NOTHING` on
the contract's message identity (dev, ts, seq), so a redelivered message is
stored once. Receipt cursors advance in the same transaction, so a receipt is
only ever sent for what is committed.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from .batch import Rows, runs

# Columns and COPY types of each staged table (the staging tables mirror them).
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "heartbeat": (("dev", "text"), ("seq", "int8"), ("ts", "timestamptz"), ("received_at", "timestamptz"),
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


def prepare(conn: psycopg.Connection) -> None:
    """Create this session's staging tables (temporary: private to the connection)."""
    with conn.transaction():
        for name in TABLES:
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS stage_{name} "
                         f"(LIKE {name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS stage_run "
                     "(dev text, kind text, lo bigint, hi bigint) ON COMMIT DELETE ROWS")


def _copy(cur: psycopg.Cursor, name: str, rows: list[tuple], want_fresh: bool) -> list[tuple]:
    """COPY into staging, insert what is new; returns the new rows when asked."""
    cols = TABLES[name]
    jcol = _JSON_COL[name]
    with cur.copy(f"COPY stage_{name} ({', '.join(c for c, _ in cols)}) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types([t for _, t in cols])
        for row in rows:
            if row[jcol] is not None:
                row = row[:jcol] + (Jsonb(row[jcol]),) + row[jcol + 1:]
            cp.write_row(row)
    # Sorted inserts take index locks in one order in every worker: no deadlocks.
    col_list = ", ".join(c for c, _ in cols)
    cur.execute(f"INSERT INTO {name} ({col_list}) SELECT {col_list} FROM stage_{name} "
                "ORDER BY dev, ts, seq ON CONFLICT DO NOTHING" + (f" RETURNING {col_list}" if want_fresh else ""))
    return cur.fetchall() if want_fresh else []


def _store_states(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    cur.executemany("INSERT INTO device_state_event (dev, ts, received_at, online, extra) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(d, ts, rcv, online, Jsonb(x) if x else None) for d, ts, rcv, online, x in rows])
    latest: dict[str, tuple] = {}
    for d, ts, _rcv, online, _x in rows:
        if d not in latest or ts > latest[d][0]:
            latest[d] = (ts, online)
    cur.executemany("UPDATE device SET online = %s, state_ts = %s "
                    "WHERE dev = %s AND (state_ts IS NULL OR state_ts < %s)",
                    [(online, ts, d, ts) for d, (ts, online) in sorted(latest.items())])


def _touch_devices(cur: psycopg.Cursor, seen: dict) -> None:
    # Row churn matters at fleet scale: last_seen moves at most once a minute.
    devs = sorted(seen)
    cur.execute(
        "INSERT INTO device (dev, registered, first_seen, last_seen) "
        "SELECT d, false, t, t FROM unnest(%s::text[], %s::timestamptz[]) AS u(d, t) "
        "ON CONFLICT (dev) DO UPDATE SET last_seen = EXCLUDED.last_seen, "
        "first_seen = coalesce(device.first_seen, EXCLUDED.first_seen) "
        "WHERE device.last_seen IS NULL OR device.last_seen < EXCLUDED.last_seen - interval '60 seconds'",
        (devs, [seen[d] for d in devs]))


_ADVANCE = """
WITH RECURSIVE touched AS (
    SELECT DISTINCT dev, kind FROM stage_run
), start AS (
    SELECT c.dev, c.kind, c.seq FROM receipt_cursor c JOIN touched USING (dev, kind)
), walk(dev, kind, seq) AS (
    SELECT dev, kind, seq FROM start
    UNION ALL
    SELECT w.dev, w.kind, nxt.hi FROM walk w
    CROSS JOIN LATERAL (SELECT max(l.hi) AS hi FROM seq_ledger l
                        WHERE l.dev = w.dev AND l.kind = w.kind AND l.lo <= w.seq + 1 AND l.hi > w.seq) nxt
    WHERE nxt.hi IS NOT NULL
), best AS (
    SELECT dev, kind, max(seq) AS seq FROM walk GROUP BY dev, kind
)
UPDATE receipt_cursor c SET seq = best.seq, updated_at = now()
FROM best WHERE c.dev = best.dev AND c.kind = best.kind AND best.seq > c.seq
RETURNING c.dev, c.kind, c.seq
"""


def _advance_cursors(cur: psycopg.Cursor, seqs: dict[tuple[str, str], list[int]]) -> list[Advanced]:
    if not seqs:
        return []
    keys = sorted(seqs)
    arrays = ([d for d, _ in keys], [k for _, k in keys])
    cur.execute("INSERT INTO receipt_cursor (dev, kind) SELECT * FROM unnest(%s::text[], %s::text[]) "
                "ON CONFLICT DO NOTHING", arrays)
    # Lock the cursors in one order first: a concurrent worker's runs for the
    # same device are then committed and visible to the walk below.
    before = {(d, k): s for d, k, s in cur.execute(
        "SELECT dev, kind, seq FROM receipt_cursor WHERE (dev, kind) IN "
        "(SELECT * FROM unnest(%s::text[], %s::text[])) ORDER BY dev, kind FOR UPDATE", arrays).fetchall()}
    with cur.copy("COPY stage_run (dev, kind, lo, hi) FROM STDIN") as cp:
        for (dev, kind) in keys:
            for lo, hi in runs(seqs[(dev, kind)]):
                cp.write_row((dev, kind, lo, hi))
    cur.execute("INSERT INTO seq_ledger (dev, kind, lo, hi) SELECT dev, kind, lo, hi FROM stage_run")
    moved = {(d, k): s for d, k, s in cur.execute(_ADVANCE).fetchall()}
    cur.execute("DELETE FROM seq_ledger l USING receipt_cursor c, (SELECT DISTINCT dev, kind FROM stage_run) t "
                "WHERE l.dev = t.dev AND l.kind = t.kind AND c.dev = l.dev AND c.kind = l.kind AND l.hi <= c.seq")
    out = [Advanced(d, k, s) for (d, k), s in moved.items()]
    # A repeat of what the cursor already covers: its receipt was lost, send it again.
    out += [Advanced(d, k, before[(d, k)]) for (d, k) in keys
            if (d, k) not in moved and before[(d, k)] >= 0 and min(seqs[(d, k)]) <= before[(d, k)]]
    return out


def write(conn: psycopg.Connection, rows: Rows, reactors: list | None = None) -> list[Advanced]:
    """Store one batch atomically, run the reactors on what was new; returns receipts to send."""
    reactors = reactors or []
    wanted = {t for r in reactors for t in r.tables}
    fresh: dict[str, list[tuple]] = {}
    with conn.transaction(), conn.cursor() as cur:
        for name in TABLES:
            data = getattr(rows, name)
            if data:
                fresh[name] = _copy(cur, name, data, name in wanted)
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
        return _advance_cursors(cur, rows.seqs)
