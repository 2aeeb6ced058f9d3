"""The edge process's one MQTT connection, shared by all its agents.

paho-mqtt 2.2, MQTT 5. What the field notes taught, applied here:
- `clean_start=False` with a SessionExpiryInterval: receipts and commands the
  cloud sends while the device is offline wait in the broker for it (paho's
  default clean start would wipe them on every process start);
- the will (`state` online=false, retained, QoS 1) and online=true on connect;
- reconnects with jittered exponential backoff, so a fleet does not hammer a
  broker that comes back;
- `max_queued_messages` well below 65,535: paho reuses message ids past that
  and silently loses the older publishes.

Downlink messages (`ack`, `cmd`) are decoded here and handed to the callbacks
a device attached with; those callbacks only enqueue (paho's thread must not
wait on SQLite). A link usually speaks for one device (username = device id);
with the relay credential it can carry several (`attach` each).
"""
from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from gridwatch.settings import MqttEndpoint, Settings
from protocols import topics
from protocols.models import Command, DeviceState, Receipt

log = logging.getLogger(__name__)

OnReceipt = Callable[[Receipt], None]
OnCommand = Callable[[Command], None]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: doubling from `min_s` up to `max_s`, each drawn from the upper half."""

    min_s: float = 0.5
    max_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        cap = min(self.max_s, self.min_s * 2 ** min(attempt, 32))
        # "Equal jitter": at least half the cap, so delays still grow, and spread
        # over the other half, so devices cut off together do not return together.
        return cap / 2 + (rng or random).uniform(0, cap / 2)


@dataclass(slots=True)
class _Route:
    on_receipt: OnReceipt | None = None
    on_command: OnCommand | None = None


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the TLS handshake fails.

    paho 2.2 drops the socket of a failed handshake without closing it: one
    leaked descriptor per reconnect attempt against a broker whose certificate
    we refuse, until the device runs out of them.
    """

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except OSError:
            self.close()
            raise


def tls_context(ca_file: Path | None, insecure: bool) -> ssl.SSLContext:
    """System trust store (or `ca_file`); `insecure` accepts any certificate (test rigs only)."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.sslsocket_class = _ClosingSSLSocket
    return ctx


class Link:
    """One MQTT 5 client: connect, stay connected, publish, route downlink messages."""

    def __init__(self, endpoint: MqttEndpoint, dev: str, *, client_id: str | None = None,
                 ca_file: Path | None = None, insecure_tls: bool = False, backoff: Backoff = Backoff(),
                 session_expiry_s: int = 7 * 24 * 3600, keepalive_s: int = 30, max_queued: int = 10_000,
                 wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        if not topics.is_device_id(dev):
            raise ValueError(f"not a valid device id: {dev!r}")
        self.dev = dev
        self.endpoint = endpoint
        self._backoff = backoff
        self._session_expiry_s = session_expiry_s
        self._keepalive_s = keepalive_s
        self._wall_ms = wall_ms
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self._listeners: list[Callable[[bool], None]] = []
        self._unacked: list[mqtt.MQTTMessageInfo] = []
        self._connected = threading.Event()
        self._attempt = 0
        self.session_present: bool | None = None
        self._client = self._make_client(client_id or dev, ca_file, insecure_tls, max_queued)

    @classmethod
    def from_settings(cls, settings: Settings, dev: str, *, url: str | None = None,
                      password: str | None = None, **kw: Any) -> "Link":
        """The link of device `dev`: credentials from the URL, else username = `dev` and `password`."""
        endpoint = MqttEndpoint.parse(url or settings.mqtt_url)
        if password is not None or endpoint.username is None:
            endpoint = endpoint.model_copy(update={"username": dev, "password": password or endpoint.password})
        kw.setdefault("session_expiry_s", settings.edge_session_expiry_s)
        kw.setdefault("keepalive_s", settings.edge_keepalive_s)
        return cls(endpoint, dev, ca_file=settings.mqtt_ca_file, insecure_tls=settings.mqtt_insecure_tls,
                   backoff=Backoff(settings.edge_reconnect_min_s, settings.edge_reconnect_max_s), **kw)

    def _make_client(self, client_id: str, ca_file: Path | None, insecure: bool, max_queued: int) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.username_pw_set(self.endpoint.username or self.dev, self.endpoint.password)
        if self.endpoint.tls:
            # paho takes its host name check from the context's check_hostname.
            client.tls_set_context(tls_context(ca_file, insecure))
        client.max_queued_messages_set(max_queued)
        client.max_inflight_messages_set(100)
        client.reconnect_delay_set(self._backoff.min_s, self._backoff.min_s)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; returns at once (see `wait_connected`)."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._session_expiry_s
        self._client.connect_async(self.endpoint.host, self.endpoint.port, self._keepalive_s,
                                   clean_start=False, properties=props)
        self._client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        """Say offline (retained), let the broker acknowledge what is in flight, disconnect."""
        if self.connected:
            for dev in self._devices():
                self._track(self._publish_state(dev, online=False))
            self.wait_published(timeout)
        self._connected.clear()  # a chosen disconnect, not a lost connection
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def __enter__(self) -> "Link":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    def add_listener(self, callback: Callable[[bool], None]) -> None:
        """`callback(connected)` on every connect and disconnect, in paho's thread: keep it short."""
        self._listeners.append(callback)

    def attach(self, dev: str, on_receipt: OnReceipt | None = None, on_command: OnCommand | None = None) -> None:
        """Route `dev`'s receipts and/or commands to these callbacks (which must only enqueue).

        Each given callback replaces the earlier one of its kind: the Sender
        takes the receipts, a command handler can attach to the same device later.
        """
        if not topics.is_device_id(dev):
            raise ValueError(f"not a valid device id: {dev!r}")
        with self._lock:
            route = self._routes.setdefault(dev, _Route())
            route.on_receipt = on_receipt or route.on_receipt
            route.on_command = on_command or route.on_command
        if self.connected:
            self._greet(dev)

    def _devices(self) -> list[str]:
        with self._lock:
            return sorted(set(self._routes) | {self.dev})

    # -- publishing ----------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        """QoS 1 publish; False when not connected or paho's queue is full (try again later)."""
        if not self.connected:
            return False
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("publish to %s not queued: %s", topic, mqtt.error_string(info.rc))
            return False
        self._track(info)
        return True

    def _track(self, info: mqtt.MQTTMessageInfo) -> None:
        with self._lock:
            self._unacked.append(info)

    def unacked(self) -> int:
        """Publishes the broker has not acknowledged yet."""
        with self._lock:
            self._unacked = [i for i in self._unacked if not i.is_published()]
            return len(self._unacked)

    def wait_published(self, timeout: float) -> bool:
        """Wait until the broker acknowledged every publish so far."""
        deadline = time.monotonic() + timeout
        while self.unacked():
            if time.monotonic() >= deadline or not self.connected:
                return False
            time.sleep(0.01)
        return True

    def _publish_state(self, dev: str, online: bool) -> mqtt.MQTTMessageInfo:
        return self._client.publish(topics.build(dev, "state"), self._state_payload(online), qos=1, retain=True)

    def _state_payload(self, online: bool) -> bytes:
        return orjson.dumps(DeviceState(v=1, online=online, ts=self._wall_ms()).model_dump(exclude_none=True))

    # -- paho callbacks (paho's thread) --------------------------------------

    def _on_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        # The will's ts says when this connection began.
        client.will_set(topics.build(self.dev, "state"), self._state_payload(False), qos=1, retain=True)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                    reason: mqtt.ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            # Bad credentials look like this; paho disconnects and we retry with backoff.
            log.error("broker %s:%s refused %s: %s", self.endpoint.host, self.endpoint.port, self.dev, reason)
            return
        self._attempt = 0
        self.session_present = flags.session_present
        log.info("%s connected to %s:%s (session present: %s)", self.dev, self.endpoint.host,
                 self.endpoint.port, flags.session_present)
        for dev in self._devices():
            self._greet(dev)
        self._connected.set()
        self._notify(True)

    def _greet(self, dev: str) -> None:
        # Subscribed again on every connect: a broker that lost the session lost these too.
        self._client.subscribe([(topics.build(dev, "ack"), 1), (topics.build(dev, "cmd"), 1)])
        self._publish_state(dev, online=True)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.warning("%s cannot reach %s:%s", self.dev, self.endpoint.host, self.endpoint.port)
        self._next_delay()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags,
                       reason: mqtt.ReasonCode, properties: Properties | None) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected:
            log.warning("%s lost its connection: %s", self.dev, reason)
            self._notify(False)
        self._next_delay()

    def _next_delay(self) -> None:
        # paho waits `min_delay` before the next attempt once the delay is reset,
        # so setting both bounds to our jittered value makes it wait exactly that.
        delay = self._backoff.delay(self._attempt, self._rng)
        self._attempt += 1
        self._client.reconnect_delay_set(delay, delay)  # type: ignore[arg-type]

    def _notify(self, connected: bool) -> None:
        for callback in self._listeners:
            callback(connected)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: mqtt.ReasonCode,
                    properties: Properties | None) -> None:
        if reason.is_failure:
            # Most often the ACL: a device may publish only under its own id.
            log.warning("%s: broker refused publish %d: %s", self.dev, mid, reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        ref = topics.parse(msg.topic)
        with self._lock:
            route = self._routes.get(ref.dev) if ref else None
        if ref is None or route is None:
            log.debug("%s: message on unexpected topic %s", self.dev, msg.topic)
            return
        try:
            if ref.kind == "ack" and route.on_receipt is not None:
                route.on_receipt(Receipt.model_validate_json(msg.payload))
            elif ref.kind == "cmd":
                self._command(ref.dev, route, Command.model_validate_json(msg.payload))
        except ValidationError as exc:
            log.warning("%s: ignoring a malformed %s message: %s", ref.dev, ref.kind,
                        exc.errors(include_url=False, include_input=False)[0]["msg"])

    @staticmethod
    def _command(dev: str, route: _Route, command: Command) -> None:
        if route.on_command is None:
            log.info("%s: no handler for command %s (%s)", dev, command.id, command.cmd)
        else:
            route.on_command(command)
