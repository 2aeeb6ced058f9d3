"""The ingest against the real broker and database: exactly-once storage, dead letters, receipts."""
from __future__ import annotations

import base64
import time

import orjson
import pytest

from cloud.broker.config import RELAY_USER
from protocols import topics
from tests.integration.ingest_helpers import (ingest_settings, new_dev, query, running_worker, wait_rows)
from tests.support.mqtt import Collector, publish_all


def hb(seq, ts=None, **extra):
    return {"v": 1, "seq": seq, "ts": ts or int(time.time() * 1000) - 60_000 + seq, "lat": 31.23, "lon": 121.47,
            "acc": 8.0, **extra}


def enc(obj) -> bytes:
    return orjson.dumps(obj)


def test_redelivered_and_republished_heartbeats_are_stored_once(broker, db_url):
    dev = new_dev()
    msgs = [(topics.build(dev, "hb"), enc(hb(i, ts=1_790_000_000_000 + i * 1000))) for i in range(300)]
    with running_worker(ingest_settings(broker, db_url)):
        publish_all(broker.url(RELAY_USER), msgs + msgs[:100] + msgs[250:])
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 300, params=(dev,)) == 300
        time.sleep(0.5)
    assert query(db_url, "SELECT count(*), count(DISTINCT seq) FROM heartbeat WHERE dev = %s", (dev,)) == [(300, 300)]
    assert query(db_url, "SELECT count(*) FROM dead_letter WHERE dev = %s", (dev,)) == [(0,)]


BAD_INPUTS = [
    (b"this is not json", "not_json"),
    (b"\xff\xfe{}", "not_utf8"),
    (b"42", "not_object"),
    (enc(hb(1000, lat="31.2")), "wrong_type"),
    (enc({k: v for k, v in hb(1001).items() if k != "acc"}), "missing_field"),
    (enc(hb(1002, lat=91.0)), "out_of_range"),
    (enc(hb(1003, lon=-180.5)), "out_of_range"),
    (enc(hb(1004, dev="somebody-else")), "dev_mismatch"),
    (enc(hb(1005, ts=int(time.time() * 1000) + 25 * 3600 * 1000)), "ts_in_future"),
    (enc([hb(2000 + i) for i in range(501)]), "array_too_large"),
    (enc([]), "empty_array"),
    (enc({**hb(1006), "v": 2}), "unsupported_version"),
    (enc(hb(1007, note="a\u0000b")), "invalid_value"),
    (enc(hb(1008, ts=1_700_000_000)), "out_of_range"),  # seconds, not milliseconds
    (enc(hb(1009, mock="yes")), "wrong_type"),
    (b"{" + b" " * (257 * 1024) + b"}", "payload_too_large"),
]


def test_every_kind_of_bad_input_is_dead_lettered_and_good_messages_around_it_are_stored(broker, db_url):
    dev = new_dev()
    msgs = []
    for i, (payload, _) in enumerate(BAD_INPUTS):
        msgs.append((topics.build(dev, "hb"), enc(hb(i))))
        msgs.append((topics.build(dev, "hb"), payload))
    msgs.append((topics.build(dev, "det"), enc([hb(99)])))  # arrays only for heartbeats
    msgs.append((topics.build(dev, "hb"), enc([hb(100), hb(101, lat=-95.0), hb(102)])))  # one bad fix in an array
    expected_reasons = sorted([r for _, r in BAD_INPUTS] + ["array_not_allowed", "out_of_range"])
    with running_worker(ingest_settings(broker, db_url)):
        publish_all(broker.url(RELAY_USER), msgs)
        n = wait_rows(db_url, "SELECT count(*) FROM dead_letter WHERE dev = %s", len(expected_reasons),
                      params=(dev,))
        assert n == len(expected_reasons)
        good = len(BAD_INPUTS) + 2
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", good, params=(dev,)) == good
    reasons = sorted(r for (r,) in query(db_url, "SELECT reason FROM dead_letter WHERE dev = %s", (dev,)))
    assert reasons == expected_reasons
    rows = query(db_url, "SELECT topic, payload, detail, received_at FROM dead_letter "
                         "WHERE reason = 'not_json' AND dev = %s", (dev,))
    assert rows[0][0] == topics.build(dev, "hb") and bytes(rows[0][1]) == b"this is not json"
    assert rows[0][2] and rows[0][3] is not None
    # The one bad fix of the array is kept alone, as the element it was.
    (elem,) = query(db_url, "SELECT payload FROM dead_letter WHERE seq = 101 AND dev = %s", (dev,))
    assert orjson.loads(bytes(elem[0]))["lat"] == -95.0


def test_other_kinds_state_and_unknown_fields_are_stored(broker, db_url):
    dev = new_dev("cam")
    now = int(time.time() * 1000)
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 100).decode()
    det = {"v": 1, "seq": 0, "ts": now, "kind": "garbage", "score": 0.91, "box": [0.1, 0.2, 0.3, 0.4],
           "zone": "walkway", "track": "t-1", "snapshot": jpeg, "future_field": {"x": 1}}
    alert = {"v": 1, "seq": 0, "ts": now, "sensor": "manhole_tilt", "value": 12.5, "unit": "deg",
             "level": "critical", "state": "raised", "component": "MH-001"}
    report = {"v": 1, "seq": 0, "ts": now, "lat": 31.2, "lon": 121.4, "kind": "obstruction", "text": "stall",
              "resolved": True}
    state = {"v": 1, "online": True, "ts": now}
    with running_worker(ingest_settings(broker, db_url)):
        publish_all(broker.url(RELAY_USER), [
            (topics.build(dev, "det"), enc(det)), (topics.build(dev, "alert"), enc(alert)),
            (topics.build(dev, "report"), enc(report)), (topics.build(dev, "state"), enc(state)),
            (topics.build(dev, "hb"), enc(hb(0, crs="gcj02", vendor_x=7)))])
        assert wait_rows(db_url, "SELECT count(*) FROM field_report", 1) == 1
        # Other devices' retained states may arrive too: count this device's.
        assert wait_rows(db_url, "SELECT count(*) FROM device_state_event WHERE dev = %s", 1, params=(dev,)) == 1
    (d,) = query(db_url, "SELECT kind, score, box, zone, track, length(snapshot), extra FROM detection "
                         "WHERE dev = %s", (dev,))
    assert d[0] == "garbage" and d[2] == pytest.approx([0.1, 0.2, 0.3, 0.4]) and d[5] == 104
    assert d[6] == {"future_field": {"x": 1}}
    assert query(db_url, "SELECT sensor, value, state, component FROM sensor_alert WHERE dev = %s", (dev,)) == [
        ("manhole_tilt", 12.5, "raised", "MH-001")]
    assert query(db_url, "SELECT crs, extra FROM heartbeat WHERE dev = %s", (dev,)) == [("gcj02", {"vendor_x": 7})]
    assert query(db_url, "SELECT registered, online FROM device WHERE dev = %s", (dev,)) == [(False, True)]


def test_receipts_cover_only_contiguous_committed_seqs(broker, db_url):
    dev = new_dev()
    acks = Collector(broker.url(RELAY_USER), topics.build(dev, "ack"))
    try:
        with running_worker(ingest_settings(broker, db_url)):
            publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(s))) for s in (0, 1, 2, 4, 5)])
            time.sleep(1.0)
            first = [orjson.loads(p) for _, p in acks.drain()]
            assert first and max(r["seq"] for r in first) == 2
            assert all(r["kind"] == "hb" and r["v"] == 1 for r in first)
            publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(3)))])
            time.sleep(1.0)
            second = [orjson.loads(p) for _, p in acks.drain()]
            assert max(r["seq"] for r in second) == 5
    finally:
        acks.close()
    assert query(db_url, "SELECT seq, isempty(pending), pending_since FROM receipt_cursor WHERE dev = %s",
                 (dev,)) == [(5, True, None)]


def test_a_dead_lettered_message_is_covered_by_receipts_so_devices_stop_resending(broker, db_url):
    dev = new_dev()
    acks = Collector(broker.url(RELAY_USER), topics.build(dev, "ack"))
    try:
        with running_worker(ingest_settings(broker, db_url)):
            publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(0))),
                                                  (topics.build(dev, "hb"), enc(hb(1, lat=200.0))),
                                                  (topics.build(dev, "hb"), enc(hb(2)))])
            time.sleep(1.0)
            assert max(orjson.loads(p)["seq"] for _, p in acks.drain()) == 2
    finally:
        acks.close()


def test_required_registration_dead_letters_unknown_devices(broker, db_url):
    known, unknown = new_dev(), new_dev()
    query_sql = "INSERT INTO device (dev, kind, registered) VALUES (%s, 'handset', true) RETURNING dev"
    assert query(db_url, query_sql, (known,)) == [(known,)]
    with running_worker(ingest_settings(broker, db_url, require_registration=True)):
        publish_all(broker.url(RELAY_USER), [(topics.build(known, "hb"), enc(hb(0))),
                                              (topics.build(unknown, "hb"), enc(hb(0)))])
        mine = "dev = ANY(%s)"
        assert wait_rows(db_url, f"SELECT count(*) FROM dead_letter WHERE {mine}", 1, params=([known, unknown],)) == 1
        assert wait_rows(db_url, f"SELECT count(*) FROM heartbeat WHERE {mine}", 1, params=([known, unknown],)) == 1
    assert query(db_url, "SELECT dev, reason FROM dead_letter WHERE dev = ANY(%s)", ([known, unknown],)) == [
        (unknown, "unregistered_device")]


def test_unregistered_devices_are_stored_and_listed_when_registration_is_optional(broker, db_url):
    dev = new_dev()
    with running_worker(ingest_settings(broker, db_url)):
        publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(0)))])
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 1, params=(dev,)) == 1
    assert query(db_url, "SELECT registered, last_seen IS NOT NULL FROM device WHERE dev = %s", (dev,)) == [
        (False, True)]


def test_two_slots_share_the_stream_without_duplicates_or_loss(broker, db_url):
    settings = ingest_settings(broker, db_url)
    devs = [new_dev() for _ in range(20)]
    msgs = [(topics.build(d, "hb"), enc(hb(s))) for s in range(100) for d in devs]
    with running_worker(settings, 1) as w1, running_worker(settings, 2) as w2:
        publish_all(broker.url(RELAY_USER), msgs)
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = ANY(%s)", 2000, params=(devs,)) == 2000
        assert w1.stored > 0 and w2.stored > 0
        assert wait_rows(db_url, "SELECT count(*) FROM receipt_cursor WHERE seq = 99 AND dev = ANY(%s)", 20,
                         params=(devs,)) == 20
    # Each slot's seqs of a device had holes only the other's filled: nothing is left waiting.
    assert query(db_url, "SELECT count(*) FROM receipt_cursor WHERE NOT isempty(pending) AND dev = ANY(%s)",
                 (devs,)) == [(0,)]


def test_a_repeated_message_gets_its_receipt_again_so_a_lost_receipt_does_not_stall_the_device(broker, db_url):
    dev = new_dev()
    with running_worker(ingest_settings(broker, db_url)):
        publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(s, ts=1_790_000_000_000 + s)))
                                              for s in range(3)])
        assert wait_rows(db_url, "SELECT seq FROM receipt_cursor WHERE dev = %s", 2, params=(dev,)) == 2
        time.sleep(0.5)
        acks = Collector(broker.url(RELAY_USER), topics.build(dev, "ack"))
        try:
            # The device never saw that receipt and resends seq 1: it must hear "up to 2" again.
            publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(1, ts=1_790_000_000_001)))])
            time.sleep(1.0)
            assert [orjson.loads(p)["seq"] for _, p in acks.drain()] == [2]
        finally:
            acks.close()
    assert query(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", (dev,)) == [(3,)]


def test_a_hole_that_stays_open_past_the_timeout_is_stepped_over_and_recorded(broker, db_url):
    dev = new_dev()
    with running_worker(ingest_settings(broker, db_url)):
        publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(s))) for s in (0, 1, 5, 6, 7)])
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 5, params=(dev,)) == 5
        time.sleep(0.3)
    assert query(db_url, "SELECT seq FROM receipt_cursor WHERE dev = %s", (dev,)) == [(1,)]
    # Not yet old enough: nothing moves.
    assert query(db_url, "SELECT * FROM gw_skip_receipt_gaps(interval '10 minutes')") == []
    assert query(db_url, "SELECT pending::text FROM receipt_cursor WHERE dev = %s", (dev,)) == [("{[5,8)}",)]
    query(db_url, "UPDATE receipt_cursor SET pending_since = now() - interval '11 minutes' WHERE dev = %s RETURNING 1",
          (dev,))
    # Old enough, but the device has not been heard from since: it may still hold 2..4. Keep waiting.
    query(db_url, "UPDATE device SET last_seen = now() - interval '11 minutes' WHERE dev = %s RETURNING 1", (dev,))
    assert query(db_url, "SELECT * FROM gw_skip_receipt_gaps(interval '10 minutes')") == []
    # It has been talking for the whole timeout and never resent them: they are gone, step over.
    query(db_url, "UPDATE receipt_cursor SET pending_since = now() - interval '21 minutes' WHERE dev = %s RETURNING 1",
          (dev,))
    query(db_url, "UPDATE device SET last_seen = now() WHERE dev = %s RETURNING 1", (dev,))
    assert query(db_url, "SELECT * FROM gw_skip_receipt_gaps(interval '10 minutes')") == [(dev, "hb", 7)]
    assert query(db_url, "SELECT from_seq, to_seq FROM receipt_gap WHERE dev = %s", (dev,)) == [(2, 4)]
    assert query(db_url, "SELECT isempty(pending), pending_since FROM receipt_cursor WHERE dev = %s", (dev,)) == [
        (True, None)]


class _ExplodesOnLatitude:
    """A step with a bug that only one message triggers."""

    def enrich(self, rows):
        if any(r[4] == 13.0 for r in rows.heartbeat):
            raise ZeroDivisionError("a step failed")


def test_a_step_failing_on_one_message_dead_letters_it_and_the_slot_keeps_going(broker, db_url):
    from cloud.ingest.steps import Steps

    dev = new_dev()
    with running_worker(ingest_settings(broker, db_url), steps=Steps(enrichers=[_ExplodesOnLatitude()])) as worker:
        msgs = [(topics.build(dev, "hb"), enc(hb(s, lat=13.0 if s == 7 else 31.0))) for s in range(20)]
        publish_all(broker.url(RELAY_USER), msgs)
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 19, params=(dev,)) == 19
        assert wait_rows(db_url, "SELECT count(*) FROM dead_letter WHERE dev = %s", 1, params=(dev,)) == 1
        (reason, detail), = query(db_url, "SELECT reason, detail FROM dead_letter WHERE dev = %s", (dev,))
        assert reason == "processing_failed" and "ZeroDivisionError" in detail
        assert worker.consumer.connected.is_set()  # the slot is still consuming


def test_qos0_messages_are_stored_without_a_puback_and_the_slot_stays_connected(broker, db_url):
    from tests.support.mqtt import client_for

    dev = new_dev()
    with running_worker(ingest_settings(broker, db_url)) as worker:
        pub = client_for(broker.url(RELAY_USER))
        try:
            for s in range(5):
                pub.publish(topics.build(dev, "hb"), enc(hb(s)), qos=0)
            publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(s))) for s in range(5, 10)])
        finally:
            pub.disconnect(), pub.loop_stop()
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 10, params=(dev,)) == 10
        time.sleep(0.5)
        assert worker.consumer.connected.is_set() and worker.consumer.session_present is not None
        # One connection all along: a PUBACK for a QoS 0 message would have made the broker drop it.
        assert not worker.consumer.reconnected


def test_a_will_published_after_online_marks_the_device_offline(broker, db_url):
    dev = new_dev()
    connected_at = int(time.time() * 1000) - 5_000  # the will was written at CONNECT, before "online"
    with running_worker(ingest_settings(broker, db_url)):
        publish_all(broker.url(RELAY_USER), [(topics.build(dev, "state"),
                                              enc({"v": 1, "online": True, "ts": connected_at + 50}))])
        assert wait_rows(db_url, "SELECT online FROM device WHERE dev = %s", True, params=(dev,)) is True
        publish_all(broker.url(RELAY_USER), [(topics.build(dev, "state"),
                                              enc({"v": 1, "online": False, "ts": connected_at}))])
        assert wait_rows(db_url, "SELECT online FROM device WHERE dev = %s", False, params=(dev,)) is False


class _ReactorFailsOnLatitude:
    """A reactor with a bug that one heartbeat triggers."""

    tables = ("heartbeat",)

    def react(self, cur, fresh):
        if any(r[4] == 13.0 for r in fresh["heartbeat"]):
            raise KeyError("reactor bug")


def test_a_failing_reaction_keeps_the_data_and_the_message_for_replay(broker, db_url):
    from cloud.ingest.steps import Steps

    dev = new_dev()
    with running_worker(ingest_settings(broker, db_url), steps=Steps(reactors=[_ReactorFailsOnLatitude()])):
        publish_all(broker.url(RELAY_USER), [(topics.build(dev, "hb"), enc(hb(s, lat=13.0 if s == 3 else 31.0)))
                                              for s in range(8)])
        assert wait_rows(db_url, "SELECT count(*) FROM heartbeat WHERE dev = %s", 8, params=(dev,)) == 8
        assert query(db_url, "SELECT reason FROM dead_letter WHERE dev = %s", (dev,)) == [("reaction_failed",)]


def test_two_slots_send_a_device_at_most_one_receipt_per_interval(broker, db_url):
    dev = new_dev()
    settings = ingest_settings(broker, db_url, receipt_min_interval_s=1.0)
    arrivals: list[tuple[float, int]] = []
    acks = Collector(broker.url(RELAY_USER), topics.build(dev, "ack"))
    acks.client.on_message = lambda c, u, m: arrivals.append((time.monotonic(), orjson.loads(m.payload)["seq"]))
    try:
        with running_worker(settings, slot=1), running_worker(settings, slot=2) as second:
            for burst in range(8):  # both slots commit some of this device's messages every second
                publish_all(broker.url(RELAY_USER),
                            [(topics.build(dev, "hb"), enc(hb(s))) for s in range(burst * 40, burst * 40 + 40)])
                time.sleep(0.4)
            assert wait_rows(db_url, "SELECT seq FROM receipt_cursor WHERE dev = %s", 319, params=(dev,)) == 319
            time.sleep(2.5)
            assert second.stored > 0, "the share group gave the second slot nothing: the test proves nothing"
    finally:
        acks.close()
    assert arrivals and arrivals[-1][1] == 319
    gaps = [b[0] - a[0] for a, b in zip(arrivals, arrivals[1:])]
    assert min(gaps) > 0.9, f"receipts closer than the interval: {gaps}"


def test_a_cursor_walk_claims_the_receipts_that_are_due_in_the_same_row_write(db_url):
    import psycopg

    from cloud.ingest import store

    dev = new_dev()
    key = (dev, "hb")
    with psycopg.connect(db_url) as conn:
        claimed, held = store.record_seqs(conn, {key: [0, 1]}, claim_s=0.5)
        assert (claimed, held) == ([store.Advanced(dev, "hb", 1)], [])
        # Moved again within the interval: told about, not claimed, and no other claim gets it either.
        claimed, held = store.record_seqs(conn, {key: [2]}, claim_s=0.5)
        assert (claimed, held) == ([], [store.Advanced(dev, "hb", 2)])
        assert store.claim_receipts(conn, [key], 0.5) == []
        time.sleep(0.6)
        # A repeat after the interval: claimed, with the cursor's seq.
        assert store.record_seqs(conn, {key: [1]}, claim_s=0.5) == ([store.Advanced(dev, "hb", 2)], [])
        # A seq above a hole moves nothing and tells nothing.
        time.sleep(0.6)
        assert store.record_seqs(conn, {key: [5]}, claim_s=0.5) == ([], [])
    assert query(db_url, "SELECT seq, pending::text FROM receipt_cursor WHERE dev = %s", (dev,)) == [(2, "{[5,6)}")]
