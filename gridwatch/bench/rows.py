"""`gridwatch bench rows`: the ingest's per-heartbeat costs without a broker.

Decoding (the pydantic decoder against the msgspec fast path), a batch's rows
and COPY image as a slot's decode side builds them, the same for the bare
benchmark pipeline, PostgreSQL's share of a COPY into `heartbeat` (the
backend's CPU, read from /proc when the server runs on this machine), and the
receipt cursor walk per device and slot.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from cloud.ingest import fast_heartbeats, store
from cloud.ingest.batch import Inbound
from cloud.ingest.pipeline import Pipeline
from cloud.ingest.steps import default_steps
from gridwatch.settings import load_settings
from protocols import topics
from protocols.decode import decode

from . import bare
from .cpu import cpu_seconds
from .publisher import build_messages

BATCH = 500  # messages, as `ingest_batch_size`


def _us_per(n: int, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) / n * 1e6


def _copy_cost(conn: psycopg.Connection, n: int, copy: Callable[[psycopg.Cursor], None]) -> tuple[float, float | None]:
    """(wall us/row, backend CPU us/row or None), committing as a slot does."""
    cpu0, started = cpu_seconds([conn.info.backend_pid]), time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        copy(cur)
    wall = (time.perf_counter() - started) / n * 1e6
    cpu1 = cpu_seconds([conn.info.backend_pid])  # None: the server is elsewhere
    return wall, (cpu1 - cpu0) / n * 1e6 if cpu0 is not None and cpu1 is not None else None


def run(dsn: str, heartbeats: int) -> list[str]:
    now_ms = int(time.time() * 1000)
    msgs = build_messages(now_ms - 3_600_000, heartbeats, 50, 1000, "rows")
    inbound = [Inbound(t, p, i, time.time()) for i, (t, p, _) in enumerate(msgs)]
    batches = [inbound[i:i + BATCH] for i in range(0, len(inbound), BATCH)]
    devs = [topics.parse(t).dev for t, _, _ in msgs]
    settings = load_settings(database_url=dsn)
    pipeline = Pipeline(settings, default_steps(settings))
    lines = [
        f"decode, pydantic models:        {_us_per(heartbeats, lambda: [decode(t, p, now_ms) for t, p, _ in msgs]):6.2f} us/hb",
        f"decode, msgspec fast path:      {_us_per(heartbeats, lambda: [fast_heartbeats.decode(d, p, now_ms, 86_400_000) for d, (_, p, _) in zip(devs, msgs)]):6.2f} us/hb",
    ]
    all_rows = []
    lines.append(f"rows of a batch (all steps):    {_us_per(heartbeats, lambda: all_rows.extend(pipeline.rows(b) for b in batches)):6.2f} us/hb")
    # Batches of single-heartbeat messages, as most of a live fleet's traffic comes; rows dropped
    # as made (kept, they would grow the heap the collector walks)
    singles = [Inbound(t, p, i, time.time())
               for i, (t, p, _) in enumerate(build_messages(now_ms - 3_600_000, 20 * BATCH, 1, 1000, "rows1"))]
    one_each = [singles[i:i + BATCH] for i in range(0, len(singles), BATCH)]
    lines.append(f"rows of a batch, singles:       {_us_per(len(singles), lambda: [pipeline.rows(b) for b in one_each]):6.2f} us/hb")
    lines.append(f"bare pipeline's rows, singles:  {_us_per(len(singles), lambda: [list(bare.rows(b)) for b in one_each]):6.2f} us/hb")
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            lines.append(f"COPY image of a batch:          {_us_per(heartbeats, lambda: [setattr(r, 'images', store.encode(cur, r)) for r in all_rows]):6.2f} us/hb")
            lines.append(f"bare pipeline, rows and image:  {_us_per(heartbeats, lambda: [store.binary_image(cur, lambda cp, b=b: bare.write_rows(cp, b)) for b in batches]):6.2f} us/hb")
        n_rows = sum(len(r.heartbeat) for r in all_rows)

        def full(cur: psycopg.Cursor) -> None:
            for r in all_rows:
                with cur.copy(store.copy_statement("heartbeat", "heartbeat")) as cp:
                    cp.write(r.images["heartbeat"])

        wall, cpu = _copy_cost(conn, n_rows, full)
        lines.append(f"COPY into heartbeat: {wall:6.2f} us/row wall, "
                     + (f"{cpu:.2f} us/row PostgreSQL CPU" if cpu is not None else "server CPU not visible"))
    for label, per_slot in (("two slots, interleaved seqs", 6), ("two slots, a message at a time", 0)):
        slot_us, db_us = _receipt_walk_cost(dsn, per_slot, seconds=10 if per_slot else 40)
        lines.append(f"receipt walk, {label}: {slot_us:6.2f} us/key slot CPU, "
                     + (f"{db_us:.2f} us/key PostgreSQL CPU" if db_us is not None else "server CPU not visible"))
    return lines


def _receipt_walk_cost(dsn: str, per_slot: int, devices: int = 1000, seconds: int = 10) -> tuple[float, float | None]:
    """CPU per key of `store.record_seqs` as two slots walk 1,000 devices' seqs for `seconds`
    rounds, a quarter of the devices a call, the first slot alternating. `per_slot` > 0: each
    slot walks that many of every device's seqs a round, interleaved with the other slot's (a
    shared subscription hands a fast device's messages out in turn); 0: each device sends one
    message a round, to one slot or the other (a fleet heartbeating every few seconds)."""
    keys = [(f"bwalk{per_slot}-{i}", "hb") for i in range(devices)]
    with psycopg.connect(dsn) as one, psycopg.connect(dsn) as two:
        store.record_seqs(one, {k: [0] for k in keys}, 1.0)  # cursors exist, as in a running fleet
        pids = [one.info.backend_pid, two.info.backend_pid]
        slot_s, db0, walks = 0.0, cpu_seconds(pids), 0
        for second in range(seconds):
            if per_slot:
                base = 1 + second * 2 * per_slot
                rounds = [(one, keys, range(base, base + 2 * per_slot, 2)),
                          (two, keys, range(base + 1, base + 2 * per_slot, 2))]
            else:
                rounds = [(one, keys[second % 2::2], range(second + 1, second + 2)),
                          (two, keys[(second + 1) % 2::2], range(second + 1, second + 2))]
            for conn, mine, seqs in rounds if second % 2 == 0 else rounds[::-1]:
                for quarter in range(4):
                    due = {k: list(seqs) for k in mine[quarter::4]}
                    started = time.thread_time()
                    store.record_seqs(conn, due, 1.0)
                    slot_s += time.thread_time() - started
                    walks += len(due)
        db1 = cpu_seconds(pids)
        expected = seconds * 2 * per_slot if per_slot else seconds
        top = one.execute("SELECT min(seq) FROM receipt_cursor WHERE dev LIKE %s", (f"bwalk{per_slot}-%",)).fetchone()[0]
        if top != expected:
            raise RuntimeError(f"receipt walk benchmark: cursors at {top}, not {expected}")
    return slot_s / walks * 1e6, (db1 - db0) / walks * 1e6 if db0 is not None and db1 is not None else None

