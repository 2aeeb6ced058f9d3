"""The benchmark's yardsticks: the bare pipeline writes the rows the full ingest writes, and
CPU accounting reads real figures (or says it cannot)."""
from __future__ import annotations

import os
import time

from cloud.ingest.batch import Inbound, build_rows
from gridwatch.bench import bare
from gridwatch.bench.cpu import cpu_seconds
from gridwatch.bench.publisher import build_messages


def test_bare_pipeline_rows_equal_the_full_pipelines_rows():
    now_ms = int(time.time() * 1000)
    msgs = (build_messages(now_ms - 60_000, 300, 50, 3, "arr")
            + build_messages(now_ms - 60_000, 20, 1, 4, "one")
            + [("gw/v1/h-x/hb", b'{"v":1,"seq":7,"ts":%d,"lat":31.2,"lon":121.4,"acc":4.5,"hdg":90.0,'
                b'"alt":12.5,"mock":false,"sat":9,"src":"gps","crs":"wgs84"}' % now_ms, 1)])
    batch = [Inbound(topic, payload, i, 1_700_000_000.25) for i, (topic, payload, _) in enumerate(msgs)]
    full = build_rows(batch, now_ms, 86_400_000).heartbeat
    assert len(full) == 321
    assert list(bare.rows(batch)) == full


def test_cpu_seconds_counts_this_process_and_refuses_what_it_cannot_see():
    before = cpu_seconds([os.getpid()])
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    after = cpu_seconds([os.getpid()])
    assert before is not None and after is not None
    assert after - before >= 0.05
    assert cpu_seconds([os.getpid(), 2**22 + 12345]) is None  # above pid_max: no such process
