"""SIGKILL an ingest process mid-stream and restart it: nothing lost, nothing twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import orjson

from cloud.broker.config import RELAY_USER
from protocols import topics
from tests.integration.ingest_helpers import ingest_settings, new_dev, query, wait_rows
from tests.support.mqtt import client_for


def start_slot(settings, log_path, slot=1):
    env = dict(os.environ)
    for key, value in settings.model_dump(mode="json").items():
        if value is not None:
            env[f"GRIDWATCH_{key.upper()}"] = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "gridwatch.cli", "-v", "ingest", "run", "--slot", str(slot)],
                                env=env, stdout=subprocess.DEVNULL, stderr=log)


def count(db_url, dev):
    return query(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", (dev,))[0][0]


def test_sigkill_of_an_ingest_worker_mid_stream_loses_nothing_and_stores_nothing_twice(broker, db_url, tmp_path):
    settings = ingest_settings(broker, db_url, ingest_batch_size=200)
    dev, total = new_dev(), 12_000
    proc = start_slot(settings, tmp_path / "slot.log")
    try:
        deadline = time.monotonic() + 20
        # The slot's session must exist before publishing, or the share group has no member yet.
        while count(db_url, dev) == 0 and time.monotonic() < deadline:
            pub = client_for(broker.url(RELAY_USER))
            pub.publish(topics.build(dev, "hb"), orjson.dumps(
                {"v": 1, "seq": 0, "ts": 1_790_000_000_000, "lat": 30.0, "lon": 120.0, "acc": 5.0}), qos=1
            ).wait_for_publish(5)
            pub.disconnect(), pub.loop_stop()
            time.sleep(0.3)
        assert count(db_url, dev) == 1

        pub = client_for(broker.url(RELAY_USER))
        done = threading.Event()

        infos = []

        def stream():
            for seq in range(1, total):
                payload = orjson.dumps({"v": 1, "seq": seq, "ts": 1_790_000_000_000 + seq, "lat": 30.0,
                                        "lon": 120.0, "acc": 5.0})
                infos.append(pub.publish(topics.build(dev, "hb"), payload, qos=1))
                if seq % 500 == 0:
                    time.sleep(0.05)
            done.set()

        t = threading.Thread(target=stream)
        t.start()
        while count(db_url, dev) < 2000:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        at_kill = count(db_url, dev)
        assert at_kill < total, "the kill must land mid-stream"
        time.sleep(0.5)
        proc = start_slot(settings, tmp_path / "slot.log")
        t.join(60)
        assert done.is_set()
        for info in infos:
            info.wait_for_publish(30)
        pub.disconnect(), pub.loop_stop()
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", total, timeout=60,
                         params=(dev,)) == total
        assert query(db_url, "SELECT count(DISTINCT seq), min(seq), max(seq) FROM heartbeat WHERE dev = %s",
                     (dev,)) == [(total, 0, total - 1)]
        assert query(db_url, "SELECT count(*) FROM dead_letter WHERE dev = %s", (dev,)) == [(0,)]
        # Receipts: what the killed slot had committed but not yet walked into the cursor
        # is not receipted; like a real device, resend everything no receipt covers: it
        # is stored once more (nothing twice) and then receipted.
        time.sleep(1.5)
        covered = query(db_url, "SELECT seq FROM receipt_cursor WHERE dev = %s", (dev,))[0][0]
        pub = client_for(broker.url(RELAY_USER))
        resend = [pub.publish(topics.build(dev, "hb"), orjson.dumps(
            {"v": 1, "seq": seq, "ts": 1_790_000_000_000 + seq, "lat": 30.0, "lon": 120.0, "acc": 5.0}), qos=1)
            for seq in range(covered + 1, total)]
        for info in resend:
            info.wait_for_publish(30)
        pub.disconnect(), pub.loop_stop()
        assert wait_rows(db_url, "SELECT seq FROM receipt_cursor WHERE dev = %s", total - 1, timeout=30,
                         params=(dev,)) == total - 1
        assert query(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", (dev,)) == [(total,)]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
