"""The OwnTracks app over the real broker: logged in as its device, its locations land as that
device's heartbeats with a grid; an unmapped pair is dead-lettered; repeats stored once."""
from __future__ import annotations

import time

import orjson
import psycopg

from cloud.devices import add_device, owntracks_alias
from cloud.geo.gridfile import parse_grid_file
from cloud.geo.registry import import_grids
from tests.integration.ingest_helpers import ingest_settings, new_dev, query, wait_rows
from tests.integration.test_geo_ingest import geo_worker
from tests.support.mqtt import publish_all
from tests.unit.test_geo_support import IN_G2, city


def location(tst, lon, lat):
    return {"_type": "location", "tid": "hs", "lat": lat, "lon": lon, "tst": tst, "acc": 9, "vel": 36, "batt": 50}


def test_owntracks_locations_are_stored_for_the_aliased_device(broker, db_url):
    dev = new_dev("ot")
    with psycopg.connect(db_url) as conn:
        import_grids(conn, parse_grid_file(city()))
        add_device(conn, dev, "handset", alias=owntracks_alias(dev, "phone"), iterations=1)
    password = broker.add_user(dev)
    url = f"mqtt://{dev}:{password}@127.0.0.1:{broker.port}"
    topic = f"owntracks/{dev}/phone"
    fix = orjson.dumps(location(1_790_000_000, *IN_G2))
    with geo_worker(ingest_settings(broker, db_url)):
        publish_all(url, [(topic, fix), (topic, fix), (topic, orjson.dumps({"_type": "transition", "event": "leave"})),
                          (f"owntracks/{dev}/tablet", fix)])
        assert wait_rows(db_url, "SELECT count(*) FROM dead_letter", 1) == 1
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 1, params=(dev,)) == 1
        time.sleep(0.3)
    [row] = query(db_url, "SELECT seq, ts, spd, batt, grid, extra FROM heartbeat WHERE dev = %s", (dev,))
    assert row[0] == 1_790_000_000_000 and row[1].timestamp() == 1_790_000_000
    assert (row[2], row[3], row[4]) == (10.0, 0.5, "G2") and row[5]["client"]["app"] == "owntracks"
    [(reason, dead_topic)] = query(db_url, "SELECT reason, topic FROM dead_letter")
    assert (reason, dead_topic) == ("unknown_alias", f"owntracks/{dev}/tablet")
