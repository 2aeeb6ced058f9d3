"""Grids of heartbeats in a real ingest slot: stored with the grid, re-imports apply without a
restart, GCJ-02 heartbeats stored in WGS-84."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import orjson
import psycopg
import pytest

from cloud.broker.config import RELAY_USER
from cloud.geo import crs
from cloud.geo.gridfile import parse_grid_file
from cloud.geo.registry import import_grids
from cloud.ingest.enrich_grid import GridEnricher
from cloud.ingest.owntracks import OwnTracksTranslator
from cloud.ingest.steps import Steps, default_steps
from cloud.ingest.worker import IngestWorker
from protocols import topics
from tests.integration.ingest_helpers import ingest_settings, new_dev, query, wait_rows
from tests.support.mqtt import publish_all
from gridwatch.settings import load_settings
from tests.unit.test_geo_support import BOXES, IN_G1, IN_G2, OUTSIDE, city


@contextmanager
def geo_worker(settings):
    """An ingest slot with only this area's steps, so the test does not depend on other reactors."""
    worker = IngestWorker(settings, 1, steps=Steps(translators=[OwnTracksTranslator()], enrichers=[GridEnricher()]))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, True), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not worker.consumer.connected.is_set():
        assert time.monotonic() < deadline, "ingest worker did not connect"
        time.sleep(0.02)
    time.sleep(0.2)
    try:
        yield worker
    finally:
        stop.set()
        thread.join(15)


def hb(seq, lon, lat, **extra):
    return {"v": 1, "seq": seq, "ts": 1_790_000_000_000 + seq * 1000, "lat": lat, "lon": lon, "acc": 6.0, **extra}


def test_default_steps_enrich_grids_and_translate_owntracks(db_url):
    steps = default_steps(load_settings(database_url=db_url))
    assert isinstance(steps.enrichers[0], GridEnricher)
    assert any(isinstance(t, OwnTracksTranslator) for t in steps.translators)
    assert "owntracks/+/+" in steps.extra_subscriptions()


def test_heartbeats_get_their_grid_and_a_reimport_applies_without_restarting(broker, db_url):
    with psycopg.connect(db_url) as conn:
        import_grids(conn, parse_grid_file(city()))
    dev = new_dev()
    settings = ingest_settings(broker, db_url, ingest_refresh_s=0.1)
    url = broker.url(RELAY_USER)
    with geo_worker(settings):
        publish_all(url, [(topics.build(dev, "hb"), orjson.dumps([hb(1, *IN_G1), hb(2, *IN_G2), hb(3, *OUTSIDE)]))])
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 3, params=(dev,)) == 3
        assert query(db_url, "SELECT seq, grid FROM heartbeat WHERE dev = %s ORDER BY seq", (dev,)) == \
            [(1, "G1"), (2, "G2"), (3, None)]
        # G2 grows over the north half of the district: the OUTSIDE point is now in it
        bigger = {**BOXES, "S1": ("street", "D1", (121.40, 31.20, 121.45, 31.30)),
                  "C1": ("community", "S1", (121.40, 31.20, 121.45, 31.30)),
                  "G2": ("grid", "C1", (121.425, 31.20, 121.45, 31.30)),
                  "S2": ("street", "D1", (121.45, 31.20, 121.50, 31.25)),
                  "G3": ("grid", None, (121.45, 31.25, 121.50, 31.30))}
        with psycopg.connect(db_url) as conn:
            import_grids(conn, parse_grid_file(city(bigger)))
        time.sleep(0.3)  # > ingest_refresh_s: the slot reloads at its next batch
        publish_all(url, [(topics.build(dev, "hb"), orjson.dumps(hb(4, *OUTSIDE)))])
        assert wait_rows(db_url, "SELECT grid FROM heartbeat WHERE dev = %s AND seq = 4", "G3", params=(dev,)) == "G3"
    # rows stored before the re-import keep the grid they were judged in
    assert query(db_url, "SELECT grid FROM heartbeat WHERE dev = %s AND seq = 3", (dev,)) == [(None,)]


@pytest.mark.parametrize("name,forward", [("gcj02", crs.wgs84_to_gcj02), ("bd09", crs.wgs84_to_bd09)])
def test_a_heartbeat_declaring_a_chinese_crs_is_stored_in_wgs84_with_its_crs_kept(broker, db_url, name, forward):
    with psycopg.connect(db_url) as conn:
        import_grids(conn, parse_grid_file(city()))
    # On the WGS-84 map this fix is 30 m inside G1; as drawn on a Chinese map it would be ~500 m off, in G2.
    wgs = (121.425 - 0.0003, 31.22)
    lon, lat = (float(v) for v in forward(*wgs))
    dev = new_dev()
    with geo_worker(ingest_settings(broker, db_url)):
        publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), orjson.dumps(hb(1, lon, lat, crs=name)))])
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 1, params=(dev,)) == 1
    [(got_lon, got_lat, got_crs, grid)] = query(db_url, "SELECT lon, lat, crs, grid FROM heartbeat WHERE dev = %s", (dev,))
    assert (got_crs, grid) == (name, "G1")
    assert got_lon == pytest.approx(wgs[0], abs=5e-6) and got_lat == pytest.approx(wgs[1], abs=5e-6)
