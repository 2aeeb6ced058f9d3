"""Frigate `frigate/events` -> contract det messages: kinds by label, devices by alias, track phases."""
from __future__ import annotations

import orjson

from cloud.ingest.batch import Inbound, build_rows
from cloud.ingest.frigate import FrigateTranslator
from protocols import topics
from protocols.decode import Reason, Rejection, decode

NOW = 1_763_800_000_000


def event(kind_of: str, label: str = "fire", camera: str = "front", frame_time: float = 1_763_799_990.5,
          **after) -> Inbound:
    body = {"type": kind_of, "before": {}, "after": {
        "id": "1763799990.5-abc", "camera": camera, "label": label, "score": 0.71, "top_score": 0.83,
        "box": [640, 360, 960, 720], "frame_time": frame_time, "current_zones": ["yard"], **after}}
    return Inbound(topics.FRIGATE_EVENTS, orjson.dumps(body), 1, NOW / 1000)


def translator(**kw) -> FrigateTranslator:
    return FrigateTranslator({"fire": "fire", "waste_bin": "garbage"}, aliases={"front": "cam-7"}, **kw)


def test_new_event_becomes_a_valid_start_detection_of_the_aliased_device():
    [(topic, payload)] = translator().translate(event("new"), NOW)
    assert topic == "gw/v1/cam-7/det"
    result = decode(topic, payload, NOW)
    assert not result.rejections
    det = result.messages[0]
    assert (det.kind, det.score, det.zone, det.track) == ("fire", 0.83, "yard", "frigate-1763799990.5-abc")
    assert det.box == [0.5, 0.5, 0.25, 0.5] and det.ts == 1_763_799_990_500
    assert det.model_extra["phase"] == "start"


def test_updates_are_rate_limited_per_event_and_end_always_passes():
    t = translator(update_s=10)
    assert t.translate(event("new"), NOW)
    assert t.translate(event("update", frame_time=1_763_799_995.0), NOW) == []
    [(_, upd)] = t.translate(event("update", frame_time=1_763_800_001.0), NOW)
    [(_, end)] = t.translate(event("end", frame_time=1_763_800_002.0, end_time=1_763_800_003.0), NOW)
    assert orjson.loads(upd)["phase"] == "update"
    end = orjson.loads(end)
    assert end["phase"] == "end" and end["ts"] == 1_763_800_003_000 and end["track"] == "frigate-1763799990.5-abc"


def test_a_redelivered_event_gets_the_same_seq_and_ts():
    a = orjson.loads(translator().translate(event("new"), NOW)[0][1])
    b = orjson.loads(translator().translate(event("new"), NOW + 5000)[0][1])
    assert (a["seq"], a["ts"]) == (b["seq"], b["ts"])


def test_unmapped_label_is_skipped_and_unknown_camera_is_dead_lettered_with_a_hint():
    t = translator()
    assert t.translate(event("new", label="car"), NOW) == []
    rej = t.translate(event("new", camera="back"), NOW)
    assert isinstance(rej, Rejection) and rej.reason == Reason.UNKNOWN_ALIAS
    assert "--alias frigate:back" in rej.detail


def test_malformed_events_are_named_rejections_in_the_batch():
    bad = [Inbound(topics.FRIGATE_EVENTS, b"{", 1, NOW / 1000),
           Inbound(topics.FRIGATE_EVENTS, orjson.dumps({"type": "gone", "after": {}}), 2, NOW / 1000),
           event("new", box=[1, 2, 3])]
    rows = build_rows(bad, NOW, 86_400_000, translators=[translator()])
    assert not rows.detection
    assert [d[3] for d in rows.dead_letter] == ["not_json", "invalid_value", "wrong_type"]


def test_through_the_batch_a_frigate_event_is_stored_as_a_detection_row():
    rows = build_rows([event("new", label="waste_bin")], NOW, 86_400_000, translators=[translator()])
    assert len(rows.detection) == 1 and not rows.dead_letter
    assert not rows.seqs          # Frigate reads no receipts: its seqs are not tracked
