"""Fixtures and helpers shared by the API tests: a pool and app on the test's
database, users and tokens, and rows inserted with plain SQL."""
from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from cloud.api.app import create_app
from cloud.api.live import LiveLimits
from cloud.users import User, add_user, issue_token
from gridwatch.settings import load_settings

with warnings.catch_warnings():
    # Starlette asks for httpx2 and warns when it runs on httpx, which the dev
    # dependencies install; the client behaves the same either way.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

UTC = timezone.utc
LOCAL_CLIENT = ("127.0.0.1", 50000)
# Short live streams, so a test reading one ends by itself.
TEST_LIVE = LiveLimits(poll_s=0.05, settle_s=0.0, max_duration_s=1.5, keepalive_s=0.5, recheck_token_s=0.2,
                       max_streams=3, max_streams_per_user=2)


@pytest.fixture
def pool(db_url):
    p = ConnectionPool(db_url, min_size=1, max_size=6, open=True)
    yield p
    p.close()


@pytest.fixture
def app(db_url, pool):
    return create_app(load_settings(database_url=db_url), pool, live_limits=TEST_LIVE)


@pytest.fixture
def client(app):
    with TestClient(app, client=LOCAL_CLIENT) as c:
        yield c


def make_user(db_url: str, name: str, role: str, password: str = "pw", scope: str | None = None) -> User:
    with psycopg.connect(db_url) as conn:
        return add_user(conn, name, role, password, scope=scope)


def token_for(db_url: str, user: User, ttl_s: int = 600) -> str:
    with psycopg.connect(db_url) as conn:
        return issue_token(conn, user, ttl_s).token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def login_as(db_url: str, name: str, role: str, scope: str | None = None) -> dict:
    """Headers of a fresh user with a valid token (without paying for a password login)."""
    return bearer(token_for(db_url, make_user(db_url, name, role, scope=scope)))


def add_device(db_url: str, dev: str, registered: bool = True, online: bool | None = None) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO device (dev, registered, online, kind, first_seen) VALUES (%s, %s, %s, %s, now())",
                     (dev, registered, online, "handset" if registered else None))


def add_heartbeats(db_url: str, dev: str, rows: list[tuple]) -> None:
    """rows: (seq, ts, lat, lon, grid), received now."""
    with psycopg.connect(db_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO heartbeat (dev, seq, ts, received_at, lat, lon, acc, grid) "
            "VALUES (%s, %s, %s, now(), %s, %s, 5, %s)",
            [(dev, seq, ts, lat, lon, grid) for seq, ts, lat, lon, grid in rows])


def add_dead_letter(db_url: str, reason: str, payload: bytes, dev: str | None = None,
                    received_at: datetime | None = None, topic: str = "gw/v1/x/hb") -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "INSERT INTO dead_letter (received_at, topic, payload, reason, detail, dev) "
            "VALUES (coalesce(%s, now()), %s, %s, %s, 'test', %s) RETURNING id",
            (received_at, topic, payload, reason, dev)).fetchone()[0]


def minutes_ago(n: float) -> datetime:
    """An instant n minutes back, to the millisecond as devices send it."""
    t = datetime.now(UTC) - timedelta(minutes=n)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)
