"""Opening and joining cases from stored detections, alerts and reports (real pipeline and database)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from cloud.cases.components import import_components, parse_components
from tests.integration.cases_support import (add_fixed_device, add_grids, alert, at, cases, dead_letters, det,
                                             feed, report)

UTC = timezone.utc
# Wednesday 2026-11-18 10:00 in Asia/Shanghai.
WED_10 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


@pytest.fixture
def city(db_url):
    add_grids(db_url)
    add_fixed_device(db_url, "cam-1", "camera", *at(100, -500))     # in G1
    add_fixed_device(db_url, "wl-1", "sensor", *at(200, 500))       # in G2
    add_fixed_device(db_url, "tilt-1", "sensor", *at(-300, 300))
    with psycopg.connect(db_url) as conn:
        import_components(conn, parse_components(
            "code,kind,department,lat,lon,name\n"
            f"MH-7,manhole,city gas company,{at(-300, 300)[0]},{at(-300, 300)[1]},cover 7\n"
            f"MH-8,manhole,district roads,{at(400, 400)[0]},{at(400, 400)[1]},\n"))
    return db_url


def test_a_detection_opens_a_registered_case_with_the_catalog_department_and_working_hours_deadline(city):
    feed(city, [det("cam-1", "garbage", WED_10, score=0.9)])
    (row,) = cases(city, "kind, status, department, grid, due_at, routed_by, lat, evidence_count")
    # 10:00-12:00 + 14:00-17:30 = 5.5 h on Wednesday, 2.5 h more on Thursday: 11:00 local
    assert row == ("garbage", "registered", "sanitation", "G1", datetime(2026, 11, 19, 3, 0, tzinfo=UTC),
                   "catalog", pytest.approx(at(100, -500)[0]), 1)


def test_low_confidence_waits_as_reported_and_a_fire_runs_round_the_clock(city):
    feed(city, [det("cam-1", "obstruction", WED_10, score=0.3),
                det("cam-1", "fire", WED_10 + timedelta(hours=10), score=0.95, pos=at(0, -200))])
    rows = cases(city, "kind, status, due_at")
    assert rows == [("obstruction", "reported", datetime(2026, 11, 19, 3, 0, tzinfo=UTC)),
                    ("fire", "registered", WED_10 + timedelta(hours=11))]


def test_repeated_sightings_within_the_radius_join_one_case_and_far_ones_open_another(city):
    msgs = [det("cam-1", "garbage", WED_10 + timedelta(minutes=i), pos=at(100 + i, -500)) for i in range(5)]
    msgs.append(det("cam-1", "garbage", WED_10, pos=at(100, -400)))  # 100 m away
    msgs.append(det("cam-1", "obstruction", WED_10, pos=at(100, -500)))  # same place, other kind
    feed(city, msgs[:3])
    feed(city, msgs[3:])
    assert sorted((k, n) for _, k, _, _, _, n in cases(city)) == [("garbage", 1), ("garbage", 5), ("obstruction", 1)]


def test_a_track_id_joins_its_case_even_when_the_thing_moved_beyond_the_radius(city):
    feed(city, [det("cam-1", "crowd", WED_10, pos=at(0, -500), track="t9")])
    feed(city, [det("cam-1", "crowd", WED_10 + timedelta(minutes=1), pos=at(0, -300), track="t9"),
                det("cam-1", "crowd", WED_10 + timedelta(minutes=1), pos=at(0, -100), track="t10")])
    assert [(k, n) for _, k, _, _, _, n in cases(city)] == [("crowd", 2), ("crowd", 1)]


def test_a_sensor_uses_its_registered_position_and_cleared_adds_evidence_without_closing(city):
    feed(city, [alert("wl-1", "water_level", WED_10)])
    feed(city, [alert("wl-1", "water_level", WED_10 + timedelta(minutes=30), level="info", state="cleared")])
    assert cases(city) == [(1, "waterlogging", "registered", "water affairs", "G2", 2)]
    # a cleared alert with no case to join opens nothing
    feed(city, [alert("wl-1", "smoke", WED_10, state="cleared")])
    assert len(cases(city)) == 1


def test_a_named_or_nearby_component_decides_the_department(city):
    feed(city, [alert("tilt-1", "manhole_tilt", WED_10, component="MH-8")])  # names MH-8, wherever it is
    feed(city, [report("worker-1", "manhole", WED_10, pos=at(-305, 305))])   # ~7 m from MH-7
    rows = cases(city, "kind, department, routed_by, component")
    assert rows == [("manhole", "district roads", "component", "MH-8"),
                    ("manhole", "city gas company", "component", "MH-7")]


def test_without_a_component_the_grid_territorial_body_takes_an_ownerless_kind(city):
    feed(city, [report("worker-1", "manhole", WED_10, pos=at(800, -800))])
    feed(city, [report("worker-1", "manhole", WED_10, pos=at(5000, 5000))])  # outside every grid
    assert cases(city, "department, routed_by, grid") == [("Riverside Street office", "territory", "G1"),
                                                          ("supervision centre", "fallback", None)]


def test_a_field_report_resolved_on_the_spot_opens_as_handled_awaiting_verification(city):
    feed(city, [report("worker-1", "garbage", WED_10, pos=at(10, 10), resolved=True)])
    (row,) = cases(city, "status, handled_by")
    assert row == ("handled", "worker:worker-1")
    # and one resolving an open case moves it to handled through the workflow, with history
    feed(city, [det("cam-1", "obstruction", WED_10, pos=at(500, -500))])
    feed(city, [report("worker-2", "obstruction", WED_10 + timedelta(hours=1), pos=at(505, -500), resolved=True)])
    with psycopg.connect(city) as conn:
        hist = conn.execute("SELECT action, from_status, to_status, actor FROM case_history WHERE case_id = 2 "
                            "ORDER BY id").fetchall()
    assert hist == [("open", None, "registered", "detection:cam-1"),
                    ("dispatch", "registered", "dispatched", "worker:worker-2"),
                    ("handle", "dispatched", "handled", "worker:worker-2")]
    assert dead_letters(city) == []


def test_a_redelivered_message_adds_no_evidence_twice(city):
    msg = det("cam-1", "garbage", WED_10)
    feed(city, [msg])
    feed(city, [msg, msg])
    assert [n for *_, n in cases(city)] == [1]


def test_an_earlier_sighting_stored_later_moves_the_clock_back_to_the_first_sighting(city):
    feed(city, [det("cam-1", "fire", WED_10 + timedelta(minutes=10))])
    feed(city, [det("cam-1", "fire", WED_10)])  # another worker committed it later
    assert cases(city, "opened_at, due_at, evidence_count") == [(WED_10, WED_10 + timedelta(hours=1), 2)]


def test_a_confident_sighting_registers_a_case_waiting_as_reported(city):
    feed(city, [det("cam-1", "garbage", WED_10, score=0.3)])
    feed(city, [det("cam-1", "garbage", WED_10 + timedelta(minutes=1), score=0.4)])
    assert cases(city, "status, evidence_count") == [("reported", 2)]
    feed(city, [det("cam-1", "garbage", WED_10 + timedelta(minutes=2), score=0.8)])
    assert cases(city, "status, evidence_count") == [("registered", 3)]
    with psycopg.connect(city) as conn:
        assert conn.execute("SELECT action, actor, from_status, to_status FROM case_history ORDER BY id").fetchall() \
            == [("open", "detection:cam-1", None, "reported"),
                ("register", "detection:cam-1", "reported", "registered")]


def test_after_closing_only_lagging_sightings_join_and_a_rejected_false_alarm_stays_rejected(city):
    feed(city, [det("cam-1", "garbage", WED_10), det("cam-1", "obstruction", WED_10, score=0.3)])
    with psycopg.connect(city) as conn:
        conn.execute("UPDATE case_file SET status = 'closed', closed_at = %s WHERE kind = 'garbage'",
                     (WED_10 + timedelta(minutes=10),))
        conn.execute("UPDATE case_file SET status = 'rejected' WHERE kind = 'obstruction'")
    feed(city, [det("cam-1", "garbage", WED_10 + timedelta(minutes=30))])     # lagging: joins the closed case
    feed(city, [det("cam-1", "garbage", WED_10 + timedelta(hours=5))])        # back again: a new case
    feed(city, [det("cam-1", "obstruction", WED_10 + timedelta(minutes=m), score=0.3) for m in (60, 120, 180)])
    assert cases(city, "kind, status, evidence_count") == [("garbage", "closed", 2), ("obstruction", "rejected", 4),
                                                           ("garbage", "registered", 1)]
