"""A slot's PUBACKs for a committed batch go out in one write and acknowledge exactly that batch."""
from __future__ import annotations

import queue
import time

import orjson

from cloud.broker.config import RELAY_USER
from cloud.ingest.consumer import SlotConsumer
from protocols import topics
from tests.integration.ingest_helpers import ingest_settings, new_dev
from tests.integration.test_ingest import enc, hb
from tests.support.mqtt import publish_all


def receive(inbox: queue.SimpleQueue, dev: str, want: int, timeout: float = 15.0) -> tuple[list, list]:
    """(messages of `dev`, everyone else's: the share group sees other tests' traffic too)."""
    mine, others = [], []
    deadline = time.monotonic() + timeout
    while len(mine) < want and time.monotonic() < deadline:
        try:
            item = inbox.get(timeout=0.1)
        except queue.Empty:
            continue
        (mine if item.topic == topics.build(dev, "hb") else others).append(item)
    return mine, others


def seqs(items) -> list[int]:
    return sorted(orjson.loads(i.payload)["seq"] for i in items)


def test_ack_batch_acknowledges_its_messages_and_no_others(broker, db_url):
    settings = ingest_settings(broker, db_url)
    dev = new_dev()
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    consumer = SlotConsumer(settings, 1, inbox)
    consumer.start()
    time.sleep(0.2)  # SUBACK
    publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(s))) for s in range(300)])
    mine, others = receive(inbox, dev, 300)
    assert seqs(mine) == list(range(300))
    consumer.ack_batch([m for m in mine if orjson.loads(m.payload)["seq"] < 200] + others)
    consumer.stop()  # the session stays, with what was not acknowledged

    again: queue.SimpleQueue = queue.SimpleQueue()
    resumed = SlotConsumer(settings, 1, again)
    resumed.start()
    try:
        assert resumed.session_present
        redelivered, _ = receive(again, dev, 100)
        late, _ = receive(again, dev, 1, timeout=1.0)  # anything acknowledged that still came back
        assert seqs(redelivered + late) == list(range(200, 300))
        resumed.ack_batch(redelivered + late)
    finally:
        resumed.stop(end_session=True)
