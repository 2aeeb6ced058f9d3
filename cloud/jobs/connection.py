"""What every scheduled job shares: its connection (the process's pool, or its own from a
DSN) and how a failed run ends (logged; the scheduler's thread lives on, the next run retries)."""
from __future__ import annotations

from collections.abc import Iterator
import logging
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from cloud.db.errors import DatabaseError, wrap_errors

log = logging.getLogger(__name__)


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


@contextmanager
def failures_logged(what: str, retry: str = "retried next run") -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:
        log.error("%s failed, %s: %s", what, retry, exc)
    except Exception:
        # The scheduler's thread must survive whatever happens here; the traceback shows the bug.
        log.exception("%s failed, %s", what, retry)
