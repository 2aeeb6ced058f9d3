"""Batches of inbound messages that tests of the ingest and its yardsticks share."""
from __future__ import annotations

from cloud.ingest.batch import Inbound
from gridwatch.bench.publisher import build_messages


def mixed_batch(now_ms: int) -> list[Inbound]:
    """Arrays, singles, and one heartbeat with every optional field."""
    msgs = (build_messages(now_ms - 60_000, 300, 50, 3, "arr")
            + build_messages(now_ms - 60_000, 20, 1, 4, "one")
            + [("gw/v1/h-x/hb", b'{"v":1,"seq":7,"ts":%d,"lat":31.2,"lon":121.4,"acc":4.5,"hdg":90.0,'
                b'"alt":12.5,"mock":false,"sat":9,"src":"gps","crs":"wgs84"}' % now_ms, 1)])
    return [Inbound(topic, payload, i, 1_700_000_000.25) for i, (topic, payload, _) in enumerate(msgs)]
