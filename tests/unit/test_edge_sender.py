"""The sender: heartbeat arrays, payloads the cloud's own decoder accepts, receipts, reconnects."""
from __future__ import annotations

import orjson
import pytest

from edge.outbox import Outbox, Pending
from edge.sender import PAYLOAD_BUDGET, Sender, batches, encode
from protocols import topics
from protocols.decode import decode
from protocols.models import MAX_PAYLOAD_BYTES, Receipt

TS = 1_700_000_000_000


class FakeLink:
    """What Sender needs of a Link, recording publishes."""

    def __init__(self, connected: bool = True, accept: int | None = None) -> None:
        self.connected = connected
        self.accept = accept  # publishes accepted before "queue full"
        self.published: list[tuple[str, bytes]] = []
        self.routes: dict = {}
        self.listeners: list = []

    def add_listener(self, cb) -> None:
        self.listeners.append(cb)

    def attach(self, dev, on_receipt, on_command=None) -> None:
        self.routes[dev] = on_receipt

    def publish(self, topic: str, payload: bytes) -> bool:
        if not self.connected or (self.accept is not None and len(self.published) >= self.accept):
            return False
        self.published.append((topic, payload))
        return True

    def unacked(self) -> int:
        return 0

    def receipt(self, dev: str, kind: str, seq: int) -> None:
        self.routes[dev](Receipt(kind=kind, seq=seq, ts=TS))

    def reconnect(self) -> None:
        for cb in self.listeners:
            cb(True)


def hb(i: int) -> dict:
    return {"ts": TS + i, "lat": 31.2, "lon": 121.4 + i * 1e-6, "acc": 5.0, "spd": 1.25, "hdg": 90.0}


@pytest.fixture
def outbox(tmp_path):
    with Outbox(tmp_path / "o.sqlite3", durable=False, max_inflight=5000) as ob:
        yield ob


def pending(kind: str, seq: int, size: int = 100) -> Pending:
    return Pending(kind, seq, TS, b"x" * size)


def test_heartbeats_go_in_arrays_of_at_most_500_other_kinds_alone():
    msgs = [pending("alert", 0)] + [pending("hb", i) for i in range(1201)]
    groups = list(batches(msgs))
    assert [(g[0].kind, len(g)) for g in groups] == [("alert", 1), ("hb", 500), ("hb", 500), ("hb", 201)]
    assert [m.seq for g in groups for m in g] == [0] + list(range(1201))


def test_an_array_stays_under_the_payload_limit():
    groups = list(batches([pending("hb", i, size=2000) for i in range(400)]))
    assert len(groups) > 1
    assert all(len(encode(g)) <= PAYLOAD_BUDGET < MAX_PAYLOAD_BYTES for g in groups)


def test_one_message_is_sent_as_an_object_several_as_an_array(outbox):
    link = FakeLink()
    sender = Sender("w1", outbox, link)
    outbox.put("hb", hb(0))
    sender.step()
    outbox.put("hb", hb(1))
    outbox.put("hb", hb(2))
    sender.step()
    (t1, p1), (t2, p2) = link.published
    assert t1 == t2 == topics.build("w1", "hb")
    assert orjson.loads(p1)["seq"] == 0
    assert [m["seq"] for m in orjson.loads(p2)] == [1, 2]


def test_what_is_published_passes_the_clouds_decoder(outbox):
    link = FakeLink()
    sender = Sender("w1", outbox, link)
    for i in range(700):
        outbox.put("hb", hb(i))
    outbox.put("alert", {"ts": TS, "sensor": "smoke", "value": 1, "unit": "", "level": "critical",
                         "state": "raised"})
    assert sender.step() == 701
    seqs = []
    for topic, payload in link.published:
        result = decode(topic, payload, now_ms=TS)
        assert result.rejections == []
        seqs += [(result.kind, m.seq) for m in result.messages]
    assert seqs == [("alert", 0)] + [("hb", i) for i in range(700)]


def test_receipts_are_applied_in_the_senders_thread(outbox):
    link = FakeLink()
    sender = Sender("w1", outbox, link)
    for i in range(3):
        outbox.put("hb", hb(i))
    sender.step()
    link.receipt("w1", "hb", 1)
    assert len(outbox) == 3  # only queued so far
    sender.step()
    assert len(outbox) == 1
    assert outbox.stats().confirmed == 2


def test_nothing_is_marked_sent_while_disconnected_or_refused(outbox):
    link = FakeLink(connected=False)
    sender = Sender("w1", outbox, link)
    outbox.put("alert", {"ts": TS, "sensor": "gas", "value": 9, "unit": "ppm", "level": "warning",
                         "state": "raised"})
    outbox.put("alert", {"ts": TS, "sensor": "gas", "value": 9, "unit": "ppm", "level": "warning",
                         "state": "cleared"})
    assert sender.step() == 0
    link.connected, link.accept = True, 1  # paho's queue takes one, then is full
    assert sender.step() == 1
    assert outbox.stats().queued == 1


def test_a_reconnect_resends_what_awaited_a_receipt(outbox):
    link = FakeLink()
    sender = Sender("w1", outbox, link)
    outbox.put("hb", hb(0))
    sender.step()
    assert sender.step() == 0
    link.reconnect()
    assert sender.step() == 1
    assert link.published[0] == link.published[1]


def test_flush_reports_whether_every_message_was_confirmed(outbox):
    link = FakeLink()
    sender = Sender("w1", outbox, link)
    sender.start()
    try:
        outbox.put("hb", hb(0))
        assert not sender.flush(0.2)
        assert sender.flush(1.0, confirmed=False)
        link.receipt("w1", "hb", 0)
        assert sender.flush(2.0)
    finally:
        sender.stop()
