"""The link over mqtts://: a private TLS broker with a throwaway self-signed certificate."""
from __future__ import annotations

import shutil
import signal
import subprocess
import uuid

import pytest

from cloud.broker.config import TlsFiles, hash_password, write_broker_dir
from edge.link import Backoff, Link
from gridwatch.settings import MqttEndpoint, load_settings
from protocols import topics
from tests.support import services

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls-broker")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    key.chmod(0o644)  # mosquitto reads it after dropping privileges
    port = services.free_port()
    password = uuid.uuid4().hex
    conf = write_broker_dir(d, port, {"tls-dev": hash_password(password, 1000)},
                            tls=TlsFiles(cafile=cert, certfile=cert, keyfile=key))
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        services.wait_port(port)
        yield f"mqtts://tls-dev:{password}@127.0.0.1:{port}", cert
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def _link(url: str, **kw) -> Link:
    return Link(MqttEndpoint.parse(url), "tls-dev", backoff=Backoff(0.05, 0.2), **kw)


def test_mqtts_with_the_ca_file_connects_and_publishes(tls_broker):
    url, cert = tls_broker
    settings = load_settings(mqtt_url=url, mqtt_ca_file=cert)
    link = Link.from_settings(settings, "tls-dev")
    link.start()
    try:
        assert link.wait_connected(10)
        assert link.publish(topics.build("tls-dev", "hb"), b'{"v":1}')
        assert link.wait_published(5)
    finally:
        link.stop()


def test_mqtts_refuses_an_unknown_certificate_unless_told_to_be_insecure(tls_broker):
    url, _ = tls_broker
    strict = _link(url)  # system trust store: the self-signed certificate is unknown
    strict.start()
    try:
        assert not strict.wait_connected(1.0)
    finally:
        strict.stop()
    # Insecure accepts even a name the certificate does not carry (it names 127.0.0.1 only).
    loose = _link(url.replace("127.0.0.1", "localhost"), insecure_tls=True)
    loose.start()
    try:
        assert loose.wait_connected(10)
    finally:
        loose.stop()
