"""OwnTracks location messages become contract heartbeats of the aliased device; unit quirks
converted; other message types ignored; unknown aliases and junk dead-lettered by reason."""
from __future__ import annotations

import orjson

from cloud.ingest.batch import Inbound, build_rows
from cloud.ingest.owntracks import OwnTracksTranslator, location_to_heartbeat
from protocols.decode import Rejection

NOW_MS = 1_790_000_100_000
LOC = {"_type": "location", "tid": "an", "lat": 31.2304, "lon": 121.4737, "tst": 1_790_000_000, "acc": 12,
       "vel": 18, "cog": 270, "alt": 14, "batt": 76, "conn": "m", "t": "u"}


def translator(aliases=None) -> OwnTracksTranslator:
    t = OwnTracksTranslator()
    t._aliases = aliases if aliases is not None else {"owntracks:ann/phone": "hs-ann"}
    return t


def msg(payload, topic="owntracks/ann/phone") -> Inbound:
    return Inbound(topic, payload if isinstance(payload, bytes) else orjson.dumps(payload), 1, NOW_MS / 1000)


def test_units_are_converted_and_seq_is_the_fix_time_in_ms():
    hb = location_to_heartbeat(LOC)
    assert hb["ts"] == hb["seq"] == 1_790_000_000_000
    assert hb["spd"] == 5.0 and hb["batt"] == 0.76 and hb["hdg"] == 270 and hb["alt"] == 14 and hb["acc"] == 12
    assert hb["client"] == {"app": "owntracks", "tid": "an"}


def test_a_location_is_stored_as_a_heartbeat_of_the_aliased_device():
    rows = build_rows([msg(LOC)], NOW_MS, 86_400_000, translators=[translator()])
    assert rows.dead_letter == []
    [row] = rows.heartbeat
    assert row[:3][0:2] == ("hs-ann", 1_790_000_000_000) and row[4:7] == (31.2304, 121.4737, 12.0)
    assert rows.seqs == {}  # outside clients read no receipts


def test_other_message_types_are_ignored_without_dead_letters():
    for other in ({"_type": "transition", "event": "enter"}, {"_type": "lwt", "tst": 1}, {"_type": "card"}):
        assert translator().translate(msg(other), NOW_MS) == []
    rows = build_rows([msg({"_type": "waypoint"})], NOW_MS, 86_400_000, translators=[translator()])
    assert rows.heartbeat == [] and rows.dead_letter == []


def test_an_unknown_user_device_is_dead_lettered_with_a_hint():
    rows = build_rows([msg(LOC, "owntracks/bob/tablet")], NOW_MS, 86_400_000, translators=[translator()])
    [dead] = rows.dead_letter
    assert dead[1] == "owntracks/bob/tablet" and dead[3] == "unknown_alias"
    assert "--alias owntracks:bob/tablet" in dead[4] and orjson.loads(dead[2]) == LOC


def test_junk_and_wrong_types_are_dead_lettered_by_the_usual_reasons_with_the_raw_payload():
    t = translator()
    assert t.translate(msg(b"not json"), NOW_MS).reason == "not_json"
    assert t.translate(msg([LOC]), NOW_MS).reason == "not_object"
    assert isinstance(t.translate(msg(LOC, "owntracks/a/b/c"), NOW_MS), Rejection)
    bad = [{**LOC, "tst": "soon"}, {**LOC, "vel": "fast"}, {k: v for k, v in LOC.items() if k != "acc"},
           {**LOC, "lat": 95.0}, {**LOC, "tst": 1_790_000_000_000}]
    rows = build_rows([msg(b) for b in bad], NOW_MS, 86_400_000, translators=[t])
    assert [d[3] for d in rows.dead_letter] == ["wrong_type", "wrong_type", "missing_field", "out_of_range",
                                                "ts_in_future"]
    assert all(d[1] == "owntracks/ann/phone" for d in rows.dead_letter)
    assert orjson.loads(rows.dead_letter[1][2])["vel"] == "fast"  # kept as the app sent it
