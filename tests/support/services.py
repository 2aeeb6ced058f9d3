"""Private, throwaway services for tests and benchmarks: a Mosquitto started
with the project's own configuration, and PostgreSQL databases cloned from a
migrated template. The shared services are left as they were found."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg

from gridwatch.localstack import Broker, free_port, start_broker, wait_port  # noqa: F401

ADMIN_DSN = os.environ.get("GRIDWATCH_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def dsn_for(dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_DSN, dbname=dbname)


def create_database(name: str, template: str | None = None) -> str:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return dsn_for(name)


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
