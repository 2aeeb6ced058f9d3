"""The simulator's injected incidents: deterministic, far enough apart never to merge, with
messages the edge outbox accepts and the truth the cloud's rules (handed in) give."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from edge.outbox import Outbox
from gwsim.incidents import BLOCK, Rules, simulated_day

START = datetime(2026, 11, 18, 0, 30, tzinfo=timezone.utc)
RULES = Rules(deadline=lambda kind, t: t + timedelta(hours=len(kind)), territory=lambda lat, lon: "north office")
CENTRE = (31.23, 121.47)


def metres(a, b):
    dy = (a[0] - b[0]) * 111_320
    dx = (a[1] - b[1]) * 111_320 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def test_the_same_seed_gives_the_same_day_and_another_seed_other_sightings():
    a, b = (simulated_day(s, START, RULES, centre=CENTRE) for s in (1, 1))
    assert a.truth() == b.truth()
    assert simulated_day(2, START, RULES, centre=CENTRE).truth() != a.truth()


def test_a_block_mixes_every_source_and_states_department_and_deadline_by_the_rules():
    day = simulated_day(1, START, RULES, centre=CENTRE)
    assert len(day.incidents) == BLOCK == 23
    by = {(i.source, i.kind): i for i in day.incidents}
    assert {s for s, _ in by} == {"camera", "sensor", "report"}
    assert by[("report", "manhole")].department == "north office"       # no catalog department: the territory
    assert by[("sensor", "manhole")].department == "city gas company"    # the component the sensor sits on
    assert by[("camera", "camera_tamper")].department == "camera owner"
    for inc in day.incidents:
        assert inc.due == inc.start + timedelta(hours=len(inc.kind))
        assert all(s.ts >= int(inc.start.timestamp() * 1000) for s in inc.sightings)
    assert {c.code for c in day.components} == {"cam-1", "MH-1", "HY-1"}


def test_incidents_lie_further_apart_than_any_merge_radius_and_sightings_near_their_incident():
    day = simulated_day(3, START, RULES, centre=CENTRE, count=60)
    places = [(i.lat, i.lon) for i in day.incidents]
    assert len(places) == 60
    assert min(metres(p, q) for n, p in enumerate(places) for q in places[n + 1:]) >= 240
    for inc in day.incidents:
        for s in inc.sightings:
            if "lat" in s.message:
                assert metres((inc.lat, inc.lon), (s.message["lat"], s.message["lon"])) <= 6
    hydrant = next(c for c in day.components if c.code == "HY-2")
    sensor = next(d for d in day.devices if d.dev == "s-pipe-pressure-2")
    assert 4 <= metres((hydrant.lat, hydrant.lon), (sensor.lat, sensor.lon)) <= 6   # within the routing radius


def test_a_few_incidents_still_come_from_cameras_sensors_and_reports():
    day = simulated_day(1, START, RULES, centre=CENTRE, count=6)
    assert len(day.incidents) == 6 and {i.source for i in day.incidents} == {"camera", "sensor", "report"}
    with pytest.raises(ValueError):
        simulated_day(1, START, RULES, centre=CENTRE, count=0)


def test_every_sighting_is_a_message_the_edge_outbox_accepts_in_time_order():
    day = simulated_day(5, START, RULES, centre=CENTRE)
    sightings = day.sightings()
    assert [s.ts for s in sightings] == sorted(s.ts for s in sightings)
    boxes = {}
    for s in sightings:
        box = boxes.setdefault(s.dev, Outbox(":memory:", dev=s.dev))
        box.put(s.kind, s.message)            # raises OutboxError for what the cloud would dead-letter
    assert sum(b.stats().queued for b in boxes.values()) == len(sightings)
    for b in boxes.values():
        b.close()
