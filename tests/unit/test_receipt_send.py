"""The receipt side publishes one contract receipt per claimed cursor and counts them."""
from __future__ import annotations

import orjson
from prometheus_client import REGISTRY

from cloud.ingest.receipt_side import ReceiptSide
from cloud.ingest.store import Advanced
from gridwatch.settings import load_settings


def sent_total() -> float:
    return REGISTRY.get_sample_value("gridwatch_ingest_receipts_total") or 0.0


def test_each_claimed_cursor_becomes_one_receipt_and_one_count():
    published: list[tuple[str, bytes]] = []
    side = ReceiptSide(load_settings(), 1, connect=lambda: None, publish=lambda t, p: published.append((t, p)))
    before = sent_total()
    side._send([Advanced("h-1", "hb", 7), Advanced("h-2", "report", 3)], now=100.0)
    side._send([], now=100.5)
    assert [t for t, _ in published] == ["gw/v1/h-1/ack", "gw/v1/h-2/ack"]
    assert [{k: v for k, v in orjson.loads(p).items() if k != "ts"} for _, p in published] == [
        {"v": 1, "kind": "hb", "seq": 7}, {"v": 1, "kind": "report", "seq": 3}]
    assert sent_total() - before == 2
    # Sent now: the coalescer holds the next receipt of either key for an interval.
    assert side.coalescer.offer("h-1", "hb", 8, now=100.2) == []
