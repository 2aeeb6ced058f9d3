"""Link construction from settings: credentials, TLS, device ids (no broker needed)."""
from __future__ import annotations

import random
import ssl

import pytest

from edge.link import Backoff, Link, tls_context
from gridwatch.settings import load_settings


def endpoint_of(url: str, dev: str = "w1", password: str | None = None):
    return Link.from_settings(load_settings(mqtt_url=url), dev, password=password).endpoint


def test_credentials_come_from_the_url_when_it_has_them():
    ep = endpoint_of("mqtt://gridwatch-relay:s3cret@broker:1884")
    assert (ep.username, ep.password, ep.host, ep.port) == ("gridwatch-relay", "s3cret", "broker", 1884)


def test_without_a_user_in_the_url_the_device_id_is_the_username():
    ep = endpoint_of("mqtts://broker", password="pw")
    assert (ep.username, ep.password, ep.port, ep.tls) == ("w1", "pw", 8883, True)


def test_a_password_option_overrides_the_urls_credentials():
    ep = endpoint_of("mqtt://other:old@broker:1883", password="new")
    assert (ep.username, ep.password) == ("w1", "new")


def test_an_invalid_device_id_is_refused():
    with pytest.raises(ValueError, match="not a valid device id"):
        endpoint_of("mqtt://broker", dev="Not/Valid")


def test_tls_context_verifies_unless_insecure():
    strict = tls_context(None, insecure=False)
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    loose = tls_context(None, insecure=True)
    assert loose.verify_mode == ssl.CERT_NONE and not loose.check_hostname


def test_backoff_grows_with_jitter_up_to_the_cap():
    b = Backoff(min_s=0.5, max_s=8.0)
    rng = random.Random(7)
    delays = [[b.delay(n, rng) for _ in range(200)] for n in range(8)]
    for n, ds in enumerate(delays):
        cap = min(8.0, 0.5 * 2 ** n)
        assert all(cap / 2 <= d <= cap for d in ds)
        assert max(ds) - min(ds) > cap / 4  # spread: devices do not return in step
    assert max(delays[-1]) <= 8.0
