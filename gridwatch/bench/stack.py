"""Services for a benchmark run: a private broker and a throwaway database."""
from __future__ import annotations

from contextlib import contextmanager

from cloud.broker.config import RELAY_USER
from gridwatch.localstack import start_broker, throwaway_database
from gridwatch.settings import load_settings


@contextmanager
def bench_stack():
    broker = start_broker()
    try:
        with throwaway_database("gw_bench") as dsn:
            yield load_settings(database_url=dsn, mqtt_url=broker.url()), broker.url(RELAY_USER), broker.proc.pid
    finally:
        broker.stop()
