"""Prometheus instruments of the ingest (exported by the API's /metrics)."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES = Counter("gridwatch_ingest_messages_total", "MQTT messages handled", ["slot"])
ROWS = Counter("gridwatch_ingest_rows_total", "data rows written (before de-duplication)", ["table"])
DEAD = Counter("gridwatch_ingest_dead_letters_total", "messages kept as dead letters", ["reason"])
RECEIPTS = Counter("gridwatch_ingest_receipts_total", "receipts published to devices")
STORE_RETRIES = Counter("gridwatch_ingest_store_retries_total", "batch commits retried", ["cause"])
SESSION_LOST = Counter("gridwatch_ingest_session_lost_total",
                       "reconnects where the broker had no session for a slot")
BATCH_SECONDS = Histogram("gridwatch_ingest_batch_seconds", "decode+store+ack time of one batch",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
