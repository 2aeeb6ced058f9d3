"""The reference: a bare paho-to-COPY consumer, measured beside the full ingest.

Same broker session settings as the real slot (manual ack after commit,
ReceiveMaximum, shared subscription) and the same rows into a table of the
same shape (bare.sql), but no validation, no dead letters, no enrichment, no
staging, no receipts: each field the message carries goes straight into COPY.
It acks each message with paho's ack(), the documented way (the real slot
sends a batch's PUBACKs as one packet, SlotConsumer.ack_batch; `batch_acks`
makes the reference do the same, `gridwatch bench ingest --bare-acks batch`).
"""
from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

import orjson
import psycopg
from prometheus_client import Counter

from cloud.ingest.batch import Inbound
from cloud.ingest.consumer import SlotConsumer
from cloud.ingest.slot import tune_interpreter
from cloud.ingest.thread_name import name_os_thread
from cloud.ingest.store import INT_TIMES, TABLES, copy_statement
from cloud.ingest.worker import gather
from gridwatch.settings import Settings

COPY_SQL = copy_statement("bench_bare", "heartbeat")
# The obvious representation of times: datetimes, dumped as timestamptz. (The full ingest carries
# the same values as ints in timestamptz's binary form, cloud/ingest/pg_time.py: the bytes that
# reach PostgreSQL are the same, tests/integration/test_bench_ingest.py.)
TYPES = ["timestamptz" if c in INT_TIMES["heartbeat"] else t for c, t in TABLES["heartbeat"]]
# What the benchmark reads to see commits, as it reads the full ingest's rows counter.
ROWS = Counter("gridwatch_bench_bare_rows_total", "rows committed by the bare pipeline")
UTC = timezone.utc


def rows(batch: Iterable[Inbound]) -> Iterator[tuple]:
    """heartbeat's columns, in store.TABLES order, from whatever each message holds (no grid, no extra);
    times as datetimes."""
    fromtimestamp = datetime.fromtimestamp
    for item in batch:
        dev = item.topic.split("/")[2]
        received = fromtimestamp(item.received_at, UTC)
        obj = orjson.loads(item.payload)
        for h in obj if isinstance(obj, list) else (obj,):
            get = h.get
            yield (dev, h["seq"], fromtimestamp(h["ts"] / 1000, UTC), received, h["lat"], h["lon"], h["acc"],
                   get("spd"), get("hdg"), get("alt"), get("batt"), get("mock"), get("sat"), get("src"),
                   get("crs", "wgs84"), None, None)


def write_rows(cp: psycopg.Copy, batch: Iterable[Inbound]) -> int:
    cp.set_types(TYPES)
    n = 0
    for row in rows(batch):
        cp.write_row(row)
        n += 1
    return n


def bare_process_main(settings_json: str, slot: int, batch_acks: bool = False) -> None:
    settings = Settings.model_validate_json(settings_json)
    tune_interpreter(settings)  # the interpreter as a real slot runs it
    name_os_thread("gw-bare")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    consumer = SlotConsumer(settings, slot, inbox)
    with psycopg.connect(settings.database_url) as conn:
        consumer.start()
        while not stop.is_set():
            batch = gather(inbox, settings.ingest_batch_size, settings.ingest_flush_ms / 1000)
            if not batch:
                continue
            with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_SQL) as cp:
                n = write_rows(cp, batch)
            ROWS.inc(n)
            if batch_acks:
                consumer.ack_batch(batch)
            else:
                for item in batch:
                    consumer.ack(item)
        consumer.stop(end_session=True)
