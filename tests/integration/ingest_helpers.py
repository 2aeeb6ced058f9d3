"""Run an ingest slot in a thread against the private broker, with a private share group."""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager

import psycopg

from cloud.ingest.worker import IngestWorker
from gridwatch.settings import load_settings


def ingest_settings(broker, db_url, **overrides):
    tag = uuid.uuid4().hex[:8]
    values = dict(database_url=db_url, mqtt_url=broker.url(), ingest_client_prefix=f"t{tag}",
                  ingest_share_group=f"g{tag}", ingest_flush_ms=50, receipt_min_interval_s=0.2)
    values.update(overrides)
    return load_settings(**values)


@contextmanager
def running_worker(settings, slot=1, steps=None):
    worker = IngestWorker(settings, slot, steps=steps)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, True), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not worker.consumer.connected.is_set():
        if time.monotonic() > deadline:
            raise TimeoutError("ingest worker did not connect")
        time.sleep(0.02)
    time.sleep(0.2)  # SUBACK
    try:
        yield worker
    finally:
        stop.set()
        thread.join(15)


def wait_rows(db_url, sql, expected, timeout=15.0, params=()):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        with psycopg.connect(db_url) as conn:
            row = conn.execute(sql, params).fetchone()
            value = row[0] if row else None
        if value == expected:
            return value
        time.sleep(0.1)
    return value


def query(db_url, sql, params=()):
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchall()


def new_dev(prefix="h"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
