"""Small paho helpers for tests: a publisher that waits for PUBACKs, a collector."""
from __future__ import annotations

import queue
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridwatch.settings import MqttEndpoint


def client_for(url: str, client_id: str | None = None) -> mqtt.Client:
    ep = MqttEndpoint.parse(url)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{uuid.uuid4().hex[:10]}",
                    protocol=mqtt.MQTTv5)
    if ep.username:
        c.username_pw_set(ep.username, ep.password)
    c.max_inflight_messages_set(1000)
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect(ep.host, ep.port)
    c.loop_start()
    if not connected.wait(10):
        raise TimeoutError("no CONNACK")
    return c


def publish_all(url: str, messages: list[tuple[str, bytes]], timeout: float = 60.0) -> None:
    """Publish with QoS 1 and wait until the broker acknowledged every one."""
    c = client_for(url)
    try:
        infos = [c.publish(t, p, qos=1) for t, p in messages]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
    finally:
        c.disconnect()
        c.loop_stop()


class Collector:
    """Subscribes and keeps every message it sees, for assertions."""

    def __init__(self, url: str, topic: str):
        self.messages: queue.Queue = queue.Queue()
        self.client = client_for(url)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client.subscribe(topic, qos=1)
        time.sleep(0.2)

    def drain(self) -> list[tuple[str, bytes]]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
