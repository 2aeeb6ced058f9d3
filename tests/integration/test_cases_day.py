"""A simulated day through the real broker and TWO ingest slots: cameras, sensors and
field reports with repeated sightings of injected incidents. Every incident must end
as exactly one case, routed to the expected department with the expected deadline."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import orjson
import psycopg

from cloud.broker.config import RELAY_USER
from cloud.cases.calendar import due_at, make_calendar
from cloud.cases.catalog import load_catalog
from cloud.cases.components import import_components, parse_components
from cloud.cases.geometry import distance_m
from tests.integration.cases_support import add_fixed_device, add_grids, alert, at, det, report
from tests.integration.ingest_helpers import ingest_settings, running_worker, wait_rows
from tests.support.mqtt import publish_all

UTC = timezone.utc
DAY = datetime(2026, 11, 18, 0, 30, tzinfo=UTC)  # Wednesday 08:30 in Shanghai
CATALOG = load_catalog()
CALENDAR = make_calendar("08:30-12:00,14:00-17:30", "Asia/Shanghai")


@dataclass
class Incident:
    kind: str
    pos: tuple[float, float]
    start: datetime
    department: str
    messages: list = field(default_factory=list)

    @property
    def due(self) -> datetime:
        spec = CATALOG.kinds[self.kind]
        return due_at(self.start, spec.sla_hours, spec.round_the_clock, CALENDAR)


def jitter(rng, pos, metres=4.0):
    return pos[0] + rng.uniform(-metres, metres) / 111_320, pos[1] + rng.uniform(-metres, metres) / 95_000


def camera_incident(rng, kind, dept, pos, start, track=None, repeats=5) -> Incident:
    inc = Incident(kind, pos, start, dept)
    for i in range(repeats):
        when = start + timedelta(minutes=2 * i)
        inc.messages.append(det("cam-1", kind, when, score=rng.uniform(0.75, 0.99), pos=jitter(rng, pos),
                                track=track))
    return inc


def simulated_day(rng) -> list[Incident]:
    """Incidents on a 250 m lattice (well apart at every merge radius), with repeats."""
    spots = iter(at(y, x) for y in range(-900, 901, 250) for x in range(-900, 901, 250))
    out = []
    for n, (kind, dept) in enumerate([("garbage", "sanitation"), ("obstruction", "urban management"),
                                      ("fire", "fire brigade"), ("crowd", "public security"),
                                      ("waterlogging", "water affairs")] * 3):
        start = DAY + timedelta(minutes=37 * n)
        out.append(camera_incident(rng, kind, dept, next(spots), start, track=f"t{n}" if n % 2 else None))
    # sensors: raised, raised again, cleared - one case each
    for sensor, kind, dept, component in [("water_level", "waterlogging", "water affairs", None),
                                          ("gas", "smoke", "fire brigade", None),
                                          ("manhole_tilt", "manhole", "city gas company", "MH-1"),
                                          ("pipe_pressure", "pipe_burst", "hydrant owner", None)]:
        dev = f"s-{sensor.replace('_', '-')}"
        inc = Incident(kind, SENSORS[dev], DAY + timedelta(hours=2), dept)
        extra = {"component": component} if component else {}
        inc.messages += [alert(dev, sensor, inc.start, **extra),
                         alert(dev, sensor, inc.start + timedelta(minutes=5), level="warning", **extra),
                         alert(dev, sensor, inc.start + timedelta(minutes=40), level="info", state="cleared", **extra)]
        out.append(inc)
    # field reports: several workers report one thing; one worker fixes one on the spot
    for k, (kind, dept) in enumerate([("manhole", "Riverside Street office"), ("garbage", "sanitation"),
                                      ("obstruction", "urban management")]):
        pos = next(spots)
        inc = Incident(kind, pos, DAY + timedelta(hours=4, minutes=k), dept)
        for w in range(3):
            inc.messages.append(report(f"worker-{w}", kind, inc.start + timedelta(minutes=3 * w), jitter(rng, pos),
                                       resolved=(k == 2 and w == 2)))
        out.append(inc)
    tamper = Incident("camera_tamper", CAMERA, DAY + timedelta(hours=6), "camera owner")
    tamper.messages = [det("cam-1", "camera_tamper", tamper.start + timedelta(minutes=i)) for i in range(3)]
    return out + [tamper]


CAMERA = at(0, -950)
SENSORS = {"s-water-level": at(-950, 600), "s-gas": at(-950, 300), "s-manhole-tilt": at(-950, 0),
           "s-pipe-pressure": at(-950, -300)}


def prepare_city(db_url):
    add_grids(db_url)
    add_fixed_device(db_url, "cam-1", "camera", *CAMERA)
    for dev, pos in SENSORS.items():
        add_fixed_device(db_url, dev, "sensor", *pos)
    hydrant = at(-955, -300)  # ~5 m from the pipe pressure sensor
    manhole = SENSORS["s-manhole-tilt"]  # the tilt sensor is mounted on it
    with psycopg.connect(db_url) as conn:
        import_components(conn, parse_components(
            f"MH-1,manhole,city gas company,{manhole[0]},{manhole[1]}\n"
            f"HY-1,hydrant,hydrant owner,{hydrant[0]},{hydrant[1]}\n"
            f"cam-1,camera,camera owner,{CAMERA[0]},{CAMERA[1]}\n"))


def test_a_simulated_day_through_two_ingest_slots_gives_one_case_per_incident(broker, db_url):
    rng = random.Random(2026)
    prepare_city(db_url)
    incidents = simulated_day(rng)
    noise = [det("cam-1", "person", DAY + timedelta(minutes=i)) for i in range(10)]  # not a case kind
    messages = [m for inc in incidents for m in inc.messages] + noise
    rng.shuffle(messages)  # sightings of one incident race through both slots...
    # ...but a sensor's `cleared` comes 40 min after its alarm: it cannot overtake it
    messages.sort(key=lambda m: m[1].get("state") == "cleared")
    settings = ingest_settings(broker, db_url, ingest_batch_size=8)
    with running_worker(settings, slot=1), running_worker(settings, slot=2):
        publish_all(broker.url(RELAY_USER), [(t, orjson.dumps(p)) for t, p in messages])
        expected = sum(len(inc.messages) for inc in incidents)
        assert wait_rows(db_url, "SELECT count(*) FROM case_evidence", expected, timeout=30) == expected

    with psycopg.connect(db_url) as conn:
        cases = conn.execute("SELECT id, kind, lat, lon, department, due_at, status, evidence_count "
                             "FROM case_file").fetchall()
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0] == 0
    matched: dict[int, int] = {}
    for n, inc in enumerate(incidents):
        mine = [c for c in cases if c[1] == inc.kind and distance_m(*inc.pos, c[2], c[3]) <= 20]
        assert len(mine) == 1, (inc.kind, inc.pos, mine)  # recall 100%, no duplicate
        (case_id, _, _, _, dept, due, status, evidence) = mine[0]
        assert (dept, due, evidence) == (inc.department, inc.due, len(inc.messages)), inc.kind
        matched[case_id] = n
    assert len(cases) == len(incidents) == len(matched)
    statuses = {incidents[n].kind + ("/resolved" if incidents[n].messages[-1][1].get("resolved") else ""): s
                for n, s in ((matched[c[0]], c[6]) for c in cases)}
    assert statuses["obstruction"] in ("registered", "handled") and "handled" in statuses.values()
