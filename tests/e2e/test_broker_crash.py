"""The broker is SIGKILLed and restarted while handsets keep producing: nothing is lost.

A killed Mosquitto loses what it had acknowledged but not yet saved (FIELD-NOTES);
only the ingest's receipts tell a handset what is safe to delete from its outbox.
"""
from __future__ import annotations

import signal
import time

from cloud.broker.config import RELAY_USER
from edge.handset.agent import HandsetAgent
from edge.handset.sources import SimulatedPath
from edge.node import EdgeNode
from gridwatch.localstack import start_broker
from tests.integration.ingest_helpers import ingest_settings, new_dev, query, running_worker, wait_rows

HEARTBEATS = 300


def test_handsets_lose_nothing_when_the_broker_is_killed_mid_stream(db_url, tmp_path):
    broker = start_broker(tmp_path / "broker")
    try:
        settings = ingest_settings(broker, db_url, edge_resend_after_s=2.0, receipt_min_interval_s=0.2)
        devs = [new_dev() for _ in range(3)]
        relay = broker.url(RELAY_USER)
        with running_worker(settings):
            nodes, agents = [], []
            for dev in devs:
                node = EdgeNode.open(settings, dev, url=relay, outbox_path=tmp_path / f"{dev}.outbox")
                node.start()
                nodes.append(node)
                agent = HandsetAgent(dev, node.outbox, SimulatedPath([(31.23, 121.47), (31.24, 121.48)], seed=1),
                                     interval_s=0.01, count=HEARTBEATS)
                agent.start()
                agents.append(agent)
            while query(db_url, "SELECT count(*) FROM heartbeat WHERE dev = ANY(%s)", (devs,))[0][0] < HEARTBEATS // 2:
                time.sleep(0.02)
            broker.stop(signal.SIGKILL)
            killed_at = query(db_url, "SELECT count(*) FROM heartbeat WHERE dev = ANY(%s)", (devs,))[0][0]
            time.sleep(1.0)
            broker.start()
            for agent in agents:
                agent.wait()
            try:
                total = len(devs) * HEARTBEATS
                assert killed_at < total, "the kill must land while the handsets are producing"
                assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = ANY(%s)", total, timeout=60,
                                 params=(devs,)) == total
                for dev in devs:
                    assert query(db_url, "SELECT count(DISTINCT seq), min(seq), max(seq) FROM heartbeat "
                                         "WHERE dev = %s", (dev,)) == [(HEARTBEATS, 0, HEARTBEATS - 1)]
                for node in nodes:
                    assert node.sender.flush(30), node.stats()  # every message receipted, outbox empty
                # The crash really cost the broker messages: handsets had to resend.
                assert sum(node.stats().resent for node in nodes) > 0
            finally:
                for node in nodes:
                    node.close()
    finally:
        broker.stop()
