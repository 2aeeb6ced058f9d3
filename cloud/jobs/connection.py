"""The connection a scheduled job runs on: from the process's pool, or its own from a DSN."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from cloud.db.errors import wrap_errors


@contextmanager
def job_connection(pool_or_dsn: ConnectionPool | str) -> Iterator[psycopg.Connection]:
    """Database errors inside come out as gridwatch's domain errors (cloud.db.errors)."""
    if isinstance(pool_or_dsn, str):
        with wrap_errors(pool_or_dsn):
            conn = psycopg.connect(pool_or_dsn)
        with conn, wrap_errors(pool_or_dsn):
            yield conn
    else:
        with wrap_errors(), pool_or_dsn.connection() as conn:
            yield conn
