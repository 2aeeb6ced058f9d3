"""The broker is the gate: per-device credentials and the ACL, checked against a
real private Mosquitto started from gridwatch's own configuration.

Facts pinned here are Mosquitto 2.0.11's (Debian bookworm), measured:
- a refused login gets CONNACK 135 (Not authorized), whatever the reason;
- a publish the ACL denies gets PUBACK 135 (MQTT 5, QoS 1) and then the broker
  closes the connection (QoS 0 too: the connection just closes);
- a SUBSCRIBE to another device's topic is *granted* (SUBACK QoS 1): the ACL is
  applied per message at delivery, so nothing of that device ever arrives.
"""
from __future__ import annotations

import gc
import ssl
import subprocess
import time
import uuid
import warnings
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.broker.config import CLOUD_USER, FRIGATE_USER, TlsFiles, hash_password, write_broker_dir
from protocols import topics
from tests.support import services

GRANTED_QOS1 = 1
NOT_AUTHORIZED = 135


class Probe:
    """A paho client driven by hand (no loop thread), for one check at a time."""

    def __init__(self, port: int, user: str | None, password: str | None, *,
                 protocol: int = mqtt.MQTTv5, ca: Path | None = None):
        self.connack = None
        self.disconnected = None
        self.pubacks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.port = port
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:10]}",
                        protocol=protocol)
        if user is not None:
            c.username_pw_set(user, password)
        if ca is not None:
            c.tls_set(ca_certs=str(ca))
        c.on_connect = lambda _c, _u, _f, rc, _p: setattr(self, "connack", rc)
        c.on_disconnect = lambda _c, _u, _f, rc, _p: setattr(self, "disconnected", rc)
        c.on_publish = lambda _c, _u, mid, rc, _p: self.pubacks.__setitem__(mid, rc)
        c.on_subscribe = lambda _c, _u, mid, rcs, _p: self.subacks.__setitem__(mid, rcs)
        c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.client = c

    def connect(self) -> int:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.pump_until(lambda: self.connack is not None)
        return self.connack.value

    def pump_until(self, done, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline or (self.disconnected is not None and not done()):
                return done()
            self.client.loop(0.02)
        return True

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.disconnected is None:
            self.client.loop(0.02)

    def publish(self, topic: str, qos: int = 1) -> int | None:
        """The PUBACK reason code (None if the connection closed first)."""
        mid = self.client.publish(topic, b'{"v":1,"seq":0,"ts":0}', qos=qos).mid
        self.pump_until(lambda: mid in self.pubacks)
        rc = self.pubacks.get(mid)
        return rc.value if rc is not None and qos else rc

    def subscribe(self, topic: str) -> list[int]:
        _, mid = self.client.subscribe(topic, qos=1)
        self.pump_until(lambda: mid in self.subacks)
        return [rc.value for rc in self.subacks[mid]]

    def close(self) -> None:
        if self.disconnected is None and self.connack is not None and self.connack.value == 0:
            self.client.disconnect()
        self.client.loop(0.02)


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory):
    b = services.start_broker(tmp_path_factory.mktemp("acl-broker"))
    b.add_user("dev-a", "dev-a-password-1")
    b.add_user("dev-b", "dev-b-password-1")
    b.add_user(FRIGATE_USER, "frigate-password-1")
    yield b
    b.stop()


@pytest.fixture
def probes(acl_broker):
    opened: list[Probe] = []

    def open_probe(user: str | None, password: str | None = None, **kw) -> Probe:
        password = password if password is not None else acl_broker.passwords.get(user or "")
        p = Probe(acl_broker.port, user, password, **kw)
        opened.append(p)
        return p

    yield open_probe
    for p in opened:
        p.close()


def _cloud(probes) -> Probe:
    cloud = probes(CLOUD_USER)
    assert cloud.connect() == 0
    for kind in topics.UPLINK_KINDS:
        assert cloud.subscribe(topics.shared_subscription("ingest", kind)) == [GRANTED_QOS1]
    return cloud


def test_cloud_user_subscribes_shared_and_receives_a_devices_heartbeat(probes):
    cloud = _cloud(probes)
    dev = probes("dev-a")
    assert dev.connect() == 0
    assert dev.publish(topics.build("dev-a", "hb")) == 0  # 0 = success with a subscriber
    assert cloud.pump_until(lambda: cloud.messages)
    assert cloud.messages[0][0] == "gw/v1/dev-a/hb"


@pytest.mark.parametrize("kind", topics.UPLINK_KINDS)
def test_device_may_publish_every_uplink_kind_of_its_own(probes, kind):
    dev = probes("dev-a")
    assert dev.connect() == 0
    assert dev.publish(topics.build("dev-a", kind)) < 128
    assert dev.disconnected is None


@pytest.mark.parametrize("topic", ["gw/v1/dev-b/hb", "gw/v1/dev-b/state", "gw/v1/dev-a/cmd",
                                   "gw/v1/dev-a/ack", "owntracks/x/y", "gw/v1/dev-a/hb/extra"])
def test_publish_outside_own_uplinks_gets_puback_135_and_disconnect(probes, topic):
    cloud = _cloud(probes)
    cloud.subscribe("gw/v1/+/cmd")  # the cloud may not read cmd: nothing arrives here either way
    dev = probes("dev-a")
    assert dev.connect() == 0
    assert dev.publish(topic, qos=1) == NOT_AUTHORIZED
    assert dev.pump_until(lambda: dev.disconnected is not None, timeout=3)
    cloud.pump(0.3)
    assert cloud.messages == []


def test_denied_qos0_publish_closes_the_connection_and_is_dropped(probes):
    cloud = _cloud(probes)
    dev = probes("dev-a")
    assert dev.connect() == 0
    dev.publish("gw/v1/dev-b/hb", qos=0)
    assert dev.pump_until(lambda: dev.disconnected is not None, timeout=3)
    cloud.pump(0.3)
    assert cloud.messages == []


def test_device_cannot_read_another_devices_ack_or_cmd(probes):
    spy, owner = probes("dev-a"), probes("dev-b")
    assert spy.connect() == 0 and owner.connect() == 0
    # 2.0.11 grants these subscriptions; the ACL is applied to each message.
    for topic in ("gw/v1/dev-b/ack", "gw/v1/dev-b/cmd", "gw/v1/+/ack", "#"):
        assert spy.subscribe(topic) == [GRANTED_QOS1]
    assert owner.subscribe("gw/v1/dev-b/ack") == [GRANTED_QOS1]
    cloud = probes(CLOUD_USER)
    assert cloud.connect() == 0
    assert cloud.publish("gw/v1/dev-b/ack") == 0
    assert cloud.publish("gw/v1/dev-b/cmd") < 128
    assert cloud.publish("gw/v1/dev-a/ack") == 0
    assert owner.pump_until(lambda: owner.messages)
    spy.pump(0.5)
    assert {t for t, _ in spy.messages} == {"gw/v1/dev-a/ack"}  # its own, via the wildcard filters
    assert [t for t, _ in owner.messages] == ["gw/v1/dev-b/ack"]


@pytest.mark.parametrize("user,password", [("dev-a", "wrong-password-123"), ("nobody", "whatever-123"),
                                           (None, None), ("dev-a", "")])
def test_bad_credentials_and_anonymous_are_refused(probes, user, password):
    p = probes(user, password)
    assert p.connect() == NOT_AUTHORIZED


def test_service_accounts_cannot_act_as_each_other(probes):
    relay = probes("gridwatch-relay")
    assert relay.connect() == 0
    assert relay.publish("gw/v1/dev-b/hb") < 128  # the relay may publish for any device
    assert relay.publish("gw/v1/dev-b/cmd") == NOT_AUTHORIZED  # but never command one


def test_owntracks_app_logged_in_as_a_device_publishes_under_its_own_name(probes):
    cloud = probes(CLOUD_USER)
    assert cloud.connect() == 0 and cloud.subscribe("owntracks/#") == [GRANTED_QOS1]
    dev = probes("dev-a")
    assert dev.connect() == 0
    assert dev.publish("owntracks/dev-a/phone") == 0
    assert dev.publish("owntracks/dev-a/phone/event") == 0
    assert cloud.pump_until(lambda: len(cloud.messages) == 2)
    assert dev.publish("owntracks/dev-b/phone") == NOT_AUTHORIZED


def test_frigate_account_publishes_frigate_topics_only(probes):
    nvr = probes(FRIGATE_USER)
    assert nvr.connect() == 0
    assert nvr.publish("frigate/events") < 128
    assert nvr.publish("frigate/front/person") < 128
    assert nvr.publish("gw/v1/dev-a/det") == NOT_AUTHORIZED


# --- TLS -------------------------------------------------------------------

def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca_and_server_cert(d: Path) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, signed by it."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=gridwatch test CA",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=d)
    return TlsFiles(d / "ca.crt", d / "server.crt", d / "server.key")


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    if subprocess.run(["which", "openssl"], capture_output=True).returncode:
        pytest.fail("the openssl command is needed to make test certificates (apt-get install openssl)")
    d = tmp_path_factory.mktemp("tls-broker")
    tls = make_ca_and_server_cert(d)
    port = services.free_port()
    write_broker_dir(d / "broker", port, {"dev-t": hash_password("dev-t-password-1")}, tls=tls)
    proc = subprocess.Popen(["mosquitto", "-c", str(d / "broker" / "mosquitto.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        services.wait_port(port)
        yield port, tls
    finally:
        proc.terminate()
        proc.wait(10)


def test_tls_listener_accepts_a_client_that_trusts_the_ca(tls_broker):
    port, tls = tls_broker
    p = Probe(port, "dev-t", "dev-t-password-1", ca=tls.cafile)
    try:
        assert p.connect() == 0
        assert p.client.socket().version() in ("TLSv1.2", "TLSv1.3")
        assert p.publish("gw/v1/dev-t/hb") < 128
    finally:
        p.close()


def test_tls_listener_is_refused_without_the_ca(tls_broker, tmp_path):
    port, _ = tls_broker
    other_ca = make_ca_and_server_cert(tmp_path).cafile  # a CA that did not sign the broker's cert
    for ca in (None, other_ca):
        p = Probe(port, "dev-t", "dev-t-password-1", ca=ca)
        if ca is None:
            p.client.tls_set()  # the system's CAs only
        # paho leaves the failed TLS socket to the garbage collector: let it go quietly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            with pytest.raises(ssl.SSLCertVerificationError):
                p.client.connect("127.0.0.1", port)
            del p
            gc.collect()


def test_tls_listener_does_not_speak_plain_mqtt(tls_broker):
    port, _ = tls_broker
    p = Probe(port, "dev-t", "dev-t-password-1")
    try:
        p.client.connect("127.0.0.1", port)
        p.pump_until(lambda: p.connack is not None or p.disconnected is not None, timeout=3)
        assert p.connack is None and p.disconnected is not None
    finally:
        p.close()
