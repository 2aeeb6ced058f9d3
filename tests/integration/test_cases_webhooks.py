"""Signed webhooks: delivered with a valid HMAC, retried with backoff, dead-lettered after N failures."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import psycopg
import pytest

from cloud.cases.webhooks import (SIGNATURE_HEADER, TIMESTAMP_HEADER, DeliveryPolicy, add_subscription, backoff,
                                  verify)
from cloud.jobs.cases import run_webhook_job
from gridwatch.localstack import free_port
from tests.integration.cases_support import add_fixed_device, at, det, feed

WED_10 = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)
SECRET = "s3cret-for-the-sanitation-system"


class Receiver:
    """A department system that fails its first `fail_first` requests with 503."""

    def __init__(self, fail_first: int):
        self.fail_first = fail_first
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(503 if len(receiver.received) <= receiver.fail_first else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(fail_first=2)
    yield r
    r.close()


def outbox(db_url):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT attempts, delivered_at IS NOT NULL, dead_at IS NOT NULL, last_error "
                            "FROM case_outbox ORDER BY id").fetchall()


def drain(db_url, policy, until, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_webhook_job(db_url, policy)
        if until():
            return
        time.sleep(0.05)


def test_a_new_case_is_posted_signed_after_two_failures_with_backoff(db_url, receiver):
    with psycopg.connect(db_url) as conn:
        add_subscription(conn, receiver.url, "sanitation", SECRET)
        add_subscription(conn, receiver.url + "-water", "water affairs", SECRET)  # not this case's department
    add_fixed_device(db_url, "cam-1", "camera", *at(0, 0))
    feed(db_url, [det("cam-1", "garbage", WED_10)])
    policy = DeliveryPolicy(max_attempts=5, backoff_s=0.2, timeout_s=2)
    run_webhook_job(db_url, policy)
    assert outbox(db_url) == [(1, False, False, "HTTP 503")]
    run_webhook_job(db_url, policy)  # backing off: nothing is due yet
    assert len(receiver.received) == 1
    drain(db_url, policy, lambda: outbox(db_url)[0][1])
    assert outbox(db_url) == [(3, True, False, None)]
    stamps = []
    for headers, body in receiver.received:
        assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
        assert not verify("another secret of enough length", headers[TIMESTAMP_HEADER], body,
                          headers[SIGNATURE_HEADER])
        stamps.append(body)
    event = orjson.loads(stamps[-1])
    assert (event["event"], event["to"], event["case"]["department"], event["case"]["kind"]) == (
        "open", "registered", "sanitation", "garbage")


def test_a_delivery_that_keeps_failing_is_dead_lettered_after_max_attempts(db_url):
    with psycopg.connect(db_url) as conn:
        add_subscription(conn, f"http://127.0.0.1:{free_port()}/nobody-listens", None, SECRET)
    add_fixed_device(db_url, "cam-1", "camera", *at(0, 0))
    feed(db_url, [det("cam-1", "garbage", WED_10)])
    policy = DeliveryPolicy(max_attempts=3, backoff_s=0.05, timeout_s=1)
    drain(db_url, policy, lambda: outbox(db_url)[0][2])
    (row,) = outbox(db_url)
    assert row[:3] == (3, False, True) and "Error" in row[3]
    run_webhook_job(db_url, policy)
    assert outbox(db_url)[0][0] == 3  # never tried again


def test_backoff_doubles():
    assert [backoff(n, 10) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert backoff(30, 10) == 3600
