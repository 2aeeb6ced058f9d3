"""Signed webhooks to department systems, delivered from the `case_outbox` table.

Every case history row puts one delivery per matching subscription into the
outbox, in the same transaction (trigger in migration 0040). A delivery is a
POST of the JSON body with

    X-Gridwatch-Timestamp: <unix seconds>
    X-Gridwatch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the subscription's secret>

so a receiver can check origin and integrity, and refuse replays by age.
Failures are retried with exponential backoff; after `max_attempts` the
delivery is dead-lettered (`dead_at`). Deliveries are claimed with FOR UPDATE
SKIP LOCKED, so several processes never send the same one at once.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import orjson
import psycopg

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Gridwatch-Signature"
TIMESTAMP_HEADER = "X-Gridwatch-Timestamp"
MAX_BACKOFF_S = 3600.0


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_s: float = 10.0
    timeout_s: float = 5.0
    batch: int = 20


@dataclass(frozen=True)
class DeliveryRun:
    delivered: int = 0
    failed: int = 0
    dead: int = 0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff(attempts: int, base_s: float) -> float:
    """Seconds before the next try after `attempts` failed ones: base, 2 base, 4 base, ..."""
    return min(base_s * 2 ** max(0, attempts - 1), MAX_BACKOFF_S)


def add_subscription(conn: psycopg.Connection, url: str, department: str | None,
                     secret: str | None = None) -> tuple[int, str]:
    """A new subscription; returns its id and secret (generated when not given)."""
    secret = secret or secrets.token_urlsafe(32)
    with conn.transaction():
        (wid,) = conn.execute("INSERT INTO case_webhook (url, secret, department) VALUES (%s, %s, %s) RETURNING id",
                              (url, secret, department)).fetchone()
    return wid, secret


def post(url: str, secret: str, body: bytes, timeout_s: float) -> str | None:
    """POST one signed body; None when the receiver answered 2xx, else why not."""
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body),
               "User-Agent": "gridwatch-webhooks/1"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        exc.close()
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]


_CLAIM = """
SELECT o.id, o.body, o.attempts, w.url, w.secret FROM case_outbox o JOIN case_webhook w ON w.id = o.webhook_id
WHERE o.delivered_at IS NULL AND o.dead_at IS NULL AND o.next_attempt_at <= now()
ORDER BY o.next_attempt_at, o.id LIMIT %s FOR UPDATE OF o SKIP LOCKED
"""


def deliver_due(conn: psycopg.Connection, policy: DeliveryPolicy) -> DeliveryRun:
    """Send one batch of due deliveries; each claimed row is settled in the same transaction."""
    delivered = failed = dead = 0
    with conn.transaction(), conn.cursor() as cur:
        for oid, body, attempts, url, secret in cur.execute(_CLAIM, (policy.batch,)).fetchall():
            error = post(url, secret, orjson.dumps(body), policy.timeout_s)
            if error is None:
                cur.execute("UPDATE case_outbox SET delivered_at = now(), attempts = attempts + 1, "
                            "last_error = NULL WHERE id = %s", (oid,))
                delivered += 1
                continue
            tries = attempts + 1
            give_up = tries >= policy.max_attempts
            cur.execute("UPDATE case_outbox SET attempts = %s, last_error = %s, "
                        "next_attempt_at = now() + make_interval(secs => %s), "
                        "dead_at = CASE WHEN %s THEN now() END WHERE id = %s",
                        (tries, error, backoff(tries, policy.backoff_s), give_up, oid))
            log.warning("webhook delivery %s to %s failed (try %d): %s%s", oid, url, tries, error,
                        "; dead-lettered" if give_up else "")
            dead += give_up
            failed += not give_up
    return DeliveryRun(delivered, failed, dead)
