"""`gridwatch bench rows`: the ingest's per-heartbeat costs without a broker.

Decoding (the pydantic decoder against the msgspec fast path), a batch's rows
and COPY image as a slot's decode side builds them, the same for the bare
benchmark pipeline, and PostgreSQL's share of a COPY into `heartbeat` (the
backend's CPU, read from /proc when the server runs on this machine).
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
    return lines

