"""One ingest slot's MQTT session: shared subscriptions in, receipts out.

Every setting below answers a measured trap (../shared/FIELD-NOTES.md):
a stable client id per slot (never random), clean_start=False with a session
expiry (paho's default wipes a restarted consumer's backlog), an explicit
ReceiveMaximum above the batch size (the default window of 20 stalls a batch),
and manual acks sent only after the batch is committed.
"""
from __future__ import annotations

import logging
import queue
import ssl
import struct
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from gridwatch.settings import MqttEndpoint, Settings
from protocols import topics

from .batch import Inbound
from .thread_name import name_os_thread

log = logging.getLogger(__name__)

# A PUBACK as paho's own ack() writes it for success: remaining length 2, no reason code.
_PUBACK = struct.Struct("!BBH")


def slot_client_id(settings: Settings, slot: int) -> str:
    return f"{settings.ingest_client_prefix}-ingest-{slot}"


def subscriptions(settings: Settings, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The contract's shared subscriptions, plus outside clients' topics, all in the share group."""
    group = settings.ingest_share_group
    return ([topics.shared_subscription(group, kind) for kind in topics.UPLINK_KINDS]
            + [f"$share/{group}/{f}" for f in extra])


def make_client(settings: Settings, endpoint: MqttEndpoint, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                         manual_ack=True)
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set(ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
                       cert_reqs=ssl.CERT_NONE if settings.mqtt_insecure_tls else ssl.CERT_REQUIRED)
        client.tls_insecure_set(settings.mqtt_insecure_tls)
    # Our own queue bounds memory; paho's outgoing queue only carries receipts.
    client.max_queued_messages_set(10_000)
    client.reconnect_delay_set(0.5, 30)
    return client


def close_client(client: mqtt.Client, properties: Properties | None = None) -> None:
    """DISCONNECT and stop the network thread of a client run with loop_start."""
    client.disconnect(properties=properties)
    client.loop_stop()
    # loop_start's wake-up socketpair is otherwise only closed by Client.__del__, which a
    # reference cycle (an exception's traceback) can run after the sockets' own finalizers.
    client._reset_sockets(sockpair_only=True)


def connect_once(settings: Settings, client_id: str, clean_start: bool, expiry_s: int,
                 timeout: float = 10.0) -> bool | None:
    """Connect as `client_id`, wait for CONNACK and disconnect: its session-present flag, or
    None when no CONNACK came (OSError when the broker cannot be reached)."""
    endpoint = settings.mqtt()
    client = make_client(settings, endpoint, client_id)
    present: list[bool] = []
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        present.append(bool(flags.session_present))
        connected.set()

    client.on_connect = on_connect
    client.connect(endpoint.host, endpoint.port, keepalive=30, clean_start=clean_start,
                   properties=connect_properties(settings, expiry_s=expiry_s))
    client.loop_start()
    try:
        connected.wait(timeout)
    finally:
        close_client(client)
    return present[0] if present else None


def connect_properties(settings: Settings, expiry_s: int | None = None) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = settings.ingest_session_expiry_s if expiry_s is None else expiry_s
    props.ReceiveMaximum = settings.ingest_receive_maximum
    return props


class SlotConsumer:
    """The MQTT side of one ingest slot; `inbox` receives every message, in arrival order."""

    def __init__(self, settings: Settings, slot: int, inbox: queue.SimpleQueue, on_session_lost=None,
                 extra_subscriptions: list[str] | None = None):
        self.settings = settings
        self.topics = subscriptions(settings, extra_subscriptions or [])
        self.endpoint = settings.mqtt()
        self.client_id = slot_client_id(settings, slot)
        self.inbox = inbox
        # QoS 1 needs no bound here: the broker sends at most ReceiveMaximum unacked messages.
        # QoS 0 (outside clients) has no such window, so the MQTT thread waits at this depth.
        self._inbox_limit = settings.ingest_receive_maximum * 2
        self._stopping = False
        self.connected = threading.Event()
        self.session_present: bool | None = None
        self._on_session_lost = on_session_lost
        self._first_connect = True
        self.reconnected = False  # connected more than once (visible to health checks and tests)
        self.client = make_client(settings, self.endpoint, self.client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self, timeout: float = 15.0) -> None:
        self.client.connect_async(self.endpoint.host, self.endpoint.port, keepalive=30, clean_start=False,
                                  properties=connect_properties(self.settings))
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.stop()
            raise ConnectionError(f"{self.client_id}: no CONNACK from {self.endpoint.host}:{self.endpoint.port}")

    def stop(self, end_session: bool = False) -> None:
        self._stopping = True  # an MQTT thread waiting for room in the inbox gives up
        props = None
        if end_session:
            # Expiry 0 on DISCONNECT: the broker forgets the slot and its share-group membership.
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        close_client(self.client, props)
        if end_session:
            self._discard_session()

    def _discard_session(self, timeout: float = 10.0) -> None:
        """Make sure the broker forgets this slot. The DISCONNECT above may never be read:
        Mosquitto 2.0 drops a connection whose PUBACK it cannot write (for receipts published
        just before) without reading what follows, so the session and its share-group
        membership stayed and kept collecting messages (seen in `bench ingest`: 35 of 208 slot
        stops; tests/integration/test_ingest_session_end.py). A clean start discards the
        session whatever happened, and expiry 0 keeps none after this connection."""
        try:
            answered = connect_once(self.settings, self.client_id, clean_start=True, expiry_s=0, timeout=timeout)
        except OSError as exc:
            log.warning("%s: could not reconnect to end the session (%s); the broker may keep it", self.client_id, exc)
            return
        if answered is None:
            log.warning("%s: no CONNACK when ending the session; the broker may keep it", self.client_id)

    def leave_share_group(self) -> None:
        self.client.unsubscribe(self.topics)

    def ack(self, item: Inbound) -> None:
        """PUBACK after commit; QoS 0 has none (Mosquitto drops a client that sends PUBACK 0)."""
        if item.qos > 0:
            self.client.ack(item.mid, item.qos)

    def ack_batch(self, items: list[Inbound]) -> None:
        """PUBACKs for a committed batch, in one write.

        paho's ack() queues each 4-byte PUBACK on its own: a socket-pair write to wake the
        network thread, then a send of its own there (two system calls a message). Here the
        same bytes go out as one queued packet, through the queue ack() itself uses; the
        broker reads the same stream. Measured with two slots and single heartbeats: the
        store side's CPU 4.0 -> 2.0 us a message, paho's thread 30.8 -> 28.5
        (`gridwatch bench ingest --single 100000 --arrays 0 --workers 2 --threads --repeat 4`)."""
        queue_packet = getattr(self.client, "_packet_queue", None)
        if queue_packet is None:  # a paho without it: the same acks, one by one
            for item in items:
                self.ack(item)
            return
        pack, puback = _PUBACK.pack, mqtt.PUBACK
        pubacks = []
        for item in items:
            if item.qos == 1:
                pubacks.append(pack(puback, 2, item.mid))
            else:  # QoS 0 has none; QoS 2 is never granted (the subscriptions ask for 1)
                self.ack(item)
        if pubacks:
            queue_packet(puback, b"".join(pubacks), 0, 1)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        name_os_thread("gw-mqtt")  # paho's network thread: its first callback runs here
        if reason_code.is_failure:
            log.error("%s: broker refused the connection: %s", self.client_id, reason_code)
            return
        self.session_present = bool(flags.session_present)
        self.reconnected = not self._first_connect
        if not flags.session_present and not self._first_connect and self._on_session_lost:
            # The broker forgot this slot: whatever it held for us is gone. Alarm.
            self._on_session_lost(self.client_id)
        if not flags.session_present:
            log.warning("%s: no session on the broker (new slot, or it expired)", self.client_id)
        self._first_connect = False
        client.subscribe([(t, SubscribeOptions(qos=1)) for t in self.topics])
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("%s: disconnected: %s; paho reconnects", self.client_id, reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        # Only enqueue: decoding and storage happen on the worker thread. A SimpleQueue, not a
        # Queue: its put takes no Python-level lock that the worker's polls contend for
        # (py-spy --gil: ~4 us a message with Queue).
        while self.inbox.qsize() >= self._inbox_limit and not self._stopping:
            time.sleep(0.001)
        self.inbox.put(Inbound(msg.topic, msg.payload, msg.mid, time.time(), msg.qos))
