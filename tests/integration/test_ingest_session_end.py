"""A slot that ends its session (drain, throwaway runs) leaves nothing on the broker to collect traffic."""
from __future__ import annotations

import queue
import time

from cloud.broker.config import RELAY_USER
from cloud.ingest.consumer import SlotConsumer, connect_once, slot_client_id
from cloud.ingest.worker import IngestWorker
from protocols import topics
from tests.integration.ingest_helpers import ingest_settings, new_dev, query, running_worker, wait_rows
from tests.integration.test_ingest import enc, hb
from tests.support.mqtt import publish_all


def broker_holds_session(settings, slot: int) -> bool:
    """Connect as the slot without a clean start and read CONNACK's session-present flag.
    The probe ends whatever session it finds (expiry 0): ask only when it should be gone."""
    present = connect_once(settings, slot_client_id(settings, slot), clean_start=False, expiry_s=0)
    assert present is not None, "no CONNACK"
    return present


def test_a_stopping_slot_ends_its_session_even_with_receipts_in_flight(broker, db_url):
    # Receipts wait for the slot's last round, so the slot publishes one per device right
    # before its DISCONNECT: Mosquitto 2.0 then drops the connection on the PUBACK it cannot
    # write and never reads the DISCONNECT (its expiry 0) behind them.
    settings = ingest_settings(broker, db_url, receipt_min_interval_s=60)
    for _ in range(3):
        devs = [new_dev() for _ in range(300)]
        with running_worker(settings):
            publish_all(broker.url(RELAY_USER), [(topics.build(d, "hb"), enc(hb(0))) for d in devs])
            assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = ANY(%s)", 300, params=(devs,)) == 300
        assert not broker_holds_session(settings, 1)


def test_drain_stores_what_the_broker_kept_for_an_offline_slot_and_ends_its_session(broker, db_url):
    settings = ingest_settings(broker, db_url)
    # A slot that subscribed and went away with its session kept (a crash, a scale-down).
    gone = SlotConsumer(settings, 1, queue.SimpleQueue())
    gone.start()
    time.sleep(0.2)  # SUBACK
    gone.stop()
    dev = new_dev()
    publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(s))) for s in range(50)])
    # The share group takes every device's heartbeats: other tests' traffic on this broker counts too.
    assert IngestWorker(settings, 1).drain(idle_s=1.0) >= 50
    assert query(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", (dev,)) == [(50,)]
    assert not broker_holds_session(settings, 1)
