"""The slot's two sides: rows encoded ahead on the decode side store exactly what the store side
would have written, an encoding failure costs nothing, and a failed store side stops the slot
without losing what it had not committed."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import orjson
import psycopg

from cloud.broker.config import RELAY_USER
from cloud.ingest import store
from cloud.ingest.batch import Inbound
from cloud.ingest.pipeline import Pipeline
from cloud.ingest.steps import Steps
from cloud.ingest.worker import IngestWorker
from protocols import topics
from tests.integration.ingest_helpers import ingest_settings, new_dev, query, running_worker, wait_rows
from tests.support.mqtt import publish_all


def hb(seq, **extra):
    return {"v": 1, "seq": seq, "ts": 1_790_000_000_000 + seq * 1000, "lat": 31.23, "lon": 121.47, "acc": 8.0, **extra}


HB_COLUMNS = store.row_columns("heartbeat")


def test_a_copy_image_stores_the_very_rows_it_was_made_from(broker, db_url):
    dev = new_dev()
    pipeline = Pipeline(ingest_settings(broker, db_url), Steps())
    payloads = [[hb(0), hb(1, spd=1.5, sat=7, src="gps", mock=False)], hb(2, crs="gcj02", note="kept as extra"),
                hb(3, alt=-12.5, hdg=359.9, batt=0.25)]
    batch = [Inbound(topics.build(dev, "hb"), orjson.dumps(p), i, time.time()) for i, p in enumerate(payloads)]
    rows = pipeline.rows(batch)
    with psycopg.connect(db_url) as conn:
        with conn.cursor() as cur:
            rows.images = store.encode(cur, rows)
        assert set(rows.images) == {"heartbeat"}
        store.write(conn, rows)
        conn.commit()
        stored = conn.execute(f"SELECT {HB_COLUMNS} FROM heartbeat WHERE dev = %s ORDER BY seq", (dev,)).fetchall()
    assert stored == sorted(rows.heartbeat, key=lambda r: r[1])
    assert stored[2][-1] == {"note": "kept as extra"}
    with psycopg.connect(db_url) as conn:
        times = conn.execute("SELECT ts, received_at FROM heartbeat WHERE dev = %s ORDER BY seq", (dev,)).fetchall()
    # timestamptz's binary form is exact: the wire's milliseconds and the arrival's microseconds
    assert [t for t, _ in times] == [datetime.fromtimestamp(hb(i)["ts"] / 1000, timezone.utc) for i in range(4)]
    assert times[0][1] == datetime.fromtimestamp(batch[0].received_at, timezone.utc)


class Collect:
    """A reactor on heartbeat: what the store hands it as fresh."""

    tables = ("heartbeat",)

    def __init__(self):
        self.fresh: list[tuple] = []

    def react(self, cur, fresh):
        self.fresh += fresh["heartbeat"]


def test_a_reactor_gets_fresh_rows_as_the_batch_carries_them_on_both_store_paths(broker, db_url):
    dev = new_dev()
    pipeline = Pipeline(ingest_settings(broker, db_url), Steps())
    first = pipeline.rows([Inbound(topics.build(dev, "hb"), orjson.dumps([hb(0), hb(1)]), 0, time.time())])
    # a redelivery of seq 1 beside a new seq 2: the COPY meets a duplicate, the staging path takes over
    second = pipeline.rows([Inbound(topics.build(dev, "hb"), orjson.dumps([hb(1), hb(2, batt=0.5)]), 1, time.time())])
    with psycopg.connect(db_url) as conn:
        for rows, new in ((first, first.heartbeat), (second, second.heartbeat[1:])):
            reactor = Collect()
            store.write(conn, rows, [reactor])
            conn.commit()
            assert reactor.fresh == new


def test_a_batch_that_cannot_be_encoded_ahead_is_stored_by_the_store_side(broker, db_url, monkeypatch):
    def refuse(cur, rows):
        raise psycopg.DataError("cannot encode")

    monkeypatch.setattr(store, "encode", refuse)
    dev = new_dev()
    with running_worker(ingest_settings(broker, db_url)):
        publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), orjson.dumps(hb(i))) for i in range(20)])
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 20, params=(dev,)) == 20


def test_a_failed_store_side_stops_the_slot_and_its_batch_comes_back(broker, db_url, monkeypatch):
    settings = ingest_settings(broker, db_url)
    dev = new_dev()
    failing = IngestWorker(settings, 1)
    monkeypatch.setattr(failing, "_commit", lambda job, stop: (_ for _ in ()).throw(RuntimeError("store broke")))
    outcome: list[BaseException] = []

    def run():
        try:
            failing.run(threading.Event())
        except BaseException as exc:  # noqa: BLE001 - what run() raised is the assertion
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert failing.consumer.connected.wait(10)
    time.sleep(0.3)  # SUBACK
    publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), orjson.dumps(hb(i))) for i in range(5)])
    thread.join(15)
    assert not thread.is_alive(), "the decode side kept consuming after its store failed"
    assert outcome and str(outcome[0]) == "ingest slot 1: store failed"
    assert isinstance(outcome[0].__cause__, RuntimeError) and str(outcome[0].__cause__) == "store broke"
    assert query(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", (dev,)) == [(0,)]
    # Nothing was acked: the same slot, restarted, gets the messages again and stores them.
    with running_worker(settings):
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 5, params=(dev,)) == 5
