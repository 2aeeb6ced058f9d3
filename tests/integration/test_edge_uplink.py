"""Edge agents against a real private Mosquitto with the project's config, auth and ACL.

A `CloudStub` plays the cloud: a plain paho subscriber as `gridwatch-cloud`
that decodes with the contract's decoder, keeps distinct (dev, kind, seq) and,
when asked, answers with receipts for the highest contiguous seq.
"""
from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import defaultdict

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.broker.config import CLOUD_USER
from edge.handset.agent import HandsetAgent
from edge.handset.sources import SimulatedPath
from edge.link import Backoff, Link
from edge.node import EdgeNode
from edge.outbox import Outbox
from edge.sender import Sender
from gridwatch.settings import MqttEndpoint, load_settings
from protocols import topics
from protocols.decode import decode
from protocols.models import Command, Receipt
from tests.support import services

PATH = [(31.2300, 121.4700), (31.2310, 121.4712)]


def wait_for(predicate, timeout: float = 10.0, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


class CloudStub:
    """Subscriber as the cloud user, persistent session, optional receipts."""

    def __init__(self, broker, *, receipts: bool = True) -> None:
        self.receipts = receipts
        self.lock = threading.Lock()
        self.seqs: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.payloads: list[tuple[str, bytes]] = []
        self.states: dict[str, dict] = {}
        self.rejections: list = []
        self.client_id = f"cloud-{uuid.uuid4().hex[:8]}"
        self.password = broker.passwords[CLOUD_USER]
        self.port = broker.port
        self.subscribed = threading.Event()
        self.resume()

    def resume(self) -> None:
        """(Re)connect with the same client id and a persistent session.

        A new paho client each time: a second loop_start on one client leaks
        its wake-up socket pair."""
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(CLOUD_USER, self.password)
        self.client.reconnect_delay_set(0.1, 0.3)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.subscribed.clear()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        self.client.connect_async("127.0.0.1", self.port, 10, clean_start=False, properties=props)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the cloud stub could not subscribe"

    def pause(self) -> None:
        """Go offline; the broker holds what arrives meanwhile in this session."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        client.subscribe([("gw/v1/+/hb", 1), ("gw/v1/+/alert", 1), ("gw/v1/+/state", 1)])

    def _on_message(self, client, userdata, msg) -> None:
        ref = topics.parse(msg.topic)
        if ref.kind == "state":
            with self.lock:
                self.states[ref.dev] = orjson.loads(msg.payload) if msg.payload else {}
            return
        result = decode(msg.topic, msg.payload, now_ms=time.time_ns() // 1_000_000)
        with self.lock:
            self.payloads.append((msg.topic, msg.payload))
            self.rejections += result.rejections
            seen = self.seqs[(ref.dev, ref.kind)]
            seen.update(m.seq for m in result.messages)
            top = self._contiguous(seen)
        if self.receipts and top >= 0:
            # Also after a duplicate: the device may have missed the last receipt.
            receipt = Receipt(kind=ref.kind, seq=top, ts=time.time_ns() // 1_000_000)
            client.publish(topics.build(ref.dev, "ack"), receipt.model_dump_json(), qos=1)

    @staticmethod
    def _contiguous(seen: set[int]) -> int:
        top = -1
        while top + 1 in seen:
            top += 1
        return top

    def distinct(self, dev: str, kind: str = "hb") -> set[int]:
        with self.lock:
            return set(self.seqs[(dev, kind)])

    def close(self) -> None:
        """Disconnect and end the session, so the shared broker stops queueing for it."""
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0
        self.client.disconnect(properties=props)
        self.client.loop_stop()


@pytest.fixture
def dev(broker) -> str:
    name = f"hs-{uuid.uuid4().hex[:8]}"
    broker.add_user(name)
    return name


@pytest.fixture
def settings():
    return load_settings(edge_reconnect_min_s=0.05, edge_reconnect_max_s=0.4, edge_resend_after_s=1.0)


@pytest.fixture
def cloud(broker):
    stub = CloudStub(broker)
    yield stub
    stub.close()


@pytest.fixture
def silent_cloud(broker):
    stub = CloudStub(broker, receipts=False)
    yield stub
    stub.close()


def open_node(settings, broker, dev, tmp_path) -> EdgeNode:
    node = EdgeNode.open(settings, dev, url=broker.url(dev), outbox_path=tmp_path / f"{dev}.sqlite3")
    node.start()
    assert node.link.wait_connected(10), "the device could not connect"
    return node


def run_agent(node: EdgeNode, count: int, interval_s: float = 0.02) -> HandsetAgent:
    agent = HandsetAgent(node.dev, node.outbox, SimulatedPath(PATH, seed=3), interval_s=interval_s, count=count)
    agent.run()
    return agent


def test_agent_heartbeats_reach_the_cloud_valid_and_in_seq_order(broker, settings, dev, silent_cloud, tmp_path):
    node = open_node(settings, broker, dev, tmp_path)
    try:
        run_agent(node, count=20)
        assert wait_for(lambda: silent_cloud.distinct(dev) == set(range(20)))
        assert silent_cloud.rejections == []
        assert wait_for(lambda: silent_cloud.states.get(dev, {}).get("online") is True)
        stats = node.stats()
        assert (stats.queued, stats.inflight, stats.confirmed) == (0, 20, 0)  # no receipt: all kept
    finally:
        node.close()
    # A chosen stop says offline, retained.
    assert wait_for(lambda: silent_cloud.states[dev].get("online") is False)


def test_receipts_from_the_cloud_delete_from_the_outbox(broker, settings, dev, silent_cloud, tmp_path):
    node = open_node(settings, broker, dev, tmp_path)
    try:
        run_agent(node, count=10)
        assert wait_for(lambda: len(silent_cloud.distinct(dev)) == 10)
        cloud_link = _publisher(broker)
        try:
            _receipt(cloud_link, dev, "hb", 6)
            assert wait_for(lambda: len(node.outbox) == 3)
            assert [p.seq for p in node.outbox.due(now=1e12)] == [7, 8, 9]
            _receipt(cloud_link, dev, "hb", 9)
            assert wait_for(lambda: len(node.outbox) == 0)
        finally:
            cloud_link.disconnect()
            cloud_link.loop_stop()
        assert node.stats().confirmed == 10
    finally:
        node.close()


def test_commands_reach_a_handler_and_bad_downlink_messages_are_ignored(broker, settings, dev, silent_cloud,
                                                                        tmp_path):
    node = open_node(settings, broker, dev, tmp_path)
    commands: list = []
    node.link.attach(dev, on_command=commands.append)  # beside the sender's receipts
    try:
        run_agent(node, count=3)
        assert wait_for(lambda: len(silent_cloud.distinct(dev)) == 3)
        cloud_link = _publisher(broker)
        try:
            for bad in (b"not json", b'{"v":1,"kind":"hb","seq":"2","ts":1}'):
                cloud_link.publish(topics.build(dev, "ack"), bad, qos=1).wait_for_publish(5)
            cmd = Command(id="c-1", cmd="ping", ts=time.time_ns() // 1_000_000)
            cloud_link.publish(topics.build(dev, "cmd"), cmd.model_dump_json(), qos=1).wait_for_publish(5)
            _receipt(cloud_link, dev, "hb", 2)
            assert wait_for(lambda: commands == [cmd])
            assert wait_for(lambda: len(node.outbox) == 0)  # the link survived the bad ones
        finally:
            cloud_link.disconnect()
            cloud_link.loop_stop()
    finally:
        node.close()


def test_a_backlog_goes_out_as_heartbeat_arrays(broker, settings, dev, cloud, tmp_path):
    with Outbox(tmp_path / f"{dev}.sqlite3", dev=dev, durable=False) as ob:
        agent = HandsetAgent(dev, ob, SimulatedPath(PATH, seed=1), interval_s=0.001, count=1200)
        agent.run()  # stored while offline
    node = open_node(settings, broker, dev, tmp_path)
    try:
        assert wait_for(lambda: len(node.outbox) == 0, timeout=20)
        assert cloud.distinct(dev) == set(range(1200))
        with cloud.lock:
            sizes = [len(orjson.loads(p)) for t, p in cloud.payloads if t == topics.build(dev, "hb")]
        assert max(sizes) == 500 and len(sizes) < 20  # arrays, not 1200 single publishes
    finally:
        node.close()


def test_receipts_sent_while_the_device_is_offline_wait_in_its_session(broker, settings, dev, silent_cloud,
                                                                       tmp_path):
    node = open_node(settings, broker, dev, tmp_path)
    run_agent(node, count=5)
    assert wait_for(lambda: len(silent_cloud.distinct(dev)) == 5)
    node.close()
    cloud_link = _publisher(broker)
    try:
        _receipt(cloud_link, dev, "hb", 4)  # nobody listening on the ack topic right now
    finally:
        cloud_link.disconnect()
        cloud_link.loop_stop()
    node = open_node(settings, broker, dev, tmp_path)
    try:
        assert node.link.session_present is True
        assert wait_for(lambda: len(node.outbox) == 0)
    finally:
        node.close()


def test_a_broker_killed_mid_stream_loses_no_heartbeat(settings, tmp_path):
    # A private broker: killing the shared one would disturb other tests' sessions.
    broker = services.start_broker(tmp_path / "broker")
    try:
        dev = "hs-kill"
        broker.add_user(dev)
        cloud = CloudStub(broker)
        node = open_node(settings, broker, dev, tmp_path)
        agent = HandsetAgent(dev, node.outbox, SimulatedPath(PATH, seed=2), interval_s=0.02, count=150)
        agent.start()
        try:
            assert wait_for(lambda: len(cloud.distinct(dev)) >= 20)
            # The cloud goes away: the broker PUBACKs the device's heartbeats and
            # holds them in the cloud's session, in memory only...
            cloud.pause()
            sent = node.stats().sent
            assert wait_for(lambda: node.stats().sent >= sent + 30)
            broker.stop(signal.SIGKILL)  # ...and loses them with its life.
            time.sleep(0.3)              # the agent keeps producing into its outbox
            broker.start()
            cloud.resume()
            assert agent.wait(15)
            assert wait_for(lambda: cloud.distinct(dev) == set(range(150)), timeout=20), \
                sorted(set(range(150)) - cloud.distinct(dev))
            assert wait_for(lambda: len(node.outbox) == 0, timeout=10)
            assert cloud.rejections == []
        finally:
            agent.stop()
            node.close()
            cloud.close()
    finally:
        broker.stop()


def test_one_relay_link_carries_several_devices(broker, settings, cloud, tmp_path):
    from cloud.broker.config import RELAY_USER

    link = Link(MqttEndpoint.parse(broker.url(RELAY_USER)), "sim-relay-a", client_id=f"relay-{uuid.uuid4().hex[:6]}",
                backoff=Backoff(0.05, 0.4))
    devs = ["sim-relay-a", "sim-relay-b"]
    outboxes = [Outbox(tmp_path / f"{d}.sqlite3", dev=d, durable=False) for d in devs]
    senders = [Sender(d, ob, link) for d, ob in zip(devs, outboxes)]
    link.start()
    for s in senders:
        s.start()
    try:
        assert link.wait_connected(10)
        for d, ob in zip(devs, outboxes):
            HandsetAgent(d, ob, SimulatedPath(PATH), interval_s=0.01, count=5).run()
        assert wait_for(lambda: all(len(ob) == 0 for ob in outboxes))
        assert all(cloud.distinct(d) == set(range(5)) for d in devs)
    finally:
        for s in senders:
            s.stop()
        link.stop()
        for ob in outboxes:
            ob.close()


def test_a_wrong_password_never_connects_and_stops_cleanly(broker, settings, dev, tmp_path):
    endpoint = MqttEndpoint.parse(broker.url(dev)).model_copy(update={"password": "wrong"})
    link = Link(endpoint, dev, backoff=Backoff(0.05, 0.2))
    link.start()
    try:
        assert not link.wait_connected(0.8)
        assert link.publish(topics.build(dev, "hb"), b"{}") is False
    finally:
        started = time.monotonic()
        link.stop()
        assert time.monotonic() - started < 2.0


def _publisher(broker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"receipts-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(CLOUD_USER, broker.passwords[CLOUD_USER])
    client.connect("127.0.0.1", broker.port, 10)
    client.loop_start()
    return client


def _receipt(client: mqtt.Client, dev: str, kind: str, seq: int) -> None:
    receipt = Receipt(kind=kind, seq=seq, ts=time.time_ns() // 1_000_000)
    client.publish(topics.build(dev, "ack"), receipt.model_dump_json(), qos=1).wait_for_publish(5)
