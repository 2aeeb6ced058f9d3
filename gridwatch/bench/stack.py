"""Services for a benchmark run: a private broker and a throwaway database."""
from __future__ import annotations

import os
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg

from cloud.broker.config import RELAY_USER
from gridwatch.localstack import admin_dsn_guess, start_broker, start_private_postgres
from gridwatch.settings import load_settings


@contextmanager
def throwaway_database(prefix: str):
    """A new database on the configured or local server, or in a private cluster; dropped afterwards."""
    admin = os.environ.get("GRIDWATCH_ADMIN_DATABASE_URL") or admin_dsn_guess()
    private = None
    if admin is None:
        private = start_private_postgres(Path(tempfile.mkdtemp(prefix="gw-pg-")))
        admin = private.dsn
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield psycopg.conninfo.make_conninfo(admin, dbname=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if private:
            private.stop()


@contextmanager
def bench_stack():
    broker = start_broker()
    try:
        with throwaway_database("gw_bench") as dsn:
            yield load_settings(database_url=dsn, mqtt_url=broker.url()), broker.url(RELAY_USER)
    finally:
        broker.stop()
