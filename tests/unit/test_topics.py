"""Topic build/parse round trip and the device id rule of the contract."""
from __future__ import annotations

import pytest

from protocols import topics


@pytest.mark.parametrize("kind", topics.UPLINK_KINDS + topics.DOWNLINK_KINDS)
@pytest.mark.parametrize("dev", ["h-001", "cam_7", "0", "a" * 64])
def test_build_then_parse_round_trips(dev, kind):
    assert topics.parse(topics.build(dev, kind)) == topics.TopicRef(dev, kind)


@pytest.mark.parametrize("dev", ["", "H-1", "-h", "_h", "a" * 65, "h/1", "h+1", "h#", "h 1"])
def test_invalid_device_ids_are_refused(dev):
    assert not topics.is_device_id(dev)
    with pytest.raises(ValueError):
        topics.build(dev, "hb")


@pytest.mark.parametrize("topic", ["gw/v1/h-1/hb/extra", "gw/v2/h-1/hb", "gw/v1/h-1/other", "gw/v1//hb",
                                   "owntracks/a/b", "gw/v1/H-1/hb", ""])
def test_foreign_topics_do_not_parse(topic):
    assert topics.parse(topic) is None


def test_shared_subscriptions_match_the_contract():
    assert topics.shared_subscription("ingest", "hb") == "$share/ingest/gw/v1/+/hb"
    with pytest.raises(ValueError):
        topics.shared_subscription("ingest", "cmd")


def test_owntracks_topic():
    assert topics.parse_owntracks("owntracks/alice/phone") == ("alice", "phone")
    assert topics.parse_owntracks("owntracks/alice") is None
