"""Batch shaping and receipt bookkeeping, without broker or database."""
from __future__ import annotations

import orjson

from cloud.ingest.batch import Inbound, build_rows, runs
from cloud.ingest.receipts import ReceiptCoalescer
from protocols.decode import Reason

NOW = 1_795_300_000_000


def hb(seq, **kw):
    return {"v": 1, "seq": seq, "ts": NOW - 1000 + seq, "lat": 30.0, "lon": 120.0, "acc": 5.0, **kw}


def msg(topic, obj, raw=None):
    return Inbound(topic, raw if raw is not None else orjson.dumps(obj), 1, NOW / 1000)


def test_runs_merge_contiguous_and_duplicate_seqs():
    assert runs([5, 1, 2, 3, 3, 9, 10, 7]) == [(1, 3), (5, 5), (7, 7), (9, 10)]
    assert runs([]) == []
    assert runs([4, 2, 3, 3, 5]) == [(2, 5)]
    assert runs([7]) == [(7, 7)]


def test_rows_and_dead_letters_both_count_for_receipts():
    rows = build_rows([msg("gw/v1/h-1/hb", [hb(0), hb(1, lat=99.0), hb(2)]),
                       msg("gw/v1/h-1/hb", None, raw=b"nope")], NOW, 86_400_000)
    assert len(rows.heartbeat) == 2 and len(rows.dead_letter) == 2
    assert sorted(rows.seqs[("h-1", "hb")]) == [0, 1, 2]
    assert rows.dead_letter[1][3] == "not_json" and rows.dead_letter[1][6] is None


def test_whole_array_refusal_still_covers_every_seq():
    rows = build_rows([msg("gw/v1/h-1/hb", [hb(i, note="\u0000") for i in range(3)])], NOW, 86_400_000)
    assert rows.heartbeat == [] and [d[3] for d in rows.dead_letter] == ["invalid_value"]
    assert sorted(rows.seqs[("h-1", "hb")]) == [0, 1, 2]


def test_registration_filter_dead_letters_the_whole_message_once():
    rows = build_rows([msg("gw/v1/h-9/hb", [hb(0), hb(1)])], NOW, 86_400_000,
                      device_filter=lambda dev: Reason.UNREGISTERED_DEVICE)
    assert rows.heartbeat == [] and len(rows.dead_letter) == 1
    assert rows.dead_letter[0][3] == "unregistered_device"
    assert sorted(rows.seqs[("h-9", "hb")]) == [0, 1]


def test_receipts_are_coalesced_per_device_and_kind():
    c = ReceiptCoalescer(interval_s=1.0)
    assert c.offer("a", "hb", 5, now=10.0) == [("a", "hb", 5)]
    assert c.offer("a", "hb", 9, now=10.2) == []
    assert c.offer("a", "det", 1, now=10.3) == [("a", "det", 1)]
    assert c.offer("a", "hb", 12, now=10.5) == []
    assert c.due(now=10.9) == []
    assert c.due(now=11.0) == [("a", "hb", 12)]
    assert c.due(now=20.0) == []


def test_cursor_advances_through_touching_runs_and_stops_at_a_hole():
    from cloud.ingest.store import walk

    assert walk(-1, [0, 1, 2, 3, 4], "{}") == (4, "{}")
    assert walk(-1, [1, 2, 3, 4], "{}") == (-1, "{[1,4]}")  # seq 0 not there yet
    assert walk(4, [5, 7, 8, 9], "{}") == (5, "{[7,9]}")
    assert walk(5, [6], "{[7,10),[12,13)}") == (9, "{[12,12]}")  # fills the hole, joins the waiting run
    assert walk(9, [3, 4], "{}") == (9, "{}")  # a repeat never moves it back
    assert walk(9, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "{}") == (12, "{}")  # overlapping the cursor extends it
    assert walk(9, [1, 1, 3], "{}") == (9, "{}")  # duplicates
    assert walk(0, [1, 1, 3], "{}") == (1, "{[3,3]}")


def test_a_cursor_walk_agrees_with_counting_seqs_one_by_one():
    """Against an oracle on sets: the cursor is the top of the contiguous seqs above it, and
    the literal holds exactly the seqs above the new cursor (ints, as PostgreSQL reads it)."""
    import random
    import re

    from cloud.ingest.store import walk

    rnd = random.Random(7)
    for _ in range(5000):
        cursor = rnd.randint(-1, 20)
        seqs = [rnd.randint(0, 40) for _ in range(rnd.randint(1, 12))]
        waiting = sorted({rnd.randint(cursor + 2, 45) for _ in range(rnd.randint(0, 8))})
        pending_runs = []
        for v in waiting:  # canonical text: merged runs as [lo,hi+1)
            if pending_runs and pending_runs[-1][1] == v - 1:
                pending_runs[-1][1] = v
            else:
                pending_runs.append([v, v])
        pending = "{" + ",".join(f"[{lo},{hi + 1})" for lo, hi in pending_runs) + "}"
        have = set(seqs) | set(waiting)
        expected = cursor
        while expected + 1 in have:
            expected += 1
        new, left = walk(cursor, seqs, pending)
        assert new == expected, (cursor, seqs, pending)
        still = set()
        for lo, hi in re.findall(r"\[(-?\d+),(-?\d+)\]", left):
            still |= set(range(int(lo), int(hi) + 1))
        assert still == {v for v in have if v > new}, (cursor, seqs, pending, left)


def test_pending_runs_read_back_from_a_multirange_text():
    from cloud.ingest.store import _pending_runs

    assert _pending_runs("{}") == []
    assert _pending_runs("{[7,10),[12,13)}") == [(7, 9), (12, 12)]


def test_deferred_seqs_come_due_once_per_interval_per_device_and_kind():
    from cloud.ingest.receipts import DeferredSeqs

    d = DeferredSeqs(interval_s=1.0)
    d.add({("a", "hb"): [0, 1]}, now=10.0)
    d.add({("a", "hb"): [2], ("b", "hb"): [0]}, now=10.5)
    assert d.take_due(10.9) == {}
    assert d.take_due(11.0) == {("a", "hb"): [0, 1, 2]}
    assert d.take_due(11.4) == {}
    assert d.take_due(11.5) == {("b", "hb"): [0]}
    assert len(d) == 0


def test_deferred_seqs_of_a_key_another_slot_shares_wait_two_intervals_until_a_walk_catches_up():
    from cloud.ingest.receipts import DeferredSeqs

    d = DeferredSeqs(interval_s=1.0)
    a, b, c = ("a", "hb"), ("b", "hb"), ("c", "hb")
    d.add({a: [0, 2], b: [0], c: [4]}, now=10.0)
    due = d.take_due(11.0)
    # a: the cursor stopped at 0 (1 is another slot's); b: caught up; c: moved nowhere (0-3 missing)
    d.walked(due, {a: 0, b: 0}, now=11.0)
    d.add({a: [4], b: [1], c: [6]}, now=11.1)
    assert d.take_due(12.1) == {b: [1]}
    assert d.take_due(13.0) == {}
    due = d.take_due(13.1)
    assert due == {a: [4], c: [6]}
    d.walked(due, {a: 4}, now=13.1)  # a caught up: one interval again; c still waits
    d.add({a: [5], c: [7]}, now=13.2)
    assert d.take_due(14.2) == {a: [5]}
    assert d.take_due(15.2) == {c: [7]}
    # a mark is forgotten once it is older than two shared waits: c's device went quiet
    d.add({c: [8]}, now=15.2 + 4.0)
    assert d.take_due(15.2 + 5.0) == {c: [8]}
    assert len(d) == 0


def test_a_receipt_held_back_for_another_slot_goes_out_an_interval_later_with_the_highest_seq():
    c = ReceiptCoalescer(interval_s=1.0)
    c.hold("a", "hb", 7, now=10.0)
    c.hold("a", "hb", 5, now=10.1)
    assert c.due(now=10.9) == []
    assert c.offer("a", "hb", 8, now=10.95) == []
    assert c.due(now=11.2) == [("a", "hb", 8)]


def test_a_receipt_sent_covers_what_was_held_for_its_key():
    c = ReceiptCoalescer(interval_s=1.0)
    c.hold("a", "hb", 7, now=10.0)
    c.sent("a", "hb", now=11.0)  # carried the cursor's seq, at least 7
    assert c.due(now=12.5) == []
