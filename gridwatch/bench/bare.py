"""The reference: a bare paho-to-COPY consumer, measured beside the full ingest.

Same broker session settings as the real slot (manual ack after commit,
ReceiveMaximum, shared subscription) but no validation, no dead letters, no
staging, no receipts: COPY straight into a table with the same primary key.
"""
from __future__ import annotations

import queue
import signal
import threading
from datetime import datetime, timezone

import orjson
import psycopg
from prometheus_client import Counter

from cloud.ingest.consumer import SlotConsumer
from cloud.ingest.slot import tune_interpreter
from cloud.ingest.worker import gather
from gridwatch.settings import Settings

COLS = "dev, seq, ts, lat, lon, acc"
TYPES = ["text", "int8", "timestamptz", "float8", "float8", "float4"]
# What the benchmark reads to see commits, as it reads the full ingest's rows counter.
ROWS = Counter("gridwatch_bench_bare_rows_total", "rows committed by the bare pipeline")


def _rows(batch):
    for item in batch:
        dev = item.topic.split("/")[2]
        obj = orjson.loads(item.payload)
        for h in obj if isinstance(obj, list) else (obj,):
            yield (dev, h["seq"], datetime.fromtimestamp(h["ts"] / 1000, timezone.utc), h["lat"], h["lon"], h["acc"])


def bare_process_main(settings_json: str, slot: int) -> None:
    settings = Settings.model_validate_json(settings_json)
    tune_interpreter(settings)  # the interpreter as a real slot runs it
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    inbox: queue.Queue = queue.Queue(maxsize=settings.ingest_receive_maximum * 2)
    consumer = SlotConsumer(settings, slot, inbox)
    with psycopg.connect(settings.database_url) as conn:
        consumer.start()
        while not stop.is_set():
            batch = gather(inbox, settings.ingest_batch_size, settings.ingest_flush_ms / 1000)
            if not batch:
                continue
            rows = list(_rows(batch))
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(f"COPY bench_bare ({COLS}) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(TYPES)
                    for row in rows:
                        cp.write_row(row)
            ROWS.inc(len(rows))
            for item in batch:
                consumer.ack(item)
        consumer.stop(end_session=True)
