"""The edge outbox: seqs that survive restarts, deletion only by receipt, resends, caps."""
from __future__ import annotations

import orjson
import pytest

from edge.outbox import Outbox, OutboxError
from protocols.models import Heartbeat, SensorAlert

TS = 1_700_000_000_000


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def hb(i: int = 0) -> dict:
    return {"ts": TS + i, "lat": 31.2 + i * 1e-5, "lon": 121.4, "acc": 5.0}


def alert() -> dict:
    return {"ts": TS, "sensor": "water_level", "value": 0.4, "unit": "m", "level": "warning", "state": "raised"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_outbox(tmp_path, clock):
    opened: list[Outbox] = []

    def make(**kw) -> Outbox:
        kw.setdefault("resend_after_s", 10.0)
        ob = Outbox(tmp_path / "outbox.sqlite3", clock=clock, durable=False, **kw)
        opened.append(ob)
        return ob

    yield make
    for ob in opened:
        ob.close()  # closing twice is harmless


def send_all(ob: Outbox) -> list:
    due = ob.due()
    ob.mark_sent(due)
    return due


def test_seq_starts_at_zero_per_kind_and_survives_reopen(open_outbox):
    ob = open_outbox()
    assert [ob.put("hb", hb(i)) for i in range(3)] == [0, 1, 2]
    assert ob.put("alert", alert()) == 0
    ob.close()
    ob = open_outbox()
    assert ob.put("hb", hb(3)) == 3
    assert ob.put("alert", alert()) == 1


def test_seq_keeps_growing_after_everything_was_confirmed(open_outbox):
    ob = open_outbox()
    for i in range(4):
        ob.put("hb", hb(i))
    send_all(ob)
    assert ob.confirm("hb", 3) == 4
    assert len(ob) == 0
    ob.close()
    ob = open_outbox()
    assert ob.put("hb", hb(9)) == 4


def test_put_fills_version_and_seq_keeps_ts_and_stores_a_valid_message(open_outbox, clock):
    ob = open_outbox()
    ob.put("hb", {**hb(), "spd": 1.2, "mock": None})
    (row,) = ob.due()
    body = orjson.loads(row.payload)
    assert body == {"v": 1, "seq": 0, "ts": TS, "lat": 31.2, "lon": 121.4, "acc": 5.0, "spd": 1.2}
    Heartbeat.model_validate(body)
    ob.put("alert", {k: v for k, v in alert().items() if k != "ts"})
    alert_row = next(r for r in ob.due() if r.kind == "alert")
    assert SensorAlert.model_validate_json(alert_row.payload).ts > TS  # defaulted to now


@pytest.mark.parametrize("kind, message, fragment", [
    ("hb", {"ts": TS, "lat": 91.0, "lon": 0.0, "acc": 1.0}, "lat"),
    ("hb", {"ts": TS, "lat": 1.0, "lon": 0.0}, "acc"),
    ("state", {"online": True}, "not an uplink kind"),
    ("report", {"ts": TS, "lat": 1.0, "lon": 1.0, "kind": "garbage", "text": "x" * 300_000}, "text"),
])
def test_put_refuses_what_the_cloud_would_dead_letter(open_outbox, kind, message, fragment):
    ob = open_outbox()
    with pytest.raises(OutboxError, match=fragment):
        ob.put(kind, message)
    assert len(ob) == 0
    assert ob.next_seq("hb") == 0


def test_due_reads_each_kind_in_seq_order_alerts_first(open_outbox):
    ob = open_outbox()
    for i in range(5):
        ob.put("hb", hb(i))
    ob.put("alert", alert())
    ob.put("alert", alert())
    due = ob.due()
    assert [(r.kind, r.seq) for r in due] == [("alert", 0), ("alert", 1)] + [("hb", i) for i in range(5)]


def test_receipt_deletes_only_the_covered_seqs_of_its_kind(open_outbox):
    ob = open_outbox()
    for i in range(5):
        ob.put("hb", hb(i))
    ob.put("alert", alert())
    send_all(ob)
    assert ob.confirm("hb", 2) == 3
    assert [(r.kind, r.seq) for r in ob.due(now=1e9)] == [("alert", 0), ("hb", 3), ("hb", 4)]
    assert ob.stats().confirmed == 3


def test_receipt_never_deletes_what_was_not_published(open_outbox):
    # A cloud that remembers an older outbox of this device may name a seq
    # this outbox has not sent yet: those messages must still go out.
    ob = open_outbox(max_inflight=2)
    for i in range(5):
        ob.put("hb", hb(i))
    send_all(ob)  # seqs 0 and 1 only: the in-flight cap
    assert ob.confirm("hb", 100) == 2
    assert [r.seq for r in ob.due()] == [2, 3]


def test_unconfirmed_messages_are_resent_identically_after_the_timeout(open_outbox, clock):
    ob = open_outbox(resend_after_s=10.0)
    ob.put("hb", hb(0))
    ob.put("hb", hb(1))
    first = send_all(ob)
    clock.t += 9.9
    assert ob.due() == []
    assert ob.next_resend_in() == pytest.approx(0.1)
    clock.t += 0.2
    again = ob.due()
    assert [(r.seq, r.ts, r.payload) for r in again] == [(r.seq, r.ts, r.payload) for r in first]
    assert all(r.resend for r in again)
    ob.mark_sent(again)
    assert (ob.stats().sent, ob.stats().resent) == (4, 2)


def test_a_reopened_outbox_sends_unconfirmed_messages_at_once_and_accepts_their_receipt(open_outbox):
    ob = open_outbox()
    for i in range(3):
        ob.put("hb", hb(i))
    send_all(ob)
    ob.close()
    ob = open_outbox()
    assert ob.stats().inflight == 0
    assert [r.seq for r in ob.due()] == [0, 1, 2]
    # A receipt queued by the broker while the device was off arrives first.
    assert ob.confirm("hb", 1) == 2


def test_rewind_makes_everything_in_flight_due_now(open_outbox):
    ob = open_outbox()
    ob.put("hb", hb(0))
    send_all(ob)
    assert ob.due() == []
    ob.rewind()
    assert [r.seq for r in ob.due()] == [0]


def test_size_cap_drops_the_oldest_and_counts_them(open_outbox):
    ob = open_outbox(max_messages=5)
    for i in range(8):
        ob.put("hb", hb(i))
    assert len(ob) == 5
    assert [r.seq for r in ob.due()] == [3, 4, 5, 6, 7]
    stats = ob.stats()
    assert (stats.dropped, stats.queued) == (3, 5)
    assert ob.put("hb", hb(8)) == 8  # dropping never reuses a seq


def test_never_more_than_max_inflight_awaiting_a_receipt(open_outbox, clock):
    ob = open_outbox(max_inflight=3)
    for i in range(10):
        ob.put("hb", hb(i))
    assert [r.seq for r in send_all(ob)] == [0, 1, 2]
    assert ob.due() == []
    assert (ob.stats().inflight, ob.stats().queued) == (3, 7)
    ob.confirm("hb", 0)
    assert [r.seq for r in send_all(ob)] == [3]
    clock.t += 60  # resends of what is in flight do not add to it
    assert [r.seq for r in ob.due()] == [1, 2, 3]


def test_an_outbox_belongs_to_one_device(tmp_path):
    with Outbox(tmp_path / "o.sqlite3", dev="w1"):
        pass
    with Outbox(tmp_path / "o.sqlite3", dev="w1") as ob:
        ob.put("hb", hb())
    with pytest.raises(OutboxError, match="belongs to device 'w1'"):
        Outbox(tmp_path / "o.sqlite3", dev="w2")


def test_listeners_hear_of_each_put(open_outbox):
    ob = open_outbox()
    calls = []
    ob.add_listener(lambda: calls.append(1))
    ob.put("hb", hb())
    assert calls == [1]


def test_puts_from_several_threads_get_distinct_consecutive_seqs(open_outbox):
    import threading

    ob = open_outbox()
    seqs: list[int] = []

    def agent() -> None:
        got = [ob.put("hb", hb(i)) for i in range(100)]
        seqs.extend(got)  # list.extend is atomic under the GIL

    threads = [threading.Thread(target=agent) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(400))
    assert [r.seq for r in ob.due()] == list(range(400))
